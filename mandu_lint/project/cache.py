"""The on-disk cache (``.mandu_cache/`` at the project root, or ``$MANDU_CACHE_DIR/<root hash>``).

- ``facts/<key>.pkl``: one file's facts, keyed by (path, module, content digest); the tool
  version is checked on load.
- ``index-<key>.pkl``: the index core (module table, models, import graph) for one exact set of
  file digests; the facts it needs are loaded lazily, per module, from ``facts/``.
- ``findings/<path hash>.pkl``: a file's findings, valid while its content, the digest of the
  files it depends on, the settings and the enabled rules are unchanged.

Writes go to a temporary file and are renamed into place, so a reader never sees half a file.
One process builds a missing index under a file lock while the others wait for it and load it
(flake8 ``--jobs``, pre-commit splitting the file list). A cache that cannot be read is rebuilt,
never trusted.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any, Optional

from .. import __version__

# Bumped whenever what is pickled changes shape or moves module (classes are pickled by module
# path): 2 = rule families moved under ``mandu_lint/rules/<family>/``, tags as named constants.
CACHE_FORMAT = 2
STAMP = f"{__version__}/{CACHE_FORMAT}"

ENV_VAR = "MANDU_CACHE_DIR"
_GITIGNORE = "# written by mandu-lint\n*\n"


def cache_dir(root: Path) -> Path:
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env) / hashlib.sha256(str(root).encode()).hexdigest()[:16]
    return Path(root) / ".mandu_cache"


class Cache:
    def __init__(self, root: Path):
        self.dir = cache_dir(root)
        self.ok = True
        try:
            (self.dir / "findings").mkdir(parents=True, exist_ok=True)
            (self.dir / "facts").mkdir(parents=True, exist_ok=True)
            gi = self.dir / ".gitignore"
            if not gi.exists():
                gi.write_text(_GITIGNORE)
        except OSError:
            self.ok = False

    def lock(self):
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
        if not isinstance(data, dict) or data.get("__version__") != STAMP:
            return None
        return data.get("value")

    def store(self, name: str, value: Any) -> None:
        if not self.ok:
            return
        target = self.dir / name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=str(target.parent), prefix=".tmp-")
            with os.fdopen(fd, "wb") as fh:
                pickle.dump({"__version__": STAMP, "value": value}, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, target)
        except OSError:
            pass

    def exists(self, name: str) -> bool:
        return self.ok and (self.dir / name).exists()

    def path(self, name: str) -> Path:
        return self.dir / name

    def prune(self, prefix: str, keep: str) -> None:
        if not self.ok:
            return
        for p in self.dir.glob(prefix + "*"):
            if p.name != keep:
                try:
                    p.unlink()
                except OSError:
                    pass

    def prune_dir(self, sub: str, keep: set) -> None:
        """Remove entries of ``sub/`` not in ``keep`` (facts of files that changed or left)."""
        if not self.ok:
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
