"""Per-row contexts: code that runs once for every row a query returns.

A *row source* says, for a name bound to one row at a time, which model the row is, which
relation paths the query loaded eagerly, and which query expression (if any, in this file)
should load more. Loops and comprehensions are one kind (:func:`loop_source`, built on the
engine's ``LoopFrame``); a Django REST framework serializer used with ``many=True`` over a
view's queryset is another (``analysis/drf.py`` builds a :class:`RowSource` for it). Rules ask
"what does reading this relation of this row cost?" the same way for both, so new kinds (admin
``list_display``, FastAPI ``response_model``) only need to build a ``RowSource``.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field, replace
from typing import FrozenSet, List, Optional, Tuple

from ...core.loading import SUBCLASSES, covers, eager_paths, relation_path, strip_all
from ...core.messages import short
from .query_reach import query_target, returned_eager, visible
from ...core.refs import chain
from ...core.tags import RT, TK

ROWS = ("qs", "manager", "relmgr", "saquery", "saresult", "list")
# Queryset methods after which rows are not model instances, or that Django forbids with eager loads.
NOT_INSTANCES = frozenset("values values_list iterator aiterator raw dates datetimes none".split())
# Lazy relation strategies that never query on access (or are not collections we can load).
SA_SILENT_LAZY = frozenset({"joined", "selectin", "subquery", "immediate", "raise", "raise_on_sql", "noload",
                            "dynamic", "write_only", False})


@dataclass(frozen=True)
class RowSource:
    """Where the rows bound to a name come from."""

    kind: str  # loop | serializer
    model: str  # model qual of one row
    eager: FrozenSet[str]  # relation paths loaded, relative to the query's rows
    prefix: str = ""  # relation path from the query's rows to this row ("books" in a nested loop)
    query: Optional[ast.AST] = None  # the expression to fix, in this file; None: not in reach
    query_model: str = ""
    line: int = 0  # line of the per-row context
    names: Tuple[str, ...] = ()  # local names followed from the loop header to ``query``
    text: str = ""  # the query as the message names it
    via: Optional[Step] = None  # ``author.books.filter(...)``: the relation the rows were reached by

    def full(self, path: str) -> str:
        return f"{self.prefix}__{path}" if self.prefix and path else (self.prefix or path)

    def loads(self, path: str) -> bool:
        return covers(set(self.eager), self.full(path))


@dataclass
class Step:
    """One relation on a path: ``name`` from ``owner`` to ``rel.target``."""

    name: str
    owner: str
    rel: object  # project.models.Relation
    orm: str


@dataclass
class RelUse:
    """``var.r1.r2`` followed by method calls ``ops`` (``b.tags.filter(...).count()``)."""

    var: str
    steps: List[Step]
    ops: List[str] = field(default_factory=list)

    @property
    def path(self) -> str:
        return "__".join(s.name for s in self.steps)


def model_steps(index, model: str, names) -> Tuple[List[Step], list]:
    """Walk ``names`` over relations starting at ``model``: (relation steps, the rest)."""
    steps: List[Step] = []
    names = list(names)
    while names and model in index.models:
        m = index.models[model]
        rel = m.relations.get(names[0])
        if rel is None:
            break
        steps.append(Step(names.pop(0), model, rel, m.orm))
        model = rel.target
        if rel.to_many:
            break
    return steps, names


def goes_back(prev: Step, step: Step) -> bool:
    """``author.books`` then ``book.author``: Django caches the way back on each child (and a
    one-to-one's other side); SQLAlchemy finds a many-to-one target in its identity map."""
    if step.rel.target != prev.owner or prev.rel.target != step.owner:
        return False
    if step.orm != "django":
        return step.rel.kind == "many_to_one"
    pair = {prev.rel.kind, step.rel.kind}
    return prev.rel.field_line == step.rel.field_line and pair in ({"fk", "reverse_fk"}, {"o2o", "reverse_o2o"})


def walk(index, model: str, names) -> Optional[List[Step]]:
    """Every step of a relation path (across collections), or None if one is not a relation."""
    steps = []
    for name in names:
        m = index.models.get(model)
        rel = m.relations.get(name) if m is not None else None
        if rel is None:
            return None
        steps.append(Step(name, model, rel, m.orm))
        model = rel.target
    return steps


def rel_use(ctx, expr: ast.AST, source_of) -> Optional[Tuple[RelUse, "RowSource"]]:
    """Split ``expr`` into a per-row name, the relations it follows and the calls after them."""
    ops = []
    node = expr
    while True:
        if isinstance(node, ast.Await):
            node = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            ops.append(node.func.attr)
            node = node.func.value
        elif isinstance(node, ast.Attribute) and ops:
            break
        else:
            break
    path, var = relation_path(node)
    if var is None or not path:
        return None
    src = source_of(var)
    if src is None:
        return None
    steps, rest = model_steps(ctx.index, src.model, path.split("__"))
    if not steps or rest:
        return None
    ops.reverse()
    return RelUse(var, steps, ops), src


# -- loops --------------------------------------------------------------------------------------
def loop_source(ctx, var: str, depth: int = 0) -> Optional[RowSource]:
    """The rows a loop binds to ``var``, when they come from a query we can see."""
    for frame in reversed(ctx.loops):
        if var not in frame.targets or frame.iter_node is None:
            continue
        if not frame.reports:
            return None
        it = frame.iter_node
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "enumerate" and it.args:
            if frame.targets[-1] != var or len(frame.targets) != 2:
                return None
            it = it.args[0]
        elif len(frame.targets) != 1:
            return None
        return _iterated_source(ctx, it, frame.node.lineno, depth)
    return None


def _iterated_source(ctx, it: ast.AST, line: int, depth: int) -> Optional[RowSource]:
    t = ctx.type_of(it)
    if t is None or t[0] not in ROWS or not t[1] or t[1] not in ctx.index.models:
        return None
    if _chain_has(it, NOT_INSTANCES, ctx):
        return None
    base = strip_all(it)
    inner, owner = relation_path(base)
    bt = ctx.type_of(base) if owner is not None and inner else None
    if bt is not None and bt[0] in (TK.RELMGR, TK.LIST):  # ``a.books.all()``: what ``a``'s query loaded
        if depth > 4:
            return None
        outer = loop_source(ctx, owner, depth + 1)
        if outer is None:
            return None
        prefix = outer.full(inner)
        mgr = default_manager_eager(ctx.index, t[1])  # prefetched through it
        eager = outer.eager | frozenset(f"{prefix}__{p}" for p in mgr) if mgr else outer.eager
        return replace(outer, model=t[1], prefix=prefix, line=line, eager=eager)
    if t[0] == TK.LIST and not _from_query(ctx, it):
        return None
    return query_source(ctx, it, "loop", line, t[1])


def query_source(ctx, expr: ast.AST, kind: str, line: int, model: str) -> Optional[RowSource]:
    """The rows of a query expression we can see (a fresh query, not a relation's cache)."""
    if _chain_has(expr, NOT_INSTANCES, ctx) or not visible(ctx, ctx.ref(expr)):
        return None
    eager = eager_paths(expr, ctx.scope) | returned_eager(ctx, ctx.ref(expr)) | manager_eager(ctx, expr)
    if SUBCLASSES in eager:  # ``select_subclasses()`` joins every child through its parent link
        eager |= {name for name, _child in ctx.index.mti_children(model)}
    eager = frozenset(eager)
    query, names = query_target(ctx, expr)
    return RowSource(kind, model, eager, "", query, model, line, names, short(query if query is not None else expr, 70),
                     _via(ctx, expr))


def manager_eager(ctx, expr: ast.AST) -> set:
    """Paths the model's custom manager loads in its own ``get_queryset()`` (``objects =
    BookManager()`` whose ``get_queryset()`` calls ``select_related("author")``)."""
    node = expr
    for _ in range(30):
        if isinstance(node, ast.Name):
            value = ctx.scope.value_of(node.id) if node.id in ctx.scope.locals else None
            if value is None:  # a parameter or a local bound twice: a queryset of unknown origin
                t = ctx.type_of(node)  # most come from the default manager, whose loads they keep
                if t is not None and t[0] == TK.QS and t[1]:
                    return default_manager_eager(ctx.index, t[1])
            node = value
        elif isinstance(node, ast.Attribute):
            t = ctx.type_of(node.value)
            if t is not None and t[0] == TK.MODEL:
                return model_manager_eager(ctx.index, t[1], node.attr)
            rt = ctx.type_of(node)
            if rt is not None and rt[0] == TK.RELMGR and rt[1] and t is not None and t[0] == TK.INST:
                # ``host.packages``: Django builds a related manager from the related model's default
                # manager class, so what its ``get_queryset()`` loads is loaded here too
                return default_manager_eager(ctx.index, rt[1])
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, (ast.Subscript, ast.Await)):
            node = node.value
        else:
            break
    return set()


def default_manager_eager(index, model: str) -> set:
    """What a Django model's default manager (``objects`` when it has one, else the first manager
    it declares) loads in its ``get_queryset()``."""
    m = index.models.get(model)
    default = next(iter(m.managers)) if m is not None and m.managers and "objects" not in m.managers else "objects"
    return model_manager_eager(index, model, default)


def model_manager_eager(index, model: str, attr: str = "objects") -> set:
    m = index.models.get(model)
    mgr = m.managers.get(attr) if m is not None else None
    meth = index.find_method(mgr, "get_queryset") if mgr else None
    fn = index.functions.get(meth) if meth else None
    return set(fn.returns_eager) if fn is not None else set()


def _via(ctx, expr: ast.AST) -> Optional[Step]:
    """The related manager a fresh query starts from (``author.books`` in
    ``author.books.filter(...)``)."""
    node = expr
    while isinstance(node, (ast.Call, ast.Attribute, ast.Subscript, ast.Await)):
        if isinstance(node, ast.Attribute):
            t = ctx.type_of(node)
            owner = ctx.type_of(node.value)
            if t is not None and t[0] == TK.RELMGR and owner is not None and owner[0] == TK.INST:
                m = ctx.index.models.get(owner[1])
                rel = m.relations.get(node.attr) if m is not None else None
                return Step(node.attr, owner[1], rel, m.orm) if rel is not None else None
        node = node.func if isinstance(node, ast.Call) else node.value
    return None


def _from_query(ctx, it: ast.AST) -> bool:
    """A list that holds rows of a query: ``session.scalars(...).all()``, ``list(qs)``, a project
    function's result, not an annotated parameter nor a relation collection."""
    ref = ctx.ref(it)
    r, steps = chain(ref)
    return bool(steps) and r is not None and r[0] in (RT.GLOBAL, RT.PARAM, RT.SELF)


def _chain_has(expr: ast.AST, names, ctx, depth: int = 0) -> bool:
    node = expr
    while depth < 20:
        depth += 1
        if isinstance(node, ast.Await):
            node = node.value
        elif isinstance(node, ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute):
                if f.attr in names:
                    return True
                node = f.value
            elif isinstance(f, ast.Name) and node.args:
                node = node.args[0]
            else:
                return False
        elif isinstance(node, ast.Attribute):
            node = node.value
        elif isinstance(node, ast.Name):
            node = ctx.scope.value_of(node.id)
            if node is None:
                return False
        else:
            return False
    return False


def root_name(expr: ast.AST) -> Optional[str]:
    while isinstance(expr, (ast.Attribute, ast.Subscript, ast.Call, ast.Await)):
        expr = expr.func if isinstance(expr, ast.Call) else expr.value
    return expr.id if isinstance(expr, ast.Name) else None


def loop_eager(ctx, var: str, depth: int = 0):
    """Relation paths loaded for the rows bound to loop variable ``var`` — from whatever the
    loop iterates, visible or not; a loop over ``a.books.all()`` inherits what ``a``'s query
    prefetched under ``books__``. None when ``var`` is not a loop variable."""
    for frame in reversed(ctx.loops):
        if var in frame.targets and frame.iter_node is not None:
            paths = set(eager_paths(frame.iter_node, ctx.scope)) | returned_eager(ctx, ctx.ref(frame.iter_node))
            inner, outer_var = relation_path(strip_all(frame.iter_node))
            if outer_var is not None and inner and depth < 5:
                outer = loop_eager(ctx, outer_var, depth + 1) or set()
                if "*" in outer:
                    paths.add("*")
                prefix = inner + "__"
                paths |= {p[len(prefix):] for p in outer if p.startswith(prefix)}
            return paths
    return None
