"""``mandu-lint init``: write a starter ``mandu.yaml`` from what the project already shows.

A config written from scratch starts empty and wrong; one derived from the index starts with
the ORMs, drivers, source roots and test folders the analyser will actually see, so the user
reads and trims it instead of learning every key first.  Sections that need judgement
(``tenant``, ``layers``, ``transactions``) are filled by *proposers* registered by the rule
families that own them; without one a section is written commented out, showing its shape, so
the file is valid today and documents itself.

The output is deterministic (no dates, sorted detections): rerunning ``init`` on an unchanged
project reproduces the file byte for byte, so ``init`` without ``--force`` can say "no changes"
and its diff shows only what really moved.  Nothing is written that ``load_settings`` rejects:
a proposal that fails validation falls back to the commented section.
"""
from __future__ import annotations

import difflib
import json
import os
import re
import sys
import tempfile
import textwrap
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, TextIO, Tuple

import yaml

from . import __version__, options
from .config import (CONFIG_NAME, DEFAULT_NON_APP, ConfigError, clear_caches, find_project,
                     load_settings, vcs_root)

Proposer = Callable[..., Optional[str]]  # fn(project) -> YAML text for one section, or None

RESERVED = ("tenant", "layers", "transactions")
# Sections whose proposal is written commented out, because only the team can confirm it (measured
# on real apps never seen before: docs/realworld.md). ``layers``: read off folder names, a layering
# guess reports a project's deliberate conventions as violations. ``tenant``: which model owns the
# rows is a fact of the business; with the tenant ``init`` guessed, the tenant rules' findings were
# 0 of 25 (round 1) and 0 of 15 (round 3) true on unseen apps, so a guess never switches them on.
POLICY_SECTIONS = {
    "layers": "layering is a policy only the team can choose (uncomment to enforce it).",
    "tenant": "which model owns the rows only the team can confirm; the tenant rules stay off until "
              "it is uncommented.",
}
DRIVERS = ("sqlite3", "psycopg", "psycopg2", "asyncpg")
ORM_ORDER = ("Django", "SQLAlchemy", "Flask-SQLAlchemy", "SQLModel")
SECTION_NOTES = {
    "tenant": "Multi-tenant isolation: the tenant model(s) and how queries are scoped to them.",
    "layers": "Architecture layers: which modules are handlers, services, repositories, adapters.",
    "transactions": "Transaction boundaries: extra transaction helpers, calls that must wait for commit.",
}
# Commented examples for top-level keys whose registry default says nothing ("None", "{}").
EXAMPLES = {"select": ["MDB"], "per-file-ignores": {"scripts/*.py": ["MDB3"]},
            "baseline": ".mandu-baseline.json"}
# Folder names that hold tests or test data; names the default non-app globs already cover
# are found too but then skipped, since their files are non-app already.
_TEST_DIR = re.compile(r"tests?|testing|tests?_\w+|\w+_tests?|testdata|testutils|\w*fixtures|fixture"
                       r"|specs?|e2e|factories")
_PLAIN = re.compile(r"[A-Za-z_][\w./-]*")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "none", "~"}

_PROPOSERS: Dict[str, List[Proposer]] = {}


# --- proposers -------------------------------------------------------------------------------


def register_proposer(section: str, fn: Proposer) -> None:
    """Let ``fn(project)`` propose ``section``: it returns the section's body (``models: [Org]``)
    or the whole mapping (``tenant:\\n  models: [Org]``) as YAML text, or None for "no idea".
    Proposers of one section are asked in registration order; the first answer wins."""
    if section not in options.sections():
        raise ValueError(f"unknown config section {section!r} (declare its options first)")
    fns = _PROPOSERS.setdefault(section, [])
    if fn not in fns:
        fns.append(fn)


def unregister_proposer(section: str, fn: Optional[Proposer] = None) -> None:
    """Drop ``fn`` (or every proposer of ``section``); tests restore the registry with it."""
    fns = _PROPOSERS.get(section, [])
    if fn is None:
        fns.clear()
    elif fn in fns:
        fns.remove(fn)


def proposers() -> Dict[str, List[Proposer]]:
    """The families' declared proposers (``FamilySpec.proposer``), then registered ones."""
    from .registry import proposers as declared

    out = declared()
    for section, fns in _PROPOSERS.items():
        out.setdefault(section, []).extend(fn for fn in fns if fn not in out[section])
    return {s: fns for s, fns in out.items() if fns}


def _as_section(section: str, text: str) -> str:
    """A proposal as ``section:`` plus an indented body; raises ValueError when it is not a
    mapping (checked here so a bad proposal is named, not reported as a broken file)."""
    text = textwrap.dedent(text).strip("\n")
    data = yaml.safe_load(text)
    if isinstance(data, dict) and list(data) == [section]:
        return text
    if not isinstance(data, dict):
        raise ValueError(f"expected a YAML mapping, got {type(data).__name__}")
    return f"{section}:\n" + textwrap.indent(text, "  ")


def _propose(project) -> Tuple[Dict[str, Tuple[str, str]], Dict[str, str]]:
    """(section -> (proposer name, YAML), section -> why no proposal was taken).  Each proposal
    is validated on its own, so a bad one is dropped by name and never breaks the file."""
    chosen, dropped = {}, {}
    for section, fns in proposers().items():
        for fn, unit in [(fn, unit) for fn in fns for unit in project.units or [project]]:
            if section in chosen:
                break
            name = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', fn)}"
            try:
                text = fn(unit)  # a monorepo: the first service with a proposal
                if text is None or not text.strip():
                    continue
                text = _as_section(section, text)
            except Exception as exc:  # a proposer bug must not cost the user the whole file
                dropped[section] = f"{name} failed: {type(exc).__name__}: {exc}".splitlines()[0]
                continue
            problems = _problems(text + "\n", project.root)
            if problems:
                dropped[section] = f"{name} proposed an invalid section: {problems[0].message}"
                continue
            chosen[section] = (name, text)
            break
    return chosen, dropped


# --- detection -------------------------------------------------------------------------------


@dataclass
class Detected:
    models: Counter  # ORM label -> concrete models in application code
    abstract: Counter  # ORM label -> abstract models
    drivers: Counter  # DB-API driver module -> application files importing it
    roots: List[str]  # auto-detected source roots ("" is the project root)
    extra_roots: List[str]  # folders imports resolve from that auto-detection misses
    extra_non_app: List[str]  # test/fixture folders the default non-app globs miss
    files: int
    non_app_files: int


def _orm_label(index, model) -> str:
    from .project.models import SQLMODEL_BASE

    if model.orm == "django":
        return "Django"
    if model.flask:
        return "Flask-SQLAlchemy"
    return "SQLModel" if SQLMODEL_BASE in index.mro(model.qual) else "SQLAlchemy"


def _import_tops(facts) -> set:
    return {q.split(".")[0] for q in facts.names.values() if q}


def _extra_roots(project) -> List[str]:
    """Folders (not packages, nor inside one) whose children are imported as top-level names
    no auto-detected root provides, e.g. ``backend/`` when code says ``from app.models import``
    for ``backend/app/models.py``.  A name found in two such folders is ambiguous: skipped.
    Plus the package folders the index found the code is run from (``index._import_roots``:
    ``backend/app`` for ``from core.database import Base``)."""
    packages = {rel.rpartition("/")[0] for rel in project.relfiles if rel.rsplit("/", 1)[-1] == "__init__.py"}
    homes: Dict[str, set] = {}
    for rel in project.relfiles:
        parts = rel[:-3].split("/")
        for i in range(1, len(parts)):
            folder = "/".join(parts[:i])
            if folder in packages:
                break
            if parts[i].isidentifier() and parts[i] != "__init__":
                homes.setdefault(parts[i], set()).add(folder)
    provided = {mod.split(".")[0] for mod, _ in project.modules.values() if mod}
    votes: Counter = Counter()
    for rel, facts in _own_files(project):
        if project.is_non_app(rel):
            continue
        for top in _import_tops(facts) - provided - set(sys.stdlib_module_names):
            places = homes.get(top, set()) - set(project.roots)
            if len(places) == 1:
                folder = next(iter(places))
                if not project.non_app.match(folder, is_dir=True):
                    votes[folder] += 1
    for unit in project.units or [project]:  # a package folder the code is run from (``backend/app``)
        for prefix in set(unit.index.import_roots.values()):
            votes[prefix.replace(".", "/")] += 1
    return sorted(votes)


def _extra_non_app(project) -> List[str]:
    found = set()
    for rel in project.relfiles:
        if project.is_non_app(rel):
            continue
        for name in rel.split("/")[:-1]:
            if _TEST_DIR.fullmatch(name):
                found.add(name + "/")
                break
    return sorted(found)


def _own_files(project):
    """(rel, facts) of every file, each from the index that checks it (a monorepo's services
    have one index each; shared files appear in several)."""
    for unit in project.units or [project]:
        for rel, facts in unit.index.files.items():
            if project.unit_for(rel) is unit:
                yield rel, facts


def detect(project) -> Detected:
    models, abstract, drivers = Counter(), Counter(), Counter()
    for unit in project.units or [project]:
        index = unit.index
        for model in index.models.values():
            if not project.is_non_app(model.path) and project.unit_for(model.path) is unit:
                (abstract if model.abstract else models)[_orm_label(index, model)] += 1
    for rel, facts in _own_files(project):
        if not project.is_non_app(rel):
            drivers.update(d for d in DRIVERS if d in _import_tops(facts))
    non_app = sum(1 for rel in project.relfiles if project.is_non_app(rel))
    return Detected(models, abstract, drivers, list(project.roots), _extra_roots(project),
                    _extra_non_app(project), len(project.relfiles), non_app)


# --- rendering -------------------------------------------------------------------------------


def _flow(value) -> str:
    """A value as one line of flow YAML (strings quoted unless plainly safe)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        plain = _PLAIN.fullmatch(value) and value.lower() not in _YAML_WORDS
        return value if plain else json.dumps(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    return "[" + ", ".join(json.dumps(v) if isinstance(v, str) else _flow(v) for v in value) + "]"


def _entry(key: str, value, wide: int = 96) -> str:
    """``key: value``; a list too long for one line becomes a block sequence."""
    line = f"{key}: {_flow(value)}".rstrip()
    if len(line) <= wide or not isinstance(value, list):
        return line
    return "\n".join([f"{key}:"] + [f"  - {_flow([v])[1:-1]}" for v in value])


def _commented(text: str) -> str:
    return "\n".join(f"# {line}" for line in text.splitlines())


def _roots_list(roots) -> List[str]:
    return ["." if r == "" else r for r in sorted(roots)]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def orm_summary(found: Detected) -> str:
    parts = []
    for label in ORM_ORDER:
        n, a = found.models.get(label, 0), found.abstract.get(label, 0)
        if n or a:
            parts.append(f"{label} ({_plural(n, 'model')}" + (f", {a} abstract)" if a else ")"))
    return ", ".join(parts) or "none (no model classes found)"


def _header(found: Detected) -> str:
    drivers = ", ".join(f"{d} ({_plural(n, 'file')})" for d, n in sorted(found.drivers.items())) or "none"
    return "\n".join([
        "# mandu.yaml: settings of mandu-lint for this project. Each file is governed by the nearest",
        "# mandu.yaml in its folder or a parent folder, up to the VCS root.",
        f"# Written by `mandu-lint init` (mandu-lint {__version__}); `mandu-lint init --force` rewrites it.",
        "#",
        f"# Detected ORMs: {orm_summary(found)}",
        f"# Detected DB-API drivers: {drivers}",
        f"# Python files: {found.files}, of which {found.non_app_files} non-app (tests, migrations, fixtures)",
    ])


def _doc(section: str, key: str) -> str:
    return options.registry()[(section, key)].doc


def _core(found: Detected) -> List[str]:
    auto = _roots_list(found.roots)
    if found.extra_roots:
        extra = ", ".join(map(json.dumps, found.extra_roots))
        src = (f"# {_doc('', 'src')}\n# Auto-detection finds {_flow(auto)}; imports also resolve from {extra}.\n"
               + _entry("src", _roots_list(set(found.roots) | set(found.extra_roots))))
    else:
        src = (f"# {_doc('', 'src')}\n# Auto-detected (keep unset to follow the layout):\n"
               + _commented(_entry("src", auto)))
    exclude = f"# {_doc('', 'exclude')}\nexclude: []"
    defaults = list(DEFAULT_NON_APP)
    non_app = f"# {_doc('', 'non-app')}\n# The defaults:\n" + _commented(_entry("non-app", defaults))
    if found.extra_non_app:
        extra = ", ".join(found.extra_non_app)
        non_app += (f"\n# {_doc('', 'extend-non-app')}\n# Test/fixture folders found that the defaults miss: "
                    f"{extra}\n" + _entry("extend-non-app", found.extra_non_app))
    return [src, exclude, non_app]


def _aligned(rows: List[Tuple[str, object, str]], indent: str = "") -> List[str]:
    """Commented ``key: value  # doc`` lines, docs aligned; uncommenting them gives valid YAML."""
    pairs = [(f"{indent}{k}: {_flow(v)}".rstrip(), doc) for k, v, doc in rows]
    width = max(len(p) for p, _ in pairs)
    return [f"# {p:<{width}}  # {doc}" for p, doc in pairs]


def _top_level_examples() -> str:
    rows = [(key, EXAMPLES.get(key, opt.default), opt.doc) for (section, key), opt in options.registry().items()
            if not section and key not in ("src", "exclude", "non-app", "extend-non-app")]
    return "\n".join(["# Rule selection and reporting (uncomment to change the defaults):"] + _aligned(rows))


def _note(section: str) -> List[str]:
    text = SECTION_NOTES.get(section, f"The `{section}` settings.")
    return ["# " + line for line in textwrap.wrap(text, 96)]


def _commented_section(section: str) -> str:
    rows = [(key, opt.default, opt.doc) for (s, key), opt in options.registry().items() if s == section]
    return "\n".join(_note(section) + [f"# {section}:"] + _aligned(rows, "  "))


def _section_order() -> List[str]:
    rest = [s for s in options.sections() if s not in RESERVED]
    return [s for s in RESERVED if s in options.sections()] + rest


def render(found: Detected, proposals: Dict[str, Tuple[str, str]], dropped: Dict[str, str],
           active: Iterable[str] = ()) -> str:
    """The mandu.yaml text. A proposal of a ``POLICY_SECTIONS`` section is written commented out
    unless ``active`` names it (``init --diff`` counts what it would report once uncommented)."""
    blocks = [_header(found)] + _core(found) + [_top_level_examples()]
    if any(s not in proposals for s in _section_order()):
        blocks.append("# Sections commented out below are not configured yet: uncomment and fill in to use them.")
    for section in _section_order():
        if section in proposals and section in POLICY_SECTIONS and section not in active:
            name, text = proposals[section]
            body = "\n".join(f"# {line}" if line.strip() else "#" for line in text.splitlines())
            blocks.append("\n".join(_note(section) + [
                f"# Proposed by {name}, left commented out: {POLICY_SECTIONS[section]}", body]))
        elif section in proposals:
            name, text = proposals[section]
            blocks.append("\n".join(_note(section) + [f"# Proposed by {name}: review it.", text]))
        else:
            why = f"# (no proposal: {dropped[section]})\n" if section in dropped else ""
            blocks.append(why + _commented_section(section))
    return "\n\n".join(blocks) + "\n"


def _problems(text: str, root: Path) -> List:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / CONFIG_NAME
        path.write_text(text, encoding="utf-8")
        try:
            load_settings(path, root)
        except ConfigError as exc:
            return exc.problems
    return []


def as_configured(project, found: Detected):
    """(project, detections) as the written file will see them. When ``src`` or
    ``extend-non-app`` gain folders that auto-detection misses, the index is rebuilt with them
    before models are counted and sections proposed: on a layout whose packages live in such a
    folder (``server/polar/...``), the first index finds almost no models, and a tenant proposal
    read off it would describe another project than the one ``check`` will analyse."""
    if not found.extra_roots and not found.extra_non_app:
        return project, found
    from .project.build import Project, cpu_count

    core = "\n\n".join(_core(found)) + "\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / CONFIG_NAME
        path.write_text(core, encoding="utf-8")
        settings = load_settings(path, project.root)
    clear_caches()
    rebuilt = Project(project.root, settings, use_cache=False, jobs=cpu_count())
    again = detect(rebuilt)
    # the roots and folders stay the ones found first: they are what the file says
    return rebuilt, replace(found, models=again.models, abstract=again.abstract, drivers=again.drivers)


def build_config(project, accept: Iterable[str] = ()) -> Tuple[str, Detected, List[str]]:
    """(text, detections, proposed sections); the text is checked with ``load_settings``.
    ``accept`` names policy sections whose proposal is written live instead of commented out
    (the user confirms it on the command line: ``init --accept tenant``)."""
    project, found = as_configured(project, detect(project))
    proposals, dropped = _propose(project)
    text = render(found, proposals, dropped, active=accept)
    problems = _problems(text, project.root)
    if problems:  # init's own output is invalid: a bug, not the user's problem to fix
        raise RuntimeError("init produced an invalid mandu.yaml: " + "; ".join(map(str, problems)))
    return text, found, sorted(proposals)


# --- the command -----------------------------------------------------------------------------


def project_root(path: Path) -> Path:
    """Where init writes: beside the mandu.yaml already governing PATH, else the VCS root, else
    PATH itself (its folder, for a file)."""
    start = Path(os.path.abspath(path))
    start = start if start.is_dir() else start.parent
    root, config = find_project(start)
    if config is not None:
        return root
    return vcs_root(start) or start


def _diff(old: str, new: str, shown: str) -> List[str]:
    def lines(text):
        return [line if line.endswith("\n") else line + "\n" for line in text.splitlines(True)]

    return list(difflib.unified_diff(lines(old), lines(new), f"{shown} (existing)", f"{shown} (init)"))


def _summary(target: Path, found: Detected, proposed: List[str]) -> str:
    src = "src: " + ("auto-detected" if not found.extra_roots else "+" + ", ".join(found.extra_roots))
    non_app = "non-app: " + ("defaults" if not found.extra_non_app else "+" + ", ".join(found.extra_non_app)
                             + " (extend-non-app)")
    parts = [f"ORMs: {orm_summary(found)}"]
    if found.drivers:
        parts.append("drivers: " + ", ".join(sorted(found.drivers)))
    parts += [src, non_app, "proposed: " + (", ".join(proposed) or "none")]
    return f"wrote {target} ({'; '.join(parts)})"


def _write(target: Path, text: str) -> None:
    """Through a temporary file: an interrupted run never leaves a half-written config."""
    tmp = target.with_name(f".{CONFIG_NAME}.tmp{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def findings_with(root: Path, text: str) -> Counter:
    """Findings per code that a check of the whole project would report with ``text`` as its
    mandu.yaml (no cache, nothing written)."""
    from .runner import CheckOptions, check_project, run_project_rules, selection, validate_model_names
    from .project.build import Project

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / CONFIG_NAME
        path.write_text(text, encoding="utf-8")
        settings = load_settings(path, root)
        project = Project(root, settings, use_cache=False, jobs=1)
        validate_model_names(project)
        sel = selection(settings, CheckOptions(use_cache=False, jobs=1))
        counts: Counter = Counter()
        for unit, rels in project.partition(list(project.relfiles)):
            found, _ = check_project(unit, rels, sel, 1)
            more, _ = run_project_rules(unit, sel)
            counts.update(f.code for f in found + more)
    return counts


def section_effects(project, found: Detected, proposals, dropped) -> Dict[str, Counter]:
    """Per proposed section, the findings it adds (or, negative, removes) by code: a check with
    the proposed config, every section uncommented, against one with that section left out (a
    section written commented out counts what it would report once uncommented)."""
    full = findings_with(project.root, render(found, proposals, dropped, active=proposals))
    out = {}
    for section in sorted(proposals):
        rest = {s: p for s, p in proposals.items() if s != section}
        without = findings_with(project.root, render(found, rest, dropped, active=rest))
        delta = Counter(full)
        delta.subtract(without)
        out[section] = Counter({code: n for code, n in delta.items() if n})
    return out


def _effect_lines(effects: Dict[str, Counter]) -> List[str]:
    lines = ["Findings each proposed section would produce (a check with the proposed config; nothing written):"]
    if not effects:
        lines.append("  (no section proposed)")
    for section, delta in effects.items():
        total = sum(delta.values())
        detail = ", ".join(f"{code} {n:+d}" if n < 0 else f"{code} {n}" for code, n in sorted(delta.items()))
        label = f"{section}, once uncommented" if section in POLICY_SECTIONS else section
        lines.append(f"  {label}: {total:+d}" if total < 0 else f"  {label}: {total}")
        if detail:
            lines[-1] += f" ({detail})"
    return lines


def run_init(path: Path, force: bool = False, out: Optional[TextIO] = None, diff: bool = False,
             accept: Iterable[str] = ()) -> int:
    """Write (or, without ``force``, compare against) the project's mandu.yaml.
    0: written or already identical; 1: an existing file differs; 2: error. With ``diff``:
    print the proposed config as a diff and what each proposed section would report; write
    nothing (no config, no cache). ``accept``: policy sections (``POLICY_SECTIONS``) whose
    proposal the user confirms, written uncommented; naming any other section is an error (2)."""
    unknown = sorted(set(accept) - set(POLICY_SECTIONS))
    if unknown:
        print(f"mandu-lint: init: --accept takes {', '.join(sorted(POLICY_SECTIONS))}; "
              f"not {', '.join(unknown)}", file=sys.stderr)
        return 2
    from .project.build import Project, cpu_count

    out = out or sys.stdout
    if not Path(path).exists():
        print(f"mandu-lint: init: {path}: no such file or directory", file=sys.stderr)
        return 2
    clear_caches()  # a long-lived process (tests) may have cached "no config here"
    root = project_root(Path(path))
    target = root / CONFIG_NAME
    if diff:
        try:
            project = Project(root, load_settings(None, root), use_cache=False, jobs=cpu_count())
            project, found = as_configured(project, detect(project))
            proposals, dropped = _propose(project)
            text = render(found, proposals, dropped, active=accept)
            existing = target.read_text(encoding="utf-8") if target.exists() else ""
            shown = str(target)
            lines = _diff(existing, text, shown) if existing else \
                list(difflib.unified_diff([], text.splitlines(True), "/dev/null", f"{shown} (init)"))
            out.writelines(lines or [f"{CONFIG_NAME} already matches what init would write\n"])
            for line in _effect_lines(section_effects(project, found, proposals, dropped)):
                print(line, file=out)
        except (OSError, UnicodeDecodeError, RuntimeError, ConfigError) as exc:
            print(f"mandu-lint: init: {exc}", file=sys.stderr)
            return 2
        finally:
            clear_caches()
        return 0
    try:
        project = Project(root, load_settings(None, root), use_cache=False, jobs=cpu_count())
        text, found, proposed = build_config(project, accept)
        existing = target.read_text(encoding="utf-8") if target.exists() else None
        if existing is not None and not force:
            if existing == text:
                print(f"{CONFIG_NAME} exists and matches what init would write; nothing to do", file=out)
                return 0
            out.writelines(_diff(existing, text, str(target)))
            print(f"{CONFIG_NAME} exists; rerun with --force to overwrite", file=out)
            return 1
        _write(target, text)
    except (OSError, UnicodeDecodeError, RuntimeError) as exc:
        print(f"mandu-lint: init: {exc}", file=sys.stderr)
        return 2
    finally:
        clear_caches()
    print(_summary(target, found, proposed), file=out)
    missing = [s for s in accept if s not in proposed]
    if missing:  # nothing to accept: the section is written commented out, as without --accept
        print(f"mandu-lint: init: no proposal to accept for {', '.join(missing)}; "
              "the section is written commented out", file=sys.stderr)
    return 0
