"""Loops that are not "once per row": a fixed, small collection, or a walk over chunks where
each pass handles many rows with one statement on purpose. Shared by the loop rules through
``engine.LoopFrame.bounded`` and :func:`is_batched_call`.
"""
from __future__ import annotations

import ast
import re
from typing import Optional
from .source import param_defaults
from .tags import RT, TK

FEW = "few"  # the ref tag of a small display: ``("lit", FEW, n)`` (``core/refs.py``)
# a call that makes a value no row can hold yet (``uuid4()``, ``secrets.token_hex()``,
# ``get_random_string()``): a loop that draws one until it is free runs once; an insert of one cannot clash
FRESH = re.compile(r"uuid|token|random|secret|nonce|urandom", re.I)

MAX_SMALL = 20  # a literal collection up to this size is a fixed, small loop
# a display of constants only (``[("idx_a", "CREATE INDEX …"), …]``) is data the code carries: its
# size is fixed when the code is written, so a loop over it is bounded up to this size
MAX_LITERAL = 200
_WRAPPERS = frozenset({"list", "tuple", "set", "sorted", "reversed", "enumerate"})
_CHUNKERS = ("chunk", "batch")  # ``itertools.batched``, ``chunked``, a project's ``_chunks``
_CHOICES = ("enum.Enum", "enum.IntEnum", "enum.StrEnum", "enum.Flag", "django.db.models.Choices",
            "django.db.models.TextChoices", "django.db.models.IntegerChoices",
            "django.db.models.enums.Choices")


def is_small_display(node: Optional[ast.AST]) -> bool:
    """A literal display of at most MAX_SMALL items whose items are constants, names,
    attributes or small displays themselves (``[("a", 1), ("b", 2)]``)."""
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return len(node.elts) <= MAX_SMALL and all(_item(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return len(node.keys) <= MAX_SMALL and all(isinstance(k, ast.Constant) for k in node.keys)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
        return all(isinstance(a, ast.Constant) for a in node.args)
    return False


def _item(node: ast.AST) -> bool:
    if isinstance(node, (ast.Constant, ast.Name, ast.Attribute)):
        return True
    if isinstance(node, ast.Dict):
        return all(k is None or isinstance(k, ast.Constant) for k in node.keys)
    return is_small_display(node)


def bounded_iter(node: Optional[ast.AST], ctx, depth: int = 0) -> bool:
    """Does iterating ``node`` run a fixed, small number of times, or over chunks?"""
    if node is None or depth > 4:
        return False
    node = _unwrapped(node)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not node.args \
            and node.func.attr in ("items", "keys", "values"):
        node = node.func.value
    if isinstance(node, ast.IfExp):
        return bounded_iter(node.body, ctx, depth + 1) and bounded_iter(node.orelse, ctx, depth + 1)
    if is_chunk_iter(node) or _code_defined(node):
        return True
    if isinstance(node, ast.Name):
        return _bounded_name(node.id, ctx, depth)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return _class_constant(node, ctx)
    return is_small_display(node) or literal_data(node) or _choices_class(node, ctx)


def literal_data(node: Optional[ast.AST]) -> bool:
    """A display of at most ``MAX_LITERAL`` items, each a constant or a display of constants."""
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        items = node.elts
    elif isinstance(node, ast.Dict):
        items = [k for k in node.keys if k is not None] + list(node.values)
        if len(items) != 2 * len(node.keys):
            return False
    else:
        return False
    return 0 < len(items) <= 2 * MAX_LITERAL and all(
        isinstance(e, ast.Constant) or isinstance(e, (ast.Tuple, ast.List)) and e.elts
        and all(isinstance(x, ast.Constant) for x in e.elts) for e in items)


# Collections the source code defines, not the data: a module's or class's namespace, a model's
# fields and constraints, the tables of a schema. Their size is fixed when the code is written.
_CODE_ATTRS = frozenset({"__dict__", "__members__", "fields", "local_fields", "many_to_many", "related_objects",
                         "unique_together", "index_together", "constraints", "indexes", "columns", "c",
                         "relationships", "sorted_tables", "tables", "column_attrs"})
_META_OWNERS = frozenset({"_meta", "__table__", "__mapper__", "metadata", "Meta"})
_CODE_CALLS = frozenset({"vars", "dir", "getmembers", "get_models", "get_app_configs", "get_fields",
                         "__subclasses__"})


def _code_defined(node: ast.AST) -> bool:
    """``module.__dict__``, ``vars(cls)``, ``Model._meta.get_fields()``, ``Model._meta.unique_together``,
    ``Model.__table__.columns``, ``metadata.sorted_tables``, ``apps.get_models()``: bounded by the
    source, not by the data."""
    if isinstance(node, ast.Call):
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
        if name in _CODE_CALLS:
            return name not in ("get_fields", "get_models", "get_app_configs") or _meta_like(f)
        return False
    if isinstance(node, ast.Attribute) and node.attr in _CODE_ATTRS:
        return node.attr in ("__dict__", "__members__") or _meta_like(node)
    return False


def _meta_like(node: ast.AST) -> bool:
    """``x._meta.<attr>``, ``Model.__table__.<attr>``, ``apps.get_models``, ``metadata.<attr>``."""
    base = node.value if isinstance(node, ast.Attribute) else None
    if isinstance(base, ast.Attribute):
        return base.attr in _META_OWNERS
    return isinstance(base, ast.Name) and (base.id in _META_OWNERS or base.id == "apps")


def is_chunk_iter(node: ast.AST) -> bool:
    """``range(start, stop, step)`` over slices, ``batched(xs, n)``, ``chunked(...)``."""
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
    if name == "range":
        return len(node.args) == 3
    return any(word in name.lower() for word in _CHUNKERS)


def _bounded_name(name: str, ctx, depth: int) -> bool:
    value = ctx.scope.value_of(name)
    if value is not None:
        if is_chunk_iter(value):  # ``chunks = chunked(ids, 500)``, then ``for chunk in chunks``
            return True
        return bounded_iter(value, ctx, depth + 1) and bool(getattr(value, "elts", None) or
                                                            getattr(value, "keys", None) or
                                                            isinstance(value, ast.IfExp))
    ref = ctx.scope.lookup(name)
    if ref is not None and ref[0] == RT.PARAM:
        return _bounded_param(ref, ctx)
    if ref is None or ref[0] != RT.GLOBAL:
        return False
    return _module_constant(ref[1], ctx)


# calls that hand back the rows of the statement they are given (``session.execute(stmt)``)
_RUNS = frozenset({"execute", "scalars", "exec"})


def few_rows(node: Optional[ast.AST], ctx) -> bool:
    """Does iterating ``node`` walk the rows of a query cut to a few — ``qs[:10]``,
    ``select(...).limit(5)``, ``session.execute(stmt).fetchall()`` where ``stmt`` was built with
    ``.limit(10)``: at most ``MAX_SMALL`` rows, whatever the table holds
    (``engine.LoopFrame.few``)?"""
    return _limited(_unwrapped(node), ctx)


def _unwrapped(node: Optional[ast.AST]) -> Optional[ast.AST]:
    """``list(x)``, ``sorted(x, key=…)``, ``enumerate(x)``: what is iterated is ``x``."""
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args \
            and node.func.id in _WRAPPERS:
        node = node.args[0]
    return node


def _limited(node: Optional[ast.AST], ctx, depth: int = 0) -> bool:
    for _ in range(16):
        if isinstance(node, ast.Subscript):
            cut = node.slice
            if isinstance(cut, ast.Slice) and cut.step is None and _small_int(cut.upper, ctx) \
                    and (cut.lower is None or isinstance(cut.lower, ast.Constant) and cut.lower.value == 0):
                return True
            node = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = node.func.attr
            if name == "limit" and node.args and _small_int(node.args[0], ctx):
                return True
            if name in _RUNS and node.args and isinstance(node.args[0], ast.Name) and depth < 2 \
                    and _limited(ctx.scope.value_of(node.args[0].id), ctx, depth + 1):
                return True
            node = node.func.value
        elif isinstance(node, ast.Attribute):
            node = node.value
        elif isinstance(node, ast.Name) and depth < 2:
            node, depth = ctx.scope.value_of(node.id), depth + 1
        else:
            return False
    return False


def _few(value) -> bool:
    return type(value) is int and 0 < value <= MAX_SMALL


def _small_int(node: Optional[ast.AST], ctx) -> bool:
    """A literal count of at most ``MAX_SMALL``, or a parameter whose literal default is one and
    that every project call leaves to it (``def top(cls, limit: int = 10)``, called ``top()``)."""
    if isinstance(node, ast.Constant):
        return _few(node.value)
    if not isinstance(node, ast.Name):
        return False
    ref = ctx.scope.lookup(node.id)
    if ref is not None and ref[0] == RT.GLOBAL:
        return _few(_module_literal(ref[1], ctx))
    if ref is None or ref[0] != RT.PARAM:
        return False
    fname = ref[1].rpartition(".")[2]
    for fn in reversed(ctx.functions):
        if getattr(fn, "name", None) != fname:
            continue
        default = param_defaults(fn).get(ref[2])
        return _small_int(default, ctx) if isinstance(default, ast.Constant) \
            and ctx.typer.callsite_defaulted(ref[1], ref[2]) else False
    return False


def _bounded_param(ref, ctx) -> bool:
    """A parameter every project call passes a fixed, small collection: a display of constants
    (``create_group(x, "translators", ["can_translate"])``) or a module constant bound to one.
    A call the index cannot place, or no call at all (a view, a task), leaves it unbounded."""
    args = ctx.typer.callsite_args(ref[1], ref[2])
    if not args:
        return False
    for arg in args:
        if arg[0] == RT.LIT and len(arg) == 3 and arg[1] == FEW:
            continue
        if arg[0] == RT.GLOBAL and _module_constant(arg[1], ctx):
            continue
        return False
    return True


def _module_facts(qual: str, ctx):
    """(the facts of the module that defines ``qual``, its short name)."""
    index = ctx.index
    qual = index.canonical(qual)
    owner = index.owner(qual) if qual not in (ctx.facts.module,) else None
    return (ctx.facts if qual.rpartition(".")[0] == ctx.facts.module else owner), qual.rpartition(".")[2]


def _module_literal(qual: str, ctx):
    facts, short = _module_facts(qual, ctx)
    return facts.literals.get(short) if facts is not None else None


def _module_constant(qual: str, ctx) -> bool:
    """A module-level name (here or imported) bound to a small display."""
    facts, short = _module_facts(qual, ctx)
    if facts is None:
        return False
    qual = ctx.index.canonical(qual)
    lit = facts.literals.get(short)
    if isinstance(lit, (list, tuple, set, frozenset, dict)) and 0 < len(lit) <= MAX_LITERAL:
        return True  # constants only (``literal_eval`` read it): data the code carries
    size = getattr(facts, "display_sizes", {}).get(short)
    if size is None and ctx.index.classes.get(qual) is not None:
        return _choices_qual(qual, ctx)
    return size is not None and 0 < size <= MAX_SMALL


def _class_constant(node: ast.Attribute, ctx) -> bool:
    """``self.CHOICES`` / ``Cls.CHOICES`` bound to a small display in the class body."""
    ref = ctx.scope.ref_of(node.value)
    if ref is None:
        return False
    cls = ref[1] if ref[0] == RT.SELF else (ctx.index.canonical(ref[1]) if ref[0] == RT.GLOBAL else None)
    cf = ctx.index.classes.get(cls) if cls else None
    size = getattr(cf, "display_sizes", {}).get(node.attr) if cf is not None else None
    return size is not None and 0 < size <= MAX_SMALL


def _choices_class(node: ast.AST, ctx) -> bool:
    if not isinstance(node, (ast.Name, ast.Attribute)):
        return False
    t = ctx.type_of(node)
    return t is not None and t[0] == TK.CLASS and _choices_qual(t[1], ctx)


def _choices_qual(qual: str, ctx) -> bool:
    """An Enum, a Django ``Choices`` or a ``*ChoiceSet``/``*Choices`` class: fixed members."""
    for anc in ctx.index.mro(qual):
        if anc in _CHOICES or anc.rsplit(".", 1)[-1].endswith(("ChoiceSet", "Choices")):
            return True
    return False


def is_batched_call(node: ast.Call, frame) -> bool:
    """``filter(pk__in=chunk)`` / ``.where(Model.id.in_(chunk))`` where ``chunk`` is what the
    loop hands out (or a ``while batch := ...`` test binds): one statement per batch, on purpose.
    In a ``while`` loop, a call handed a collection the loop rebuilds on every pass (a tree walked
    level by level: ``rows = children_of(ids)``, then ``ids = [r.id for r in rows]``) is one
    statement per level too, and a call that asks for a page of a fixed size (``page_size=1000``,
    ``.limit(500)``) reads a page per pass."""
    names = set(frame.targets)
    if isinstance(frame.node, ast.While):
        names |= {n.target.id for n in ast.walk(frame.node.test) if isinstance(n, ast.NamedExpr)}
        if _frontier_arg(node, frame.node) or _page_call(node):
            return True
    names |= frame.chunk_counters
    if not names:
        return False
    for sub in ast.walk(node):
        if isinstance(sub, ast.keyword) and sub.arg and sub.arg.endswith("__in") and _chunk(sub.value, names):
            return True
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and sub.func.attr == "in_" \
                and sub.args and _chunk(sub.args[0], names):
            return True
    return False


def chunk_counters(node: ast.AST) -> frozenset:
    """The counters of the chunk loops inside ``node`` (``i`` of ``for i in range(0, len(ids),
    1000)``): a slice that starts at one is a chunk."""
    return frozenset(n.id for loop in ast.walk(node) if isinstance(loop, (ast.For, ast.AsyncFor))
                     and is_chunk_iter(loop.iter) for n in ast.walk(loop.target) if isinstance(n, ast.Name))


def _chunk(node: ast.AST, names) -> bool:
    """What the loop hands out (``chunk``), or a slice of a collection that starts at the loop's
    counter (``ids[i : i + 1000]`` in ``for i in range(0, len(ids), 1000)``): one batch."""
    if isinstance(node, ast.Name):
        return node.id in names
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice) and node.slice.lower is not None:
        return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node.slice.lower))
    return False


def _frontier_arg(node: ast.Call, loop: ast.While) -> bool:
    """Is an argument of ``node`` a collection the ``while`` body rebuilds from the rows ``node``
    returned (``ids = [r.parent_id for r in rows]``, or ``ids.append(...)`` in a loop over them)?
    Then the next pass asks for the next level of a tree, not for one more row."""
    args = {a.id for a in node.args if isinstance(a, ast.Name)}
    args |= {k.value.id for k in node.keywords if isinstance(k.value, ast.Name)}
    if not args:
        return False
    results = set()
    for stmt in loop.body:
        for sub in ast.walk(stmt):
            if isinstance(sub, ast.Assign) and any(n is node for n in ast.walk(sub.value)):
                results.update(t.id for t in sub.targets if isinstance(t, ast.Name))
    if not results:
        return False
    for stmt in loop.body:
        for sub in ast.walk(stmt):
            if isinstance(sub, ast.Assign) and isinstance(sub.value, (ast.ListComp, ast.SetComp)) \
                    and any(isinstance(t, ast.Name) and t.id in args for t in sub.targets) \
                    and any(_names(g.iter) & results for g in sub.value.generators):
                return True
            if isinstance(sub, (ast.For, ast.AsyncFor)) and _names(sub.iter) & results:
                for n in ast.walk(sub):
                    if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) \
                            and n.func.attr in ("append", "add", "extend", "update") \
                            and isinstance(n.func.value, ast.Name) and n.func.value.id in args:
                        return True
    return False


def _names(node: ast.AST) -> set:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


_PAGE_KEYWORDS = frozenset({"page_size", "per_page", "limit", "batch_size", "chunk_size", "size"})
MIN_PAGE = 20  # a page this large or larger is a batch, not a row


def _page_call(node: ast.Call) -> bool:
    """``fetch(cursor=c, page_size=1000)`` or ``q.where(...).limit(500)``: a page per call."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            for k in sub.keywords:
                if k.arg in _PAGE_KEYWORDS and _big_int(k.value):
                    return True
            if isinstance(sub.func, ast.Attribute) and sub.func.attr == "limit" and sub.args \
                    and _big_int(sub.args[0]):
                return True
    return False


def _big_int(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool) \
        and node.value >= MIN_PAGE
