"""The on-disk cache (``.mandu_cache/`` at the project root, or ``$MANDU_CACHE_DIR/<root hash>``).

- ``facts/<key>.pkl``: one file's facts, keyed by (path, module, content digest); the tool
  version is checked on load.
- ``index-<key>.pkl``: the index core (module table, models, import graph) for one exact set of
  file digests; the facts it needs are loaded lazily, per module, from ``facts/``.
- ``findings/<path hash>.pkl``: a file's findings, valid while its content, the digest of the
  files it depends on, the settings and the enabled rules are unchanged.

Everything is keyed by paths relative to the project root, and findings are stored with relative
paths (:func:`portable`/:func:`located`), so a checkout that is copied or moved together with its
``.mandu_cache/`` (a CI cache restored elsewhere, a bind mount, a renamed folder) reuses it and
reports its own paths. Under ``$MANDU_CACHE_DIR`` the root itself is part of the key.

Writes go to a temporary file and are renamed into place, so a reader never sees half a file.
One process builds a missing index under a file lock while the others wait for it and load it
(flake8 ``--jobs``, pre-commit splitting the file list). A cache that cannot be read is rebuilt,
never trusted.
"""
from __future__ import annotations

import functools
import hashlib
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any, Optional

from .. import __version__

# Bumped whenever what is pickled changes shape or moves module (classes are pickled by module
# path): 2 = rule families moved under ``mandu_lint/rules/<family>/``, tags as named constants;
# 3 = typing evidence (SQL/str/dict literal refs, conflict candidates, index refs, call sites).
CACHE_FORMAT = 3


def _code_digest(pkg: Optional[Path] = None) -> str:
    """A digest of the analyser's own source: an edited checkout (a development install, a patched
    rule) never reads findings an older copy of the rules cached under the same version number."""
    h = hashlib.sha1()
    pkg = pkg or Path(__file__).resolve().parent.parent
    for path in sorted(pkg.rglob("*.py")):
        try:
            h.update(path.relative_to(pkg).as_posix().encode())
            h.update(path.read_bytes())
        except OSError:
            continue
    return h.hexdigest()[:12]


@functools.lru_cache(maxsize=None)
def stamp() -> str:
    """What a cache entry must carry to be read: version, format and source digest. Computed on
    first use, so a run without a cache (``--no-cache``) never reads the package's source for it."""
    return f"{__version__}/{CACHE_FORMAT}/{_code_digest()}"


ENV_VAR = "MANDU_CACHE_DIR"
_GITIGNORE = "# written by mandu-lint\n*\n"


def cache_dir(root: Path) -> Path:
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env) / hashlib.sha256(str(root).encode()).hexdigest()[:16]
    return Path(root) / ".mandu_cache"


class Cache:
    """``ok``: entries can be read; ``writable``: they can be stored. A folder that cannot be
    created or written (a read-only checkout or mount) makes the run an in-memory one: a
    ``warning`` is set for the front end to show once, entries that exist are still read, and
    nothing is stored or locked."""

    def __init__(self, root: Path, sub: str = ""):
        self.dir = cache_dir(root) / sub if sub else cache_dir(root)
        self.ok = True
        self.writable = True
        self.warning = ""
        try:
            (self.dir / "findings").mkdir(parents=True, exist_ok=True)
            (self.dir / "facts").mkdir(parents=True, exist_ok=True)
            gi = cache_dir(root) / ".gitignore"
            if not gi.exists():
                gi.write_text(_GITIGNORE)
        except OSError as exc:
            self.ok = self.dir.is_dir() and os.access(self.dir, os.R_OK | os.X_OK)
            self.writable = False
            self.warning = f"cache folder {self.dir} is not writable ({exc.strerror or exc}); running without a cache"
        else:
            if not all(os.access(self.dir / d, os.W_OK | os.X_OK) for d in ("", "findings", "facts")):
                self.writable = False
                self.warning = f"cache folder {self.dir} is not writable; running without storing a cache"

    def lock(self):
        if not self.writable:
            import contextlib

            return contextlib.nullcontext()
        from filelock import FileLock

        return FileLock(str(self.dir / "index.lock"), timeout=600)

    def load(self, name: str) -> Optional[Any]:
        if not self.ok:
            return None
        try:
            with open(self.dir / name, "rb") as fh:
                data = pickle.load(fh)
        except Exception:  # missing, truncated, from another version: rebuild
            return None
        if not isinstance(data, dict) or data.get("__version__") != stamp():
            return None
        return data.get("value")

    def store(self, name: str, value: Any) -> None:
        if not self.writable:
            return
        target = self.dir / name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=str(target.parent), prefix=".tmp-")
            with os.fdopen(fd, "wb") as fh:
                pickle.dump({"__version__": stamp(), "value": value}, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, target)
        except OSError:
            pass

    def exists(self, name: str) -> bool:
        return self.ok and (self.dir / name).exists()

    def path(self, name: str) -> Path:
        return self.dir / name

    def prune(self, prefix: str, keep: str) -> None:
        if not self.writable:
            return
        for p in self.dir.glob(prefix + "*"):
            if p.name != keep:
                try:
                    p.unlink()
                except OSError:
                    pass

    def prune_dir(self, sub: str, keep: set) -> None:
        """Remove entries of ``sub/`` not in ``keep`` (facts of files that changed or left)."""
        if not self.writable:
            return
        try:
            names = os.listdir(self.dir / sub)
        except OSError:
            return
        for name in names:
            if name not in keep:
                try:
                    os.unlink(self.dir / sub / name)
                except OSError:
                    pass


def findings_name(rel: str) -> str:
    return "findings/" + hashlib.sha256(rel.encode()).hexdigest()[:24] + ".pkl"


def _rel_path(path: str, root: str) -> str:
    if path and os.path.isabs(path):
        rel = os.path.relpath(path, root) if path.startswith(root.rstrip(os.sep) + os.sep) else None
        if rel is not None:
            return rel.replace(os.sep, "/")
    return path


def _abs_path(path: str, root: str) -> str:
    return path if not path or os.path.isabs(path) else os.path.join(root, *path.split("/"))


def _move(items, root: str, fn):
    import dataclasses

    out = []
    for item in items:
        changes = {"path": fn(item.path, root)}
        related = getattr(item, "related", None)
        if related:
            changes["related"] = tuple(dataclasses.replace(loc, path=fn(loc.path, root)) for loc in related)
        out.append(dataclasses.replace(item, **changes))
    return out


def portable(items, root) -> list:
    """Findings or notices with paths inside ``root`` made relative (what the cache stores)."""
    return _move(items, str(root), _rel_path)


def located(items, root) -> list:
    """The inverse of :func:`portable` for the project's current root."""
    return _move(items, str(root), _abs_path)
