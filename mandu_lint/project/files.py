"""Which files a project has, and what module each one is.

Never read: ``exclude`` globs, ``.gitignore``d paths, hidden folders, virtualenvs (a folder
holding ``pyvenv.cfg``), ``node_modules``, ``build``, ``dist``, ``__pycache__``, ``site-packages``
and the cache folder itself.
"""
from __future__ import annotations

import os
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
    Auto-detected: the root (top-level packages), ``src/``, and folders holding ``manage.py``."""
    if configured is not None:
        roots = {_posix(r).strip("/") for r in configured}
        roots = {"" if r == "." else r for r in roots}
    else:
        roots = {""}
        for rel in files:
            if rel.startswith("src/"):
                roots.add("src")
            if rel.endswith("manage.py") and "/" in rel:
                roots.add(rel.rsplit("/", 1)[0])
    return sorted(roots, key=lambda r: (-r.count("/") - (1 if r else 0), r))


def module_name(rel: str, roots: Sequence[str]) -> Tuple[str, bool]:
    """(dotted module, is_package) of a file relative to the deepest source root holding it."""
    for r in roots:
        if r == "" or rel.startswith(r + "/"):
            inner = rel[len(r) + 1:] if r else rel
            parts = inner[:-3].split("/")
            is_pkg = parts[-1] == "__init__"
            if is_pkg:
                parts = parts[:-1]
            return ".".join(parts), is_pkg
    return rel[:-3].replace("/", "."), False


def modules_for(files: Sequence[str], roots: Sequence[str]) -> Dict[str, Tuple[str, bool]]:
    return {rel: module_name(rel, roots) for rel in files}
