"""``# noqa`` exactly as flake8 reads it.

- ``# noqa`` silences every code on the line; ``# noqa: MDB301,E501`` (also ``#noqa:MDB301`` and
  space-separated lists) silences those codes and any code they prefix.
- A multi-line string or a backslash continuation is one logical range: a ``# noqa`` on any
  of its lines applies to all of them (flake8's ``_noqa_line_mapping``).
- ``# flake8: noqa`` on a line of its own skips the file; ``# flake8: noqa: X`` does not (flake8
  warns and ignores it).
"""
from __future__ import annotations

import io
import re
import tokenize
from typing import Dict, List, NamedTuple, Optional, Set, Tuple

NOQA_INLINE = re.compile(
    r"# noqa(?::[\s]?(?P<codes>([A-Z]+[0-9]+(?:[,\s]+)?)+))?", re.IGNORECASE)
NOQA_FILE = re.compile(r"\s*# flake8[:=]\s*noqa(?P<codes>:\s?([A-Z]+[0-9]+(?:[,\s]+)?)+)?", re.IGNORECASE)
_SPLIT = re.compile(r"[,\s]")
REASON = re.compile(r"\s*--\s*(\S.*)")  # the reason after the codes: ``-- why``

ALL = frozenset(["*"])


def file_is_skipped(source: str) -> bool:
    if "flake8" not in source:
        return False
    for line in source.splitlines():
        m = NOQA_FILE.match(line)
        if m and not m.group("codes"):
            return True
    return False


class Comment(NamedTuple):
    """One ``# noqa: CODES`` comment: where it is, the lines it covers, its codes and reason."""

    line: int
    col: int
    first: int
    last: int
    codes: Tuple[str, ...]
    reason: str


class NoqaMap:
    """Line → codes silenced there (``ALL`` for a bare ``# noqa``); ``comments`` lists every
    ``# noqa`` with codes (for MDB003)."""

    def __init__(self, source: str):
        self.lines: Dict[int, frozenset] = {}
        self.comments: List[Comment] = []
        if "noqa" in source.lower():
            self._build(source)

    def _build(self, source: str) -> None:
        physical = source.splitlines()
        for first, last in _logical_ranges(source, len(physical)):
            text = "\n".join(physical[first - 1:last])
            if "noqa" not in text.lower():
                continue
            codes = _codes_in(text)
            if codes is not None:
                for ln in range(first, last + 1):
                    self.lines[ln] = codes
                for ln in range(first, last + 1):
                    for m in NOQA_INLINE.finditer(physical[ln - 1]):
                        if m.group("codes"):
                            listed = tuple(c.upper() for c in _SPLIT.split(m.group("codes")) if c)
                            why = REASON.match(physical[ln - 1], m.end())
                            self.comments.append(Comment(ln, m.start(), first, last, listed,
                                                         why.group(1).strip() if why else ""))

    def silenced(self, line: int, code: str) -> bool:
        codes = self.lines.get(line)
        if codes is None:
            return False
        if codes is ALL:
            return True
        return any(code.startswith(c) for c in codes)


def _codes_in(text: str) -> Optional[frozenset]:
    found: Set[str] = set()
    bare = False
    for m in NOQA_INLINE.finditer(text):
        codes = m.group("codes")
        if not codes:
            bare = True
        else:
            found.update(c.upper() for c in _SPLIT.split(codes) if c)
    if bare:
        return ALL
    return frozenset(found) if found else None


def _logical_ranges(source: str, nlines: int):
    """(first, last) line ranges joined by multi-line strings and backslash continuations."""
    joined: Dict[int, int] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.STRING and tok.start[0] != tok.end[0]:
                _join(joined, tok.start[0], tok.end[0])
            elif tok.type == getattr(tokenize, "FSTRING_END", -1) and tok.start[0] != tok.end[0]:
                pass
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass
    lines = source.splitlines()
    for i, line in enumerate(lines, start=1):
        if line.endswith("\\") and i < nlines:
            _join(joined, i, i + 1)
    ln = 1
    while ln <= nlines:
        end = ln
        while end in joined:
            end = joined[end]
        yield ln, end
        ln = end + 1


def _join(joined: Dict[int, int], a: int, b: int) -> None:
    for ln in range(a, b):
        joined[ln] = max(joined.get(ln, ln + 1), ln + 1)


def noqa_problems(source: str, findings, ran, known, *, require_reason: bool = False) -> List[tuple]:
    """MDB003 candidates as (line, col, text, message): an ``MDB`` code in a ``# noqa`` that no
    known code starts with, or that silences none of ``findings`` (the file's findings before
    noqa) although every rule it names ran (``ran``); with ``require_reason``, an ``MDB`` noqa
    without ``-- reason``. Other plugins' codes and a bare ``# noqa`` are never reported."""
    import difflib

    nm = NoqaMap(source)
    out = []
    known = sorted(known)
    starts = _comment_starts(source) if nm.comments else {}
    for c in nm.comments:
        if c.line not in starts or c.col < starts[c.line]:
            continue  # ``# noqa`` text inside a string literal: silences like flake8, but is not a comment
        mdb = [code for code in c.codes if code.startswith("MDB")]
        if require_reason and mdb and not c.reason:
            out.append((c.line, c.col, "noqa-reason " + ",".join(mdb),
                        f"`# noqa: {', '.join(mdb)}` needs a reason (`# noqa: {mdb[0]} -- why`); "
                        "require-noqa-reason is on"))
        for code in mdb:
            matches = [k for k in known if k.startswith(code)]
            if not matches:
                close = difflib.get_close_matches(code, known, n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]}?)" if close else ""
                out.append((c.line, c.col, "noqa " + code, f"unknown code {code} in `# noqa`{hint}"))
            elif all(m in ran for m in matches) and not any(
                    f.code.startswith(code) and c.first <= f.span.line <= c.last for f in findings):
                out.append((c.line, c.col, "noqa " + code, f"unused `# noqa: {code}`: nothing reported here"))
    return out


def _comment_starts(source: str) -> Dict[int, int]:
    """Line -> column where its comment starts (real ``#`` comments only, not text in strings)."""
    out: Dict[int, int] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                out[tok.start[0]] = tok.start[1]
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass
    return out
