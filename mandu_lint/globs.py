"""Gitignore-style path globs, matched against POSIX paths relative to a project root.

One syntax serves ``.gitignore`` files and every glob key of ``mandu.yaml`` (``exclude``,
``non-app``, ``per-file-ignores``, layer globs), so users learn it once.  The rules are git's:

* ``*`` and ``?`` never cross ``/``; ``**`` does, in ``**/x``, ``a/**`` and ``a/**/b``
  (any other run of stars is a plain ``*``);
* a pattern without a slash (a trailing one aside) matches a basename at any depth,
  one with a slash is anchored to the root (a leading ``/`` only anchors);
* a trailing ``/`` matches directories only;
* a pattern matching a directory matches everything under it;
* ``!pattern`` re-includes, the last matching pattern wins - but, as in git, nothing under
  an excluded directory can be re-included (a walker never enters it).

Patterns compile to regexes once and directory verdicts are cached, because the file walker
asks about thousands of paths.
"""
from __future__ import annotations

import os
import re
from pathlib import Path, PurePath
from typing import Dict, List, NamedTuple, Optional, Pattern, Sequence, Union

_ANY_DIRS = "(?:.*/)?"  # what a leading "**/" or a middle "/**/" becomes: zero or more folders


class _Glob(NamedTuple):
    source: str
    body: str  # regex source matching the whole path
    regex: Pattern[str]
    negate: bool
    dir_only: bool


def _strip_trailing_spaces(pattern: str) -> str:
    """git ignores trailing spaces unless the last one is escaped with a backslash."""
    stripped = pattern.rstrip(" \t")
    if stripped != pattern and stripped.endswith("\\") and not stripped.endswith("\\\\"):
        return stripped + pattern[len(stripped)]
    return stripped


def _translate_class(body: str, start: int) -> Optional[tuple]:
    """Translate ``[...]`` at ``start``; return (regex, next index) or None if unterminated
    (git then takes the ``[`` literally).  A class never matches ``/``."""
    i = start + 1
    negate = i < len(body) and body[i] in "!^"
    i += negate
    first = i
    parts: List[str] = []
    while i < len(body) and (body[i] != "]" or i == first):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            i += 1
            parts.append(re.escape(body[i]))
        else:
            parts.append("-" if c == "-" else re.escape(c))
        i += 1
    if i >= len(body):
        return None
    return "(?!/)[" + ("^" if negate else "") + "".join(parts) + "]", i + 1


def _translate_stars(body: str, i: int) -> tuple:
    """Translate the run of ``*`` at ``i``; return (regex, next index)."""
    j = i
    while j < len(body) and body[j] == "*":
        j += 1
    whole_segment = (i == 0 or body[i - 1] == "/") and (j == len(body) or body[j] == "/")
    if j - i < 2 or not whole_segment:
        return "[^/]*", j
    if j == len(body):  # "a/**" or a lone "**": everything inside
        return ".+", j
    return _ANY_DIRS, j + 1  # "**/" : zero or more folders (the slash is consumed)


def _translate(body: str) -> str:
    """Translate a glob body (no ``!``, no leading or trailing ``/``) to regex source."""
    out: List[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "*":
            piece, i = _translate_stars(body, i)
        elif c == "?":
            piece, i = "[^/]", i + 1
        elif c == "[" and _translate_class(body, i):
            piece, i = _translate_class(body, i)
        elif c == "\\":
            if i + 1 == len(body):
                raise ValueError("a pattern cannot end with a backslash")
            piece, i = re.escape(body[i + 1]), i + 2
        else:
            piece, i = re.escape(c), i + 1
        out.append(piece)
    return "".join(out)


def _parse(pattern: str) -> Optional[_Glob]:
    """Compile one pattern; None for a pattern that matches nothing (blank, ``/``)."""
    text = _strip_trailing_spaces(pattern)
    negate = text.startswith("!")
    text = text[1:] if negate else text
    dir_only = text.endswith("/")
    text = text.rstrip("/") if dir_only else text
    anchored = "/" in text
    text = text[1:] if text.startswith("/") else text
    if not text:
        return None
    body = _translate(text)
    if not anchored:
        body = _ANY_DIRS + body
    try:
        regex = re.compile(body, re.DOTALL)
    except re.error as exc:
        raise ValueError(f"invalid pattern {pattern!r}: {exc}") from None
    return _Glob(pattern, body, regex, negate, dir_only)


def pattern_error(pattern: str) -> Optional[str]:
    """Why ``pattern`` is not a valid glob, or None; lets the config validator report it."""
    try:
        _parse(pattern)
    except ValueError as exc:
        return str(exc)
    return None


def _any_of(bodies: List[str]) -> Optional[Pattern[str]]:
    return re.compile("|".join(f"(?:{b})" for b in bodies), re.DOTALL) if bodies else None


def _clean(relpath: Union[str, PurePath]) -> tuple:
    """Normalise to (posix path, ends-with-slash); ``./`` prefixes are dropped."""
    path = relpath.as_posix() if isinstance(relpath, PurePath) else os.fspath(relpath)
    if os.sep != "/":
        path = path.replace(os.sep, "/")
    while path.startswith("./"):
        path = path[2:]
    trailing = path.endswith("/")
    return path.strip("/") if path != "." else "", trailing


class GlobSet:
    """An ordered list of gitignore-style patterns; ``match`` says whether a path is
    selected (ignored, excluded, non-app...) by them."""

    def __init__(self, patterns: Sequence[str] = ()):
        self.patterns = tuple(patterns)
        self._globs = [g for g in map(_parse, self.patterns) if g is not None]
        self._has_negation = any(g.negate for g in self._globs)
        # Without negations the verdict is "does any pattern match", one regex per kind.
        self._any_file = _any_of([g.body for g in self._globs if not g.dir_only])
        self._any_dir = _any_of([g.body for g in self._globs])
        self._dirs: Dict[str, bool] = {}

    def __bool__(self) -> bool:
        return bool(self._globs)

    def __repr__(self) -> str:
        return f"GlobSet({list(self.patterns)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GlobSet) and other.patterns == self.patterns

    def __hash__(self) -> int:
        return hash(self.patterns)

    def _verdict(self, path: str, is_dir: bool) -> bool:
        """The patterns' verdict on ``path`` itself (its ancestors aside)."""
        if not self._has_negation:
            regex = self._any_dir if is_dir else self._any_file
            return regex is not None and regex.fullmatch(path) is not None
        for glob in reversed(self._globs):
            if (is_dir or not glob.dir_only) and glob.regex.fullmatch(path):
                return not glob.negate
        return False

    def _dir_matched(self, path: str) -> bool:
        """A directory is matched if it or any ancestor is (cached per directory)."""
        hit = self._dirs.get(path)
        if hit is None:
            parent = path.rpartition("/")[0]
            hit = bool(parent) and self._dir_matched(parent) or self._verdict(path, True)
            self._dirs[path] = hit
        return hit

    def match(self, relpath: Union[str, PurePath], is_dir: bool = False) -> bool:
        """Is ``relpath`` (POSIX, relative to the root; a trailing ``/`` means a directory)
        matched by the set, directly or through a matched ancestor directory?"""
        if not self._globs:
            return False
        path, trailing = _clean(relpath)
        if not path:
            return False
        if is_dir or trailing:
            return self._dir_matched(path)
        parent = path.rpartition("/")[0]
        return bool(parent) and self._dir_matched(parent) or self._verdict(path, False)

    def match_dir(self, relpath: Union[str, PurePath]) -> bool:
        """``match(relpath, is_dir=True)``: lets a walker prune a whole folder."""
        return self.match(relpath, is_dir=True)


def load_gitignore(dirpath: Path) -> List[str]:
    """The patterns of ``dirpath/.gitignore`` (relative to ``dirpath``), comments and blank
    lines dropped.  A missing, unreadable or undecodable file gives ``[]`` and a line git
    would reject is dropped: a broken ignore file must never stop a lint run."""
    try:
        text = (Path(dirpath) / ".gitignore").read_text(encoding="utf-8", errors="replace")
    except (OSError, ValueError):
        return []
    patterns = []
    for line in text.splitlines():
        line = _strip_trailing_spaces(line)
        if line and not line.startswith("#") and pattern_error(line) is None:
            patterns.append(line)
    return patterns


def rebase_patterns(patterns: Sequence[str], subdir: str) -> List[str]:
    """Rewrite patterns of ``subdir/.gitignore`` to be relative to the root, so that one
    GlobSet can hold a whole tree's ignore files (deeper files appended later win, as in git).
    """
    subdir = subdir.strip("/")
    if not subdir:
        return list(patterns)
    prefix = re.sub(r"([*?\[\\!#])", r"\\\1", subdir)
    out = []
    for pattern in patterns:
        text = _strip_trailing_spaces(pattern)
        bang = "!" if text.startswith("!") else ""
        text = text[len(bang):]
        anchored = "/" in text.rstrip("/")
        glue = "/" if anchored else "/**/"
        out.append(bang + prefix + glue + text.lstrip("/") if text.strip("/") else pattern)
    return out
