"""Text of the transaction fixes: wrap a span of statements in ``with transaction.atomic():`` or
decorate the function, and defer a call with ``transaction.on_commit(partial(...))``.

A wrap edits the whole function (an edit must cover exactly one statement, and a ``with``
around several statements replaces them all); the text is cut from the source, so comments
and formatting inside the function are kept. No fix is offered when the span shares a line
with other code or holds a multi-line string (re-indenting would change the string).
"""
from __future__ import annotations

import ast
from typing import List, Optional, Sequence, Tuple

from ...model import Edit, Fix, FixSafety

ATOMIC_IMPORT = (("django.db", "transaction"),)


def common_span(view, nodes: Sequence[ast.AST]) -> Optional[Tuple[list, int, int, ast.AST]]:
    """(statement list, first index, last index, its owner) of the smallest run of sibling
    statements that contains every node."""
    chains = [[view.statement(n)] + view.ancestors(view.statement(n)) for n in nodes]
    if any(c[0] is None for c in chains):
        return None
    for owner in chains[0][1:]:
        for body in _lists(owner):
            picks = []
            for chain in chains:
                hit = next((s for s in chain if s in body), None)
                if hit is None:
                    break
                picks.append(body.index(hit))
            else:
                return body, min(picks), max(picks), owner
    return None


def _lists(owner: ast.AST):
    for name in ("body", "orelse", "finalbody"):
        v = getattr(owner, name, None)
        if isinstance(v, list) and v and isinstance(v[0], ast.stmt):
            yield v
    for h in getattr(owner, "handlers", ()):
        yield h.body
    for c in getattr(owner, "cases", ()):
        yield c.body


def atomic_fix(view, nodes: Sequence[ast.AST], what: str) -> Optional[Fix]:
    """Wrap the statements holding ``nodes`` in ``with transaction.atomic():``, or decorate the
    function with ``@transaction.atomic`` when they span its body."""
    fnode, ctx = view.fnode, view.ctx
    if not isinstance(fnode, ast.FunctionDef) or any(isinstance(n, (ast.Yield, ast.YieldFrom))
                                                     for n in ast.walk(fnode)):
        return None
    found = common_span(view, nodes)
    if found is None:
        return None
    body, i, j, owner = found
    lines = ctx.source.splitlines(keepends=True)
    top = fnode.decorator_list[0].lineno if fnode.decorator_list else fnode.lineno
    first = _first_real(fnode)
    if owner is fnode and i <= first and j >= len(body) - 2:
        new = _decorate(lines, fnode, top)
        how = "decorate the function with `@transaction.atomic`"
    else:
        if not _alone(lines, body[i], body[j]) or _multiline_strings(body[i: j + 1]):
            return None
        new = _wrap(lines, fnode, top, body[i], body[j])
        how = "wrap the statements in `with transaction.atomic():`"
    if new is None:
        return None
    return Fix(FixSafety.UNSAFE, f"{how} so that {what} commit or roll back together",
               (Edit(ctx.span(fnode), new),), ATOMIC_IMPORT)


def _first_real(fnode) -> int:
    b = fnode.body
    doc = isinstance(b[0], ast.Expr) and isinstance(b[0].value, ast.Constant) and isinstance(b[0].value.value, str)
    return 1 if doc and len(b) > 1 else 0


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _unit(lines: List[str], fnode) -> Optional[str]:
    outer = _indent_of(lines[fnode.lineno - 1])
    inner = _indent_of(lines[fnode.body[0].lineno - 1])
    if not inner.startswith(outer) or len(inner) <= len(outer) or fnode.body[0].lineno == fnode.lineno:
        return None
    return inner[len(outer):]


def _dedent(lines: List[str], prefix: str) -> str:
    return "".join(line[len(prefix):] if line.startswith(prefix) else line for line in lines)


def _decorate(lines: List[str], fnode, top: int) -> Optional[str]:
    prefix = _indent_of(lines[fnode.lineno - 1])
    part = lines[top - 1: fnode.end_lineno]
    at = fnode.lineno - top
    part = part[:at] + [prefix + "@transaction.atomic\n"] + part[at:]
    return _finish(_dedent(part, prefix))


def _wrap(lines: List[str], fnode, top: int, first: ast.stmt, last: ast.stmt) -> Optional[str]:
    unit = _unit(lines, fnode)
    if unit is None:
        return None
    prefix = _indent_of(lines[fnode.lineno - 1])
    inner = _indent_of(lines[first.lineno - 1])
    out = lines[top - 1: first.lineno - 1] + [inner + "with transaction.atomic():\n"]
    for k in range(first.lineno - 1, last.end_lineno):
        line = lines[k]
        out.append(unit + line if line.strip() else line)
    out += lines[last.end_lineno: fnode.end_lineno]
    return _finish(_dedent(out, prefix))


def _finish(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def _alone(lines: List[str], first: ast.stmt, last: ast.stmt) -> bool:
    """The span starts its line and ends its line (a comment may follow)."""
    before = lines[first.lineno - 1][: first.col_offset]
    after = lines[last.end_lineno - 1][last.end_col_offset:].strip()
    return not before.strip() and (not after or after.startswith("#"))


def _multiline_strings(stmts) -> bool:
    for s in stmts:
        for n in ast.walk(s):
            if isinstance(n, (ast.Constant, ast.JoinedStr)) and (n.end_lineno or n.lineno) > n.lineno and \
                    (isinstance(n, ast.JoinedStr) or isinstance(n.value, (str, bytes))):
                return True
    return False


def on_commit_fix(ctx, call: ast.Call, using: Optional[str]) -> Optional[Fix]:
    """``send_mail(a, b)`` → ``transaction.on_commit(partial(send_mail, a, b))``: the arguments
    are bound now, the call runs after the outermost commit (and never on rollback)."""
    text = ast.get_source_segment(ctx.source, call)
    func = ast.get_source_segment(ctx.source, call.func)
    if not text or not func or not text.startswith(func):
        return None
    rest = text[len(func):].strip()
    if not (rest.startswith("(") and rest.endswith(")")):
        return None
    inner = rest[1:-1].strip()
    args = f"{func}, {inner}" if inner else func
    extra = f", using={using}" if using else ""
    new = f"transaction.on_commit(partial({args}){extra})"
    return Fix(FixSafety.UNSAFE, "run it after the commit with `transaction.on_commit`",
               (Edit(ctx.span(call), new),), (("django.db", "transaction"), ("functools", "partial")))
