"""A check run: group paths by project root, build each project's index, check the files
(in worker processes for large runs), then apply baselines. Front ends (CLI, fix) call
:func:`check_paths`; the flake8 plugin calls :func:`check_file` per file.
"""
from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from . import __version__
from .config import Settings, Where, load_settings, locate, with_values
from .diagnostics import (ALWAYS_ON, FAILURE_CODES, NOQA_CODE, SYNTAX_CODE, known_codes,
                          not_checked)
from .engine import FileContext, apply_noqa, decode, fingerprint, parse, run_rules, skipped
from .globs import GlobSet
from .model import Finding, Notice, ProjectResult, RunResult, Span, shown
from .project.build import INDEX_ERROR, Project, cpu_count, extract_file
from .project.workers import ShardPool, kept_tree, worker_pool
from .project.files import nested_configs
from .project.cache import findings_name, located, portable
from .noqa import noqa_problems
from .registry import all_metas, is_enabled, select_rules

_PARALLEL_MIN = 48


class UsageError(Exception):
    """A bad command line: exit 2 with this message."""


def run_failed(result: RunResult) -> bool:
    """Exit 2: an error notice (a crashed rule) or a file/config that was not checked (MDB001/2)."""
    return result.had_error or any(f.code in FAILURE_CODES for f in result.findings)


@dataclass
class CheckOptions:
    select: Optional[List[str]] = None  # replaces the config's select
    extend_select: List[str] = field(default_factory=list)
    ignore: List[str] = field(default_factory=list)
    config: Optional[Path] = None  # forces one config for every path
    use_cache: bool = True
    jobs: int = 0  # 0: the core count
    baseline: Optional[Path] = None
    use_baseline: bool = True  # False when writing a baseline: report everything
    # A progress sink factory: ``progress(total)`` returns an object with ``advance(n)`` and
    # ``close()``, or None for no progress. The front end supplies it (the CLI draws a bar).
    progress: Optional[Callable[[int], object]] = None
    confidence: Optional[str] = None  # "high" | "medium"; None: the config's ``confidence``
    extend_exclude: List[str] = field(default_factory=list)  # --extend-exclude
    per_file_ignores: Dict[str, List[str]] = field(default_factory=dict)  # --per-file-ignores
    stdin: Optional[Tuple[str, bytes]] = None  # --stdin-filename: (path, the source on stdin)


@dataclass
class Selection:
    """The rules enabled in one project, and the per-file ignores."""

    rules: list
    codes: Tuple[str, ...]
    select: Optional[List[str]]
    extend: List[str]
    ignore: List[str]
    per_file: List[Tuple[GlobSet, Tuple[str, ...]]]
    noqa_check: bool = True  # MDB003 (unknown or unused ``# noqa`` codes)
    confidence: str = "high"  # lowest confidence reported (ownership is decided before this filter)

    @property
    def file_rules(self) -> list:
        return [r for r in self.rules if not getattr(r, "project_level", False)]

    @property
    def project_rules(self) -> list:
        return [r for r in self.rules if getattr(r, "project_level", False)]

    def dropped(self, rel: str, code: str) -> bool:
        return any(code.startswith(c) for globs, codes in self.per_file if globs.match(rel) for c in codes)

    def for_file(self, rel: str, non_app: bool) -> list:
        """The file rules that judge ``rel``: in a ``non-app`` file (tests, migrations) only
        the rules that judge such files (``Rule.judges_non_app``, a flag or a per-file predicate:
        the migrations family)."""
        rules = [r for r in self.file_rules if not self.dropped(rel, r.code)]
        return [r for r in rules if _judges_non_app(r, rel)] if non_app else rules

    def cache_key(self, project, rel: str) -> str:
        """The part of a file's findings-cache key its rules add (``Rule.cache_key``)."""
        return "".join(r.cache_key(project, rel) for r in self.for_file(rel, project.is_non_app(rel))
                       if hasattr(r, "cache_key"))

    def uncached(self, rel: str) -> bool:
        """A rule that judges non-app files by its own predicate and whose ``cache_key`` does not
        cover what it reads (``cached_by_history`` says it does) is never served from the cache."""
        return any(callable(getattr(r, "judges_non_app", None)) and r.judges_non_app(rel)
                   and not getattr(r, "cached_by_history", False) for r in self.file_rules)

    def syntax_enabled(self, rel: str) -> bool:
        return True  # MDB000-MDB002 are always on (diagnostics.py)


def _judges_non_app(rule, rel: str) -> bool:
    flag = getattr(rule, "judges_non_app", False)
    return bool(flag(rel)) if callable(flag) else bool(flag)


def selection(settings: Settings, opts: CheckOptions) -> Selection:
    select = opts.select if opts.select is not None else settings.select
    extend = list(settings.extend_select or []) + list(opts.extend_select)
    ignore = list(settings.ignore or []) + list(opts.ignore)
    rules = select_rules(select, extend, ignore, settings)
    per_file = [(GlobSet([g]), tuple(codes)) for g, codes in list((settings.per_file_ignores or {}).items())
                + list((opts.per_file_ignores or {}).items())]
    noqa_check = is_enabled(NOQA_CODE, True, select, extend, ignore)
    codes = tuple(r.code for r in rules) + ((NOQA_CODE,) if noqa_check else ())
    confidence = opts.confidence or settings.confidence
    return Selection(rules, codes, select, extend, ignore, per_file, noqa_check, confidence)


# -- one file ---------------------------------------------------------------------------------
def _read_error(path: str) -> str:
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    return "cannot read"


def _owners(rules: list) -> list:
    """Rules that own nodes a selected fallback rule would otherwise report (MDB301 yields to
    MDB303 on a write in a loop) but that are deselected - ignored, or dropped for this file by
    ``per-file-ignores``. They run anyway and their findings are dropped: ownership is decided
    before select/ignore, so ignoring MDB303 never resurfaces its finding as MDB301 (as
    ``# noqa: MDB303`` never did). An opt-in owner that is not enabled owns nothing."""
    from .registry import rule_for

    running = {r.code for r in rules}
    out = []
    for rule in rules:
        for code in getattr(rule, "yields_to", ()):
            owner = rule_for(code) if code not in running else None
            if owner is not None and code not in running and owner.default \
                    and not getattr(owner, "project_level", False):
                running.add(code)
                out.append(owner)
    return out


def check_file(project: Project, rel: str, sel: Selection, noqa: bool = True,
               tree=None) -> Tuple[List[Finding], List[Notice]]:
    """Findings of one file; ``noqa=False`` leaves ``# noqa`` to the caller (flake8 applies it);
    ``tree`` is a tree of the same content already parsed by the caller (flake8 hands one over).
    A file that cannot be checked is an MDB000/MDB002 finding (never a note): see diagnostics.py."""
    path = str(project.root / rel)
    rules = [r for r in sel.for_file(rel, project.is_non_app(rel)) if not r.skips(project, rel)]
    indexed = project.index.files.get(rel) if rel not in project._overrides else None
    if indexed is not None and indexed.error and indexed.error.startswith(INDEX_ERROR):
        return fingerprint([not_checked(path, indexed.error)], rel), []  # never a silent pass
    if not rules and tree is None and rel not in project._overrides:
        if indexed is not None and indexed.error is None:
            return [], []  # it parsed when it was indexed, and no rule applies here (tests, migrations)
    data = project.data(rel)
    if data is None:
        return fingerprint([not_checked(path, _read_error(path))], rel), []
    try:
        source = decode(data)
    except (UnicodeDecodeError, LookupError, SyntaxError) as exc:
        f = Finding(SYNTAX_CODE, f"cannot decode file: {exc}", path, Span(1, 0, 1, 0), node_text="decode")
        return fingerprint([f], rel), []
    if skipped(source):
        return [], []
    problem = None
    if tree is None:
        tree = kept_tree(rel, data)  # parsed by this worker when it indexed the file
    if tree is None:
        try:
            tree, problem = parse(source, path)
        except (RecursionError, MemoryError):
            problem = not_checked(path, "too deeply nested for Python's parser")
    if tree is None:
        return fingerprint([problem], rel), []
    if not rules:
        return [], []
    facts = project.index.files.get(rel)
    if facts is None:
        facts = extract_file(str(project.root), rel, *project.modules.get(rel, ("", False)), data)
    if facts.error == "too deeply nested":
        return fingerprint([not_checked(path, "too deeply nested to analyse")], rel), []
    ctx = FileContext(path, rel, source, tree, project, facts)
    owners = _owners(rules)
    findings, notices = run_rules(ctx, rules + owners)
    if owners:  # they ran only to claim their nodes from the fallback rules
        hidden = {r.code for r in owners}
        owned, findings = findings, [f for f in findings if f.code not in hidden]
    else:
        owned = findings
    if sel.noqa_check and "noqa" in source.lower() and not sel.dropped(rel, NOQA_CODE):
        ran = {r.code for r in rules + owners} | ALWAYS_ON
        findings += [Finding(NOQA_CODE, msg, path, Span(line, col, line, col), node_text=text)
                     for line, col, text, msg in noqa_problems(
                         source, owned, ran, known_codes(),
                         require_reason=bool(project.settings.values.get(("", "require-noqa-reason"))))]
    if noqa:
        kept = [f for f in findings if f.code in ALWAYS_ON]
        findings = apply_noqa([f for f in findings if f.code not in ALWAYS_ON], source) + kept
    return fingerprint(findings, rel), notices


def check_file_cached(project: Project, rel: str, sel: Selection):
    cache = project.cache
    if cache is None or sel.uncached(rel):
        return check_file(project, rel, sel)
    key = (project.digests.get(rel), project.dep_digest(rel), project.settings.digest, sel.codes, __version__,
           project.templates_digest, sel.cache_key(project, rel))
    name = findings_name(rel)
    hit = cache.load(name)
    if hit is not None and hit[0] == key:
        return located(hit[1], project.root), located(hit[2], project.root)
    findings, notices = check_file(project, rel, sel)
    if not any(n.error for n in notices) and not any(f.code in FAILURE_CODES for f in findings):
        cache.store(name, (key, portable(findings, project.root), portable(notices, project.root)))
    return findings, notices


# -- worker processes --------------------------------------------------------------------------
_WORKER: Dict[str, object] = {}


def _init_worker(state: bytes) -> None:
    project, sel = pickle.loads(state)
    _WORKER["project"] = project
    _WORKER["sel"] = sel


def _check_batch(rels: Sequence[str]):
    project, sel = _WORKER["project"], _WORKER["sel"]
    return [(rel,) + tuple(check_file_cached(project, rel, sel)) for rel in rels]


def _check_shards(pool: ShardPool, state: bytes, todo: Sequence[str], size: int, results: dict, progress) -> None:
    """The check phase on the workers that indexed the files: each file's batch goes to the
    worker holding its tree (see ``project/workers.py``)."""
    pool.broadcast(_init_worker, state)
    by_worker: Dict[Optional[int], List[str]] = {}
    for rel in todo:
        by_worker.setdefault(pool.holder.get(rel), []).append(rel)
    batches = [(w, rels[i:i + size]) for w, rels in by_worker.items() for i in range(0, len(rels), size)]
    _collect((part for _worker, part in pool.run(_check_batch, batches)), results, progress)


def _collect(parts, results: dict, progress) -> None:
    """Store each worker batch's ``(rel, findings, notices)`` rows as they arrive."""
    for part in parts:
        for rel, findings, notices in part:
            results[rel] = (findings, notices)
        if progress:
            progress.advance(len(part))


def check_project(project: Project, rels: Sequence[str], sel: Selection, jobs: int, progress=None):
    """Findings and notices of ``rels`` (paths relative to the project root)."""
    results: Dict[str, tuple] = {}
    todo = list(rels)
    if project.cache is not None:
        todo = []
        for rel in rels:
            hit = _cached(project, rel, sel)
            if hit is None:
                todo.append(rel)
            else:
                results[rel] = hit
        if progress:
            progress.advance(len(rels) - len(todo))
    if jobs > 1 and len(todo) >= _PARALLEL_MIN:
        project.index  # noqa: B018 - build (and cache) once, before the workers need it
        state = pickle.dumps((project.for_worker(), sel), protocol=pickle.HIGHEST_PROTOCOL)
        size = max(4, len(todo) // (jobs * 6))
        if project.shards is not None:  # the workers that indexed these files hold their trees
            try:
                _check_shards(project.shards, state, todo, size, results, progress)
            except BaseException:
                project.close_shards(wait=False)
                raise
            project.close_shards()
        else:
            batches = [todo[i:i + size] for i in range(0, len(todo), size)]
            with worker_pool(jobs, _init_worker, (state,)) as pool:
                _collect(pool.map(_check_batch, batches), results, progress)
    else:
        for rel in todo:
            results[rel] = check_file_cached(project, rel, sel)
            if progress:
                progress.advance(1)
    if todo:
        for rel in todo:
            project.dep_digest(rel)
        project.store_deps()
    findings = [f for rel in rels for f in results[rel][0]]
    notices = [n for rel in rels for n in results[rel][1]]
    return findings, notices


def _cached(project: Project, rel: str, sel: Selection):
    """A cache hit without building the index (a warm run never loads it)."""
    deps = project.cached_deps()
    if deps is None or rel not in deps or sel.uncached(rel):
        return None
    key = (project.digests.get(rel), deps[rel], project.settings.digest, sel.codes, __version__,
           project.templates_digest, sel.cache_key(project, rel))
    hit = project.cache.load(findings_name(rel))
    if hit is not None and hit[0] == key:
        return located(hit[1], project.root), located(hit[2], project.root)
    return None


# -- a whole run -------------------------------------------------------------------------------
def group_paths(paths: Sequence[str], config: Optional[Path], stdin: Sequence[str] = ()) -> Dict[Where, List[Path]]:
    """The paths of a run by project (see :func:`mandu_lint.config.locate`). Without
    ``config``, a folder holding its own config below a checked folder is a project of its own."""
    groups: Dict[Where, List[Path]] = {}
    for raw in paths or ["."]:
        p = Path(os.path.abspath(raw))
        if not p.exists() and raw not in stdin:
            raise UsageError(f"{raw}: no such file or directory")
        key = locate(p, config)
        if config is None and p.is_dir():  # `check examples/` with one mandu.yaml per app: one project each
            for sub in nested_configs(p):
                groups.setdefault(locate(sub), []).append(sub)
        groups.setdefault(key, []).append(p)
    return groups


def load_project(root: Path, config_path: Optional[Path], opts: CheckOptions, how: str = "",
                 paths: Sequence[Path] = ()) -> Project:
    """``how`` (config.HOW) and ``paths`` come from :func:`group_paths`: a file checked alone
    is a project of just that file, a forced config takes in nested configs' folders."""
    settings = load_settings(config_path, root)  # raises ConfigError
    if opts.extend_exclude:
        settings = with_values(settings, {("", "exclude"): list(settings.exclude or []) + list(opts.extend_exclude)})
    alone = [os.path.relpath(p, root).replace(os.sep, "/") for p in paths] if how.endswith("alone") else None
    project = Project(root, settings, use_cache=opts.use_cache and alone is None, jobs=opts.jobs or cpu_count(),
                      forced=how.startswith("forced"), only=alone)
    project.how = how
    for one in [project] + project.units:  # a check follows: indexing workers keep their trees
        one.keep_workers = True
    try:
        validate_model_names(project)
    except BaseException:
        close_workers(project)
        raise
    return project


def close_workers(project: Project) -> None:
    for one in [project] + project.units:
        one.close_shards()


def validate_model_names(project: Project) -> None:
    """Model identifiers in the config must name one model: a class name unique in the index,
    ``app_label.Model`` or a dotted path. An ambiguous or unknown bare name is a config error
    (listing the candidates), so is an unknown ``app_label.Model`` of a project app or a dotted
    path into the project (with a close name suggested); a dotted path outside the project (a
    library's model) is allowed."""
    from .config import ConfigError
    from .options import registry

    settings = project.settings
    problems = []
    for (section, key), opt in sorted(registry().items()):
        value = settings.values.get((section, key))
        if opt.kind not in ("model-list", "auto-or-model-list") or not isinstance(value, list) or not value:
            continue
        indexes = [unit.index for unit in (project.units or [project])]  # a monorepo: per service
        for i, name in enumerate(value):
            found = [ix.model_named(name) for ix in indexes]
            cands = next((c for c in found if len(c) > 1), None) or next((c for c in found if c), [])
            if len(cands) > 1:
                listed = ", ".join(sorted(f"{m.app_label}.{m.name}" if m.orm == "django" else m.qual for m in cands))
                problems.append(settings.problem(section, key, f"model {name!r} is ambiguous: {listed}", item=i))
            elif not cands:
                said = [ix.model_name_problem(name) for ix in indexes]  # None: a library's model
                if all(said):
                    problems.append(settings.problem(section, key, said[0], item=i))
    if problems:
        raise ConfigError(problems)


def targets(project: Project, paths: Sequence[Path]) -> List[str]:
    """The files to check (relative to the project root) for the paths named. A file named
    explicitly is checked even when VCS-ignored or in a hidden folder - only ``exclude`` and a
    nested project's folder keep it out; a folder named through a symlink is followed."""
    if project.only is not None:  # a file checked alone
        return list(project.only)
    out = []
    for p in paths:
        rel = os.path.relpath(p, project.root).replace(os.sep, "/")
        if p.is_dir():
            prefix = "" if rel == "." else rel + "/"
            found = [r for r in project.relfiles if r.startswith(prefix)]
            if not found and os.path.islink(str(p).rstrip(os.sep)):
                found = _symlinked(project, p)
            out.extend(found)
        elif p.suffix in (".py", ".pyi") and project.files.named(p):
            out.append(rel)
            project.add_file(rel)
    return sorted(set(out))


def _symlinked(project: Project, folder: Path) -> List[str]:
    """Files of a folder named through a symlink: the project's files under its target when
    that lies in the project, else the folder's own walk (taken into the project)."""
    real = os.path.realpath(folder)
    try:
        rel_real = os.path.relpath(real, os.path.realpath(project.root)).replace(os.sep, "/")
    except ValueError:
        rel_real = ".."
    if not rel_real.startswith(".."):
        prefix = "" if rel_real == "." else rel_real + "/"
        found = [r for r in project.relfiles if r.startswith(prefix)]
        if found:
            return found
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not project.files._skip_dir_name(dirpath, d))
        for name in sorted(filenames):
            if name.endswith((".py", ".pyi")):
                rel = os.path.relpath(os.path.join(dirpath, name), project.root).replace(os.sep, "/")
                if not project.files.exclude.match(rel):
                    project.add_file(rel)
                    out.append(rel)
    return out


def check_paths(paths: Sequence[str], opts: CheckOptions, projects_out: Optional[dict] = None) -> RunResult:
    """``projects_out``, when given, receives root -> (Project, Selection): the fix engine
    re-checks edited files with the project the run already loaded."""
    from .baseline import apply_baseline

    jobs = opts.jobs or cpu_count()
    projects = []
    enabled = {}
    noqa: List[str] = []
    if opts.stdin is not None:
        paths = [opts.stdin[0]]
    groups = group_paths(paths, opts.config, [opts.stdin[0]] if opts.stdin else [])
    for where, items in sorted(groups.items(), key=lambda kv: str(kv[0].root)):
        root = where.root
        project = load_project(where.root, where.config, opts, where.how, items)
        sel = selection(project.settings, opts)
        if projects_out is not None:
            projects_out[str(root)] = (project, sel)
        enabled.update({r.code: r for r in sel.rules})
        noqa = noqa or ([NOQA_CODE] if sel.noqa_check else [])
        rels = targets(project, items)
        if not rels and any(p.is_dir() for p in items) and len(groups) > 1:
            close_workers(project)
            continue  # a folder whose files all belong to nested projects
        if opts.stdin is not None:  # the buffer, not the disk (which may hold nothing yet)
            for rel in rels:
                project.unit_for(rel).set_override(rel, opts.stdin[1])
        project.checked = rels
        progress = opts.progress(len(rels)) if opts.progress else None
        findings, notices = [], []
        try:
            for unit, unit_rels in project.partition(rels):  # one index per service of a monorepo
                found, said = check_project(unit, unit_rels, sel, jobs, progress)
                more, problems = run_project_rules(unit, sel)
                findings += found + more
                notices += said + problems
        finally:
            close_workers(project)
        if project.cache is not None and project.cache.warning:
            notices.append(Notice(str(project.cache.dir), project.cache.warning))
        for warning in [project.settings.non_app_warning()] + list(project.settings.warnings):
            if warning:
                notices.append(Notice(str(project.settings.config_path or root), warning))
        findings += [not_checked(os.path.join(str(root), folder), f"folder not read: {why}")
                     for folder, why in project.files.walk_errors]
        if progress:
            progress.close()
        below = sum(1 for f in findings if not shown(f, sel.confidence))
        findings = [f for f in findings if shown(f, sel.confidence)]
        notices = list(dict.fromkeys(notices))  # a rule's notice about the project, said by each file once
        result = ProjectResult(str(root), str(project.vcs_root), sorted(findings, key=lambda f: f.sort_key),
                               notices, below_confidence=below, automation_id=automation_id(project))
        result._checked_count = len(rels)
        result._baseline_setting = project.settings.baseline
        if opts.use_baseline:
            apply_baseline(result, project, opts.baseline)
        projects.append(result)
    if not any(getattr(p, "_checked_count", 0) for p in projects) and projects:
        projects[0].notices.append(Notice(", ".join(paths or ["."]), "no Python files found to check"))
    all_meta = all_metas()
    seen = {f.code for p in projects for f in p.findings} | {SYNTAX_CODE} | (set(noqa) if noqa else set())
    rules = {code: all_meta[code] for code in sorted(set(enabled) | seen) if code in all_meta}
    return RunResult(projects, rules, os.getcwd(), __version__)


def run_project_rules(project: Project, sel: Selection) -> Tuple[List[Finding], List[Notice]]:
    """Project-level checks: once per project root, CLI only. Their findings honour noqa and
    per-file-ignores of the file they are anchored to."""
    findings: List[Finding] = []
    notices: List[Notice] = []
    for rule_cls in sel.project_rules:
        rule = rule_cls(project)
        try:
            rule.check()
        except Exception as exc:  # a broken check must not stop the run
            notices.append(Notice(str(project.root), f"rule {rule_cls.code} crashed ({type(exc).__name__}: {exc}); "
                                                     f"mandu-lint {__version__}", error=True, rule=rule_cls.code))
            continue
        notices += getattr(rule, "notices", [])
        by_file: Dict[str, List[Finding]] = {}
        for f in rule.findings:
            rel = os.path.relpath(f.path, project.root).replace(os.sep, "/")
            if not sel.dropped(rel, f.code):
                by_file.setdefault(rel, []).append(f)
        for rel, items in by_file.items():
            data = project.data(rel)
            source = decode(data) if data is not None else ""
            findings += fingerprint(apply_noqa(items, source), rel)
    return findings, notices


def automation_id(project: Project) -> str:
    rel = os.path.relpath(project.root, project.vcs_root).replace(os.sep, "/")
    return "mandu-lint/" + ("" if rel == "." else rel + "/")


# -- --show-settings / --show-files ------------------------------------------------------------
def plan(paths: Sequence[str], opts: CheckOptions):
    """(Where, Project, Selection, files to check) for each project of a run, without checking."""
    out = []
    for where, items in sorted(group_paths(paths, opts.config).items(), key=lambda kv: str(kv[0].root)):
        project = load_project(where.root, where.config, opts, where.how, items)
        out.append((where, project, selection(project.settings, opts), targets(project, items)))
    return out


def _yaml_value(value) -> str:
    import json

    return json.dumps(value) if value is not None else "null"


def show_settings(paths: Sequence[str], opts: CheckOptions) -> str:
    """What a run would use, per project: root and why, config file, source roots, every
    setting (defaults included), the rules, the file counts."""
    from .config import DEFAULT_NON_APP, HOW
    from .options import registry

    lines = []
    for where, project, sel, rels in plan(paths, opts):
        settings = project.settings
        config = str(where.config) if where.config else "none (defaults)"
        how = HOW[where.how].format(config=where.config)
        lines.append(f"Project root: {project.root}")
        lines.append(f"  root chosen as: {how}")
        lines.append(f"  config: {config}")
        lines.append(f"  source roots: {', '.join(r or '.' for r in project.roots)}")
        non_app = [rel for rel in rels if project.is_non_app(rel)]
        lines.append(f"  files: {len(rels)} to check ({len(non_app)} non-app), {len(project.relfiles)} indexed")
        lines.append("  settings:")
        for (section, key), _opt in sorted(registry().items()):
            name = f"{section}.{key}" if section else key
            note = ""
            if (section, key) == ("", "non-app"):
                user = settings.values.get(("", "non-app"))
                note = "  # the defaults" if list(user or []) == list(DEFAULT_NON_APP) else \
                    "  # replaces the defaults"
            lines.append(f"    {name} = {_yaml_value(settings.values.get((section, key)))}{note}")
        lines.append(f"  rules: {', '.join(sel.codes) or '(none)'} (MDB000-MDB002 always)")
        from .registry import describers

        for family, describe in describers():
            detected = describe(project)
            if detected:
                lines.append(f"  detected ({family}):")
                lines.extend(f"    {line}" for line in detected)
    return "\n".join(lines) + "\n"


def show_files(paths: Sequence[str], opts: CheckOptions) -> str:
    """The files a run would check, one per line, relative to the current folder."""
    cwd = os.getcwd()
    out = []
    for _where, project, _sel, rels in plan(paths, opts):
        for rel in rels:
            path = os.path.join(str(project.root), rel)
            try:
                path = os.path.relpath(path, cwd)
            except ValueError:
                pass
            out.append(path)
    return "".join(p + "\n" for p in sorted(out))
