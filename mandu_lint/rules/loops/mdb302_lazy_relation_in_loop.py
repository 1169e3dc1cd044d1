"""MDB302: a relation loaded lazily once per row of a query (N+1)."""
from __future__ import annotations

import ast
from dataclasses import replace
from typing import List, Optional, Sequence, Tuple

from . import drf, pydantic_rows, template_views
from .fix import Want, fix_for, loads_of_names, unsafe_chain, within
from .served import cache_served, missing, row_argument
from .per_row import ROWS, RowSource, _from_query, loop_source, query_source, rel_use, walk
from .reads import is_property, param_reads
from .templates import evaluate
from ..base import Rule
from ..context import function_node
from ...project.contexts import ONE_OFF
from ...model import Location, Span
from .mdb302_examples import BAD, GOOD
from ...core.tags import EV, TK


class LazyRelationInLoop(Rule):
    """
    ## What it does
    Finds a relation read once per row of a query that did not load it: in a `for`/`async for`
    loop or a comprehension over a Django queryset or a SQLAlchemy query, a forward foreign key
    or one-to-one (`book.author.name`), a reverse foreign key or many-to-many evaluated through
    its manager (`book.tags.all()`, `book.review_set.count()`), a SQLAlchemy relationship
    (`order.user`, `user.orders`), or the same read inside a model method, property or helper
    the row is handed to (`book.label()` whose body reads `self.author`). Django REST framework
    serializers used with `many=True` are per-row code too: a `ModelViewSet`/`ListAPIView`
    whose `queryset` (or `get_queryset()`) does not load what its serializer's nested
    serializers, `source="author.name"` paths, `SerializerMethodField` methods and many-to-many
    fields read is reported at that queryset; so is `BookSerializer(qs, many=True)`.

    Django templates are per-row code as well. A view that hands a queryset to a template —
    `render()`, `render_to_string()`, `TemplateResponse`, `get_template(…).render()` with a dict
    literal or a local dict filled by `context["k"] = …`/`update()`; a `ListView` (`queryset`,
    `get_queryset()` — its own or a mixin's it inherits — or `model`, seen by the template as
    `object_list`, `<model>_list`, `context_object_name` and `page_obj`); a
    `DetailView`/`UpdateView`/`DeleteView` whose object's collections the template loops over;
    rows a `get_context_data()` adds; a page of a `Paginator` over the queryset — is reported
    when the template's `{% for %}` loops read relations of each row that the query does not
    load: `{{ book.author.name }}`, `{% for tag in book.tags.all %}`, `{{ book.reviews.count
    }}`, `{% with a=book.author %}`, `{% if book.publisher %}`, tag arguments, or a model
    property or argument-less method the template calls whose body reads them (`{{ book.byline
    }}`), or a project template filter or tag applied to the row (`{{ book|byline }}`, `{%
    shelf_for book %}`) whose function only reads relations of it (one that runs a query of its
    own is MDB301's: loading the relations would not make it free). The template reader follows
    `{% include %}` (with its `with` arguments and `only`), `{% extends %}` (the child's blocks
    replace the parent's) and nested loops; every `{% if %}` branch is taken. Rows of
    django-model-utils' `select_subclasses()` are the multi-table children: a relation only the
    children declare (`{{ status.book }}`) is read through each child's parent link
    (`comment__book`, `review__book`), and `select_subclasses()` itself loads the links.

    Jinja templates of SQLAlchemy apps are read the same way: rows of a query handed to Flask's
    `render_template("t.html", posts=rows)` (or Quart's, or Pyramid's `render()`), or returned
    in the context dict of a Pyramid view whose `@view_config(renderer="pkg:templates/t.html")`
    (or class `@view_defaults`) names the template; `{{ p.author.name }}` and
    `{% for t in p.tags %}` read relationships, which load themselves lazily unless the query's
    `options(joinedload(...)/selectinload(...))` or the relationship's own `lazy=` loads them.

    Pydantic response models validated from rows are per-row code too: `Schema.model_validate(row)`
    or `Schema.from_orm(row)` in a loop or comprehension, and a FastAPI route declaring
    `response_model=list[Schema]` (or `-> list[Schema]`) that returns the rows of a query. Each
    schema field named like a relation of the row's model reads it, and a nested schema
    (`author: AuthorOut`, `tags: list[TagOut]`) reads the related rows' relations in turn.

    Primary location: the relation read (or the call that reads it) inside the loop, with the
    line that builds the loop's query as a related location when it is another line (where the
    eager loading goes); for a serializer, the view's queryset that should load the relations; for a route answering a
    list of schemas, its returned query (a `model_validate` call in a loop is reported at the
    call); for a template, the query
    the view hands to it (the `queryset`, or `model = X` of a list view without one; rows a
    project function returns, chained on, are reported at the expression that builds them), with
    the template lines that read the relations as related locations (and, when the value handed
    over is a slice or a page of a query built earlier in the view, the lines that build it,
    where the loading goes; and the context entry that hands the rows over and the
    `Paginator(...)` of a page, when they are on other lines).

    ## Why is this bad?
    Each lazy read is one more query: a page of 50 books that shows each author runs 51 queries
    (the "N+1" problem), and the count grows with the data. Loading the relation with the query
    (`select_related`/`prefetch_related`, `joinedload`/`selectinload`) makes it two queries at
    most, whatever the number of rows.

    ## Known problems
    A loop whose every pass also waits on another service (an HTTP, storage, Git-host, mail-box,
    SSH or chat client called in the pass, directly or through project functions a few calls
    away) is not reported: the round trip, not the query, is its cost (on the tune apps this
    removes 10 judged findings, all negligible, and no true one).
    Nor is code in a module-level class nothing in the project uses, or in a method of a model or
    plain project class that no code, test, string, script or configuration file (a YAML
    schedule, `pyproject.toml`, a `Procfile`) names (dead code; a method without arguments also
    needs a project with templates, none of which writes its name).
    Confidence: reported at `medium` (`--confidence medium`). List endpoints (a DRF serializer
    with `many=True` over the rows a view returns, a template rendering a view's queryset, a
    FastAPI route answering `list[Schema]`) were `high` until a blind triage of 15 unseen apps
    found 10 of 26 such findings true (7 wrong: a template assumed for views that render another
    one, a serializer field removed in `__init__`); Python loops were already `medium`.

    Holdout round 3 (11 unseen apps, 2026-12-04) measured a stricter `high`: per-row work in a
    request or task over rows that grow with users' data (a user- or tenant-keyed model, the
    table's or the requesting user's rows, not one object's children, rows picked by key or a
    constant slice). On 0.82 M lines it gave this rule 4 default findings: 1 TP, 1 FP, 2 NEG;
    it was withdrawn and the rule stays `medium`. In the ninth session every list-endpoint finding
    on the 13 tune apps (41) was judged blind: 29 TP, 11 NEG (admin-configured rows, one
    parent's handful of children, a cached response), 1 FP — 70.7 %, below the 75 % per-rule bar
    even on the apps the rule was tuned on, so list endpoints stay `medium` too.

    Only queries the analysis can see are checked: the loop iterates a query built in the
    function (in the loop header or a local variable assigned once), a relation of an outer
    loop's row, or the result of a project function that builds its query itself. Rows from a
    parameter, an attribute or an unknown call are not reported. Reading only the key
    (`book.author_id`) is not a read of the relation. What a custom manager's `get_queryset()`
    or a custom manager or queryset method (`Package.objects.normal()` whose body returns
    `self.select_related("arch")`) loads counts as loaded by the query that calls it; what the
    default manager's `get_queryset()` loads counts as loaded by a related manager of that model
    (`host.packages.all()`, prefetched or not: Django builds it from the default manager) and by a
    queryset of the model handed in as a parameter. SQLAlchemy relationships configured with
    `lazy="joined"`/`"selectin"`/`"subquery"` load themselves; `lazy="raise"`, `"noload"`,
    `"dynamic"` and `"write_only"` never load on access and are not reported. A relation the
    loop assigns before reading it (`book.author = authors[book.author_id]`) is not reported.
    Where a helper also runs queries of its own, its call is left to MDB301. A view whose
    serializer is chosen at run time (`get_serializer_class`, a custom `list`) or whose
    `get_queryset` comes from a project base class is not checked; an override that only
    delegates (`return super().get_serializer(*args, **kwargs)`, a `list` that still serializes
    through `self.get_serializer(...)` and names no serializer of its own) keeps the view's
    serializer and rows, and is checked.

    Templates: only templates under a folder named `templates` in the project are read (the
    app-directories convention and the usual `DIRS`); when several folders hold the same name,
    the one closest to the view wins. A template chosen at run time (`get_template_names()`, a
    variable), a template of an installed package, context from helpers that build the dict,
    `locals()`, `extra_context`, context processors and custom or inclusion tags
    (`{% show_book book %}`) are not followed; neither are relations to models outside the
    project (`django.contrib.auth`'s `User`). One row read outside a loop (`{{ books.0.author }}`,
    a detail view's `{{ object.author }}`) is a single query and is not reported. Every
    `{% if %}` branch counts, so a read under a condition that no row meets is still reported.
    Jinja templates are read with the same grammar (`{% for … if %}`, `{% set %}`, `a.b()`),
    macros are skipped; an app's own rendering helpers (a `render()` wrapper, a page class) are
    not followed, nor Chameleon/Mako renderers. Template files are part of the findings cache key: changing only a
    template re-checks the project's views.

    Response models: only schema classes of the project are read (fields declared in their class
    bodies and those of their project bases); aliases, `computed_field`s, validators and
    serializers that read more, `TypeAdapter`, and django-ninja's `response=` are not followed.
    For Django models only to-one relations count (a related manager is not a list pydantic
    validates without help).

    ## Example
    ```python
    def titles():
        return [f"{b.title} by {b.author.name}" for b in Book.objects.filter(published=True)]
    ```

    ## Use instead
    ```python
    def titles():
        books = Book.objects.filter(published=True).select_related("author")
        return [f"{b.title} by {b.author.name}" for b in books]
    ```
    With SQLAlchemy: `select(Book).options(joinedload(Book.author))` for a many-to-one,
    `selectinload(Author.books)` for a collection.

    ## Fix safety
    The fix adds `select_related("…")` for forward foreign keys and one-to-one chains and
    `prefetch_related("…")` for reverse foreign keys and many-to-many paths to the iterated query
    (merged into an existing call), or `.options(joinedload(…))`/`.options(selectinload(…))` with
    the imports for SQLAlchemy. It is safe when the query is built in the same function, is read
    only by that loop, and uses no `iterator()`, `only()`/`defer()`, `values()`/`values_list()`,
    set operations, `select_for_update()`/`with_for_update()` or `Prefetch` objects (Django raises
    on `iterator()` after `prefetch_related` without `chunk_size` and on `select_related` of a
    deferred field). Otherwise — and always for a view's queryset, which every action of the
    view shares — it is unsafe. A template site's fix is always unsafe: the same query may be
    used elsewhere, and the template's reads may depend on data. Where the query is not built in
    reach (a project function's result, a list view's `model = X`) there is no fix.
    """

    code = "MDB302"
    name = "lazy-relation-in-loop"
    summary = "Relation loaded lazily once per row (N+1)"
    precision = "medium"  # holdout (15 unseen apps, blind triage, 2026-12-04): too few findings true
    quiet_in = ONE_OFF  # one-off code pays its per-row cost once (tune verdicts in commands: 1 of 32 true)
    tags = ("performance", "n+1")
    fixable = True
    BAD = BAD
    GOOD = GOOD

    def __init__(self, ctx):
        super().__init__(ctx)
        self.reported = set()  # (loop line, path)
        self.assigned = {}  # loop node id -> {(var, attr)} assigned in its body
        self.template_reported = set()  # spans of queries reported for a template

    def _source(self, var: str) -> Optional[RowSource]:
        frame = self.ctx.reporting_frame(few=True)
        if frame is not None and self.ctx.waits_on_network(frame):
            return None  # each pass waits on another service: one more query is not the cost
        return loop_source(self.ctx, var)

    # -- to-one relations and SQLAlchemy collections: attribute reads ---------------------------
    def visit_Attribute(self, node: ast.Attribute) -> None:
        if not self.ctx.loops or not isinstance(node.ctx, ast.Load):
            return
        got = rel_use(self.ctx, node, self._source)
        if got is None:
            self._property(node)
            return
        use, src = got
        last = use.steps[-1]
        if last.orm == "django" and last.rel.to_many:
            return  # a related manager: reported where it is evaluated
        if self._assigned_in_loop(use.var, use.steps[0].name, src):
            return
        self._check(node, src, [s.name for s in use.steps], f"`{_text(node)}`", once=True)

    def _assigned_in_loop(self, var: str, attr: str, src: RowSource) -> bool:
        frame = next((f for f in reversed(self.ctx.loops) if var in f.targets), None)
        if frame is None:
            return False
        key = id(frame.node)
        if key not in self.assigned:
            self.assigned[key] = {(n.value.id, n.attr) for n in ast.walk(frame.node)
                                  if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store)
                                  and isinstance(n.value, ast.Name)}
        return (var, attr) in self.assigned[key]

    # -- Django collections: where the manager is evaluated ------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        if not self.ctx.loops:
            self._serializer_call(node)
            self._template_site(template_views.render_site(self.ctx, node))
            return
        if self._schema_call(node) or self._helper(node):
            return
        _ref, _t, ev = self.ctx.call_info(node)
        if ev is None or ev[0] != EV.QUERY:
            return
        expr = node.args[0] if isinstance(node.func, ast.Name) and node.args else node
        self._evaluated(node, expr)

    def visit_For(self, node) -> None:
        if self.ctx.loops:
            self._evaluated(node.iter, node.iter)

    visit_AsyncFor = visit_For

    def visit_ListComp(self, node) -> None:
        if self.ctx.loops:
            self._evaluated(node.generators[0].iter, node.generators[0].iter)

    visit_SetComp = visit_GeneratorExp = visit_DictComp = visit_ListComp

    def visit_comprehension(self, node: ast.comprehension) -> None:
        if self.ctx.loops:
            self._evaluated(node.iter, node.iter)

    def _evaluated(self, report: ast.AST, expr: ast.AST) -> None:
        got = rel_use(self.ctx, expr, self._source)
        if got is None:
            return
        use, src = got
        last = use.steps[-1]
        if last.orm != "django" or not last.rel.to_many or not cache_served(self.ctx.index, last, use.ops):
            return
        self._check(report, src, [s.name for s in use.steps], f"`{_text(expr)}`")

    # -- methods and helpers that read the row's relations ---------------------------------------
    def _helper(self, node: ast.Call) -> bool:
        found = self._row_argument(node)
        if found is None:
            return False
        return self._reads_in(node, *found)

    def _property(self, node: ast.Attribute) -> None:
        """``b.author_name`` where ``author_name`` is a property whose body reads ``self.author``."""
        if not isinstance(node.value, ast.Name):
            return
        src = self._source(node.value.id)
        if src is None:
            return
        meth = self.ctx.index.find_method(src.model, node.attr)
        fn = self.ctx.index.functions.get(meth) if meth else None
        if fn is not None and fn.params and is_property(self.ctx.index, meth):
            self._reads_in(node, meth, fn.params[0][0], src, once=True)

    def _reads_in(self, node: ast.AST, func: str, param: str, src: RowSource, once: bool = False) -> bool:
        reads, opaque = param_reads(self.ctx.index, func, param, src.model)
        if opaque or not reads:
            return False
        paths = []
        for r in reads:
            steps = walk(self.ctx.index, src.model, r.names)
            last = steps[-1]
            if last.orm == "django" and last.rel.to_many:
                if not r.ops:
                    continue
                if not cache_served(self.ctx.index, last, r.ops):
                    return False  # re-queried in the helper: prefetching would not help
            paths.append((list(r.names), r.text))
        wanted = [(p, t) for p, t in paths if self._missing(src, p) is not None]
        if not wanted:
            return False
        names, text = wanted[0]
        short = func.rsplit(".", 1)[-1]
        self._check(node, src, names, f"`{_text(node)}` reads `{text}` (in `{short}()`), which", once=once)
        return True

    def _row_argument(self, node: ast.Call):
        return row_argument(self.ctx, node, self._source)

    # -- deciding and reporting -----------------------------------------------------------------
    def _missing(self, src: RowSource, names: Sequence[str]) -> Optional[Tuple[Want, int]]:
        return missing(self.ctx.index, src, names)

    def _check(self, node: ast.AST, src: RowSource, names: Sequence[str], what: str, once: bool = False) -> None:
        """Report a read the query did not load. Attribute reads (which MDB301 never reports)
        are reported once per loop and path; calls MDB301 would report are all taken."""
        missing = self._missing(src, names)
        if missing is None:
            return
        want, i = missing
        key = (src.line, want.path)
        if once and (key in self.reported or any(k[0] == src.line and k[1].startswith(want.path + "__")
                                                 for k in self.reported)):
            return
        self.reported.add(key)
        step = walk(self.ctx.index, src.query_model, want.names)[i]
        model = self.ctx.index.models[step.owner].name
        target = self.ctx.index.models[step.rel.target].name if step.rel.target in self.ctx.index.models else "?"
        advice = _advice(self.ctx.index.models[src.query_model].orm, want, self.ctx)
        msg = (f"{what} loads relation `{model}.{step.name}` ({target}) lazily on every row of the loop on line "
               f"{src.line}: one query per row; load it with the query `{src.text}`: {advice}")
        self.report(node, msg, related=self._query_at(node, src), fix=self._fix(src, want))

    def _query_at(self, node: ast.AST, src: RowSource) -> tuple:
        """Where the loop's query is built, when that is another line than the read: the line
        the eager loading goes to (the fix's edit, or the hand edit when there is no fix)."""
        q = src.query
        if q is None or q.lineno == getattr(node, "lineno", q.lineno):
            return ()
        return (Location(self.ctx.path, Span(q.lineno, q.col_offset, q.end_lineno or q.lineno, q.end_col_offset or 0),
                         f"the rows' query `{src.text}`: load the relation here"),)

    def confidence_of(self, node: ast.AST, asked: str) -> str:
        """``high`` for a list endpoint: a serializer over the rows a view returns (per-row by
        construction, and as large as the table or the page). A Python loop is ``medium``: in a
        blind triage of real apps such loops mostly ran over one object's handful of children."""
        return "high" if asked == "endpoint" else "medium"

    def _fix(self, src: RowSource, want: Want):
        if src.query is None or (src.kind == "loop" and self._requeried(src, want)):
            return None
        orm = self.ctx.index.models[src.query_model].orm
        func = self.ctx.function or self.ctx.tree
        safe = (src.kind == "loop" and within(src.query, func) and loads_of_names(func, src.names)
                and not unsafe_chain(orm, src.query))
        return fix_for(self.ctx, orm, src.query, [want], safe)

    def _requeried(self, src: RowSource, want: Want) -> bool:
        """The loop also re-queries a relation this fix would prefetch: the prefetch would be
        bypassed there (MDB304), so the fix is not offered."""
        if not want.to_many:
            return False
        frame = next((f for f in self.ctx.loops if f.node.lineno == src.line), None)
        if frame is None:
            return False
        for n in ast.walk(frame.node):
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute):
                got = rel_use(self.ctx, n, self._source)
                if got is None:
                    continue
                use, inner = got
                full = inner.full(use.path)
                if want.path.startswith(full) and use.ops and not cache_served(
                        self.ctx.index, use.steps[-1], [op for op in use.ops if op != "all"] or ["all"]):
                    return True
        return False

    # -- DRF ------------------------------------------------------------------------------------
    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for site in drf.viewset_sites(self.ctx, node):
            self._serializer_site(site)
        for site in template_views.class_sites(self.ctx, node):
            self._template_site(site)

    def visit_Return(self, node: ast.Return) -> None:
        cls, fn = self.ctx.method_of, self.ctx.function
        if fn is None or self.ctx.qual[-1] != fn.name:
            return
        site = template_views.renderer_site(self.ctx, node, fn, cls)
        if site is not None:
            self._template_site(site)
            return
        for site in template_views.method_sites(self.ctx, node):
            self._template_site(site)
        if cls is None:
            self._route_return(node, fn)
        elif fn.name == "get_queryset":
            site = drf.get_queryset_site(self.ctx, node, cls)
            if site is not None:
                self._serializer_site(site)

    def _serializer_call(self, node: ast.Call) -> None:
        site = drf.serializer_call_site(self.ctx, node)
        if site is not None:
            self._serializer_site(site)

    def _serializer_site(self, site) -> None:
        missing = []
        for read in site.reads:
            m = self._missing(site.source, read.names)
            if m is not None and m[0].path not in {w.path for w, _ in missing}:
                missing.append((m[0], read))
        if not missing:
            return
        orm = self.ctx.index.models[site.source.query_model].orm
        listed = ", ".join(f"`{w.path}` ({r.where})" for w, r in missing[:4])
        more = f" and {len(missing) - 4} more" if len(missing) > 4 else ""
        advice = "; ".join(_advice(orm, w, self.ctx) for w, _ in missing[:4])
        msg = (f"{site.what} serializes each row with `{site.serializer}`, which reads {listed}{more} lazily: one "
               f"query per row and relation; load them with the query: {advice}")
        fix = None
        if site.source.query is not None:
            fix = fix_for(self.ctx, orm, site.source.query, [w for w, _ in missing], False)
        # a serializer over a view's queryset is a list endpoint: per-row by construction
        self.report(site.node, msg, related=site.related, fix=fix, confidence="endpoint")

    # -- Pydantic response models ---------------------------------------------------------------
    def _schema_call(self, node: ast.Call) -> bool:
        """``BookOut.model_validate(b)`` on a loop's row: the schema's fields read relations."""
        got = pydantic_rows.validate_call(self.ctx, node)
        if got is None or not isinstance(got[1], ast.Name):
            return False
        schema, arg = got
        src = self._source(arg.id)
        if src is None:
            return False
        missing = self._schema_missing(src, pydantic_rows.schema_reads(self.ctx, schema, src.model))
        if missing:
            name = schema.rsplit(".", 1)[-1]
            lead = f"`{name}.{node.func.attr}({arg.id})` validates `{name}` on every row of the loop on line {src.line}"
            self._report_schema(node, src, missing, lead, safe_fix=True)
        return True

    def _route_return(self, node: ast.Return, fn) -> None:
        """A route answering ``list[Schema]`` that returns the rows of a query."""
        schema = pydantic_rows.route_schema(self.ctx, fn) if node.value is not None else None
        if schema is None:
            return
        t = self.ctx.type_of(node.value)
        if t is None or t[0] not in ROWS or t[1] not in self.ctx.index.models or (
                t[0] == TK.LIST and not _from_query(self.ctx, node.value)):
            return
        src = query_source(self.ctx, node.value, "serializer", node.value.lineno, t[1])
        if src is None:
            return
        missing = self._schema_missing(src, pydantic_rows.schema_reads(self.ctx, schema, src.model))
        report = src.query if src.query is not None else node.value
        key = (report.lineno, report.col_offset)
        if missing and key not in self.template_reported:
            self.template_reported.add(key)
            name = schema.rsplit(".", 1)[-1]
            self._report_schema(report, src, missing, f"`{fn.name}()` answers `list[{name}]`, validated from every row "
                                f"of `{src.text}`", safe_fix=False, endpoint=True)

    def _schema_missing(self, src: RowSource, reads) -> list:
        out = []
        for r in reads:
            m = self._missing(src, r.names)
            if m is not None and m[0].path not in {w.path for w, _ in out}:
                out.append((m[0], r))
        return [(w, r) for w, r in out if not any(o.path.startswith(w.path + "__") for o, _ in out)]

    def _report_schema(self, node: ast.AST, src: RowSource, missing, lead: str, safe_fix: bool,
                       endpoint: bool = False) -> None:
        orm = self.ctx.index.models[src.query_model].orm
        listed = ", ".join(f"`{w.path}` ({r.where})" for w, r in missing[:4])
        more = f" and {len(missing) - 4} more" if len(missing) > 4 else ""
        advice = "; ".join(_advice(orm, w, self.ctx) for w, _ in missing[:4])
        msg = (f"{lead}: its fields read {listed}{more} lazily, one query per row and relation; load them with "
               f"the query: {advice}")
        fix = None
        if src.query is not None and not (src.kind == "loop" and any(self._requeried(src, w) for w, _ in missing)):
            func = self.ctx.function or self.ctx.tree
            safe = (safe_fix and src.kind == "loop" and within(src.query, func) and loads_of_names(func, src.names)
                    and not unsafe_chain(orm, src.query))
            fix = fix_for(self.ctx, orm, src.query, [w for w, _ in missing], safe)
        self.report(node, msg, related=tuple(r.location for _, r in missing[:4]), fix=fix,
                    confidence="endpoint" if endpoint else "high")

    # -- Django templates -----------------------------------------------------------------------
    def _template_site(self, site) -> None:
        """Rows handed to a template whose loops read relations the query does not load."""
        ctx = self.ctx
        reads, _calls = evaluate(ctx, site)
        found = {}
        for r in reads:
            if r.src not in site.sources:
                continue
            src, node = site.sources[r.src]
            steps = walk(ctx.index, src.query_model, [n for n in src.prefix.split("__") if n] + list(r.names))
            if steps is None or (steps[-1].rel.to_many and not (r.ops and cache_served(ctx.index, steps[-1], r.ops))):
                continue
            found.setdefault(r.src, []).append(r)
        for sid, rs in found.items():
            src, node = site.sources[sid]
            key = (node.lineno, node.col_offset)
            missing = self._fewest(src, rs)
            if missing and key not in self.template_reported:
                self.template_reported.add(key)
                self._report_template(node, src, missing, site.templates[0], site.handed.get(sid, ()))

    def _fewest(self, src: RowSource, reads) -> list:
        """(Want, first read needing it) for the fewest paths that load every read: the longest
        first, each dropped when the kept ones already load it (``books__tags`` loads ``books``;
        ``books__author`` is the way back once ``books`` is loaded)."""
        wants = {}
        for r in reads:
            m = self._missing(src, r.names)
            if m is None:
                continue
            want, i = m
            prefix = want.names[: i + 1]
            if len(prefix) < len(want.names) and missing(self.ctx.index, replace(
                    src, eager=src.eager | {"__".join(prefix)}), r.names) is None:
                want = Want(prefix, want.owners[: i + 1], want.many[: i + 1])
            wants.setdefault(want.path, (want, r))
        kept = []
        for path in sorted(wants, key=lambda p: (-p.count("__"), p)):
            want, r = wants[path]
            loaded = src.eager | {w.path for w, _ in kept}
            if missing(self.ctx.index, replace(src, eager=frozenset(loaded)), want.names) is not None:
                kept.append((want, r))
        return sorted(kept, key=lambda wr: (wr[1].path, wr[1].line, wr[0].path))

    def _report_template(self, node, src: RowSource, missing, name: str, handed=()) -> None:
        listed = ", ".join(f"`{w.path}` ({_where(self.ctx, r)})" for w, r in missing[:4])
        more = f" and {len(missing) - 4} more" if len(missing) > 4 else ""
        orm = self.ctx.index.models[src.query_model].orm
        advice = "; ".join(_advice(orm, w, self.ctx) for w, _ in missing[:4])
        if src.query is not None or isinstance(node, ast.Call):  # the query, or the call that builds the rows
            how = f"load them with the query: {advice}"
        else:
            loads = ".".join(_advice("django", w, self.ctx) for w, _ in missing[:4])
            how = f"give the view a `queryset = {src.text[:-len('all()')]}{loads}`"
        msg = (f"`{src.text}` is rendered by template `{name}`, whose loops read {listed}{more} lazily on every "
               f"row: one query per row and relation; {how}")
        related = tuple(Location(r.path, Span(r.line, r.col, r.line, r.col), f"`{r.text}` loads `{w.path}` once "
                                 "per row" + (f" (through `{r.via}`)" if r.via else "")) for w, r in missing[:4])
        related += self._built_at(node, src) + self._handed_at(node, handed)
        fix = fix_for(self.ctx, orm, src.query, [w for w, _ in missing], False) if src.query is not None else None
        # a view rendering a queryset's rows is a list page: per-row by construction
        self.report(node, msg, related=related, fix=fix, confidence="endpoint")

    def _handed_at(self, node, handed) -> tuple:
        """Where the rows are handed to the template, when that is another line: the context
        entry (``"activities": paginated.get_page(…)``) and the ``Paginator(...)`` of a page,
        which is also where a fix may load the relations (``prefetch_related_objects`` on the
        page)."""
        seen = {node.lineno}
        out = []
        for n in handed:
            if n.lineno not in seen:
                seen.add(n.lineno)
                out.append(Location(self.ctx.path, Span(n.lineno, n.col_offset, n.lineno, n.col_offset),
                                    "the rows are handed to the template here"))
        return tuple(out)

    def _made_by_method(self, node) -> tuple:
        """Rows a project method returns (``context["builds"] = self.get_queryset()``, the
        method inherited from a mixin): where that method builds its query, in its own file."""
        call = node
        while isinstance(call, (ast.Subscript, ast.Attribute)):
            call = call.value
        if not isinstance(call, ast.Call):
            return ()
        qual = None
        f = call.func
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "self":
            qual = self.ctx.own_method(f.attr)
        if qual is None:
            t = self.ctx.type_of(f)
            qual = t[1] if t is not None and t[0] in (TK.FUNC, TK.BOUND) and isinstance(t[1], str) else None
        if qual is None or qual not in self.ctx.index.functions:
            return ()
        fn = function_node(self.ctx.project, self.ctx.index, qual)
        facts = self.ctx.index.owner(qual)
        if fn is None or facts is None:
            return ()
        path = str(self.ctx.project.root / facts.path)
        name = qual.rsplit(".", 1)[-1]
        return tuple(Location(path, Span(n.lineno, n.col_offset, n.lineno, n.col_offset),
                              f"`{name}()` builds the rows here: load the relations on this query")
                     for n in _returned_queries(fn)[:2])

    def _built_at(self, node, src: RowSource) -> tuple:
        """Where the rows handed to the template are built, when that is earlier in the function
        than the value the finding points at (``qs = ….all()`` … ``{"rows": qs[:50]}``): the
        line where the eager loading goes."""
        func = self.ctx.function
        made = self._made_by_method(node)
        if made:
            return made
        root = node
        while isinstance(root, (ast.Subscript, ast.Attribute, ast.Call)):
            root = root.func if isinstance(root, ast.Call) else root.value
        names = set(src.names) | ({root.id} if isinstance(root, ast.Name) else set())
        if func is None or not names:
            return ()
        out = []
        for n in ast.walk(func):
            if isinstance(n, ast.Assign) and isinstance(n.value, (ast.Call, ast.Attribute)) and n.lineno < node.lineno \
                    and any(isinstance(t, ast.Name) and t.id in names for t in n.targets):
                name = next(t.id for t in n.targets if isinstance(t, ast.Name) and t.id in names)
                out.append(Location(self.ctx.path, Span(n.lineno, n.col_offset, n.lineno, n.col_offset),
                                    f"`{name}` is built here: load the relations on this query"))
        return tuple(sorted(out, key=lambda loc: loc.span.line)[:3])


def _returned_queries(fn: ast.AST) -> List[ast.AST]:
    """The statements that build what ``fn`` returns: a returned call, or the assignment of a
    returned name (``queryset = Build.objects.public(...)`` … ``return queryset``)."""
    assigned = {}
    for n in ast.walk(fn):
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call):
            for t in n.targets:
                if isinstance(t, ast.Name):
                    assigned.setdefault(t.id, []).append(n)
    out = []
    for n in ast.walk(fn):
        if isinstance(n, ast.Return) and n.value is not None:
            if isinstance(n.value, ast.Name):
                out.extend(assigned.get(n.value.id, ()))
            elif isinstance(n.value, ast.Call):
                out.append(n)
    return sorted(out, key=lambda n: n.lineno)


def _rel(ctx, path: str) -> str:
    import os

    try:
        return os.path.relpath(path, str(ctx.project.root)).replace(os.sep, "/")
    except ValueError:
        return path


def _where(ctx, read) -> str:
    at = f"{_rel(ctx, read.path)}:{read.line}"
    return f"through `{read.via.split(':')[0]}`, {at}" if read.via else at


def _advice(orm: str, want: Want, ctx) -> str:
    if orm == "django":
        method = "prefetch_related" if want.to_many else "select_related"
        return f'{method}("{want.path}")'
    parts = []
    for name, owner, many in zip(want.names, want.owners, want.many):
        model = ctx.index.models[owner].name
        parts.append(f"{'selectinload' if many else 'joinedload'}({model}.{name})")
    return f".options({'.'.join(parts)})"


def _text(node: ast.AST) -> str:
    from ...core.messages import brief

    return brief(node)
