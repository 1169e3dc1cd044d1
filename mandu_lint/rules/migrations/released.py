"""Which migrations are **unreleased**: their file is absent from the merge base of HEAD with
the base branch (``origin/main``, ``main``, ``master`` by default, or a configured ref).

Only ``git`` subprocesses, read-only. Without git, outside a repository, with no base ref, or
in a shallow clone whose history does not reach the merge base, the answer is None (treat
every migration as released, so the per-migration rules stay silent) with the reason, which
the caller shows once.
"""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterable, List, Optional, Sequence, Set

from . import pyast

DEFAULT_BASES = ("origin/main", "main", "master", "origin/master")


@dataclass
class ReleaseInfo:
    unreleased: Optional[Set[str]]  # root-relative POSIX paths; None = consider all released
    reason: str
    base_ref: Optional[str] = None
    base_commit: Optional[str] = None


def _git(root: Path, *args: str) -> Optional[str]:
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=60, env=env)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def find_base(root: Path, base: Optional[str] = None) -> Optional[str]:
    for ref in ([base] if base else DEFAULT_BASES):
        if _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}") is not None:
            return ref
    return None


def release_info(root, paths: Iterable[str], base: Optional[str] = None) -> ReleaseInfo:
    """Split ``paths`` (root-relative) into released and unreleased against the base ref."""
    root = Path(root)
    toplevel = _git(root, "rev-parse", "--show-toplevel")
    if toplevel is None:
        return ReleaseInfo(None, "not a git repository, or git is not installed: every migration counts as released")
    ref = find_base(root, base)
    tried = base or ", ".join(DEFAULT_BASES)
    if ref is None:
        return ReleaseInfo(None, f"no base branch found (tried {tried}): every migration counts as released")
    merge_base = _git(root, "merge-base", "HEAD", ref)
    if merge_base is None:
        shallow = (_git(root, "rev-parse", "--is-shallow-repository") or "").strip() == "true"
        hint = " (shallow clone: fetch with fetch-depth: 0)" if shallow else ""
        return ReleaseInfo(None, f"no merge base between HEAD and {ref}{hint}: every migration counts as released", ref)
    commit = merge_base.strip()
    at_base = files_at(root, commit)
    if at_base is None:
        reason = f"cannot list the files of {commit[:12]}: every migration counts as released"
        return ReleaseInfo(None, reason, ref, commit)
    unreleased = {p for p in (PurePosixPath(p).as_posix() for p in paths) if p not in at_base}
    return ReleaseInfo(unreleased, f"unreleased = not in {ref} at merge base {commit[:12]}", ref, commit)


def files_at(root: Path, commit: str) -> Optional[Set[str]]:
    """The files under ``root`` at ``commit``, relative to ``root`` (git runs in ``root``, so
    ls-tree lists and names paths relative to it, wherever the repository's top is)."""
    listing = _git(root, "ls-tree", "-r", "-z", "--name-only", commit, "--", ".")
    return None if listing is None else {p for p in listing.split("\0") if p}


def sa_mapped_at(root: Path, commit: str, table: str, column: Optional[str],
                 skip=lambda rel: False) -> Optional[bool]:
    """Did the application code at ``commit`` (the released base) map ``table`` (and
    ``column``) in a SQLAlchemy model: a class with ``__tablename__ = "table"`` declaring the
    column (an attribute of that name, or ``Column("column", ...)``/``mapped_column("column", ...)``),
    or a ``Table("table", ..., Column("column", ...))``? None when git cannot tell. ``skip`` drops
    files that are not application code (migrations, tests)."""
    import ast

    listing = _git(Path(root), "grep", "-l", "-z", "-F", "-e", table, commit, "--", "*.py")
    if listing is None:
        # exit 1 = no match: nothing at the base names the table
        return False if _git(Path(root), "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}") else None
    prefix = f"{commit}:"
    for entry in (e for e in listing.split("\0") if e):
        rel = entry[len(prefix):] if entry.startswith(prefix) else entry
        if skip(rel):
            continue
        text = _git(Path(root), "show", f"{commit}:./{rel}")
        try:
            tree = ast.parse(text or "")
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if _maps(node, table, column):
                return True
    return False


def _first_str(call) -> Optional[str]:
    return pyast.str_value(call.args[0]) if call.args else None


def _callee(call) -> str:
    import ast

    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""


def _maps(node, table: str, column: Optional[str]) -> bool:
    import ast

    low = table.lower()
    if isinstance(node, ast.Call) and _callee(node) == "Table" and (_first_str(node) or "").lower() == low:
        return column is None or any(isinstance(a, ast.Call) and _callee(a) in ("Column", "mapped_column")
                                     and (_first_str(a) or "").lower() == column.lower() for a in node.args[1:])
    if not isinstance(node, ast.ClassDef):
        return False
    named = False
    attrs = set()
    for stmt in node.body:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(
            stmt, ast.AnnAssign) else []
        value = getattr(stmt, "value", None)
        for t in targets:
            if not isinstance(t, ast.Name):
                continue
            if t.id == "__tablename__" and isinstance(value, ast.Constant) and str(value.value).lower() == low:
                named = True
            attrs.add(t.id.lower())
            if isinstance(value, ast.Call) and _callee(value) in ("Column", "mapped_column") and _first_str(value):
                attrs.add(_first_str(value).lower())
    return named and (column is None or column.lower() in attrs)


def unreleased_migrations(result, base: Optional[str] = None, since: Optional[str] = None) -> ReleaseInfo:
    """``release_info`` for a ``ReplayResult``'s migration files. ``since`` (a commit) replaces
    the merge base, for audits of a history: migrations added after it are unreleased."""
    paths: List[str] = sorted(m.file for m in result.migrations.values())
    if since:
        return _since(Path(result.discovery.root), paths, since)
    return release_info(result.discovery.root, paths, base)


def _since(root: Path, paths: Sequence[str], since: str) -> ReleaseInfo:
    commit = _git(root, "rev-parse", "--verify", "--quiet", f"{since}^{{commit}}")
    at_base = files_at(root, commit.strip()) if commit else None
    if at_base is None:
        return ReleaseInfo(None, f"cannot resolve {since!r}: every migration counts as released")
    unreleased = {p for p in paths if p not in at_base}
    return ReleaseInfo(unreleased, f"unreleased = added after {since}", since, commit.strip())
