"""Which files a project has, and what module each one is.

Never read: ``exclude`` globs, ``.gitignore``d paths, hidden folders, virtualenvs (a folder
holding ``pyvenv.cfg``), ``node_modules``, ``build``, ``dist``, ``__pycache__``, ``site-packages``
and the cache folder itself.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from ..config import CONFIG_NAME, PYPROJECT, config_in
from ..globs import GlobSet, load_gitignore, rebase_patterns

NEVER_READ = frozenset({"node_modules", "build", "dist", "__pycache__", "site-packages", ".mandu_cache",
                        "venv", ".venv"})


def _posix(rel: str) -> str:
    return rel.replace(os.sep, "/")


class ProjectFiles:
    """Walks a project root once and answers "is this file part of the project?"."""

    def __init__(self, root: Path, exclude: Sequence[str] = (), nested_projects: bool = True):
        """``nested_projects``: a folder holding its own config is another project (False when
        one config is forced for every path)."""
        self.root = Path(root)
        self.exclude = GlobSet(list(exclude))
        self.nested_projects = nested_projects
        self._ignored: Optional[GlobSet] = None  # .gitignore patterns, gathered by the walk
        self._files: Optional[List[str]] = None
        self.walk_errors: List[Tuple[str, str]] = []  # (folder, reason): folders that could not be listed

    @staticmethod
    def _skip_dir_name(parent: str, name: str) -> bool:
        if name.startswith(".") or name in NEVER_READ:
            return True
        return os.path.exists(os.path.join(parent, name, "pyvenv.cfg"))

    def _nested(self, folder: str) -> bool:
        return self.nested_projects and config_in(folder) is not None

    def excluded(self, rel: str, is_dir: bool = False) -> bool:
        if self._ignored is None:
            self.python_files()
        return self.exclude.match(rel, is_dir) or self._ignored.match(rel, is_dir)

    def python_files(self) -> List[str]:
        """Every readable ``.py`` file, as sorted POSIX paths relative to the root. One walk:
        a folder's ``.gitignore`` is read when the walk enters it, before its children are kept
        or dropped (os.walk is top-down)."""
        if self._files is not None:
            return list(self._files)
        patterns = load_gitignore(self.root)
        ignored = GlobSet(patterns)
        out = []
        root = str(self.root)

        def failed(exc: OSError) -> None:
            where = _posix(os.path.relpath(exc.filename or root, root))
            self.walk_errors.append((where, f"cannot list: {exc.strerror or exc}"))

        for dirpath, dirnames, filenames in os.walk(root, onerror=failed):
            rel_dir = _posix(os.path.relpath(dirpath, root))
            rel_dir = "" if rel_dir == "." else rel_dir + "/"
            if rel_dir and ".gitignore" in filenames:
                patterns.extend(rebase_patterns(load_gitignore(Path(dirpath)), rel_dir[:-1]))
                ignored = GlobSet(patterns)
            dirnames[:] = sorted(d for d in dirnames if not self._skip_dir_name(dirpath, d)
                                 and not self.exclude.match(rel_dir + d, True) and not ignored.match(rel_dir + d, True)
                                 and not self._nested(os.path.join(dirpath, d)))
            for name in filenames:
                rel = rel_dir + name
                if name.endswith(".py") and not self.exclude.match(rel) and not ignored.match(rel):
                    out.append(rel)
        out.sort()
        self._ignored = ignored
        self._files = out
        return list(out)

    def contains(self, path: Path) -> bool:
        """Is an explicitly named file inside the project and not excluded/ignored/hidden?"""
        try:
            rel = _posix(os.path.relpath(path, self.root))
        except ValueError:
            return False
        if rel.startswith("../"):
            return False
        parts = rel.split("/")
        parent = str(self.root)
        for part in parts[:-1]:
            if self._skip_dir_name(parent, part) or self._nested(os.path.join(parent, part)):
                return False
            parent = os.path.join(parent, part)
        return not self.excluded(rel)

    def named(self, path: Path) -> bool:
        """May a file named explicitly be checked? Inside the project, not in a nested project's
        folder and not ``exclude``d; VCS-ignored files and hidden folders do not matter here."""
        try:
            rel = _posix(os.path.relpath(path, self.root))
        except ValueError:
            return False
        if rel.startswith("../"):
            return False
        parent = str(self.root)
        for part in rel.split("/")[:-1]:
            parent = os.path.join(parent, part)
            if self._nested(parent):
                return False
        return not self.exclude.match(rel)


def nested_configs(directory: Path) -> List[Path]:
    """Folders below ``directory`` holding their own ``mandu.yaml``: separate projects."""
    out = []
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = sorted(d for d in dirnames if not ProjectFiles._skip_dir_name(dirpath, d))
        if (CONFIG_NAME in filenames or PYPROJECT in filenames) and Path(dirpath) != Path(directory) \
                and config_in(dirpath) is not None:
            out.append(Path(dirpath))
    return out


def source_roots(root: Path, files: Sequence[str], configured: Optional[Sequence[str]]) -> List[str]:
    """Folders (POSIX, relative, "" for the root) that imports are resolved from, deepest first.
    Auto-detected: the root (top-level packages), ``src/``, and folders holding Django's
    ``manage.py`` (see :func:`django_manage`)."""
    if configured is not None:
        roots = {_posix(r).strip("/") for r in configured}
        roots = {"" if r == "." else r for r in roots}
    else:
        roots = {""}
        known = set(files)
        for rel in files:
            if rel.startswith("src/"):
                roots.add("src")
            if (rel == "manage.py" or rel.endswith("/manage.py")) and "/" in rel:
                folder = rel.rsplit("/", 1)[0]
                if django_manage(Path(root) / rel, f"{folder}/__init__.py" in known):
                    roots.add(folder)
    return sorted(roots, key=lambda r: (-r.count("/") - (1 if r else 0), r))


_OTHER_FRAMEWORKS = re.compile(r"\b(flask|flask_script|click|typer|fastapi|quart|sanic|alembic|sqlalchemy)\b")


def django_manage(path: Path, in_package: bool) -> bool:
    """Is this ``manage.py`` Django's, the script beside the project's top packages? One that
    names Django is; a module of a package (indico's ``timetable/controllers/manage.py``, a
    "manage" view) or a script of another framework (Flask-Script, click) is not."""
    try:
        with open(path, "rb") as fh:
            text = fh.read(65536).decode("utf-8", "replace")
    except OSError:
        return False
    if "django" in text.lower():
        return True
    return not in_package and not _OTHER_FRAMEWORKS.search(text)


def module_name(rel: str, roots: Sequence[str]) -> Tuple[str, bool]:
    """(dotted module, is_package) of a file relative to the deepest source root holding it.
    The ``__init__.py`` of a source root that is itself a package is named from a shallower
    root: a module is never called ``""``."""
    for r in roots:
        if r == "" or rel.startswith(r + "/"):
            inner = rel[len(r) + 1:] if r else rel
            parts = inner[:-3].split("/")
            is_pkg = parts[-1] == "__init__"
            if is_pkg:
                parts = parts[:-1]
            if not parts and r:
                continue
            return ".".join(parts), is_pkg
    return rel[:-3].replace("/", "."), False


def modules_for(files: Sequence[str], roots: Sequence[str]) -> Dict[str, Tuple[str, bool]]:
    return {rel: module_name(rel, roots) for rel in files}


def alembic_dirs(root: Path, files: Sequence[str]) -> List[str]:
    """Folders (POSIX, relative) that hold Alembic migrations, named by the ``alembic.ini``
    files of the project (the root's and those of any folder on the way to a Python file):
    ``script_location`` (``env.py`` and ``versions/``) and every ``version_locations`` entry,
    ``%(here)s`` being the ini's folder. A location outside the project is ignored."""
    import configparser

    root = Path(os.path.abspath(root))
    folders = {""}
    for rel in files:
        parts = rel.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            folders.add("/".join(parts[:i]))
    out = set()
    for folder in sorted(folders):
        ini = root / folder / "alembic.ini" if folder else root / "alembic.ini"
        if not ini.is_file():
            continue
        parser = configparser.RawConfigParser(strict=False)
        try:
            parser.read(ini, encoding="utf-8")
        except (configparser.Error, OSError, UnicodeDecodeError):
            continue
        here = ini.parent
        for section in parser.sections():
            values = []
            script = parser.get(section, "script_location", fallback=None)
            if script:
                values.append(script.strip())
            locations = parser.get(section, "version_locations", fallback=None)
            if locations:
                sep = parser.get(section, "version_path_separator", fallback="")
                splitter = {"os": os.pathsep, "space": " ", "colon": ":", "semicolon": ";",
                            "newline": "\n"}.get(sep.strip(), None)
                items = locations.split(splitter) if splitter else locations.replace(",", " ").split()
                values.extend(v.strip() for v in items if v.strip())
            for value in values:
                value = value.replace("%(here)s", str(here))
                if ":" in value and not os.path.isabs(value) and not os.path.splitdrive(value)[0]:
                    pkg, _, sub = value.partition(":")  # ``package:folder``: a folder of a package
                    inner = pkg.replace(".", "/") + "/" + sub
                    cands = [root / inner, here / inner, here.parent / inner]
                    path = next((c for c in cands if c.is_dir()), cands[0])
                else:
                    path = Path(value) if os.path.isabs(value) else here / value
                try:
                    rel = _posix(os.path.relpath(os.path.normpath(path), root))
                except ValueError:
                    continue
                if rel == "." or rel.startswith("../"):
                    continue
                out.add(rel.strip("/"))
    return sorted(out)
