"""Views that hand querysets to Django templates: the per-row contexts of ``templates.py``.

A *template site* is a place in a view where a template is rendered with a context the
analysis can read:

- ``render(request, "t.html", context)``, ``render_to_response``, ``render_to_string``,
  ``TemplateResponse``/``SimpleTemplateResponse``, ``get_template("t.html").render(context)``;
  the context is a dict literal, or a local name assigned a dict literal and filled by
  ``context["k"] = …``/``context.update(…)``/``context |= {…}``;
- class-based views: a ``ListView``'s rows (``queryset``, ``get_queryset()`` or ``model``) as
  ``object_list``, ``<model>_list``, ``context_object_name`` and ``page_obj``; a
  ``DetailView``/``UpdateView``/``DeleteView``'s object as ``object`` and ``<model>``; entries
  ``get_context_data()`` adds (``context["k"] = …``, ``return {**super()…, "k": …}``,
  ``super().get_context_data(k=…)``). The template is ``template_name`` or Django's default
  ``<app_label>/<model>_list.html`` / ``_detail.html``.

- Flask/Quart ``render_template("t.html", rows=…, **context)`` and Pyramid
  ``render("t.html", {...})``/``render_to_response``, and a Pyramid view whose
  ``@view_config(renderer="pkg:templates/t.html")`` (or its class's ``@view_defaults``) names a
  Jinja template and that returns the context dict; ``.pt``/``.mak`` renderers are not read.

Each context value that types as rows of a query - a Django queryset of a model (``TK.QS``/
``MANAGER``/``RELMGR``), a page of a ``Paginator`` over one, or a list of SQLAlchemy rows a query
returned - becomes a :class:`RowSource`; a value the typer does not know is left out (the
template's reads of it are never reported).
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from ...core.loading import eager_paths
from ...core.refs import iter_local_nodes
from ...core.tags import RT, TK
from .drf import from_class_queryset
from .per_row import NOT_INSTANCES, RowSource, _chain_has, _from_query, model_manager_eager, query_source
from .query_reach import query_target
from .templates import Obj, Rows

RENDER = {  # callee -> (position of the template name, position of the context)
    "django.shortcuts.render": (1, 2),
    "django.shortcuts.render_to_response": (0, 1),
    "django.template.loader.render_to_string": (0, 1),
    "django.template.response.TemplateResponse": (1, 2),
    "django.template.response.SimpleTemplateResponse": (0, 1),
}
KW_CONTEXT = -1  # the context is the call's keyword arguments (Flask's ``render_template``)
RENDER.update({
    "flask.render_template": (0, KW_CONTEXT),
    "flask.templating.render_template": (0, KW_CONTEXT),
    "quart.render_template": (0, KW_CONTEXT),
    "quart.templating.render_template": (0, KW_CONTEXT),
    "pyramid.renderers.render": (0, 1),
    "pyramid.renderers.render_to_response": (0, 1),
})
TEMPLATE_NAME_ARGS = ("template_name", "template", "template_name_or_list", "renderer_name")
VIEW_CONFIG = frozenset({"pyramid.view.view_config", "pyramid.view.view_defaults"})
JINJA_SUFFIXES = (".html", ".htm", ".jinja2", ".jinja", ".j2", ".txt", ".xml")
GET_TEMPLATE = {"django.template.loader.get_template", "django.template.loader.select_template"}
PAGINATOR = {"django.core.paginator.Paginator"}
ROWS = (TK.QS, TK.MANAGER, TK.RELMGR, TK.LIST)
LIST_BASES = frozenset({"ListView", "BaseListView", "MultipleObjectMixin", "MultipleObjectTemplateResponseMixin"})
DETAIL_BASES = frozenset({"DetailView", "BaseDetailView", "UpdateView", "BaseUpdateView", "DeleteView",
                          "BaseDeleteView", "SingleObjectMixin", "SingleObjectTemplateResponseMixin"})
TEMPLATE_BASES = frozenset({"TemplateResponseMixin", "TemplateView", "FormView", "CreateView", "ContextMixin"})
MAX_ALTERNATIVES = 4


@dataclass
class Site:
    """A template rendered with rows of queries the analysis can see."""

    templates: List[str]  # candidate names, in order (the first found is rendered)
    envs: List[Dict[str, object]]  # context names -> template values; one per alternative
    sources: Dict[int, Tuple[RowSource, ast.AST]] = field(default_factory=dict)  # src id -> (rows, report node)
    what: str = ""
    # src id -> where the rows are handed to the template (the context value, and the
    # ``Paginator(...)`` of a page), when that is not where they are reported
    handed: Dict[int, List[ast.AST]] = field(default_factory=dict)


# -- values -----------------------------------------------------------------------------------------
def _ext(ctx, node: ast.AST) -> Optional[str]:
    t = ctx.type_of(node)
    return t[1] if t is not None and t[0] == TK.EXT else None


def _local_value(ctx, node: ast.AST) -> ast.AST:
    for _ in range(5):
        if not isinstance(node, ast.Name) or node.id not in ctx.scope.locals:
            return node
        value = ctx.scope.value_of(node.id)
        if value is None:
            return node
        node = value
    return node


def _indexed(ctx, node: ast.AST) -> bool:
    """``qs[0]``: one row, not rows."""
    node = _local_value(ctx, node)
    return isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Slice)


def _paginator(ctx, node: ast.AST) -> Optional[ast.AST]:
    """The ``Paginator(...)`` call behind a page handed to a template (through local names)."""
    node = _local_value(ctx, node)
    if isinstance(node, ast.Attribute) and node.attr == "object_list":
        node = _local_value(ctx, node.value)
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("page", "get_page")):
        return None
    pag = _local_value(ctx, node.func.value)
    return pag if isinstance(pag, ast.Call) and _ext(ctx, pag.func) in PAGINATOR else None


def _paginated(ctx, node: ast.AST) -> Optional[ast.AST]:
    """The queryset under ``Paginator(qs, n).page(i)``/``.get_page(i)`` (through local names),
    or under ``page.object_list``."""
    pag = _paginator(ctx, node)
    if pag is None:
        return None
    if pag.args:
        return pag.args[0]
    return next((k.value for k in pag.keywords if k.arg == "object_list"), None)


def row_source(ctx, node: ast.AST) -> Optional[Tuple[RowSource, ast.AST]]:
    """(rows, the node a finding is reported at) of a context value that holds rows of a
    Django query built where the analysis can see it."""
    rows = _paginated(ctx, node) or node
    t = ctx.type_of(rows)
    if t is None or t[0] not in ROWS or not t[1] or t[1] not in ctx.index.models or _indexed(ctx, rows):
        return None
    if t[0] == TK.LIST and not _from_query(ctx, rows):
        return None
    src = query_source(ctx, rows, "template", rows.lineno, t[1])
    if src is None:
        return None
    if src.query is not None:
        return src, src.query
    # rows from a call the analysis cannot rewrite (a project function returning a queryset,
    # chained on): the finding goes where they are built, which is where the loading belongs
    built = _local_value(ctx, rows)
    return src, built if isinstance(built, ast.Call) else rows


# -- context dicts -------------------------------------------------------------------------------------
def entries(ctx, node: Optional[ast.AST], func: Optional[ast.AST], depth: int = 0) -> Dict[str, List[ast.AST]]:
    """Context keys and the expressions assigned to them: a dict literal (``**other`` merged),
    ``dict(k=…)``, a local name filled in ``func``, or ``super().get_context_data(k=…, **kw)``."""
    out: Dict[str, List[ast.AST]] = {}
    if node is None or depth > 3:
        return out

    def add(key, value):
        if isinstance(key, str):
            out.setdefault(key, []).append(value)

    def merge(other):
        for k, vs in other.items():
            for v in vs:
                add(k, v)

    if isinstance(node, ast.Dict):
        for k, v in zip(node.keys, node.values):
            if k is None:
                merge(entries(ctx, v, func, depth + 1))
            elif isinstance(k, ast.Constant):
                add(k.value, v)
    elif isinstance(node, ast.Call):
        f = node.func
        is_dict = isinstance(f, ast.Name) and f.id == "dict"
        is_super = isinstance(f, ast.Attribute) and f.attr == "get_context_data" and isinstance(f.value, ast.Call) \
            and isinstance(f.value.func, ast.Name) and f.value.func.id == "super"
        if is_dict or is_super:
            if is_dict and node.args:
                merge(entries(ctx, node.args[0], func, depth + 1))
            for k in node.keywords:
                if k.arg is None:
                    merge(entries(ctx, k.value, func, depth + 1))
                else:
                    add(k.arg, k.value)
    elif isinstance(node, ast.Name) and func is not None:
        merge(_filled(ctx, node.id, func, depth))
    return out


def _filled(ctx, name: str, func: ast.AST, depth: int) -> Dict[str, List[ast.AST]]:
    out: Dict[str, List[ast.AST]] = {}

    def merge(other):
        for k, vs in other.items():
            out.setdefault(k, []).extend(vs)

    body = func.body if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)) else []
    for n in iter_local_nodes(body):
        if isinstance(n, ast.Assign):
            for t in n.targets:
                if isinstance(t, ast.Name) and t.id == name:
                    merge(entries(ctx, n.value, func, depth + 1))
                elif isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id == name \
                        and isinstance(t.slice, ast.Constant) and isinstance(t.slice.value, str):
                    out.setdefault(t.slice.value, []).append(n.value)
        elif isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name) and n.target.id == name:
            merge(entries(ctx, n.value, func, depth + 1))
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name) \
                and n.func.value.id == name:
            if n.func.attr == "update":
                for a in n.args[:1]:
                    merge(entries(ctx, a, func, depth + 1))
                for k in n.keywords:
                    if k.arg:
                        out.setdefault(k.arg, []).append(k.value)
            elif n.func.attr == "setdefault" and len(n.args) == 2 and isinstance(n.args[0], ast.Constant):
                if isinstance(n.args[0].value, str):
                    out.setdefault(n.args[0].value, []).append(n.args[1])
    return out


def _site(ctx, names: List[str], context: Dict[str, List[ast.AST]], what: str,
          extra: Optional[Dict[str, object]] = None, sources=None) -> Optional[Site]:
    site = Site(names, [], dict(sources or {}), what)
    base: Dict[str, object] = dict(extra or {})
    alternatives: List[Tuple[str, object]] = []
    for key, values in context.items():
        found = []
        for v in values:
            got = row_source(ctx, v)
            if got is not None:
                sid = id(got[1])
                site.sources.setdefault(sid, got)
                # a plain name hands over what its assignment built (already a related location)
                handed = (None if isinstance(v, ast.Name) else v, _paginator(ctx, v))
                site.handed.setdefault(sid, [n for n in handed if n is not None
                                             and getattr(n, "lineno", None) != got[1].lineno])
                found.append(Rows(sid, got[0].model))
        if found:
            base[key] = found[0]
            alternatives.extend((key, f) for f in found[1:])
    if not site.sources or not base:
        return None
    site.envs.append(base)
    for key, value in alternatives[:MAX_ALTERNATIVES]:
        site.envs.append({**base, key: value})
    return site


def _names_arg(node: Optional[ast.AST]) -> List[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.List, ast.Tuple)):
        return [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return []


def _arg(call: ast.Call, pos: int, names: Tuple[str, ...]) -> Optional[ast.AST]:
    if len(call.args) > pos and not any(isinstance(a, ast.Starred) for a in call.args[: pos + 1]):
        return call.args[pos]
    return next((k.value for k in call.keywords if k.arg in names), None)


# -- where a rule meets a site -------------------------------------------------------------------------
def return_sites(ctx, ret: ast.Return) -> List[Site]:
    """The template sites a ``return`` makes: a Pyramid renderer's context dict, a class-based
    view's ``get_queryset()`` rows or ``get_context_data()`` entries."""
    cls, fn = ctx.method_of, ctx.function
    if fn is None or ctx.qual[-1] != fn.name:
        return []
    site = renderer_site(ctx, ret, fn, cls)
    return [site] if site is not None else method_sites(ctx, ret)


def method_sites(ctx, ret: ast.Return) -> List[Site]:
    """The template sites of a class-based view method's ``return`` (``get_queryset()`` rows,
    ``get_context_data()`` entries), for a function that is not a renderer's view."""
    cls, fn = ctx.method_of, ctx.function
    if cls is None or fn is None:
        return []
    if fn.name == "get_queryset":
        return get_queryset_sites(ctx, ret, cls)
    if fn.name == "get_context_data":
        site = context_data_site(ctx, ret, cls)
        return [site] if site is not None else []
    return []


# -- function views ------------------------------------------------------------------------------------
def render_site(ctx, call: ast.Call) -> Optional[Site]:
    """``render(request, "t.html", {...})`` and the other ways of rendering a named template."""
    f = call.func
    callee = _ext(ctx, f)
    if callee in RENDER:
        tpos, cpos = RENDER[callee]
        names = [template_name(n) for n in _names_arg(_arg(call, tpos, TEMPLATE_NAME_ARGS))]
        if cpos == KW_CONTEXT:  # ``render_template("t.html", rows=rows, **extra)``
            context = ast.Call(func=ast.Name("dict", ast.Load()), args=[],
                               keywords=[k for k in call.keywords if k.arg not in TEMPLATE_NAME_ARGS])
        else:
            context = _arg(call, cpos, ("context", "dictionary", "value"))
    elif isinstance(f, ast.Attribute) and f.attr == "render":
        got = _local_value(ctx, f.value)
        if not isinstance(got, ast.Call) or _ext(ctx, got.func) not in GET_TEMPLATE or not got.args:
            return None
        names = _names_arg(got.args[0])
        context = _arg(call, 0, ("context",))
    else:
        return None
    if not names or context is None:
        return None
    return _site(ctx, names, entries(ctx, context, ctx.function), f"the template `{names[0]}`")


def template_name(name: str) -> str:
    """A template name as the project's ``templates`` folders hold it: Pyramid's asset spec
    ``pkg:templates/a/b.html`` and a ``templates/`` prefix are dropped."""
    name = name.split(":", 1)[1] if ":" in name else name
    return name.split("templates/", 1)[1] if "templates/" in name else name


def renderer_site(ctx, ret: ast.Return, fn: ast.AST, cls: Optional[ast.ClassDef]) -> Optional[Site]:
    """A Pyramid view returning its context: ``@view_config(renderer="t.html")`` on the function
    (or ``@view_defaults(renderer=…)`` on its class) and ``return {...}``."""
    if ret.value is None:
        return None
    names = _renderer(ctx, getattr(fn, "decorator_list", ()))
    if not names and cls is not None:
        names = _renderer(ctx, cls.decorator_list)
    if not names:
        return None
    return _site(ctx, names, entries(ctx, ret.value, fn), f"the template `{names[0]}`")


def _renderer(ctx, decorators) -> List[str]:
    for d in decorators:
        if isinstance(d, ast.Call) and _ext(ctx, d.func) in VIEW_CONFIG:
            got = next((k.value for k in d.keywords if k.arg == "renderer"), None)
            if isinstance(got, ast.Constant) and isinstance(got.value, str) and got.value.endswith(JINJA_SUFFIXES):
                return [template_name(got.value)]
    return []


# -- class-based views ---------------------------------------------------------------------------------
def _kinds(index, qual: str) -> set:
    out = set()
    for a in index.mro(qual)[1:]:
        if a in index.classes or not a.startswith("django.views.generic"):
            continue
        last = a.rsplit(".", 1)[-1]
        if last in LIST_BASES:
            out.add("list")
        if last in DETAIL_BASES:
            out.add("detail")
        if last in TEMPLATE_BASES or last in LIST_BASES or last in DETAIL_BASES:
            out.add("template")
    return out


def _literal_attr(ctx, qual: str, name: str):
    ref = ctx.index.class_attr(qual, name)
    if ref is not None and ref[0] == RT.LIT and len(ref) == 2:  # ``(RT.LIT, value)`` of a class attribute
        return ref[1]
    return None


def _project_method(ctx, qual: str, name: str) -> bool:
    meth = ctx.index.find_method(qual, name)
    return meth is not None and meth.rsplit(".", 1)[0] in ctx.index.classes


def _class_model(ctx, qual: str, cls: Optional[ast.ClassDef]) -> Optional[str]:
    ref = ctx.index.class_attr(qual, "model")
    t = ctx.typer.type_of(ref) if ref is not None else None
    if t is not None and t[0] == TK.MODEL:
        return t[1]
    value = _class_value(cls, "queryset") if cls is not None else None
    if value is not None:
        t = ctx.type_of(value)
        if t is not None and t[0] in (TK.QS, TK.MANAGER) and t[1] in ctx.index.models:
            return t[1]
    return None


def _class_value(cls: ast.ClassDef, name: str) -> Optional[ast.AST]:
    for s in cls.body:
        if isinstance(s, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in s.targets):
            return s.value
        if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name) and s.target.id == name and s.value:
            return s.value
    return None


def _template_names(ctx, qual: str, kinds: set, model: Optional[str]) -> List[str]:
    if _project_method(ctx, qual, "get_template_names"):
        return []
    name = _literal_attr(ctx, qual, "template_name")
    if isinstance(name, str):
        return [name]
    if model is None or model not in ctx.index.models:
        return []
    m = ctx.index.models[model]
    suffix = _literal_attr(ctx, qual, "template_name_suffix")
    if not isinstance(suffix, str):
        suffix = "_list" if "list" in kinds else "_detail" if "detail" in kinds else None
    if suffix is None:
        return []
    return [f"{m.app_label}/{m.name.lower()}{suffix}.html"]


def _object_names(ctx, qual: str, kinds: set, model: str) -> List[str]:
    m = ctx.index.models[model]
    custom = _literal_attr(ctx, qual, "context_object_name")
    if "list" in kinds:
        names = ["object_list", "page_obj", custom if isinstance(custom, str) else f"{m.name.lower()}_list"]
    else:
        names = ["object", custom if isinstance(custom, str) else m.name.lower()]
    return names


def _rows_env(kinds: set, names: List[str], sid: int, model: str) -> Dict[str, object]:
    value = Rows(sid, model) if "list" in kinds else Obj(sid, model)
    return {n: value for n in names}


def class_sites(ctx, node: ast.ClassDef) -> List[Site]:
    """A ``ListView``/``DetailView`` whose rows come from its ``queryset`` or ``model``."""
    qual = ".".join(ctx.qual + [node.name])
    if qual not in ctx.index.classes:
        return []
    kinds = _kinds(ctx.index, qual)
    if not kinds & {"list", "detail"} or _project_method(ctx, qual, "get_queryset") \
            or _project_method(ctx, qual, "get_object") and "detail" in kinds:
        return []
    model = _class_model(ctx, qual, node)
    if model is None or ctx.index.models[model].orm != "django":
        return []
    names = _template_names(ctx, qual, kinds, model)
    if not names:
        return []
    value = _class_value(node, "queryset")
    if value is not None:
        if _chain_has(value, NOT_INSTANCES, ctx):
            return []
        src = query_source(ctx, value, "template", value.lineno, model)
        report = src.query if src is not None and src.query is not None else value
    elif ctx.index.class_attr(qual, "queryset") is None and _class_value(node, "model") is not None:
        report = _class_value(node, "model")
        m = ctx.index.models[model]
        src = RowSource("template", model, frozenset(model_manager_eager(ctx.index, model)), "", None, model,
                        report.lineno, (), f"{m.name}.objects.all()")
    else:
        return []
    if src is None:
        return []
    sid = id(report)
    env = _rows_env(kinds, _object_names(ctx, qual, kinds, model), sid, model)
    return [Site(names, [env], {sid: (src, report)}, f"`{node.name}`")]


def get_queryset_sites(ctx, ret: ast.Return, cls: ast.ClassDef) -> List[Site]:
    """``return <query>`` in a list or detail view's ``get_queryset``, or in a mixin's that
    project views inherit (``class BuildBase: def get_queryset`` and ``class BuildList(BuildBase,
    ListView)``): one site per such view (at most ``MAX_ALTERNATIVES``)."""
    mixin = ".".join(ctx.qual[:-1])
    if mixin not in ctx.index.classes or ret.value is None:
        return []
    if _kinds(ctx.index, mixin) & {"list", "detail"}:
        views = [mixin]
    else:
        method = ctx.index.find_method(mixin, "get_queryset")
        views = sorted(q for q in _descendants(ctx.index, mixin) if _kinds(ctx.index, q) & {"list", "detail"}
                       and ctx.index.find_method(q, "get_queryset") == method)[:MAX_ALTERNATIVES]
    return [site for site in (get_queryset_site(ctx, ret, cls, q) for q in views) if site is not None]


def _descendants(index, qual: str, limit: int = 200) -> List[str]:
    """Project classes that inherit ``qual``, nearest first (from the index's subclass table)."""
    out, todo = [], list(index.subclasses.get(qual, ()))
    while todo and len(out) < limit:
        q = todo.pop(0)
        if q not in out:
            out.append(q)
            todo.extend(index.subclasses.get(q, ()))
    return out


def get_queryset_site(ctx, ret: ast.Return, cls: ast.ClassDef, qual: str) -> Optional[Site]:
    """The site of ``get_queryset``'s returned query for the view class ``qual``."""
    kinds = _kinds(ctx.index, qual)
    if not kinds & {"list", "detail"} or ("detail" in kinds and _project_method(ctx, qual, "get_object")):
        return None
    expr = ret.value
    t = ctx.type_of(expr)
    model = t[1] if t is not None and t[0] in (TK.QS, TK.MANAGER) and t[1] in ctx.index.models else None
    if from_class_queryset(expr):
        model = model or _class_model(ctx, qual, cls)
        if model is None or _chain_has(expr, NOT_INSTANCES, ctx):
            return None
        base = _class_value(cls, "queryset")
        if base is None and ctx.index.class_attr(qual, "queryset") is not None:
            return None  # a queryset of a base class we do not read
        loaded = eager_paths(base, None) if base is not None else model_manager_eager(ctx.index, model)
        query, names = query_target(ctx, expr)
        src = RowSource("template", model, frozenset(loaded | eager_paths(expr, ctx.scope)), "",
                        query, model, expr.lineno, names, ast.unparse(expr)[:70])
    else:
        if model is None or ctx.index.models[model].orm != "django":
            return None
        src = query_source(ctx, expr, "template", expr.lineno, model)
    if src is None:
        return None
    names = _template_names(ctx, qual, kinds, model)
    if not names:
        return None
    report = src.query if src.query is not None else expr
    sid = id(report)
    env = _rows_env(kinds, _object_names(ctx, qual, kinds, model), sid, model)
    return Site(names, [env], {sid: (src, report)}, f"`{cls.name}.get_queryset()`")


def context_data_site(ctx, ret: ast.Return, cls: ast.ClassDef) -> Optional[Site]:
    """Rows ``get_context_data()`` adds to the context of a template view."""
    qual = ".".join(ctx.qual[:-1])
    if qual not in ctx.index.classes or ret.value is None:
        return None
    kinds = _kinds(ctx.index, qual)
    if not kinds:
        return None
    names = _template_names(ctx, qual, kinds, _class_model(ctx, qual, cls))
    if not names:
        return None
    return _site(ctx, names, entries(ctx, ret.value, ctx.function), f"`{cls.name}.get_context_data()`")
