"""Finding migration files without importing anything.

- **Django**: a module in a folder named ``migrations`` defining a module-level
  ``class Migration`` whose body sets ``operations`` or ``dependencies``. Its app label is the
  folder holding ``migrations/``, unless that app's ``apps.py`` declares an AppConfig ``label``.
- **Alembic**: a module with module-level ``revision`` and ``down_revision`` and an
  ``upgrade()`` (or sitting in a folder an ``alembic.ini`` names), wherever it is. The ini's
  ``script_location``/``version_locations`` (``%(here)s`` substituted, ``pkg:dir`` resolved
  from the root) group revisions into environments; other revisions are grouped by folder.
"""
from __future__ import annotations

import ast
import configparser
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable, Dict, Iterable, List, Optional, Sequence

from . import pyast
from .records import Problem

SKIP_DIRS = {"node_modules", "__pycache__", "site-packages", "build", "dist", "venv", ".venv"}


@dataclass
class DjangoMigrationFile:
    path: str       # POSIX path relative to the root
    app_label: str
    app_dir: str    # the folder holding migrations/
    name: str       # file stem, Django's migration name
    tree: ast.Module = field(repr=False)
    cls: ast.ClassDef = field(repr=False)


@dataclass
class AlembicEnv:
    name: str
    ini: Optional[str] = None
    section: Optional[str] = None
    script_location: Optional[str] = None
    version_dirs: List[str] = field(default_factory=list)
    url: Optional[str] = None


@dataclass
class AlembicRevisionFile:
    path: str
    env: str
    tree: ast.Module = field(repr=False)


@dataclass
class Discovery:
    root: Path
    django: List[DjangoMigrationFile] = field(default_factory=list)
    alembic: List[AlembicRevisionFile] = field(default_factory=list)
    alembic_envs: Dict[str, AlembicEnv] = field(default_factory=dict)
    app_dirs: Dict[str, str] = field(default_factory=dict)
    problems: List[Problem] = field(default_factory=list)


def walk_python_files(root: Path) -> List[str]:
    """Fallback file list when the caller has none: every .py outside hidden/virtualenv dirs."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIP_DIRS
                             and not os.path.exists(os.path.join(dirpath, d, "pyvenv.cfg")))
        rel = os.path.relpath(dirpath, root)
        out.extend(PurePosixPath(rel, f).as_posix() if rel != "." else f
                   for f in sorted(filenames) if f.endswith(".py"))
    return out


def discover(root, files: Optional[Sequence[str]] = None,
             reader: Optional[Callable[[str], Optional[str]]] = None) -> Discovery:
    """``reader(rel)`` gives a file's text when the caller holds it (unsaved buffers, the fix
    engine's candidates); by default files are read from disk."""
    root = Path(root)
    files = sorted(walk_python_files(root) if files is None else (PurePosixPath(f).as_posix() for f in files))
    found = Discovery(root=root)
    found.alembic_envs = read_alembic_inis(root, files)
    labels: Dict[str, str] = {}
    for rel in files:
        source = reader(rel) if reader is not None else _read(root / rel)
        if source is None:
            continue
        if _looks_django(rel, source):
            _add_django(found, rel, source, labels)
        elif "down_revision" in source:
            _add_alembic(found, rel, source)
    _keep_one_dir_per_label(found)
    return found


def _read(path: Path) -> Optional[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _looks_django(rel: str, source: str) -> bool:
    parts = PurePosixPath(rel).parts
    return (len(parts) >= 2 and parts[-2] == "migrations" and parts[-1] != "__init__.py"
            and "class Migration" in source)


def _add_django(found: Discovery, rel: str, source: str, labels: Dict[str, str]) -> None:
    tree = pyast.parse(source, rel)
    cls = pyast.find_class(tree, "Migration") if tree else None
    if cls is None or not ({"operations", "dependencies"} & set(pyast.assignments(cls.body))):
        return
    path = PurePosixPath(rel)
    app_dir = path.parent.parent.as_posix()
    if app_dir not in labels:
        labels[app_dir] = app_label(found.root, app_dir)
    found.django.append(DjangoMigrationFile(rel, labels[app_dir], app_dir, path.stem, tree, cls))


def app_label(root: Path, app_dir: str) -> str:
    """The AppConfig ``label`` (or ``app_label``) in the app's apps.py, else the folder name."""
    source = _read(root / app_dir / "apps.py")
    tree = pyast.parse(source) if source else None
    for stmt in tree.body if tree else ():
        if isinstance(stmt, ast.ClassDef):
            values = pyast.assignments(stmt.body)
            for key in ("label", "app_label"):
                label = pyast.str_value(values.get(key, (None, 0))[0])
                if label:
                    return label
    # an app folder that is itself the project root (a nested mandu.yaml in the app): its name
    return PurePosixPath(app_dir).name if app_dir not in ("", ".") else Path(root).resolve().name


def _keep_one_dir_per_label(found: Discovery) -> None:
    """Two folders with the same app label cannot both be Django apps of one project (a copy
    in a fixture or an example): keep the one with most migrations, report the other."""
    by_label: Dict[str, Dict[str, list]] = {}
    for mig in found.django:
        by_label.setdefault(mig.app_label, {}).setdefault(mig.app_dir, []).append(mig)
    kept = []
    for label, dirs in sorted(by_label.items()):
        ranked = sorted(dirs.items(), key=lambda item: (-len(item[1]), item[0]))
        kept.extend(ranked[0][1])
        found.app_dirs[label] = ranked[0][0]
        for other, migs in ranked[1:]:
            found.problems.append(Problem(
                "duplicate-app-label", f"app label {label!r} is also used by {ranked[0][0]}/; "
                f"migrations in {other}/ are ignored", migs[0].path, migs[0].cls.lineno))
    found.django = sorted(kept, key=lambda m: m.path)


def _add_alembic(found: Discovery, rel: str, source: str) -> None:
    tree = pyast.parse(source, rel)
    if tree is None:
        return
    values = pyast.assignments(tree.body)
    if "revision" not in values or "down_revision" not in values:
        return
    env = _env_of(found.alembic_envs, rel)
    if env is None:
        if pyast.find_function(tree, "upgrade") is None:
            return
        folder = PurePosixPath(rel).parent.as_posix()
        env = found.alembic_envs.setdefault(folder, AlembicEnv(folder, version_dirs=[folder])).name
    found.alembic.append(AlembicRevisionFile(rel, env, tree))


def _env_of(envs: Dict[str, AlembicEnv], rel: str) -> Optional[str]:
    folder = PurePosixPath(rel).parent.as_posix()
    for env in envs.values():
        if env.ini and any(folder == d or folder.startswith(d + "/") for d in env.version_dirs):
            return env.name
    return None


def read_alembic_inis(root: Path, files: Iterable[str]) -> Dict[str, AlembicEnv]:
    """Every ``alembic.ini`` in the root or a folder (or ancestor) of a listed file."""
    folders = {""}
    for rel in files:
        parent = PurePosixPath(rel).parent
        while parent.as_posix() not in folders:
            folders.add(parent.as_posix())
            parent = parent.parent
    envs: Dict[str, AlembicEnv] = {}
    for folder in sorted(f for f in folders if f != "."):
        ini = root / folder / "alembic.ini"
        if ini.is_file():
            for env in _read_ini(root, ini):
                envs[env.name] = env
    return envs


def _read_ini(root: Path, ini: Path) -> List[AlembicEnv]:
    here = ini.parent.resolve()
    parser = configparser.ConfigParser(defaults={"here": str(here)})
    try:
        parser.read(ini, encoding="utf-8")
    except configparser.Error:
        return []
    envs = []
    rel_ini = ini.relative_to(root).as_posix()
    for section in parser.sections():
        location = _get(parser, section, "script_location")
        if not location:
            continue
        script_dir = _resolve_location(root, here, location)
        raw_versions = _get(parser, section, "version_locations")
        version_dirs = ([_resolve_location(root, here, v) for v in _split_locations(parser, section, raw_versions)]
                        if raw_versions else [f"{script_dir}/versions".lstrip("/")])
        name = rel_ini if section == "alembic" else f"{rel_ini}[{section}]"
        envs.append(AlembicEnv(name, rel_ini, section, script_dir, version_dirs,
                               _get(parser, section, "sqlalchemy.url")))
    return envs


def _get(parser: configparser.ConfigParser, section: str, key: str) -> Optional[str]:
    try:
        return parser.get(section, key, fallback=None)
    except configparser.Error:  # an interpolation it cannot do: take the raw text
        return parser.get(section, key, raw=True, fallback=None)


def _split_locations(parser: configparser.ConfigParser, section: str, raw: str) -> List[str]:
    separator = (_get(parser, section, "version_path_separator") or "").strip()
    table = {"space": " ", "comma": ",", "semicolon": ";", "colon": ":", "newline": "\n", "os": os.pathsep}
    if separator in table:
        return [p.strip() for p in raw.split(table[separator]) if p.strip()]
    return [p for p in re.split(r"[\s,]+", raw) if p]


def _resolve_location(root: Path, here: Path, location: str) -> str:
    """A folder relative to the root: ``pkg.sub:dir`` is a package resource, anything else a
    path relative to the ini's folder (where alembic is normally run)."""
    location = location.strip()
    if re.match(r"^[A-Za-z_][\w.]*:[^\\/]", location) and not re.match(r"^[A-Za-z]:[\\/]", location):
        package, _, sub = location.partition(":")
        target = root.resolve().joinpath(*package.split("."), sub)
    else:
        target = (here / location).resolve()
    try:
        rel = target.relative_to(root.resolve()).as_posix()
        return "" if rel == "." else rel
    except ValueError:
        return target.as_posix()
