"""Make fixed code look written by hand: imports in their isort block, long lines re-wrapped.

libcst adds a fix's imports at the end of the module's import block (``from sqlalchemy.orm import
joinedload`` below ``from .helpers import x``), and a spliced method chain can push a line past
the project's line length. Both are repaired here, without black or isort, and only where a fix
changed something: :func:`place_imports` moves each *added* import statement into its section
(future, standard library, third party, first party, local - isort's default order, straight
``import x`` before ``from x import y``), and :func:`rewrap` splits each *changed* line that now
exceeds the line length the way black's right-hand split does (``head(`` / indented body, one
argument per line when needed / ``)tail``). Every result must parse to the same tree (modulo the
moved imports); otherwise the unchanged text is kept.
"""
from __future__ import annotations

import ast
import configparser
import io
import re
import sys
import tokenize
from pathlib import Path
from typing import FrozenSet, List, Optional, Sequence, Tuple

DEFAULT_LINE_LENGTH = 88  # black's and ruff's default
_SECTIONS = ("future", "stdlib", "thirdparty", "firstparty", "local")
_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) | frozenset(sys.builtin_module_names)


# -- the project's line length -------------------------------------------------------------------
def line_length(root: Path) -> int:
    """``line-length`` of ``[tool.ruff]`` or ``[tool.black]`` in pyproject.toml, else flake8's
    ``max-line-length`` in setup.cfg/tox.ini/.flake8, else 88."""
    pyproject = Path(root) / "pyproject.toml"
    if pyproject.is_file():
        try:
            from ..config import _load_toml

            tool = _load_toml(pyproject.read_text(encoding="utf-8")).get("tool", {})
            for name in ("ruff", "black"):
                value = (tool.get(name) or {}).get("line-length")
                if isinstance(value, int) and value > 0:
                    return value
        except Exception:  # an unreadable pyproject is reported elsewhere, if it matters
            pass
    for name in ("setup.cfg", "tox.ini", ".flake8"):
        path = Path(root) / name
        if path.is_file():
            parser = configparser.ConfigParser()
            try:
                parser.read(path, encoding="utf-8")
                value = parser.get("flake8", "max-line-length", fallback=None) or \
                    parser.get("flake8", "max_line_length", fallback=None)
                if value and value.strip().isdigit():
                    return int(value.strip())
            except (configparser.Error, UnicodeDecodeError):
                pass
    return DEFAULT_LINE_LENGTH


# -- imports -------------------------------------------------------------------------------------
def _section(node: ast.stmt, first_party: FrozenSet[str]) -> int:
    if isinstance(node, ast.ImportFrom) and node.level:
        return _SECTIONS.index("local")
    module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
    top = (module or "").split(".")[0]
    if top == "__future__":
        return _SECTIONS.index("future")
    if top in first_party:
        return _SECTIONS.index("firstparty")
    if top in _STDLIB:
        return _SECTIONS.index("stdlib")
    return _SECTIONS.index("thirdparty")


def _order(node: ast.stmt) -> Tuple[int, str]:
    """isort's default order within a section: straight imports first, then by module."""
    if isinstance(node, ast.ImportFrom):
        return 1, ("." * node.level + (node.module or "")).lower()
    return 0, node.names[0].name.lower()


def _block(tree: ast.Module) -> List[ast.stmt]:
    """The leading top-level import statements (after a docstring)."""
    out = []
    for i, node in enumerate(tree.body):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.append(node)
        elif i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        else:
            break
    return out


def place_imports(old: str, new: str, first_party: FrozenSet[str] = frozenset()) -> str:
    """``new`` with each import statement a fix added (absent from ``old``) moved to its isort
    place in the leading import block; ``new`` unchanged when anything is unclear."""
    try:
        before = {ast.unparse(n) for n in ast.walk(ast.parse(old)) if isinstance(n, (ast.Import, ast.ImportFrom))}
        tree = ast.parse(new)
    except (SyntaxError, ValueError):
        return new
    added = [n for n in _block(tree) if ast.unparse(n) not in before and n.lineno == n.end_lineno]
    text = new
    for node in added:
        moved = _move(text, ast.unparse(node), first_party)
        if moved is None:
            return new
        text = moved
    try:
        if sorted(map(ast.dump, ast.parse(text).body)) != sorted(map(ast.dump, tree.body)):
            return new
    except SyntaxError:
        return new
    return text


def _move(text: str, statement: str, first_party: FrozenSet[str]) -> Optional[str]:
    lines = text.splitlines(keepends=True)
    tree = ast.parse(text)
    block = _block(tree)
    target = next((n for n in block if ast.unparse(n) == statement and n.lineno == n.end_lineno), None)
    if target is None:
        return None
    line = lines[target.lineno - 1]
    newline = line[len(line.rstrip("\r\n")):] or "\n"
    others = [n for n in block if n is not target]
    if not others:
        return text
    section, key = _section(target, first_party), _order(target)
    same = [n for n in others if _section(n, first_party) == section]
    insert_at, pad_before, pad_after = None, False, False  # 0-based line index in `lines`
    if same:
        later = [n for n in same if _order(n) > key]
        insert_at = (later[0].lineno - 1) if later else same[-1].end_lineno
    else:
        after = [n for n in others if _section(n, first_party) > section]
        if after:
            insert_at, pad_after = after[0].lineno - 1, True
        else:
            insert_at, pad_before = others[-1].end_lineno, True
    del lines[target.lineno - 1]
    if target.lineno - 1 < insert_at:
        insert_at -= 1
    # a blank line the removed statement leaves behind between sections is kept: isort keeps one
    chunk = ([newline] if pad_before else []) + [statement + newline] + ([newline] if pad_after else [])
    lines[insert_at:insert_at] = chunk
    out = "".join(lines)
    return re.sub(r"(\r?\n)(?:[ \t]*\r?\n){2,}(?=(?:import|from)\b)", r"\1\1", out)


# -- long lines ----------------------------------------------------------------------------------
_OPEN, _CLOSE = "([{", ")]}"


def _brackets(line: str) -> Optional[List[Tuple[int, int]]]:
    """(open, close) column pairs of the brackets on a one-line statement, by tokens (never
    inside strings or comments); None when the line does not tokenize on its own."""
    stack, pairs = [], []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(line.strip("\r\n") + "\n").readline):
            if tok.type != tokenize.OP:
                continue
            if tok.string in _OPEN:
                stack.append(tok.start[1])
            elif tok.string in _CLOSE:
                if not stack:
                    return None
                pairs.append((stack.pop(), tok.start[1]))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    return None if stack else pairs


def _top_commas(body: str) -> List[int]:
    depth, out = 0, []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(body + "\n").readline):
            if tok.type == tokenize.OP:
                if tok.string in _OPEN:
                    depth += 1
                elif tok.string in _CLOSE:
                    depth -= 1
                elif tok.string == "," and depth == 0 and tok.start[0] == 1:
                    out.append(tok.start[1])
                elif tok.string in ("lambda", ":") and depth == 0:
                    return []
            elif tok.type == tokenize.NAME and tok.string in ("lambda", "for") and depth == 0:
                return []
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return []
    return out


def _split(line: str, limit: int, indent_unit: str) -> Optional[List[str]]:
    """A right-hand split of one long physical line, or None."""
    text = line.rstrip("\r\n")
    indent = text[:len(text) - len(text.lstrip())]
    pairs = _brackets(text)
    if not pairs:
        return None
    inner = indent + indent_unit
    best = None
    for start, end in sorted(pairs, key=lambda p: -p[1]):
        body = text[start + 1:end].strip()
        if not body:
            continue
        head, tail = text[:start + 1].rstrip(), indent + text[end:].strip()
        commas = _top_commas(body)
        if len(inner) + len(body) > limit and commas:
            parts = [body[i + 1:j].strip() for i, j in zip([-1] + commas, commas + [len(body)])]
            parts = [p for p in parts if p]
            middle = [inner + p + "," for p in parts]
        else:
            middle = [inner + body]
        lines = [head] + middle + [tail]
        worst = max(map(len, lines))
        if best is None or worst < best[0]:
            best = (worst, lines)
        if worst <= limit:
            break
    return best[1] if best is not None else None


_LAYOUT_TOKENS = (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.NEWLINE,
                  tokenize.ENDMARKER)


def _single_line_statements(source: str) -> set:
    """Line numbers of logical lines that are one physical line (safe to split as text)."""
    out, start = set(), None
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if start is None and tok.type not in _LAYOUT_TOKENS:
                start = tok.start[0]
            if tok.type == tokenize.NEWLINE:
                if start is not None and tok.start[0] == start:
                    out.add(start)
                start = None
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return set()
    return out


def rewrap(old: str, new: str, limit: int) -> str:
    """``new`` with each line that a fix changed and that now exceeds ``limit`` re-wrapped;
    lines that were already that long, or already in ``old``, are left alone."""
    if not any(len(line) > limit for line in new.splitlines()):
        return new
    before = set(old.splitlines())
    lines = new.splitlines(keepends=True)
    single = _single_line_statements(new)
    unit = _indent_unit(new)
    out = []
    for number, line in enumerate(lines, start=1):
        bare = line.rstrip("\r\n")
        if len(bare) > limit and bare not in before and number in single:
            parts = _split(line, limit, unit)
            if parts:
                newline = line[len(bare):] or "\n"
                out.extend(p + newline for p in parts)
                continue
        out.append(line)
    text = "".join(out)
    try:
        if ast.dump(ast.parse(text)) != ast.dump(ast.parse(new)):
            return new
    except SyntaxError:
        return new
    return text


def _indent_unit(source: str) -> str:
    for line in source.splitlines():
        stripped = line.lstrip()
        if stripped and line != stripped and not line.startswith("\t"):
            width = len(line) - len(stripped)
            if width in (2, 4, 8):
                return " " * width
        if line.startswith("\t"):
            return "\t"
    return "    "


def tidy(old: str, new: str, first_party: FrozenSet[str] = frozenset(), limit: int = DEFAULT_LINE_LENGTH) -> str:
    """Both repairs, imports first."""
    if new == old:
        return new
    return rewrap(old, place_imports(old, new, first_party), limit)


def first_party_of(modules: Sequence[str]) -> FrozenSet[str]:
    return frozenset(m.split(".")[0] for m in modules if m)


__all__ = ["line_length", "place_imports", "rewrap", "tidy", "first_party_of", "DEFAULT_LINE_LENGTH"]
