"""The flake8 plugin (entry point ``MDB``): mandu-lint's findings as flake8 errors.

Division of labour: flake8 decides what is *reported* (``--select``/``--ignore``,
``per-file-ignores``, ``exclude``, ``# noqa``, ``# flake8: noqa``), so the plugin runs every
default rule and never filters by ``# noqa`` itself; it only decides what is *run*: opt-in rules
named by full code (in ``mandu.yaml``'s ``select``/``extend-select`` or flake8's
``--select``/``--extend-select``), and no application rules in ``non-app`` files (tests,
migrations), exactly as the CLI does - so both front ends report the same findings.

flake8 calls the plugin once per file, possibly in ``--jobs`` worker processes. Each process
keeps one :class:`Project` per (root, config) in :data:`_PROJECTS`; the index behind it comes
from ``.mandu_cache/`` (built once, under a file lock, by whichever process gets there first).
Unsaved editor buffers (``flake8 --stdin-display-name app/views.py -``) get a fresh Project
with the buffer as an override, so a cached Project never sees, or keeps, unsaved text.

Nothing here may raise into flake8 (an exception out of ``run()`` aborts the whole flake8 run),
and nothing may fail silently either: flake8 fails only on findings, so a configuration that
cannot be loaded (invalid ``mandu.yaml``, a missing ``--mandu-config``) is an MDB001 finding at
line 1 of every file it governs, and a file the plugin could not check (an internal error, a file
nested too deeply) is an MDB002 finding at line 1; both also print one line on stderr.
"""
from __future__ import annotations

import io
import multiprocessing
import os
import sys
import tokenize
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from .. import __version__

if TYPE_CHECKING:  # pragma: no cover
    from ..config import ConfigError, Settings
    from ..model import Finding
    from ..project.build import Project

# flake8 imports every plugin on start-up, even for `flake8 --select=E`: the analyser itself is
# imported on the first file the plugin checks (see _findings).

# (config.Where, the file when it is checked alone) -> its Project, or the ConfigError that
# stopped it (reported once per process).
_PROJECTS: Dict[tuple, Union["Project", "ConfigError"]] = {}


def choose_rules(settings: Settings, named: Iterable[str] = ()) -> list:
    """The rules to run: every default rule, plus each opt-in rule whose full code is named in
    the config's ``select``/``extend-select`` or in ``named`` (flake8's own select options).
    A prefix never turns an opt-in rule on (as in the CLI); flake8 filters the rest.
    Project-level checks are CLI-only: flake8 sees one file at a time."""
    from ..registry import select_rules

    names = {c.upper() for c in named}
    names.update(settings.select or ())
    names.update(settings.extend_select or ())
    rules = select_rules(None, sorted(names), [], settings)
    return [r for r in rules if not getattr(r, "project_level", False)]


def _warn(message: str) -> None:
    print(f"mandu-lint: {message}", file=sys.stderr, flush=True)


def _jobs() -> int:
    """flake8's ``--jobs`` workers are daemonic and may not start processes of their own."""
    from ..project.build import cpu_count

    return 1 if multiprocessing.current_process().daemon else cpu_count()


def _project(where, path: Path) -> Union["Project", "ConfigError"]:
    from ..config import ConfigError, load_settings
    from ..project.build import Project

    alone = where.how.endswith("alone")
    key = (where, path if alone else None)
    hit = _PROJECTS.get(key)
    if hit is None:
        root, config, how = where
        only = [os.path.relpath(path, root).replace(os.sep, "/")] if alone else None
        try:
            hit = Project(root, load_settings(config, root), use_cache=not alone, jobs=_jobs(),
                          forced=how.startswith("forced"), only=only)
            hit.how = how
            for warning in (hit.cache.warning if hit.cache is not None else "", hit.settings.non_app_warning(),
                            *hit.settings.warnings):
                if warning:
                    _warn(warning)  # once per project and process
        except ConfigError as exc:
            hit = exc
            _warn(f"invalid configuration, files under {root} are not checked (MDB001):\n{exc}")
        _PROJECTS[key] = hit
    return hit


def _same(data: Optional[bytes], text: str) -> bool:
    """Is flake8's text the file on disk? flake8 reads files with universal newlines."""
    from ..core.source import decode

    if data is None:
        return False
    try:
        disk = decode(data)
    except (UnicodeDecodeError, LookupError, SyntaxError):
        return False
    return _newlines(disk) == _newlines(text)


def _newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _encode(text: str) -> bytes:
    """Bytes the engine decodes back to ``text`` (it honours a PEP 263 coding cookie)."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(text.encode("utf-8")).readline)
        return text.encode(encoding)
    except (SyntaxError, LookupError, UnicodeError):
        return text.encode("utf-8")


class ManduPlugin:
    """One flake8 check of one file (flake8 passes ``tree``, ``filename`` and ``lines``)."""

    name = "mandu-lint"
    version = __version__
    config: Optional[Path] = None  # --mandu-config: one mandu.yaml for every file
    named: Tuple[str, ...] = ()  # flake8's --select/--extend-select entries
    active = True  # False when flake8's select can never report an MDB code (`--select=E,F`)

    def __init__(self, tree, filename: str, lines: Sequence[str]):
        self.tree = tree
        self.filename = filename
        self.lines = lines

    @classmethod
    def add_options(cls, option_manager) -> None:
        option_manager.add_option(
            "--mandu-config", metavar="PATH", default=None, parse_from_config=True, normalize_paths=True,
            help="use this mandu.yaml for every file, wherever it lives (the project root stays each "
                 "file's VCS root, else the current folder); default: the nearest mandu.yaml up to the VCS root")
        option_manager.add_option(
            "--mandu-confidence", metavar="LEVEL", default=None, parse_from_config=True, choices=["high", "medium"],
            help="lowest confidence of mandu-lint findings to report: high (default, or the config's "
                 "`confidence`) or medium")

    @classmethod
    def parse_options(cls, options) -> None:
        config = getattr(options, "mandu_config", None)
        cls.config = Path(os.path.abspath(config)) if config else None
        cls.confidence = getattr(options, "mandu_confidence", None)
        select = getattr(options, "select", None)
        cls.named = tuple(select or ()) + tuple(getattr(options, "extend_select", None) or ())
        # flake8 runs every plugin and filters afterwards; an explicit --select that names
        # nothing of ours would throw the whole analysis away.
        cls.active = select is None or any(c.startswith("MDB") or "MDB".startswith(c) for c in cls.named)

    def run(self):
        if not self.active:
            return
        try:
            findings = self._findings()
        except Exception as exc:  # never abort flake8, never pass silently: MDB002 at line 1
            from ..diagnostics import not_checked

            why = " ".join(str(exc).split())  # one line, whatever the exception says
            reason = f"internal error ({type(exc).__name__}: {why}); mandu-lint {__version__}, please report it"
            _warn(f"{self.filename}: {reason}")
            findings = [not_checked(self.filename, reason)]
        for f in findings:
            yield f.span.line, f.span.col, f"{f.code} {f.message}", type(self)

    def _findings(self) -> List["Finding"]:
        from ..config import locate
        from ..engine import SYNTAX_CODE
        from ..model import shown
        from ..project.build import Project
        from ..runner import Selection, check_file, targets

        path = Path(os.path.abspath(self.filename))
        where = locate(path, self.config)
        project = _project(where, path)
        if not isinstance(project, Project):  # MDB001: at line 1 of each file the config governs
            from ..diagnostics import config_not_loaded

            config = project.problems[0].path if project.problems else str(where.config)
            return [config_not_loaded(config, project)]
        if path.suffix not in (".py", ".pyi"):
            return []
        if project.only is None and not project.files.contains(path):
            return []
        rel = os.path.relpath(path, project.root).replace(os.sep, "/")
        text = "".join(self.lines)
        targets(project, [path])  # registers a file the project walk skipped, as the CLI does
        unit = project.unit_for(rel)  # a monorepo service's own index
        if not _same(unit.data(rel), text):  # an unsaved buffer, or a file changed since this process read it
            fresh = Project(project.root, project.settings, use_cache=project.cache is not None, jobs=_jobs(),
                            forced=project.how.startswith("forced"), only=project.only)
            fresh.how = project.how
            targets(fresh, [path])
            unit = fresh.unit_for(rel)
            unit.set_override(rel, _encode(text))
        project = unit
        rules = choose_rules(project.settings, self.named)
        sel = Selection(rules, tuple(r.code for r in rules), None, [], [], [], noqa_check=True)
        findings, notices = check_file(project, rel, sel, noqa=False, tree=self.tree)
        for n in notices:
            if n.error:
                _warn(n.message)
        threshold = getattr(self, "confidence", None) or project.settings.confidence
        return [f for f in findings if f.code != SYNTAX_CODE and shown(f, threshold)]  # flake8 reports E999
