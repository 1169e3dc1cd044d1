"""A file's text: decoding as Python does (PEP 263) and parsing, tolerant of syntax newer than
the running Python where an older spelling means the same to this analysis.

Below the project index: the index and the engine both read files through here.
"""
from __future__ import annotations

import ast
import io
import re
import sys
import tokenize
from typing import List, Optional

from ..diagnostics import NOT_CHECKED_CODE, SYNTAX_CODE
from ..model import Finding, Span

_NEWER_SYNTAX = [  # (pattern on the failing line, Python version that parses it)
    (re.compile(r"^\s*type\s+\w+\s*(\[.*\])?\s*="), "3.12"),
    (re.compile(r"^\s*(async\s+)?def\s+\w+\s*\["), "3.12"),
    (re.compile(r"^\s*class\s+\w+\s*\["), "3.12"),
    (re.compile(r"^\s*except\s*\*"), "3.11"),
    (re.compile(r"^\s*match\s+.+:\s*$"), "3.10"),
    (re.compile(r"^\s*except\s+[^\s(:][^:(]*,[^:]*:"), "3.14"),  # PEP 758: ``except A, B:``
]


def decode(data: bytes) -> str:
    """Decode per PEP 263 (a coding cookie or BOM), as Python itself does."""
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    text = data.decode(encoding)
    return text[1:] if text.startswith("\ufeff") else text


_FSTRING = re.compile(r"(?<![\w])[rRbB]?[fF][rR]?['\"]")
# a string key of a subscript (``['succeeded']``): in a line of nested f-strings that no quote swap
# can make 3.11-readable, it becomes a name of the same length (``[___________]``), which any
# f-string nesting accepts; what the key is does not matter to this analysis
_KEY = re.compile(r"\[(['\"])\w+\1\]")
_PEP758 = re.compile(r"^(\s*except\*?\s+)([^\s(:][^:(]*,[^:]*?)(\s*(?:as\s+\w+)?\s*:)")
_PEP695_DEF = re.compile(r"^(\s*(?:async\s+)?(?:def|class)\s+\w+)\s*\[")
_PEP695_TYPE = re.compile(r"^(\s*)type\s+(\w+)\s*(\[[^=]*\])?\s*=")


def _drop_type_params(lines: List[str], row: int, col: int) -> Optional[List[str]]:
    """Remove the balanced ``[...]`` opening at (row, col), which may span lines; the line
    breaks it held move into the parameter/base parentheses, so no later line moves."""
    text = "\n".join(lines)
    start = sum(len(x) + 1 for x in lines[:row]) + col
    depth = 0
    for end in range(start, len(text)):
        depth += {"[": 1, "]": -1}.get(text[end], 0)
        if depth == 0:
            break
    else:
        return None
    breaks = "\n" * text.count("\n", start, end)
    rest = text[end + 1:]
    if rest.lstrip(" ").startswith("("):
        rest = rest.lstrip(" ")[1:]
        new = text[:start] + "(" + breaks + rest
    else:
        new = text[:start] + "(" + breaks + ")" + rest
    return new.split("\n")


def _requote_fstrings(line: str) -> Optional[str]:
    """PEP 701 (3.12) lets a replacement field reuse the f-string's own quote
    (``f"{row["id"]}"``); 3.11 needs the other one. Swap the quotes of such inner literals
    (same length: no column moves). None when a line has none or one cannot be swapped
    (triple quotes, backslashes, the other quote inside the literal)."""
    out, changed, i = list(line), False, 0
    while True:
        m = _FSTRING.search(line, i)
        if m is None:
            return "".join(out) if changed else None
        q = line[m.end() - 1]
        other = "'" if q == '"' else '"'
        if line[m.end():m.end() + 2] == q * 2:
            return None
        j, depth = m.end(), 0
        while j < len(line):
            c = line[j]
            if depth == 0:
                if c == "\\":
                    j += 2
                    continue
                if c == q:
                    break
                if c in "{}" and line[j + 1:j + 2] == c:
                    j += 2
                    continue
                depth += c == "{"
                j += 1
                continue
            if c in "'\"":
                end = line.find(c, j + 1)
                if end < 0:
                    return None
                if c == q:
                    if other in line[j + 1:end] or "\\" in line[j + 1:end]:
                        return None
                    out[j] = out[end] = other
                    changed = True
                j = end + 1
                continue
            depth += {"{": 1, "}": -1}.get(c, 0)
            j += 1
        i = j + 1


def _downgrade(lines: List[str], row: int) -> Optional[List[str]]:
    """Rewrite newer syntax at ``row`` into an older equivalent for analysis:
    ``except A, B:`` (3.14) → ``except (A, B):``; ``class C[T]:``/``def f[T](...)`` (3.12) →
    without type parameters; ``type X = Y`` (3.12) → ``X = Y``; an f-string replacement field
    reusing the f-string's quote (3.12) → the other quote, or, when nesting leaves no other
    quote, its string subscript keys → names of the same length. None when nothing applies."""
    line = lines[row]
    if sys.version_info < (3, 12) and _FSTRING.search(line):
        fixed = _requote_fstrings(line)
        if fixed is None or fixed == line:  # quotes nested too deep to swap (``f"{f'{d['k']}'}"``)
            fixed = _KEY.sub(lambda m: "[" + "_" * (len(m.group(0)) - 2) + "]", line)
        if fixed != line:
            return lines[:row] + [fixed] + lines[row + 1:]
    fixed = _PEP758.sub(r"\1(\2)\3", line, count=1)
    if fixed == line:
        m = _PEP695_DEF.match(line)
        if m:
            return _drop_type_params(lines, row, m.end() - 1)
        m = _PEP695_TYPE.match(line)
        fixed = f"{m.group(1)}{m.group(2)} ={line[m.end():]}" if m else None
    if not fixed or fixed == line:
        return None
    return lines[:row] + [fixed] + lines[row + 1:]


def parse_tree(source: str, path: str) -> ast.Module:
    """``ast.parse``, tolerant of syntax newer than the running Python where an older spelling
    means the same to this analysis (see ``_downgrade``); no line moves. Other syntax errors
    propagate."""
    try:
        return ast.parse(source, filename=path)
    except SyntaxError as exc:
        error = exc
    lines = source.split("\n")
    for _ in range(1000):
        row = (error.lineno or 0) - 1
        fixed = _downgrade(lines, row) if 0 <= row < len(lines) else None
        if fixed is None:
            raise error
        lines = fixed
        try:
            return ast.parse("\n".join(lines), filename=path)
        except SyntaxError as again:
            error = again
    raise error


def parse(source: str, path: str):
    """(tree, None) or (None, a Finding): MDB000 for a syntax error, MDB002 (with the remedy) for
    grammar newer than the running Python that ``parse_tree`` cannot read as an older spelling."""
    try:
        return parse_tree(source, path), None
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None) or 1
        col = max((getattr(exc, "offset", None) or 1) - 1, 0)
        lines = source.splitlines()
        text = lines[line - 1] if 0 < line <= len(lines) else ""
        msg = getattr(exc, "msg", str(exc))
        checks = list(_NEWER_SYNTAX)
        if msg.startswith("f-string") or (msg.startswith("unterminated string") and _FSTRING.search(text)):
            # PEP 701 (3.12) lifted the f-string quoting limits
            checks.append((re.compile(""), "3.12"))
        for pattern, version in checks:
            if pattern.match(text) and sys.version_info < tuple(int(p) for p in version.split(".")):
                running = ".".join(map(str, sys.version_info[:2]))
                return None, Finding(NOT_CHECKED_CODE, f"file not checked: line {line} needs Python {version} or "
                                     f"newer to parse (running {running}); run mandu-lint under Python "
                                     f"≥ {version}", path, Span(line, col, line, col), node_text=msg)
        msg = getattr(exc, "msg", str(exc))
        if msg.startswith("too many "):  # the parser's own limits (nested parentheses, blocks)
            return None, Finding(NOT_CHECKED_CODE, f"file not checked: too deeply nested for Python's parser "
                                 f"({msg})", path, Span(line, col, line, col), node_text=msg)
        return None, Finding(SYNTAX_CODE, f"syntax error: {msg}", path, Span(line, col, line, col),
                             node_text=msg)


def param_defaults(fn: ast.AST) -> dict:
    """Parameter name -> the expression of its default, for a ``def``'s parameters that have one
    (positional and keyword-only)."""
    args = fn.args
    positional = args.posonlyargs + args.args
    pairs = list(zip(positional[len(positional) - len(args.defaults):], args.defaults))
    pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None]
    return {a.arg: d for a, d in pairs}
