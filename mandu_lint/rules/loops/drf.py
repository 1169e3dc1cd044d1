"""Django REST framework serializers as per-row contexts.

A serializer used with ``many=True`` — by a list view (``ModelViewSet``, ``ListAPIView``…)
or called as ``BookSerializer(qs, many=True)`` — runs its fields once per row. This module says
which relations of the row a serializer reads (nested serializers, ``source="a.b"`` paths,
``SerializerMethodField`` methods, many-to-many fields rendered as primary keys, ``depth``) and
builds the :class:`~mandu_lint.rules.loops.per_row.RowSource` of the query the view serializes.
Anything it cannot read (a serializer chosen at run time, a queryset from a project base
class, a field list computed at import time) makes it say nothing.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

from ...model import Location, Span
from ...core.loading import eager_paths
from .per_row import RowSource, model_steps, query_source, walk
from .query_reach import query_target
from .reads import is_property, param_reads
from ...core.tags import RT, TK

LIST_VIEWS = {"rest_framework.viewsets.ModelViewSet", "rest_framework.viewsets.ReadOnlyModelViewSet",
              "rest_framework.generics.ListAPIView", "rest_framework.generics.ListCreateAPIView",
              "rest_framework.mixins.ListModelMixin"}
SERIALIZERS = {"rest_framework.serializers.ModelSerializer", "rest_framework.serializers.Serializer",
               "rest_framework.serializers.HyperlinkedModelSerializer", "rest_framework.serializers.BaseSerializer"}
PK_ONLY = ("PrimaryKeyRelatedField", "HyperlinkedRelatedField", "HyperlinkedIdentityField")
# A project class defining one of these decides at run time what is listed, or how.
DYNAMIC = ("list", "get_serializer_class", "get_serializer", "get_queryset")
CACHE_OPS = frozenset("all count exists".split())
MAX_DEPTH = 3


@dataclass(frozen=True)
class DrfRead:
    names: Tuple[str, ...]  # relation path from the serialized model
    where: str  # "field `author`"
    line: int = 0


@dataclass
class Site:
    node: ast.AST  # where to report
    source: RowSource
    reads: List[DrfRead]
    serializer: str
    what: str
    related: tuple = ()


# -- which classes are what ----------------------------------------------------------------------
def is_serializer(index, qual: str) -> bool:
    return any(a in SERIALIZERS for a in index.mro(qual))


def _list_view(index, qual: str) -> bool:
    mro = index.mro(qual)
    if not any(a in LIST_VIEWS for a in mro):
        return False
    return not any(_decides(index, c, DYNAMIC) for c in mro[1:])


def _decides(index, qual: str, names) -> bool:
    """Class ``qual`` itself defines one of ``names`` with code that decides for itself (not an
    override that only delegates, see ``_delegates``)."""
    cf = index.classes.get(qual)
    methods = cf.methods if cf is not None else {}
    return any(name in methods and not _delegates(index.functions.get(methods[name]), name) for name in names)


def _super_call(ref, name: str) -> bool:
    """``super().<name>(...)`` as a ref."""
    return (bool(ref) and ref[0] == RT.CALL and bool(ref[1]) and ref[1][0] == RT.ATTR and ref[1][2] == name
            and bool(ref[1][1]) and ref[1][1][0] == RT.CALL and ref[1][1][1] == (RT.GLOBAL, "builtins.super"))


def _delegates(fn, name: str) -> bool:
    """A ``get_serializer``/``list``/... override that only adjusts arguments or the response and
    returns what the framework's own method gives (``return super().get_serializer(*a, **kw)``,
    ``response = super().list(...); ...; return response``): the serializer and the rows are the
    class's, not chosen at run time."""
    if fn is None:
        return False
    if fn.returns and all(_super_call(r, name) for r in fn.returns):
        return True
    return name == "list" and _serializes_own_rows(fn)


def _serializes_own_rows(fn) -> bool:
    """A custom ``list`` that still serializes through ``self.get_serializer(...)`` (or falls back
    to ``super().list``) and names no serializer class of its own: the rows and the serializer
    are the view's (``get_queryset``, ``serializer_class``); it only adds to the response."""
    own = False
    for ref, _line, _col in fn.calls:
        callee = ref[1] if ref and ref[0] == RT.CALL else None
        if not callee or callee[0] != RT.ATTR and callee[0] != RT.GLOBAL:
            continue
        last = callee[2] if callee[0] == RT.ATTR else callee[1].rsplit(".", 1)[-1]
        if last.endswith("Serializer"):
            return False
        if callee[0] == RT.ATTR and (last == "get_serializer" and callee[1] and callee[1][0] == RT.SELF
                                     or _super_call(ref, "list")):
            own = True
    return own


def _serializer_of(ctx, qual: str) -> Optional[str]:
    ref = ctx.index.class_attr(qual, "serializer_class")
    t = ctx.typer.type_of(ref) if ref is not None else None
    if t is None or t[0] != TK.CLASS or not is_serializer(ctx.index, t[1]):
        return None
    return t[1]


def serializer_model(ctx, ser: str) -> Optional[str]:
    for c in ctx.index.mro(ser):
        cf = ctx.index.classes.get(c)
        if cf is not None and "model" in cf.meta_refs:
            t = ctx.typer.type_of(cf.meta_refs["model"])
            return t[1] if t is not None and t[0] == TK.MODEL else None
    return None


# -- sites ---------------------------------------------------------------------------------------
def viewset_sites(ctx, node: ast.ClassDef) -> List[Site]:
    """A list view whose ``queryset`` class attribute is serialized row by row."""
    qual = ".".join(ctx.qual + [node.name])
    if qual not in ctx.index.classes or not _list_view(ctx.index, qual):
        return []
    if _decides(ctx.index, qual, DYNAMIC):
        return []
    value = class_queryset(node)
    ser = _serializer_of(ctx, qual)
    if value is None or ser is None:
        return []
    site = _site(ctx, value, ser, f"`{node.name}.queryset`", "serializer")
    return [site] if site is not None else []


def get_queryset_site(ctx, ret: ast.Return, cls: ast.ClassDef) -> Optional[Site]:
    """``return <query>`` in a list view's own ``get_queryset``."""
    qual = ".".join(ctx.qual[:-1])
    if qual not in ctx.index.classes or not _list_view(ctx.index, qual) or ret.value is None:
        return None
    if _decides(ctx.index, qual, DYNAMIC[:3]):
        return None
    ser = _serializer_of(ctx, qual)
    if ser is None:
        return None
    extra = None
    if from_class_queryset(ret.value):
        base = class_queryset(cls)
        if base is None:
            return None
        extra = frozenset(eager_paths(base, None))
    return _site(ctx, ret.value, ser, f"`{cls.name}.get_queryset()`", "serializer", extra)


def serializer_call_site(ctx, call: ast.Call) -> Optional[Site]:
    """``BookSerializer(qs, many=True)``."""
    if not any(k.arg == "many" and isinstance(k.value, ast.Constant) and k.value.value is True
               for k in call.keywords):
        return None
    t = ctx.type_of(call.func)
    if t is None or t[0] != TK.CLASS or not is_serializer(ctx.index, t[1]):
        return None
    arg = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "instance"), None)
    if arg is None:
        return None
    return _site(ctx, arg, t[1], f"`{_name(t[1])}(…, many=True)`", "loop")


def _site(ctx, expr: ast.AST, ser: str, what: str, kind: str, extra=None) -> Optional[Site]:
    model = serializer_model(ctx, ser)
    if model is None:
        return None
    if extra is None:
        t = ctx.type_of(expr)
        if t is None or t[0] not in (TK.QS, TK.MANAGER) or t[1] != model:
            return None
        src = query_source(ctx, expr, kind, expr.lineno, model)
    else:
        query, names = query_target(ctx, expr)
        src = RowSource(kind, model, frozenset(extra | eager_paths(expr, ctx.scope)), "", query, model,
                        expr.lineno, names, ast.unparse(expr)[:70])
    if src is None:
        return None
    reads = serializer_reads(ctx, ser, model)
    related = tuple(_location(ctx, ser, r) for r in reads[:4])
    return Site(expr, src, reads, _name(ser), what, related)


def class_queryset(cls: ast.ClassDef) -> Optional[ast.AST]:
    for s in cls.body:
        if isinstance(s, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "queryset" for t in s.targets):
            return s.value
    return None


def from_class_queryset(expr: ast.AST) -> bool:
    """``super().get_queryset()…`` or ``self.queryset…``."""
    node = expr
    while isinstance(node, (ast.Call, ast.Attribute)):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self" \
                and node.attr == "queryset":
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get_queryset" \
                and isinstance(node.func.value, ast.Call) and getattr(node.func.value.func, "id", "") == "super":
            return True
        node = node.func if isinstance(node, ast.Call) else node.value
    return False


# -- what a serializer reads -----------------------------------------------------------------------
def serializer_reads(ctx, ser: str, model: str, prefix: Tuple[str, ...] = (), depth: int = 0) -> List[DrfRead]:
    ix = ctx.index
    declared, meta = {}, {}
    for c in reversed(ix.mro(ser)):
        cf = ix.classes.get(c)
        if cf is not None:
            declared.update(cf.fields)
            if cf.meta:
                meta = cf.meta
    out: List[DrfRead] = []
    listed = meta.get("fields")
    for name, ff in declared.items():
        if isinstance(listed, (list, tuple)) and name not in listed:
            continue
        if ff.kw.get("write_only") is True or _write_only(meta, name):
            continue  # accepted on input, never rendered
        out.extend(_declared(ctx, ser, model, name, ff, prefix, depth))
    out.extend(_implicit(ctx, ser, model, meta, set(declared), prefix))
    return out


def _declared(ctx, ser: str, model: str, name: str, ff, prefix, depth: int) -> List[DrfRead]:
    ix = ctx.index
    t = ctx.typer.type_of(ff.ctor) if ff.ctor else None
    if t is None:
        return []
    source = ff.kw.get("source") if isinstance(ff.kw.get("source"), str) else name
    where = f"field `{name}` of `{_name(ser)}`"
    if t[0] == TK.CLASS and is_serializer(ix, t[1]):
        if source == "*":
            return serializer_reads(ctx, t[1], model, prefix, depth + 1) if depth < MAX_DEPTH else []
        steps = walk(ix, model, source.split("."))
        if steps is None:
            return _through(ctx, model, source, prefix, where, ff.line)
        names = prefix + tuple(s.name for s in steps)
        out = [DrfRead(names, where, ff.line)]
        if depth < MAX_DEPTH:
            out.extend(serializer_reads(ctx, t[1], steps[-1].rel.target, names, depth + 1))
        return out
    if t[0] == TK.CLASS:  # a project subclass of a DRF field reads what its DRF base reads
        base = next((a for a in ix.mro(t[1]) if a.startswith("rest_framework.")), None)
        if base is None:
            return []
        t = (TK.EXT, base)
    if t[0] != TK.EXT:
        return []
    kind = t[1].rsplit(".", 1)[-1]
    if kind == "SerializerMethodField":
        method = ff.kw.get("method_name") if isinstance(ff.kw.get("method_name"), str) else f"get_{name}"
        meth = ix.find_method(ser, method)
        fn = ix.functions.get(meth) if meth else None
        if fn is None or len(fn.params) < 2:
            return []
        return _summary(ctx, meth, fn.params[1][0], model, prefix, f"`{_name(ser)}.{method}()`", fn.line)
    if source == "*":
        return []
    steps, rest = model_steps(ix, model, source.split("."))
    if not steps:
        return _through(ctx, model, source, prefix, where, ff.line)
    last = steps[-1]
    if kind in PK_ONLY and len(steps) == 1 and not last.rel.to_many and not rest:
        return []  # DRF reads only the key (``author_id``)
    return [DrfRead(prefix + tuple(s.name for s in steps), where, ff.line)]


def _write_only(meta: dict, name: str) -> bool:
    """``Meta.extra_kwargs = {"labels": {"write_only": True}}``."""
    extra = meta.get("extra_kwargs")
    opts = extra.get(name) if isinstance(extra, dict) else None
    return isinstance(opts, dict) and opts.get("write_only") is True


def _implicit(ctx, ser: str, model: str, meta: dict, declared: set, prefix) -> List[DrfRead]:
    """Model fields a ``ModelSerializer`` renders by itself: many-to-many as lists of keys,
    every relation nested when ``depth`` is set, properties through their bodies."""
    m = ctx.index.models.get(model)
    if m is None:
        return []
    listed = meta.get("fields")
    if listed == "__all__":
        names = [n for n in m.fields if n in m.relations]
    elif isinstance(listed, (list, tuple)):
        names = [n for n in listed if isinstance(n, str)]
    else:
        return []
    exclude = meta.get("exclude") or ()
    depth = meta.get("depth") if isinstance(meta.get("depth"), int) else 0
    out = []
    for n in names:
        if n in declared or n in exclude or _write_only(meta, n):
            continue
        rel = m.relations.get(n)
        where = f"field `{n}` of `{_name(ser)}`"
        if rel is not None and (rel.to_many or depth > 0):
            out.append(DrfRead(prefix + (n,), where))
        elif rel is None:
            out.extend(_through(ctx, model, n, prefix, where, 0))
    return out


def _through(ctx, model: str, source: str, prefix, where: str, line: int) -> List[DrfRead]:
    """A field whose source is a property or method of the model: what its body reads."""
    head = source.split(".")[0]
    meth = ctx.index.find_method(model, head)
    fn = ctx.index.functions.get(meth) if meth else None
    if fn is None or not fn.params or (len(source.split(".")) == 1 and not is_property(ctx.index, meth)
                                       and len(fn.params) > 1):
        return []
    return _summary(ctx, meth, fn.params[0][0], model, prefix, f"{where} (`{head}`)", line)


def _summary(ctx, func: str, param: str, model: str, prefix, where: str, line: int) -> List[DrfRead]:
    reads, opaque = param_reads(ctx.index, func, param, model)
    if opaque:
        return []
    out = []
    for r in reads:
        steps = walk(ctx.index, model, r.names)
        if steps is None:
            continue
        last = steps[-1]
        if last.orm == "django" and last.rel.to_many and (not r.ops or not set(r.ops) <= CACHE_OPS):
            continue  # not a read the prefetch cache answers
        out.append(DrfRead(prefix + r.names, where, line))
    return out


def _name(qual: str) -> str:
    return qual.rsplit(".", 1)[-1]


def _location(ctx, ser: str, read: DrfRead) -> Location:
    rel = ctx.index.class_path.get(ser)
    path = str(Path(ctx.project.root) / rel) if rel else ctx.path
    return Location(path, Span(max(read.line, 1), 0, max(read.line, 1), 0), f"{read.where} reads `{read.names[-1]}`")
