"""Eager-loading edits: add ``select_related``/``prefetch_related`` (Django) or
``.options(joinedload(...)/selectinload(...))`` (SQLAlchemy) to a query expression.

The edit replaces the query expression with its own source text plus insertions (new
arguments after the last existing one, or a new call at the end of the chain), so comments and
line breaks inside the query survive. Whether the result is *safe* is the rule's call
(:func:`fix_safety`); this module only says what the query would become.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from ...model import Edit, Fix, FixSafety, Span
from ...core.tags import TK

# Django raises on eager loads combined with these, or they change what the rows are.
DJANGO_UNSAFE = frozenset("iterator aiterator only defer values values_list union intersection difference "
                          "select_for_update raw extra".split())
SA_UNSAFE = frozenset("with_for_update distinct group_by having union union_all from_statement "
                      "execution_options yield_per".split())


@dataclass(frozen=True)
class Want:
    """A relation path to load: ``names`` from the query's model, each step's owner model and
    whether it is a collection."""

    names: Tuple[str, ...]
    owners: Tuple[str, ...]
    many: Tuple[bool, ...]

    @property
    def path(self) -> str:
        return "__".join(self.names)

    @property
    def to_many(self) -> bool:
        return any(self.many)


def chain_calls(node: ast.AST) -> List[ast.Call]:
    """Method calls along a query chain, outermost first."""
    out = []
    while True:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            out.append(node)
            node = node.func.value
        elif isinstance(node, (ast.Subscript, ast.Await)):
            node = node.value
        else:
            return out


def chain_methods(node: ast.AST) -> set:
    return {c.func.attr for c in chain_calls(node)}


def has_prefetch_object(node: ast.AST) -> bool:
    for c in chain_calls(node):
        if c.func.attr == "prefetch_related" and any(isinstance(a, ast.Call) for a in c.args):
            return True
    return False


class _Text:
    """The query's source with insertions at absolute positions."""

    def __init__(self, ctx, node: ast.AST):
        self.ctx = ctx
        self.node = node
        self.start = self._abs(node.lineno, node.col_offset)
        self.end = self._abs(node.end_lineno, node.end_col_offset)
        self.inserts: List[Tuple[int, str]] = []
        self.open, self.close = self._parens()

    def _parens(self) -> Tuple[int, int]:
        """Offsets of the parentheses around a query that spans lines (``(\n qs\n .x()\n)``):
        the edit then covers them, since the text alone would not parse as an expression."""
        src = self.ctx.source
        if "\n" not in src[self.start:self.end]:
            return -1, -1
        i = self.start - 1
        while i >= 0 and src[i] in " \t\r\n":
            i -= 1
        j = self.end
        while j < len(src):
            if src[j] in " \t\r\n":
                j += 1
            elif src[j] == "#":
                j = src.find("\n", j) if src.find("\n", j) >= 0 else len(src)
            else:
                break
        if i >= 0 and src[i] == "(" and j < len(src) and src[j] == ")":
            return i, j + 1
        return -1, -1

    def span(self) -> Span:
        if self.open < 0:
            return self.ctx.span(self.node)
        return Span(*self._pos(self.open), *self._pos(self.close))

    def _pos(self, offset: int) -> Tuple[int, int]:
        line = max(i for i, start in enumerate(self._starts) if start <= offset)
        return line + 1, offset - self._starts[line]

    def _abs(self, line: int, byte_col: int) -> int:
        if not hasattr(self, "_starts"):
            self._starts = [0]
            for text in self.ctx.source.splitlines(keepends=True):
                self._starts.append(self._starts[-1] + len(text))
        return self._starts[line - 1] + self.ctx.char_col(line, byte_col)

    def after(self, node: ast.AST, text: str) -> None:
        self.inserts.append((self._abs(node.end_lineno, node.end_col_offset), text))

    def before_close(self, call: ast.Call, text: str) -> None:
        self.inserts.append((self._abs(call.end_lineno, call.end_col_offset) - 1, text))

    def render(self, tail: str, drop_all: bool = False) -> str:
        src = self.ctx.source
        end = self.end
        if tail and drop_all and _is_bare_all(self.node):  # ``X.all()`` + tail → ``X`` + tail
            end = self._abs(self.node.func.value.end_lineno, self.node.func.value.end_col_offset)
        out, pos = [], self.start
        for at, text in sorted(self.inserts):
            out.append(src[pos:at])
            out.append(text)
            pos = at
        out.append(src[pos:end])
        text = "".join(out) + tail
        if self.open >= 0:
            text = src[self.open:self.start] + text + src[self.end:self.close]
        return self._dedent(text)

    def _dedent(self, text: str) -> str:
        """libcst re-indents continuation lines by the enclosing block's indentation; the edit
        text must therefore carry them relative to it."""
        if "\n" not in text:
            return text
        line_start = self._starts[self._pos(self.open if self.open >= 0 else self.start)[0] - 1]
        first = self.ctx.source[line_start:]
        indent = first[: len(first) - len(first.lstrip(" \t"))]
        lines = text.split("\n")
        return "\n".join([lines[0]] + [x[len(indent):] if x.startswith(indent) else x for x in lines[1:]])


def _is_bare_all(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "all" \
        and not node.args and not node.keywords


def _quote(ctx, node: ast.AST) -> str:
    for c in chain_calls(node):
        for a in c.args:
            if isinstance(a, ast.Constant) and isinstance(a.value, str):
                seg = ast.get_source_segment(ctx.source, a) or ""
                if seg[:1] in ("'", '"'):
                    return seg[0]
    return '"'


def _add_args(text: _Text, call: ast.Call, args: Sequence[str]) -> None:
    joined = ", ".join(args)
    if call.args:
        text.after(call.args[-1], ", " + joined)
    else:
        text.before_close(call, joined)


def django_edit(ctx, query: ast.AST, wants: Sequence[Want]) -> Optional[Edit]:
    q = _quote(ctx, query)
    text = _Text(ctx, query)
    tail = []
    for method, group in (("select_related", [w for w in wants if not w.to_many]),
                          ("prefetch_related", [w for w in wants if w.to_many])):
        if not group:
            continue
        args = [f"{q}{w.path}{q}" for w in group]
        existing = next((c for c in chain_calls(query) if c.func.attr == method), None)
        if existing is not None:
            _add_args(text, existing, args)
        else:
            tail.append(f".{method}({', '.join(args)})")
    return Edit(text.span(), text.render("".join(tail), drop_all=True))


def _model_texts(ctx, query: ast.AST) -> dict:
    """Model qual → how the query itself spells it (``models.Order`` in ``select(models.Order)``)."""
    out = {}
    for n in ast.walk(query):
        if isinstance(n, (ast.Name, ast.Attribute)):
            t = ctx.type_of(n)
            if t is not None and t[0] == TK.MODEL and t[1] not in out:
                out[t[1]] = (ast.get_source_segment(ctx.source, n), None)
    return out


def sa_edit(ctx, query: ast.AST, wants: Sequence[Want]) -> Optional[Tuple[Edit, tuple]]:
    imports = set()
    options = []
    spelled = _model_texts(ctx, query)
    for w in wants:
        parts = []
        for name, owner, many in zip(w.names, w.owners, w.many):
            local = spelled.get(owner) or local_name(ctx, owner)
            if local is None:
                return None
            if local[1]:
                imports.add(local[1])
            loader = "selectinload" if many else "joinedload"
            imports.add(("sqlalchemy.orm", loader))
            parts.append(f"{loader}({local[0]}.{name})")
        options.append(".".join(parts))
    text = _Text(ctx, query)
    existing = next((c for c in chain_calls(query) if c.func.attr == "options"), None)
    tail = ""
    if existing is not None:
        _add_args(text, existing, options)
    else:
        tail = f".options({', '.join(options)})"
    return Edit(text.span(), text.render(tail)), tuple(sorted(imports))


def local_name(ctx, model: str):
    """(name to write, import needed or None) for a model class in this file."""
    ix = ctx.index
    for local, qual in ctx.names.names.items():
        if ix.canonical(qual) == model:
            t = ctx.typer.type_of(ctx.scope.lookup(local))
            if t == (TK.MODEL, model):
                return local, None
    module, _, name = model.rpartition(".")
    if name in ctx.names.names or name in ctx.scope.locals or not module:
        return None
    return name, (module, name)


def fix_for(ctx, orm: str, query: ast.AST, wants: Sequence[Want], safe: bool) -> Optional[Fix]:
    paths = ", ".join(w.path for w in wants)
    if orm == "django":
        edit = django_edit(ctx, query, wants)
        if edit is None:
            return None
        return Fix(FixSafety.SAFE if safe else FixSafety.UNSAFE, f"load {paths} with the query", (edit,))
    out = sa_edit(ctx, query, wants)
    if out is None:
        return None
    edit, imports = out
    return Fix(FixSafety.SAFE if safe else FixSafety.UNSAFE, f"load {paths} with the query", (edit,), imports)


def unsafe_chain(orm: str, query: ast.AST) -> bool:
    methods = chain_methods(query)
    if orm == "django":
        return bool(methods & DJANGO_UNSAFE) or has_prefetch_object(query)
    return bool(methods & SA_UNSAFE)


def loads_of_names(func_node: ast.AST, names: Sequence[str]) -> bool:
    """Each name is read exactly once in the function (by the loop that consumes it)."""
    if not names:
        return True
    counts = {n: 0 for n in names}
    for n in ast.walk(func_node):
        if isinstance(n, ast.Name) and n.id in counts and isinstance(n.ctx, ast.Load):
            counts[n.id] += 1
    return all(c == 1 for c in counts.values())


def within(node: ast.AST, outer: ast.AST) -> bool:
    if isinstance(outer, ast.Module):
        return True
    return (outer.lineno, outer.col_offset) <= (node.lineno, node.col_offset) and \
        (node.end_lineno, node.end_col_offset) <= (outer.end_lineno, outer.end_col_offset)
