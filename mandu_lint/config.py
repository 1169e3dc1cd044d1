"""``mandu.yaml``: finding it, validating it against the option registry, typed settings.

Every file is governed by the nearest ``mandu.yaml`` in its folder or a parent folder, up to
and including the VCS root, so a monorepo can hold one config per service.  The file is read
at the YAML *node* level (``yaml.compose`` with the safe loader) so that every problem names
its line, nothing is ever constructed from a tag (``!!python/object`` is just an error), and
duplicate keys - which PyYAML silently accepts - can be reported.  All problems are collected
and raised together in one :class:`ConfigError`: fixing a config one error per run is painful.
This module never prints; callers decide how to show a ``ConfigError``.
"""
from __future__ import annotations

import copy
import difflib
import functools
import hashlib
import json
import os
import re
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import yaml

from . import options
from . import rules as _catalogue  # noqa: F401 - imports every family, which declares its options
from .globs import GlobSet, pattern_error

CONFIG_NAME = "mandu.yaml"
PYPROJECT = "pyproject.toml"  # counts as a config only when it has a [tool.mandu-lint] table
TOML_TABLE = "tool.mandu-lint"
VCS_MARKERS = (".git", ".hg")

# Read for the index, kept out of application rules.  A slash-free pattern matches at any
# depth, so "tests/" covers "pkg/tests/"; "alembic/versions/" has an inner slash (anchored),
# hence its "**/" twin.  "tests.py" is Django's per-app test module.
DEFAULT_NON_APP: Tuple[str, ...] = (
    "tests/",
    "test/",
    "tests.py",
    "test_*.py",
    "*_test.py",
    "conftest.py",
    "migrations/",
    "alembic/versions/",
    "**/alembic/versions/",
    "fixtures/",
    "testing/",
)


# --- locating the project ----------------------------------------------------------------


def _is_vcs_root(directory: str) -> bool:
    return any(os.path.exists(os.path.join(directory, m)) for m in VCS_MARKERS)


@functools.lru_cache(maxsize=None)
def _vcs_dir(directory: str) -> Optional[str]:
    """Recursive and cached, so every ancestor is looked at once per run."""
    if _is_vcs_root(directory):
        return directory
    parent = os.path.dirname(directory)
    return None if parent == directory else _vcs_dir(parent)


_TABLE_HEADER = re.compile(r"""^\s*\[\s*tool\s*\.\s*(?:mandu-lint|"mandu-lint"|'mandu-lint')\s*[\].]""", re.M)


def _load_toml(text: str) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib.loads(text)


def has_toml_table(path: str) -> bool:
    """Does this ``pyproject.toml`` hold a ``[tool.mandu-lint]`` table? A file that does not
    parse counts when a header names the table (the syntax error is then reported)."""
    try:
        with open(path, "rb") as fh:
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return False
    if "mandu-lint" not in text:
        return False
    try:
        data = _load_toml(text)
    except Exception:
        return bool(_TABLE_HEADER.search(text))
    tool = data.get("tool")
    return isinstance(tool, dict) and "mandu-lint" in tool


@functools.lru_cache(maxsize=None)
def config_in(directory: str) -> Optional[Path]:
    """The config file of a folder: ``mandu.yaml``, else a ``pyproject.toml`` with a
    ``[tool.mandu-lint]`` table (when both exist, mandu.yaml wins; loading it warns)."""
    if os.path.isfile(os.path.join(directory, CONFIG_NAME)):
        return Path(directory) / CONFIG_NAME
    pyproject = os.path.join(directory, PYPROJECT)
    if os.path.isfile(pyproject) and has_toml_table(pyproject):
        return Path(pyproject)
    return None


@functools.lru_cache(maxsize=None)
def _config_dir(directory: str) -> Optional[str]:
    """Nearest folder holding a config file; the walk stops at the VCS root (inclusive)."""
    if config_in(directory) is not None:
        return directory
    parent = os.path.dirname(directory)
    if _is_vcs_root(directory) or parent == directory:
        return None
    return _config_dir(parent)


def _start_dir(path: Path) -> str:
    path = Path(os.path.abspath(path))
    return str(path if path.is_dir() else path.parent)


def vcs_root(path: Path) -> Optional[Path]:
    """The nearest folder at or above ``path`` holding ``.git`` or ``.hg`` (file or dir)."""
    found = _vcs_dir(_start_dir(path))
    return Path(found) if found else None


def find_project(path: Path) -> Tuple[Path, Optional[Path]]:
    """(project root, config path) for a file or folder.  Without a config the root is the
    VCS root, or else the current directory — unless the path lies outside it, then the path's
    own folder (a root that does not contain the path would check nothing)."""
    start = _start_dir(path)
    found = _config_dir(start)
    if found:
        return Path(found), config_in(found)
    vcs = _vcs_dir(start)
    if vcs:
        return Path(vcs), None
    cwd = os.path.abspath(os.getcwd())
    inside = start == cwd or start.startswith(cwd.rstrip(os.sep) + os.sep)
    return Path(cwd if inside else start), None


class Where(NamedTuple):
    """Which project a path belongs to, and why (``--show-settings`` prints ``how``)."""

    root: Path
    config: Optional[Path]
    how: str  # one of HOW


HOW = {
    "config": "the folder of the nearest config file",
    "vcs": "the VCS root (no config file up to it)",
    "cwd": "the current folder (no config file or VCS root above the path, which lies inside it)",
    "folder": "the checked folder (outside the current folder, no config file or VCS root above it)",
    "alone": "none: a file outside the current folder with no config file or VCS root above it is "
             "checked alone, without indexing its folder",
    "forced-vcs": "the VCS root of the checked path ({config} given by --config)",
    "forced-cwd": "the current folder (no VCS root above the path, which lies inside it; {config} given "
                  "by --config)",
    "forced-folder": "the checked folder (outside the current folder, no VCS root above it; {config} "
                     "given by --config)",
    "forced-alone": "none: a file outside the current folder with no VCS root above it is checked alone "
                    "({config} given by --config)",
}


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def locate(path: Path, config: Optional[Path] = None) -> Where:
    """The project of a file or folder. With ``config`` (``--config``/``--mandu-config``) that
    file governs the path wherever it lives, and the root is the path's VCS root, or else the
    current folder; the config's own folder plays no part. Without it, the nearest config file
    up to the VCS root decides, then the VCS root, then the current folder. A path outside the
    current folder with nothing above it: a folder is its own root, a file is checked alone
    (indexing whatever folder it sits in could mean a whole home directory)."""
    start = _start_dir(path)
    if config is None:
        found = _config_dir(start)
        if found:
            return Where(Path(found), config_in(found), "config")
    forced = "forced-" if config is not None else ""
    config = Path(os.path.abspath(config)) if config is not None else None
    vcs = _vcs_dir(start)
    if vcs:
        return Where(Path(vcs), config, forced + "vcs")
    cwd = os.path.abspath(os.getcwd())
    if _inside(start, cwd):
        return Where(Path(cwd), config, forced + "cwd")
    return Where(Path(start), config, forced + ("folder" if Path(path).is_dir() else "alone"))


def clear_caches() -> None:
    """Forget the filesystem look-ups (tests; long-lived processes after files change)."""
    _vcs_dir.cache_clear()
    _config_dir.cache_clear()
    config_in.cache_clear()


# --- problems ------------------------------------------------------------------------------


class ConfigProblem(NamedTuple):
    path: str
    line: int  # 1-based; 0 when unknown
    key: str  # dotted, e.g. "tenant.depth"; "" for the file as a whole
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(Exception):
    def __init__(self, problems: List[ConfigProblem]):
        self.problems = list(problems)
        super().__init__(self.problems)  # args == (problems,): survives pickling (workers)

    def __str__(self) -> str:
        return "\n".join(map(str, self.problems))


# --- settings ------------------------------------------------------------------------------


def _dotted(section: str, key: str) -> str:
    return f"{section}.{key}" if section and key else section or key


@dataclass
class Settings:
    """The validated configuration of one project: every registered option has a value."""

    root: Path
    config_path: Optional[Path]
    values: Dict[Tuple[str, str], Any]
    lines: Dict[Tuple[str, str], int]
    digest: str
    # Line of each list item, (section, key) -> [line, ...], so that errors found later
    # (an unknown or ambiguous model name) can point at the item itself.
    item_lines: Dict[Tuple[str, str], List[int]] = field(default_factory=dict)
    _globsets: Dict[Tuple[str, str], GlobSet] = field(
        default_factory=dict, repr=False, compare=False
    )
    warnings: List[str] = field(default_factory=list)  # shown once per run (mandu.yaml beside a table)

    def get(self, key: str, section: str = "") -> Any:
        """The value of a registered option (``_`` and ``-`` are interchangeable)."""
        return self.values[(section, key.replace("_", "-"))]

    def section(self, name: str) -> types.SimpleNamespace:
        """A section's options as attributes, e.g. ``settings.section("tenant").depth``."""
        found = {k: v for (s, k), v in self.values.items() if s == name}
        if not found and name not in options.sections():
            raise KeyError(f"unknown config section {name!r}")
        return types.SimpleNamespace(**{k.replace("-", "_"): v for k, v in found.items()})

    def globset(self, key: str, section: str = "") -> GlobSet:
        """A compiled :class:`GlobSet` for a glob-list option, built once per settings."""
        slot = (section, key.replace("_", "-"))
        if slot not in self._globsets:
            self._globsets[slot] = GlobSet(self.values[slot] or ())
        return self._globsets[slot]

    def problem(self, section: str, key: str, message: str, item: Optional[int] = None):
        """A :class:`ConfigProblem` at the line recorded for ``section.key`` (or its item
        number ``item``), for errors found after loading, e.g. an ambiguous model name."""
        items = self.item_lines.get((section, key), [])
        line = items[item] if item is not None and 0 <= item < len(items) else 0
        line = line or self.lines.get((section, key)) or self.lines.get((section, ""), 0)
        path = str(self.config_path) if self.config_path else CONFIG_NAME
        prefix = TOML_TABLE if path.endswith(".toml") else ""
        return ConfigProblem(path, line, _dotted(prefix, _dotted(section, key)), message)

    @property
    def non_app_globs(self) -> List[str]:
        """``non-app`` (the defaults unless set) plus ``extend-non-app``."""
        return list(self.values[("", "non-app")] or []) + list(self.values.get(("", "extend-non-app")) or [])

    def non_app_warning(self) -> str:
        """One warning when ``non-app`` is set and drops default globs ("" otherwise)."""
        if ("", "non-app") not in self.lines or self.values[("", "non-app")] is None:
            return ""
        dropped = [g for g in DEFAULT_NON_APP if g not in self.values[("", "non-app")]]
        if not dropped:
            return ""
        return (f"non-app replaces the default non-app globs; these are dropped, so their files get the "
                f"application rules: {', '.join(dropped)} (to add to the defaults instead, use extend-non-app)")

    src = property(lambda self: self.values[("", "src")])
    exclude = property(lambda self: self.values[("", "exclude")])
    non_app = property(lambda self: self.values[("", "non-app")])
    select = property(lambda self: self.values[("", "select")])
    extend_select = property(lambda self: self.values[("", "extend-select")])
    ignore = property(lambda self: self.values[("", "ignore")])
    per_file_ignores = property(lambda self: self.values[("", "per-file-ignores")])

    @property
    def confidence(self) -> str:
        """The lowest confidence reported: the config's ``confidence``, else the environment's
        ``MANDU_LINT_CONFIDENCE``, else ``high`` (a CLI ``--confidence`` overrides all three)."""
        value = self.values.get(("", "confidence")) or os.environ.get("MANDU_LINT_CONFIDENCE", "")
        return value if value in ("high", "medium") else "high"

    @property
    def baseline(self) -> Optional[Path]:
        """The baseline file resolved against the project root (None when unset)."""
        value = self.values[("", "baseline")]
        return self.root / value if value else None


def _default(opt: options.Option) -> Any:
    if (opt.section, opt.key) == ("", "non-app") and opt.default is None:
        return list(DEFAULT_NON_APP)
    return copy.deepcopy(opt.default)


def _digest(values: Dict[Tuple[str, str], Any]) -> str:
    """sha256 of canonical JSON: equal settings give equal cache keys across runs."""
    flat = {_dotted(s, k): v for (s, k), v in values.items()}
    text = json.dumps(flat, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def with_values(settings: Settings, changes: Dict[Tuple[str, str], Any]) -> Settings:
    """A copy of ``settings`` with some option values replaced (command-line additions such as
    ``--extend-exclude``); the digest follows, so caches keyed by it stay right."""
    values = dict(settings.values)
    values.update(changes)
    return Settings(root=settings.root, config_path=settings.config_path, values=values, lines=settings.lines,
                    digest=_digest(values), item_lines=settings.item_lines)


def load_settings(config_path: Optional[Path], root: Path) -> Settings:
    """Validate ``config_path`` against the registry (defaults only when None).  Raises
    :class:`ConfigError` listing every problem found."""
    registry = options.registry()
    values = {slot: _default(opt) for slot, opt in registry.items()}
    checker = _Checker(str(config_path) if config_path else CONFIG_NAME, registry)
    warnings = []
    if config_path is not None:
        toml = str(config_path).endswith(".toml")
        document = _toml_document(config_path, checker.path) if toml else _compose(config_path, checker.path)
        checker.document(document)
        if checker.problems:
            problems = sorted(checker.problems, key=lambda p: (p.line, p.key))
            if toml:
                problems = [p._replace(key=_dotted(TOML_TABLE, p.key)) for p in problems]
            raise ConfigError(problems)
        values.update(checker.values)
        beside = os.path.join(os.path.dirname(os.path.abspath(config_path)), PYPROJECT)
        if Path(config_path).name == CONFIG_NAME and os.path.isfile(beside) and has_toml_table(beside):
            warnings.append(f"{beside}: [{TOML_TABLE}] is ignored: {CONFIG_NAME} in the same folder wins")
    return Settings(
        root=Path(root),
        config_path=config_path,
        values=values,
        lines=checker.lines,
        digest=_digest(values),
        item_lines=checker.item_lines,
        warnings=warnings,
    )


# --- reading -------------------------------------------------------------------------------


def _read_text(config_path: Path, shown: str) -> str:
    try:
        data = Path(config_path).read_bytes()
    except OSError as exc:
        reason = f"cannot read: {exc.strerror or exc}"
        raise ConfigError([ConfigProblem(shown, 0, "", reason)]) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError([ConfigProblem(shown, line, "", "not valid UTF-8")]) from None


def _compose(config_path: Path, shown: str) -> Optional[yaml.Node]:
    """Parse to a node tree; YAML syntax errors become one problem at their line."""
    text = _read_text(config_path, shown)
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        message = exc.problem or exc.context or "syntax error"
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        message = f"character {exc.character!r} is not allowed"
    except yaml.YAMLError as exc:  # pragma: no cover - every PyYAML error is one of the above
        line, message = 0, str(exc).splitlines()[0]
    raise ConfigError([ConfigProblem(shown, line, "", f"invalid YAML: {message}")])


# --- pyproject.toml: [tool.mandu-lint] as the same node tree ------------------------------

_TOML_PART = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
_TOML_KEY = re.compile(rf"^\s*({_TOML_PART}(?:\s*\.\s*{_TOML_PART})*)\s*=")
_TOML_HEADER = re.compile(r"""^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$""")


def _toml_parts(dotted: str) -> Tuple[str, ...]:
    parts = re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", dotted)
    return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)


def _toml_lines(text: str) -> Dict[Tuple[str, ...], int]:
    """Best-effort line of each table and key path (tomllib gives values, not positions)."""
    lines: Dict[Tuple[str, ...], int] = {}
    table: Tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), start=1):
        header = _TOML_HEADER.match(line)
        if header:
            table = _toml_parts(header.group(1))
            lines.setdefault(table, number)
            continue
        key = _TOML_KEY.match(line)
        if key:
            path = table + _toml_parts(key.group(1))
            for i in range(len(table) + 1, len(path) + 1):
                lines.setdefault(path[:i], number)
    return lines


def _toml_node(value: Any, line: int, path: Tuple[str, ...], lines, shown: str) -> yaml.Node:
    mark = yaml.Mark(shown, 0, max(line - 1, 0), 0, None, None)
    if isinstance(value, dict):
        pairs = []
        for key, child in value.items():
            at = lines.get(path + (key,), line)
            pairs.append((yaml.ScalarNode(_CORE + "str", key, yaml.Mark(shown, 0, at - 1, 0, None, None)),
                          _toml_node(child, at, path + (key,), lines, shown)))
        return yaml.MappingNode(_CORE + "map", pairs, mark, mark)
    if isinstance(value, list):
        return yaml.SequenceNode(_CORE + "seq", [_toml_node(v, line, path, lines, shown) for v in value], mark, mark)
    if isinstance(value, bool):
        return yaml.ScalarNode(_CORE + "bool", "true" if value else "false", mark, mark)
    tag = {int: "int", float: "float", str: "str"}.get(type(value))
    if tag is None:  # dates and times: reported as a value of the wrong kind, never used
        return yaml.ScalarNode("tag:toml,date", str(value), mark, mark)
    return yaml.ScalarNode(_CORE + tag, str(value), mark, mark)


def _toml_document(config_path: Path, shown: str) -> Optional[yaml.Node]:
    """``[tool.mandu-lint]`` of a pyproject.toml as the node tree the YAML checker walks, with
    each key's line; a TOML syntax error is one problem at the line the parser names."""
    text = _read_text(config_path, shown)
    try:
        data = _load_toml(text)
    except Exception as exc:  # tomllib.TOMLDecodeError (ValueError)
        message = str(exc)
        found = re.search(r"at line (\d+)", message)
        raise ConfigError([ConfigProblem(shown, int(found.group(1)) if found else 0, "",
                                         f"invalid TOML: {message}")]) from None
    tool = data.get("tool") if isinstance(data, dict) else None
    table = tool.get("mandu-lint") if isinstance(tool, dict) else None
    if table is None:
        raise ConfigError([ConfigProblem(shown, 0, "", f"no [{TOML_TABLE}] table")])
    lines = _toml_lines(text)
    path = ("tool", "mandu-lint")
    return _toml_node(table, lines.get(path, 1), path, lines, shown)


# --- node helpers --------------------------------------------------------------------------

_CORE = "tag:yaml.org,2002:"
_KINDS_BY_TAG = {
    _CORE + "str": "str",
    _CORE + "int": "int",
    _CORE + "bool": "bool",
    _CORE + "null": "null",
    _CORE + "float": "float",
    _CORE + "seq": "list",
    _CORE + "map": "map",
}
_CODE = re.compile(r"MDB\d{0,3}")


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _kind(node: yaml.Node) -> str:
    """What a node holds, judged by its resolved tag; any other tag (``!!python/...``,
    ``!custom``, timestamps, sets) is "other" and never constructed."""
    return _KINDS_BY_TAG.get(node.tag, "other")


def _describe(node: yaml.Node) -> str:
    kind = _kind(node)
    if kind == "other":
        tag = node.tag.replace(_CORE, "!!")
        return f"a value tagged {tag!r} (only plain YAML values are allowed)"
    if kind in ("list", "map"):
        return "a list" if kind == "list" else "a mapping"
    return repr(node.value) if kind == "str" else node.value or "null"


class _Invalid(Exception):
    """A value failed its check; the problem has already been reported."""


class _Ctx(NamedTuple):
    """What a kind check needs: where to report, under which key, for which option."""

    checker: "_Checker"
    key: str
    opt: options.Option

    def fail(self, node: yaml.Node, message: str) -> _Invalid:
        """Report ``message`` at ``node``; returns the exception for the caller to raise."""
        self.checker.report(node, self.key, message)
        return _Invalid()


# --- kind checks: node -> value, or report and raise _Invalid ------------------------------

_SAFE = yaml.constructor.SafeConstructor()


def _want_str(node: yaml.Node, ctx: _Ctx, what: str = "a string") -> str:
    if _kind(node) != "str":
        raise ctx.fail(node, f"expected {what}, got {_describe(node)}")
    if not node.value.strip():
        raise ctx.fail(node, f"expected {what}, got an empty string")
    return node.value


def _choice(node: yaml.Node, ctx: _Ctx) -> str:
    value = _want_str(node, ctx)
    if ctx.opt.choices and value not in ctx.opt.choices:
        allowed = ", ".join(map(repr, ctx.opt.choices))
        raise ctx.fail(node, f"expected one of {allowed}, got {value!r}")
    return value


def _bool(node: yaml.Node, ctx: _Ctx) -> bool:
    if _kind(node) != "bool":
        raise ctx.fail(node, f"expected true or false, got {_describe(node)}")
    return _SAFE.construct_yaml_bool(node)


def _int(node: yaml.Node, ctx: _Ctx) -> int:
    value = _SAFE.construct_yaml_int(node) if _kind(node) == "int" else -1
    if value < 0:
        raise ctx.fail(node, f"expected a non-negative integer, got {_describe(node)}")
    return value


def _path(node: yaml.Node, ctx: _Ctx) -> str:
    return _want_str(node, ctx, "a path")


def _glob(node: yaml.Node, ctx: _Ctx) -> str:
    value = _want_str(node, ctx, "a glob")
    error = pattern_error(value)
    if error:
        raise ctx.fail(node, f"invalid glob: {error}")
    return value


def _code(node: yaml.Node, ctx: _Ctx) -> str:
    if _kind(node) != "str" or not _CODE.fullmatch(node.value):
        raise ctx.fail(
            node, f"{_describe(node)} is not a rule code (MDB and up to 3 digits, e.g. MDB301)"
        )
    from .diagnostics import selector_problem  # needs the rule registry: imported on use

    ignoring = ctx.key == "ignore" or ctx.key.startswith("per-file-ignores.")
    problem = selector_problem(node.value, ignore=ignoring)
    if problem:
        raise ctx.fail(node, problem)
    return node.value


def _model(node: yaml.Node, ctx: _Ctx) -> str:
    return _want_str(node, ctx, "a model name")


def _list_of(item, what: str):
    """A check for a list whose every item passes ``item``; all bad items are reported.
    A lone scalar is an error (a string would otherwise be iterated as characters)."""

    def check(node: yaml.Node, ctx: _Ctx) -> list:
        if _kind(node) != "list":
            hint = f" (write {json.dumps([node.value])})" if _kind(node) == "str" else ""
            raise ctx.fail(node, f"expected a list of {what}, got {_describe(node)}{hint}")
        values, bad = [], False
        for child in node.value:
            try:
                values.append(item(child, ctx))
            except _Invalid:
                bad = True
        if bad:
            raise _Invalid()
        return values

    return check


def _auto_or_models(node: yaml.Node, ctx: _Ctx):
    if _kind(node) == "str":
        if node.value == "auto":
            return "auto"
        raise ctx.fail(node, f"expected 'auto' or a list of models, got {node.value!r}")
    return _list_of(_model, "model names")(node, ctx)


def _glob_codes(node: yaml.Node, ctx: _Ctx) -> dict:
    if _kind(node) != "map":
        raise ctx.fail(node, f"expected a mapping {{glob: [codes]}}, got {_describe(node)}")
    result, bad = {}, False
    codes = _list_of(_code, "rule codes")
    for key, key_node, value_node in ctx.checker.items(node, ctx.key):
        try:
            result[_glob(key_node, ctx)] = codes(value_node, ctx._replace(key=f"{ctx.key}.{key}"))
        except _Invalid:
            bad = True
    if bad:
        raise _Invalid()
    return result


_CHECKS = {
    "str": _choice,
    "bool": _bool,
    "int": _int,
    "path": _path,
    "str-list": _list_of(_choice, "strings"),
    "glob-list": _list_of(_glob, "globs"),
    "code-list": _list_of(_code, "rule codes"),
    "glob-codes": _glob_codes,
    "model-list": _list_of(_model, "model names"),
    "auto-or-model-list": _auto_or_models,
}


# --- the document walk ---------------------------------------------------------------------


def _suggestion(name: str, section: str, valid: List[str], registry) -> str:
    """", did you mean ...?" for a typo, a snake_case spelling or a key of another section;
    else the list of valid keys."""
    kebab = name.replace("_", "-")
    close = [kebab] if kebab in valid else []
    if not close:  # a key of another section (or a top-level key inside a section)
        close = [_dotted(s, k) for s, k in registry if k == kebab and s != section]
        close = [c if "." in c or not section else f"top-level {c}" for c in close]
    close = close or difflib.get_close_matches(kebab, valid, n=1)
    if close:
        return ", did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
    return f" (valid keys: {', '.join(valid)})"


class _Checker:
    """Walks the node tree, collecting values, key lines and every problem."""

    def __init__(self, path: str, registry: Dict[Tuple[str, str], options.Option]):
        self.path = path
        self.registry = registry
        self.problems: List[ConfigProblem] = []
        self.values: Dict[Tuple[str, str], Any] = {}
        self.lines: Dict[Tuple[str, str], int] = {}
        self.item_lines: Dict[Tuple[str, str], List[int]] = {}

    def report(self, node: Optional[yaml.Node], key: str, message: str) -> None:
        self.problems.append(ConfigProblem(self.path, _line(node) if node else 0, key, message))

    def items(self, node: yaml.Node, key: str) -> List[tuple]:
        """(name, key node, value node) of a mapping; non-string and duplicate keys (which
        PyYAML accepts silently, the last one winning) are reported and skipped."""
        if _kind(node) != "map":
            self.report(node, key, f"expected a mapping, got {_describe(node)}")
            return []
        seen: Dict[str, int] = {}
        entries = []
        for key_node, value_node in node.value:
            if _kind(key_node) != "str":
                self.report(key_node, key, f"keys must be strings, got {_describe(key_node)}")
            elif key_node.value in seen:
                first = seen[key_node.value]
                self.report(key_node, _dotted(key, key_node.value),
                            f"duplicate key (first defined on line {first})")
            else:
                seen[key_node.value] = _line(key_node)
                entries.append((key_node.value, key_node, value_node))
        return entries

    def document(self, node: Optional[yaml.Node]) -> None:
        if node is None or _kind(node) == "null":
            return  # an empty file: all defaults
        if _kind(node) != "map":
            self.report(node, "", f"expected a mapping of settings, got {_describe(node)}")
            return
        sections = options.sections()
        top = sorted([k for s, k in self.registry if not s] + list(sections))
        for name, key_node, value_node in self.items(node, ""):
            if ("", name) in self.registry:
                self.option(self.registry[("", name)], key_node, value_node)
            elif name in sections:
                self.section(name, key_node, value_node)
            else:
                self.unknown("", name, key_node, top)

    def section(self, name: str, key_node: yaml.Node, node: yaml.Node) -> None:
        self.lines[(name, "")] = _line(key_node)
        if _kind(node) == "null":
            return
        if _kind(node) != "map":
            got = _describe(node)
            self.report(node, name, f"expected a mapping of {name} settings, got {got}")
            return
        valid = sorted(k for s, k in self.registry if s == name)
        for key, sub_key_node, value_node in self.items(node, name):
            if key in valid:
                self.option(self.registry[(name, key)], sub_key_node, value_node)
            else:
                self.unknown(name, key, sub_key_node, valid)

    def unknown(self, section: str, name: str, key_node: yaml.Node, valid: List[str]) -> None:
        hint = _suggestion(name, section, valid, self.registry)
        self.report(key_node, _dotted(section, name), "unknown key" + hint)

    def option(self, opt: options.Option, key_node: yaml.Node, node: yaml.Node) -> None:
        """Check one value; ``key:`` with no value (null) keeps the default."""
        slot = (opt.section, opt.key)
        self.lines[slot] = _line(key_node)
        if _kind(node) == "null":
            return
        if _kind(node) == "list":
            self.item_lines[slot] = [_line(child) for child in node.value]
        try:
            self.values[slot] = _CHECKS[opt.kind](node, _Ctx(self, _dotted(*slot), opt))
        except _Invalid:
            pass
