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
from typing import Dict, Optional, Set

NOQA_INLINE = re.compile(
    r"# noqa(?::[\s]?(?P<codes>([A-Z]+[0-9]+(?:[,\s]+)?)+))?", re.IGNORECASE)
NOQA_FILE = re.compile(r"\s*# flake8[:=]\s*noqa(?P<codes>:\s?([A-Z]+[0-9]+(?:[,\s]+)?)+)?", re.IGNORECASE)
_SPLIT = re.compile(r"[,\s]")

ALL = frozenset(["*"])


def file_is_skipped(source: str) -> bool:
    if "flake8" not in source:
        return False
    for line in source.splitlines():
        m = NOQA_FILE.match(line)
        if m and not m.group("codes"):
            return True
    return False


class NoqaMap:
    """Line → codes silenced there (``ALL`` for a bare ``# noqa``)."""

    def __init__(self, source: str):
        self.lines: Dict[int, frozenset] = {}
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
