"""What a query loads eagerly: ``select_related``/``prefetch_related`` paths (Django) and
``joinedload``/``selectinload``/... options (SQLAlchemy) along a query expression.

Shared by the loop rules: a relation the iterated query loaded is not a query per row.
"""
from __future__ import annotations

import ast
from typing import Optional, Set

DJANGO_EAGER = {"select_related", "prefetch_related"}
SA_EAGER = {"joinedload", "selectinload", "subqueryload", "contains_eager", "immediateload"}
SA_NOT_EAGER = {"load_only", "defer", "undefer", "noload", "raiseload", "lazyload", "with_expression"}
# Calls that run a statement given as their first argument: its options are the query's.
SA_RUNS = {"scalars", "execute", "exec", "scalar", "stream", "stream_scalars"}


# django-model-utils' ``InheritanceQuerySet.select_subclasses()`` (multi-table inheritance): the
# rows are the concrete children, joined through their parent links. Marked among the eager paths
# (a name no relation can have) so that the per-row readers know the rows are the children.
SUBCLASSES = "+subclasses"

# Framework calls that return the queryset they are given, filtered or paged (DRF views):
# ``self.filter_queryset(qs.select_related("a"))`` loads what ``qs`` loads.
PASS_THROUGH = frozenset({"filter_queryset", "paginate_queryset"})


def eager_paths(expr: Optional[ast.AST], scope, depth: int = 0, _busy: frozenset = frozenset()) -> Set[str]:
    """Relation paths (``"author"``, ``"tags__owner"``) loaded by the query ``expr`` builds.
    Follows a local name to the expression it was assigned once; a name assigned several
    times (``qs = qs.select_related("author")`` under an ``if``) loads what any of its
    assignments loads (the typer types such a name only when all assignments agree, and a
    relation one branch loads is not reported as a query per row)."""
    out: Set[str] = set()
    while expr is not None and depth < 20:
        depth += 1
        if isinstance(expr, ast.Name):
            name = expr.id
            expr = scope.value_of(name) if scope is not None else None
            if expr is None and scope is not None and name not in _busy:
                busy = _busy | {name}
                for value in scope.values_of(name)[:8]:
                    out.update(eager_paths(value, scope, depth + 1, busy))
            continue
        if isinstance(expr, ast.Call):
            f = expr.func
            if isinstance(f, ast.Attribute):
                if f.attr in DJANGO_EAGER:
                    out.update(_django_args(expr))
                elif f.attr == "select_subclasses":
                    out.add(SUBCLASSES)
                    out.update(a.value for a in expr.args if isinstance(a, ast.Constant) and isinstance(a.value, str))
                elif f.attr == "options":
                    for a in expr.args:
                        out.update(_sa_option(a))
                elif (f.attr in SA_RUNS or f.attr in PASS_THROUGH) and expr.args:
                    out.update(eager_paths(expr.args[0], scope, depth + 1, _busy))
                    return out
                expr = f.value
                continue
            return out
        if isinstance(expr, (ast.Attribute, ast.Subscript)):
            expr = expr.value
            continue
        if isinstance(expr, ast.Await):
            expr = expr.value
            continue
        return out
    return out


def _django_args(call: ast.Call) -> Set[str]:
    out = set()
    for a in call.args:
        if isinstance(a, ast.Constant) and isinstance(a.value, str):
            out.add(a.value)
        elif isinstance(a, ast.Call) and getattr(a.func, "id", getattr(a.func, "attr", "")) == "Prefetch":
            first = a.args[0] if a.args else next((k.value for k in a.keywords if k.arg == "lookup"), None)
            to_attr = next((k.value for k in a.keywords if k.arg == "to_attr"), None)
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                out.add(first.value)
                out.update(_prefetch_inner(first.value, a))
            if isinstance(to_attr, ast.Constant) and isinstance(to_attr.value, str):
                out.add(to_attr.value)
        else:
            out.add("*")  # a dynamic argument: assume it may cover anything
    if not call.args and not call.keywords and getattr(call.func, "attr", "") == "select_related":
        out.add("*")  # bare select_related() follows every non-null FK
    return out


def _prefetch_inner(lookup: str, prefetch: ast.Call) -> Set[str]:
    """``Prefetch("books", queryset=Book.objects.select_related("publisher"))`` also loads
    ``books__publisher``; a queryset we cannot read may load anything below ``books``."""
    qs = prefetch.args[1] if len(prefetch.args) > 1 else next(
        (k.value for k in prefetch.keywords if k.arg == "queryset"), None)
    if qs is None:
        return set()
    if not isinstance(qs, ast.Call):
        return {lookup + "__*"}
    return {f"{lookup}__{p}" for p in eager_paths(qs, None)}


def _sa_option(node: ast.AST) -> Set[str]:
    """``joinedload(Book.author).selectinload(Author.tags)`` → {"author", "author__tags"}."""
    if not isinstance(node, ast.Call):
        return {"*"}  # ``*options``, a variable: may load anything
    parts = []
    cur = node
    while isinstance(cur, ast.Call):
        f = cur.func
        name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
        if name not in SA_EAGER:
            return {"*"} if name not in SA_NOT_EAGER else set()
        attr = cur.args[0] if cur.args else None
        if isinstance(attr, ast.Attribute):
            parts.append(attr.attr)
        elif isinstance(attr, ast.Constant) and isinstance(attr.value, str):
            parts.append(attr.value)
        else:
            return {"*"}
        cur = f.value if isinstance(f, ast.Attribute) else None
    parts.reverse()
    return {"__".join(parts[: i + 1]) for i in range(len(parts))}


def covers(paths: Set[str], path: str) -> bool:
    """Does an eager path set load ``path`` (``author`` is covered by ``author__publisher``)?"""
    if "*" in paths:
        return True
    return any(p == path or p.startswith(path + "__") or (p.endswith("__*") and path.startswith(p[:-1]))
               for p in paths)


def relation_path(node: ast.AST):
    """``a.author.books`` → ("author__books", "a"); anything else → ("", None)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return "", None
    return "__".join(reversed(parts)), node.id


def strip_all(node: ast.AST) -> ast.AST:
    """``a.books.all()`` iterates the same (prefetched) objects as ``a.books``."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "all" \
            and not node.args:
        return node.func.value
    return node
