"""What a ref is, and what calling it does to the database.

Types are small tuples:

- ``("model", M)`` a model class; ``("inst", M)`` an instance; ``("list", T)`` a list of T
- ``("manager", M)``, ``("qs", M)``, ``("relmgr", M)`` Django managers, querysets, related managers
- ``("sasession",)``, ``("samaker",)``, ``("saengine",)``, ``("saconn",)``, ``("saquery", M)``,
  ``("saselect", M)``, ``("saresult", M)``, ``("fsa",)`` (a Flask-SQLAlchemy ``db``)
- ``("dbconn", driver)``, ``("cursor", driver)``, ``("pool", driver)``, ``("dbconns",)`` DB-API
- ``("func", q)``, ``("bound", q)`` project functions and bound methods; ``("class", q)`` and
  ``("obj", q)`` project classes and their instances; ``("mod", m)``; ``("ext", dotted)`` an
  external name we know nothing about; ``("depends", T)`` a FastAPI dependency.

An *event* says what a call does: ``("query", what)``, ``("write", what)``, ``("commit", what)``,
``("rollback", what)``, ``("begin", what)`` or ``("call", function_qual)`` for a project function
whose summary decides. Anything not recognised is ``None``: unknown means silent.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

from ..core.refs import INDEX, decorator_name, dotted, literal_str, root
from ..core.tags import EV, RT, TK
from .flags import at_site, key as flag_key, ruled_out
from .models import GET_USER_MODEL, snake

# -- Django ---------------------------------------------------------------------------------
QS_LAZY = frozenset("""all filter exclude select_related prefetch_related order_by reverse distinct values
values_list annotate alias only defer using select_for_update none union intersection difference extra
dates datetimes complex_filter""".split()) | frozenset(
    # library querysets that stay lazy: django-model-utils' InheritanceQuerySet, django-polymorphic
    "select_subclasses non_polymorphic instance_of not_instance_of".split())
QS_READ = frozenset("""get first last count exists aggregate latest earliest in_bulk iterator contains explain
aget afirst alast acount aexists aaggregate alatest aearliest ain_bulk acontains aiterator""".split())
QS_INSTANCE = frozenset("get first last latest earliest aget afirst alast alatest aearliest".split())
QS_WRITE = frozenset("""create get_or_create update_or_create bulk_create bulk_update update delete
acreate aget_or_create aupdate_or_create abulk_create abulk_update aupdate adelete""".split())
RELMGR_WRITE = frozenset("add remove set clear aadd aremove aset aclear".split())
INST_WRITE = frozenset("save delete asave adelete".split())
INST_READ = frozenset("refresh_from_db arefresh_from_db".split())
# -- SQLAlchemy -----------------------------------------------------------------------------
SESSION_READ = frozenset("execute scalars scalar get get_one exec stream stream_scalars refresh".split())
SESSION_WRITE = frozenset("flush bulk_save_objects bulk_insert_mappings bulk_update_mappings".split())
# add/delete only stage a change in the unit of work: no round trip until flush/commit. ``merge``
# loads the row, so it is a query.
SESSION_STAGE = frozenset("add add_all delete expunge".split())
SAQUERY_LAZY = frozenset("""filter filter_by join outerjoin options order_by limit offset group_by having
distinct with_for_update where select_from correlate execution_options populate_existing""".split())
SAQUERY_READ = frozenset("all first one one_or_none scalar count get get_or_404 first_or_404 "
                         "one_or_404 paginate exists".split())
SAQUERY_WRITE = frozenset("update delete".split())
SASELECT_LAZY = SAQUERY_LAZY | frozenset("join_from filter_by outerjoin_from".split())
SARESULT_LIST = frozenset("all fetchall".split())
SARESULT_ONE = frozenset("first one one_or_none scalar_one scalar_one_or_none".split())
SACONN_READ = frozenset("execute scalar scalars exec_driver_sql stream stream_scalars".split())
# -- DB-API ---------------------------------------------------------------------------------
CONN_READ = frozenset("execute executemany executescript fetch fetchrow fetchval copy_from_query "
                      "copy_records_to_table copy_to_table".split())
CURSOR_READ = frozenset("execute executemany callproc copy_expert copy_from copy_to".split())

INSTANCE_OF = {
    **{k: (TK.SASESSION,) for k in (
        "sqlalchemy.orm.Session", "sqlalchemy.orm.session.Session", "sqlalchemy.ext.asyncio.AsyncSession",
        "sqlalchemy.ext.asyncio.session.AsyncSession", "sqlmodel.Session", "sqlmodel.orm.session.Session",
        "sqlmodel.ext.asyncio.session.AsyncSession", "sqlalchemy.orm.scoping.scoped_session",
        "sqlalchemy.orm.scoped_session", "sqlalchemy.ext.asyncio.async_scoped_session")},
    **{k: (TK.SACONN,) for k in ("sqlalchemy.engine.Connection", "sqlalchemy.Connection",
                                 "sqlalchemy.ext.asyncio.AsyncConnection", "sqlalchemy.engine.base.Connection")},
    **{k: (TK.SAENGINE,) for k in ("sqlalchemy.engine.Engine", "sqlalchemy.Engine",
                                   "sqlalchemy.ext.asyncio.AsyncEngine")},
    "sqlite3.Connection": (TK.DBCONN, "sqlite3"), "sqlite3.Cursor": (TK.CURSOR, "sqlite3"),
    "psycopg.Connection": (TK.DBCONN, "psycopg"), "psycopg.AsyncConnection": (TK.DBCONN, "psycopg"),
    "psycopg.Cursor": (TK.CURSOR, "psycopg"), "psycopg.AsyncCursor": (TK.CURSOR, "psycopg"),
    "psycopg2.extensions.connection": (TK.DBCONN, "psycopg2"), "psycopg2.extensions.cursor": (TK.CURSOR, "psycopg2"),
    "asyncpg.Connection": (TK.DBCONN, "asyncpg"), "asyncpg.connection.Connection": (TK.DBCONN, "asyncpg"),
    "asyncpg.Pool": (TK.POOL, "asyncpg"), "asyncpg.pool.Pool": (TK.POOL, "asyncpg"),
    "django.db.backends.utils.CursorWrapper": (TK.CURSOR, "django"),
}
CALL_RESULT = {
    **{k: v for k, v in INSTANCE_OF.items() if v == (TK.SASESSION,)},
    "sqlalchemy.orm.sessionmaker": (TK.SAMAKER,), "sqlalchemy.ext.asyncio.async_sessionmaker": (TK.SAMAKER,),
    "sqlalchemy.create_engine": (TK.SAENGINE,), "sqlalchemy.engine.create_engine": (TK.SAENGINE,),
    "sqlalchemy.ext.asyncio.create_async_engine": (TK.SAENGINE,), "sqlmodel.create_engine": (TK.SAENGINE,),
    "sqlite3.connect": (TK.DBCONN, "sqlite3"), "psycopg.connect": (TK.DBCONN, "psycopg"),
    "psycopg.Connection.connect": (TK.DBCONN, "psycopg"), "psycopg.AsyncConnection.connect": (TK.DBCONN, "psycopg"),
    "psycopg2.connect": (TK.DBCONN, "psycopg2"), "pymysql.connect": (TK.DBCONN, "mysql"),
    "MySQLdb.connect": (TK.DBCONN, "mysql"), "mysql.connector.connect": (TK.DBCONN, "mysql"),
    "asyncpg.connect": (TK.DBCONN, "asyncpg"), "asyncpg.create_pool": (TK.POOL, "asyncpg"),
    "psycopg_pool.ConnectionPool": (TK.POOL, "psycopg"), "psycopg_pool.AsyncConnectionPool": (TK.POOL, "psycopg"),
    "psycopg2.pool.SimpleConnectionPool": (TK.POOL, "psycopg2"),
    "psycopg2.pool.ThreadedConnectionPool": (TK.POOL, "psycopg2"),
    "flask_sqlalchemy.SQLAlchemy": (TK.FSA,), "flask_sqlalchemy.extension.SQLAlchemy": (TK.FSA,),
}
GLOBAL_VALUE = {"django.db.connection": (TK.DBCONN, "django"), "django.db.connections": (TK.DBCONNS,),
                "django.db.transaction.connection": (TK.DBCONN, "django")}
SA_SESSION_EVIDENCE = frozenset({"query", "execute", "scalars", "scalar"})
SELECTS = {"sqlalchemy.select", "sqlalchemy.sql.select", "sqlmodel.select", "sqlalchemy.future.select",
           "sqlalchemy.sql.expression.select"}
EVALUATING_BUILTINS = {"builtins.list", "builtins.tuple", "builtins.set", "builtins.len", "builtins.sorted",
                       "builtins.bool", "builtins.any", "builtins.all", "builtins.sum", "builtins.dict",
                       "builtins.frozenset", "builtins.max", "builtins.min"}
GET_OR_404 = {"django.shortcuts.get_object_or_404", "django.shortcuts.get_list_or_404",
              "django.shortcuts.aget_object_or_404", "django.shortcuts.aget_list_or_404"}
DEPENDS = {"fastapi.Depends", "fastapi.params.Depends"}
CLOSING = {"contextlib.closing"}
QUERYING = (EV.QUERY, "write")
_MAX = 40  # recursion guard for type resolution
# -- evidence in bodies ------------------------------------------------------------------------
SQL_METHODS = frozenset("execute executemany fetch fetchrow fetchval".split())
ASYNCPG_METHODS = frozenset("fetch fetchrow fetchval".split())
CURSOR_READS = frozenset("fetchall fetchone fetchmany".split())
GET_MODEL = {"django.apps.apps.get_model", "django.apps.registry.apps.get_model"}
# ``x.save()`` on an unknown value of a Django app is a model (or ModelForm/serializer) write when
# called with no positional argument and only Django's keywords (PIL's ``img.save(fp)`` is not).
DJANGO_INST_KW = {"save": {"force_insert", "force_update", "using", "update_fields"},
                  "asave": {"force_insert", "force_update", "using", "update_fields"},
                  "delete": {"using", "keep_parents"}, "adelete": {"using", "keep_parents"},
                  "refresh_from_db": {"using", "fields", "from_queryset"},
                  "arefresh_from_db": {"using", "fields", "from_queryset"}}
# Packages whose objects have ``save()``/``delete()`` of their own (storage, HTTP, caches, images).
NOT_MODEL_ROOTS = ("boto3", "botocore", "requests", "httpx", "redis", "PIL", "openpyxl", "xlsxwriter",
                   "google", "azure", "minio", "stripe", "io", "os", "shutil", "pathlib", "tempfile",
                   "zipfile", "tarfile", "json", "csv", "builtins", "django.core.cache", "django.core.files",
                   "django.contrib.sessions", "django.http", "django.forms")
# Parameter names that never stand for a model instance, whatever the models are called.
HANDLE_NAMES = frozenset("self cls session db conn connection cursor cur engine request response "
                         "context ctx app client".split())
# Parameters are typed from their call sites only when at most this many files call the name.
_MAX_CALLER_FILES = 40
_CALLSITE_DEPTH = 3
_KEEP_FROM_CALLERS = frozenset({TK.MODEL, TK.INST, TK.LIST, TK.MANAGER, TK.QS, TK.RELMGR, TK.SASESSION,
                                TK.SAENGINE, TK.SACONN, TK.SAQUERY, TK.SASELECT, TK.SARESULT, TK.FSA,
                                TK.DBCONN, TK.CURSOR, TK.POOL, TK.OBJ, TK.DICT})
HIGH, MEDIUM = "high", "medium"
# A Django or DRF request, by annotation, or a view's first parameter named ``request``.
REQUEST_CLASSES = frozenset({"django.http.HttpRequest", "django.http.request.HttpRequest",
                             "rest_framework.request.Request", "django.core.handlers.wsgi.WSGIRequest",
                             "django.core.handlers.asgi.ASGIRequest"})
# Framework methods that return the served model's rows (Django generic views, DRF, ModelAdmin).
VIEW_QUERYSET_METHODS = frozenset({"get_queryset", "filter_queryset"})
# Class-based views: ``self.request`` is the request being served (see project/contexts.VIEW_BASES).
VIEW_CLASS_BASES = ("django.views", "django.contrib.auth.views", "rest_framework.", "ninja.")


_DEFAULTED = ("defaulted",)  # a call site that leaves a parameter to its literal default


class Typer:
    """Types and events at one *evidence level*: the index's typer (``index.typer``) is ``high``
    and acts only on what resolves (imports, annotations, constructors, call sites that agree,
    evidence in bodies); :meth:`at` gives the ``medium`` typer, which also types a parameter
    named like exactly one model. :meth:`evidence` says which level a ref needs."""

    def __init__(self, index, level: str = HIGH):
        self.ix = index
        self.level = level
        self._types: Dict[tuple, object] = {}
        self._busy = set()
        self._cuts = 0  # resolutions cut short by the cycle/depth guard (see ``_guarded``)
        self._returning = set()  # functions whose returns are being typed
        self._calling = set()  # calls being typed
        self._returns: Dict[str, object] = {}
        self._summary: Dict[object, Optional[tuple]] = {}
        self._cs_depth = 0
        self._other: Optional["Typer"] = None

    def at(self, level: str) -> "Typer":
        """The typer of evidence ``level`` (``high`` or ``medium``) over the same index."""
        if level == self.level:
            return self
        if self._other is None:
            self._other = Typer(self.ix, level)
            self._other._other = self
        return self._other

    def evidence(self, ref) -> Optional[str]:
        """``high`` when the high typer types ``ref`` (a call: gives it a type or an event),
        ``medium`` when only the medium one does, else None."""
        for level in (HIGH, MEDIUM):
            typer = self.at(level)
            if typer.type_of(ref) is not None or (ref is not None and ref[0] == RT.CALL and typer.event(ref)):
                return level
        return None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_other"] = None  # rebuilt on demand
        return state

    # -- types --------------------------------------------------------------------------------
    def type_of(self, ref):
        if ref is None:
            return None
        if ref in self._types:
            return self._types[ref]
        if len(self._busy) > _MAX:
            self._cuts += 1
            return None
        return self._guarded(self._types, self._busy, ref, self._resolve, None)

    def _resolve(self, ref):
        t = self._type_of(ref)
        if t is None or t[0] == TK.EXT:
            t = self._body_evidence(ref) or t
        return t

    def _guarded(self, memo: dict, busy: set, key, compute, cut):
        """``compute(key)``, memoised in ``memo``, with ``busy`` as the recursion guard (a key
        asked for again while it is computed gives ``cut``). A result computed while any guard
        cut the resolution short depends on which key was asked first: it is returned but not
        memoised, or findings would vary with the order files are checked in (two workers, two
        orders)."""
        if key in memo:
            return memo[key]
        if key in busy:
            self._cuts += 1
            return cut
        busy.add(key)
        cuts = self._cuts
        try:
            out = compute(key)
        finally:
            busy.discard(key)
        if self._cuts == cuts:
            memo[key] = out
        return out

    def _type_of(self, ref):
        kind = ref[0]
        if kind == "g":
            return self.global_type(ref[1])
        if kind == "a":
            return self.attr_type(self.type_of(ref[1]), ref[2], ref)
        if kind == "c":
            return self.call(ref)[0]
        if kind == "i":
            return element_type(self.type_of(ref[1]))
        if kind == "s":
            base = self.type_of(ref[1])
            if base == (TK.DBCONNS,):
                return (TK.DBCONN, "django")
            if len(ref) > 2 and ref[2] == INDEX:  # an element: ``rows[0]``, ``MODELS[key]``
                if base and base[0] == TK.DICT:
                    return base[1]
                return element_type(base)
            if base and base[0] in (TK.QS, TK.MANAGER) and base[1]:
                return (TK.QS, base[1])  # ``Book.objects.all()[:10]`` is still a queryset
            return (TK.LIST, base[1]) if base and base[0] in (TK.LIST, TK.SAQUERY) and base[1] else None
        if kind == "self":
            m = self.ix.models.get(ref[1])
            return (TK.INST, m.qual) if m else (TK.OBJ, ref[1])
        if kind == "p":
            return self.param_type(ref[1], ref[2])
        if kind == RT.CONFLICT:
            return self._agreed(ref[1:])
        if kind == RT.LIT and len(ref) == 3 and ref[1] == "dict":
            inner = self._agreed(ref[2])
            return (TK.DICT, inner) if inner is not None else None
        return None

    def _agreed(self, refs):
        """The type every ref of ``refs`` has, or None when one is unknown or they differ. Rows
        of one model agree as a queryset of it: ``books = shelf.books`` in one branch and
        ``books = Edition.objects.filter(...)`` in the other are both Edition rows."""
        first, same = None, True
        for r in refs:
            t = self.type_of(r)
            if t is None:
                return None
            if first is None:
                first = t
            elif t != first:
                if t[0] == TK.OBJ and first[0] == TK.OBJ:
                    base = self._common_base(first[1], t[1])
                    if base is None:
                        return None
                    first = (TK.OBJ, base)
                    continue
                if not (t[0] in _ROWS and first[0] in _ROWS and len(t) > 1 and t[1] and t[1] == first[1]):
                    return None
                same = False
        return first if same else (TK.QS, first[1])

    def _common_base(self, a, b):
        """The nearest project class both ``a`` and ``b`` derive from (``{"home": HomeStream(),
        "local": LocalStream()}`` are ``ActivityStream`` objects), or None."""
        if not (isinstance(a, str) and isinstance(b, str)):
            return None
        theirs = set(self.ix.mro(b))
        return next((c for c in self.ix.mro(a) if c in theirs and c in self.ix.classes), None)

    def _body_evidence(self, ref):
        """What the project's bodies say ``ref`` is: an SQL literal passed to its ``execute()``
        makes a DB-API handle; at medium, a call of a to-many relation's manager
        (``x.tags.add()``, unique to one model) makes an instance of that model."""
        hit = self.ix.sql_evidence.get(ref)
        if hit is not None:
            return hit
        if self.level != HIGH:
            model = self.ix.relation_evidence.get(ref)
            if model is not None:
                return (TK.INST, model)
        return None

    def global_type(self, qual: str):
        ix = self.ix
        q = ix.canonical(qual)
        if q in ix.models:
            return (TK.MODEL, q)
        if q in ix.classes:
            return (TK.CLASS, q)
        if q in ix.functions:
            return (TK.FUNC, q)
        if q in ix.assigns:
            return self.type_of(ix.assigns[q])
        if q in ix.modules:
            return (TK.MOD, q)
        if q in GLOBAL_VALUE:
            return GLOBAL_VALUE[q]
        return (TK.EXT, q)

    def instance_of(self, ann):
        """The type of a value annotated ``ann`` (an annotation ref from extract.ann_ref)."""
        if ann is None:
            return None
        if ann[0] == RT.ANNOTATED:
            inner = self.instance_of(ann[1])
            if inner is not None:
                return inner
            for meta in ann[2]:
                t = self.type_of(meta)
                if t and t[0] == TK.DEPENDS:
                    return t[1]
            return None
        if ann[0] in (TK.LIST, RT.GENERATOR):
            inner = self.instance_of(ann[1])
            return (TK.LIST, inner[1]) if ann[0] == TK.LIST and inner and inner[0] == TK.INST else (
                inner if ann[0] == RT.GENERATOR else None)
        if ann[0] == RT.MAPPED:
            return self.instance_of(ann[1])
        d = dotted(ann)
        if d:
            alias = self.ix.assigns.get(self.ix.canonical(d))
            if alias is not None and alias[0] in (RT.ANNOTATED, RT.GENERATOR, TK.LIST, RT.MAPPED):  # a type alias
                return self.instance_of(alias)
        t = self.type_of(ann)
        if t is None:
            return None
        if t[0] == TK.MODEL:
            return (TK.INST, t[1])
        if t[0] == TK.CLASS:
            return (TK.OBJ, t[1])
        if t[0] == TK.EXT:
            return INSTANCE_OF.get(t[1])
        if t[0] in (TK.SASESSION, TK.SACONN, TK.DBCONN):
            return t
        return None

    def param_type(self, func: str, name: str):
        fn = self.ix.functions.get(func)
        if fn is None:
            return None
        for pname, ann, default in fn.params:
            if pname == name:
                t = self.instance_of(ann)
                if t is None and default is not None:
                    d = self.type_of(default)
                    if d and d[0] == TK.DEPENDS:
                        return d[1]
                if t is None and ann is None:
                    t = self.callsite_types(func).get(name)
                if t is None and self._request_param(fn, name, ann):
                    t = (TK.REQUEST,)
                if t is None and ann is None and self.level != HIGH:
                    t = self._named_like_model(name)
                return t
        return None

    def _request_param(self, fn, name: str, ann) -> bool:
        """A Django/DRF request, in a project whose user model is one of its models: annotated
        ``HttpRequest``/``Request``, or an unannotated first parameter (after ``self``/``cls``)
        named ``request`` — the signature of every Django view, DRF permission and middleware."""
        if self.ix.user_model not in self.ix.models:
            return False
        if ann is None:
            names = [p[0] for p in fn.params]
            if names and names[0] in ("self", "cls"):
                names = names[1:]
            return name == "request" and names[:1] == ["request"]
        d = dotted(ann)
        return bool(d) and self.ix.canonical(d) in REQUEST_CLASSES

    def _named_like_model(self, name: str):
        """``invoice`` → an instance of ``Invoice`` when exactly one application model has that
        name (medium evidence only: names are conventions, not proof)."""
        if name in HANDLE_NAMES or name.startswith("_"):
            return None
        index = self.ix.derived("types.model_names", lambda: _model_names(self.ix))
        qual = index.get(name)
        return (TK.INST, qual) if qual else None

    def callsite_types(self, func: str) -> Dict[str, object]:
        """Types of ``func``'s unannotated parameters from its call sites across the project
        (files that are not tests): a parameter every call passes a value of one type gets that
        type; callers that disagree, pass an unknown value, or pass it through ``*args`` leave it
        unknown. Decorated functions (routes, tasks, receivers: called by a framework) are not
        typed this way, nor names called from more than a few dozen files. Memoised per function;
        nested call-site typing is bounded in depth."""
        memo = self.ix.derived(("types.callsites", self.level), dict)
        hit = memo.get(func)
        if hit is not None:
            return hit
        if self._cs_depth >= _CALLSITE_DEPTH:
            return {}
        memo[func] = {}  # cycle guard
        self._cs_depth += 1
        try:
            out = self._callsite_types(func)
        finally:
            self._cs_depth -= 1
        memo[func] = out
        return out

    def _callsite_types(self, func: str) -> Dict[str, object]:
        found: Dict[str, object] = {}
        dead = set()
        sites = 0
        for site in self._call_sites(func):
            if site is None:
                return {}  # ``f(*args)``/``f(**kw)``: arguments we cannot place
            sites += 1
            for pname, arg in site.items():
                if pname in dead:
                    continue
                if arg is _DEFAULTED:
                    continue  # the default (``None``): the others decide
                t = self.type_of(arg) if arg is not None else None
                if t is None or t[0] not in _KEEP_FROM_CALLERS or found.get(pname, t) != t:
                    dead.add(pname)
                    found.pop(pname, None)
                else:
                    found[pname] = t
        return found if sites else {}

    def callsite_args(self, func: str, pname: str) -> Optional[list]:
        """The refs every project call of ``func`` passes for parameter ``pname`` (a call that
        leaves it to a literal default is skipped), or None when some call cannot be placed or
        there is no call: the same call sites :meth:`callsite_types` reads."""
        out = []
        for site in self._call_sites(func):
            if site is None or pname not in site:
                return None
            arg = site[pname]
            if arg is None:
                return None
            if arg is not _DEFAULTED:
                out.append(arg)
        return out or None

    def callsite_defaulted(self, func: str, pname: str) -> bool:
        """Does every project call of ``func`` (there is at least one) leave ``pname`` to its
        literal default? Annotated parameters count too."""
        sites = list(self._call_sites(func, annotated=True))
        return bool(sites) and all(s is not None and s.get(pname) is _DEFAULTED for s in sites)

    def _call_sites(self, func: str, annotated: bool = False):
        """Each resolved call of ``func`` in the project's application files, as a dict from its
        unannotated parameter names to the ref passed (``_DEFAULTED`` when the call leaves a
        literal default, None when it leaves a parameter without a default); ``None`` for a
        call whose arguments cannot be placed (``*args``/``**kw``). Nothing for decorated
        functions or names called from too many files."""
        ix = self.ix
        fn = ix.functions.get(func)
        if fn is None or not _plain_decorators(fn):
            return
        params = [p for p in fn.params if annotated or p[1] is None]
        if fn.cls is not None and fn.params and ("g", "builtins.staticmethod") not in fn.decorators:
            first = fn.params[0][0]
            params = [p for p in params if p[0] != first]
        if not params:
            return
        rels = ix.callers.get(fn.name, ())
        if not rels or len(rels) > _MAX_CALLER_FILES:
            return
        names = [p[0] for p in fn.params]
        static = ("g", "builtins.staticmethod") in fn.decorators
        classm = ("g", "builtins.classmethod") in fn.decorators
        for rel in rels:
            if ix.origin(rel) != "app":
                continue
            facts = ix.files.get(rel)
            if facts is None:
                continue
            for caller in facts.functions.values():
                for ref, line, col in caller.calls:
                    if ref is None or ref[0] != RT.CALL or _callee_name(ref[1]) != fn.name:
                        continue
                    callee = self.type_of(ref[1])
                    if callee is None or callee[0] not in (TK.FUNC, TK.BOUND) or callee[1] != func:
                        continue
                    if (line, col) in getattr(caller, "starred", ()):
                        yield None
                        continue
                    offset = 1 if classm or (callee[0] == TK.BOUND and fn.cls is not None and not static) else 0
                    kw = dict(ref[3])
                    site = {}
                    for pname, _ann, default in params:
                        i = names.index(pname) - offset
                        if pname in kw:
                            site[pname] = kw[pname]
                        elif 0 <= i < len(ref[2]):
                            site[pname] = ref[2][i]
                        else:
                            site[pname] = _DEFAULTED if default is not None and default[0] == RT.LIT else None
                    yield site

    def attr_type(self, base, name: str, ref):
        if base is None:
            return None
        kind = base[0]
        ix = self.ix
        if kind == "mod":
            return self.global_type(f"{base[1]}.{name}")
        if kind == "model":
            m = ix.models[base[1]]
            if name in m.managers or name in ("_default_manager", "_base_manager") or self._library_manager(m, name):
                return (TK.MANAGER, m.qual)
            if name == "query" and m.flask:
                return (TK.SAQUERY, m.qual)
            return self._class_member(m.qual, name)
        if kind == "inst":
            m = ix.models[base[1]]
            if name == "__class__":
                return (TK.MODEL, m.qual)
            if m.orm == "django" and name in INST_WRITE | INST_READ:
                return (TK.METHOD, base, name)  # even when overridden: an override still saves
            rel = m.relations.get(name)
            if rel is not None:
                if m.orm == "django":
                    return (TK.RELMGR, rel.target) if rel.to_many else (TK.INST, rel.target)
                return (TK.LIST, rel.target) if rel.to_many else (TK.INST, rel.target)
            return self._instance_member(m.qual, name)
        if kind == "class":
            return self._class_member(base[1], name)
        if kind == "obj":
            return self._instance_member(base[1], name)
        if kind == "fsa" and name == "session":
            return (TK.SASESSION,)
        if kind == TK.SUPER:  # ``super().m``: the next class in the MRO that defines ``m``
            mro = ix.mro(base[1])
            for c in mro[1:]:
                meth = ix.find_method(c, name) if c in ix.classes else None
                if meth is not None:
                    if name in VIEW_QUERYSET_METHODS and self.returns(meth) is None:
                        return self._view_queryset(base[1], name) or (TK.BOUND, meth)
                    return (TK.BOUND, meth)
            return self._view_queryset(base[1], name)
        if kind == TK.REQUEST:
            # ``request.user``: the signed-in user (AnonymousUser has no relations to read)
            return (TK.INST, ix.user_model) if name == "user" and ix.user_model in ix.models else None
        if kind == "ext":
            return self.global_type(f"{base[1]}.{name}") if base[1] else None
        if kind in (TK.MANAGER, "qs", "relmgr", "sasession", "saquery", "saconn", "saengine", "samaker",
                    "dbconn", "cursor", "pool", "saselect", "saresult", "dict"):
            return (TK.METHOD, base, name)
        return None

    def view_model(self, cls: str) -> Optional[str]:
        """The model a Django/DRF view or a ``ModelAdmin`` serves: its ``model`` or ``queryset``
        class attribute (through the class's ancestors), or the ``@admin.register(Model)`` that
        registers it. None for a class with no Django or DRF base."""
        ix = self.ix
        mro = ix.mro(cls)
        if not any(a.startswith(VIEW_CLASS_BASES + ("django.contrib.admin",)) for a in mro[1:]):
            return None
        for c in mro:
            cf = ix.classes.get(c)
            if cf is None:
                continue
            for d in getattr(cf, "decorators", ()):
                if d and d[0] == RT.CALL and d[2] and (dotted(d[1]) or "").endswith("register"):
                    t = self.type_of(d[2][0])
                    if t is not None and t[0] == TK.MODEL:
                        return t[1]
            model = cf.attrs.get("model")
            t = self.type_of(model) if model is not None and model[0] != RT.LIT else None
            if t is not None and t[0] == TK.MODEL:
                return t[1]
            qs = cf.fields.get("queryset")
            t = self.type_of((RT.CALL, qs.ctor, (), ())) if qs is not None and qs.ctor is not None else None
            if t is not None and t[0] in (TK.QS, TK.MANAGER) and t[1]:
                return t[1]
        return None

    def _view_queryset(self, cls: str, name: str):
        """``self.get_queryset``/``super().get_queryset`` of a framework class that the project
        does not override (or whose override returns nothing typed): the served model's
        ``_default_manager.all`` (DRF's ``filter_queryset(qs)``: a ``filter`` of it)."""
        if name not in VIEW_QUERYSET_METHODS:
            return None
        model = self.view_model(cls)
        if model is None:
            return None
        return (TK.METHOD, (TK.MANAGER if name == "get_queryset" else TK.QS, model),
                "all" if name == "get_queryset" else "filter")

    def _library_manager(self, m, name: str) -> bool:
        """``Document.global_objects``: a manager a library base model declares (django-softdelete's
        ``global_objects``, safedelete's ``all_objects``, polymorphic's ``base_objects``) — a
        name ending in ``objects`` that no project class in the model's ancestry defines, on a
        Django model with a base the index cannot read."""
        if m.orm != "django" or not name.endswith("objects") or name in m.fields or name in m.relations:
            return False
        mro = self.ix.mro(m.qual)
        if not any(a not in self.ix.classes and not a.startswith("django.") for a in mro):
            return False
        return all(name not in self.ix.classes[a].attrs and name not in self.ix.classes[a].methods
                   and name not in self.ix.classes[a].fields for a in mro if a in self.ix.classes)

    def _class_member(self, cls: str, name: str):
        meth = self.ix.find_method(cls, name)
        if meth is not None:
            return (TK.FUNC, meth)
        val = self.ix.class_attr(cls, name)
        return self.type_of(val) if val is not None and val[0] != RT.LIT else None

    def _instance_member(self, cls: str, name: str):
        meth = self.ix.find_method(cls, name)
        if meth is not None:
            fn = self.ix.functions[meth]
            if any(_is_property(d) for d in fn.decorators):
                return self.returns(meth)
            if name in VIEW_QUERYSET_METHODS and self.returns(meth) is None:
                return self._view_queryset(cls, name) or (TK.BOUND, meth)
            return (TK.BOUND, meth)
        val = self.ix.class_attr(cls, name)
        if meth is None and val is None and name in VIEW_QUERYSET_METHODS:
            t = self._view_queryset(cls, name)
            if t is not None:
                return t
        if val is None and name == "request" and self.ix.user_model in self.ix.models \
                and any(a.startswith(VIEW_CLASS_BASES) for a in self.ix.mro(cls)[1:]):
            return (TK.REQUEST,)  # a class-based view's ``self.request``
        if val is None or val[0] == RT.LIT:
            return None
        t = self.type_of(val)
        if t and t[0] == TK.CLASS:
            return None  # a class stored on the instance, not an instance
        return t

    # -- calls --------------------------------------------------------------------------------
    def call(self, ref) -> Tuple[object, Optional[tuple]]:
        """(result type, event) of a call ref."""
        return self._guarded(self._types, self._calling, (EV.CALL,) + ref, lambda _key: self._call(ref), (None, None))

    def _call(self, ref):
        callee = self.type_of(ref[1])
        pos = ref[2]
        if callee is None:
            return self._unknown_call(ref)
        kind = callee[0]
        if kind in ("func", "bound"):
            t = self.returns(callee[1])
            if t is None:
                t = self._passed_through(callee[1], ref, kind == "bound")
            return t, (EV.CALL, callee[1])
        if kind == "class":
            if self.ix.is_flask_sqlalchemy(callee[1]):
                return (TK.FSA,), None
            return (TK.OBJ, callee[1]), None
        if kind == "model":
            return (TK.INST, callee[1]), None
        if kind == "samaker":
            return (TK.SASESSION,), None
        if kind == "method":
            return self._method(callee[1], callee[2], pos)
        if kind == "ext":
            return self._external_call(callee[1], pos)
        return None, None

    def _unknown_call(self, ref):
        """A call on a value we cannot type, judged by what it is given: an SQL literal to
        ``execute()``/``fetch*()`` runs it (query or write by its verb); in a Django app,
        ``x.save()``/``x.delete()``/``x.refresh_from_db()`` with Django's arguments only is a
        model's write or read (not on a value of a storage/HTTP/cache library; medium evidence:
        forms and serializers save too);
        ``apps.get_model("app", "Model")`` is that model; ``query(Model)`` of an SQLAlchemy model
        and ``execute``/``scalars``/``scalar`` of a ``select()`` are an SQLAlchemy session's."""
        f = ref[1]
        if f[0] != RT.ATTR:
            return None, None
        name, pos = f[2], ref[2]
        if name in SQL_METHODS and pos:
            kind = self.ix.sql_of(pos[0])
            if kind == "ddl":
                return None, None  # ``CREATE INDEX …``: schema work, not a query or a row write
            if kind is not None:
                return None, (EV.WRITE if kind == "write" else EV.QUERY, f"{name}() of an SQL statement")
        if name in SA_SESSION_EVIDENCE and pos and not _foreign_root(self, f[1]):
            # ``request.db.query(Post)``, ``db.execute(select(Post))``: only an SQLAlchemy session
            # (or connection) takes a mapped class or a select(); Pyramid apps' ``request.db``
            t = self.type_of(pos[0])
            sa_model = t is not None and t[0] == TK.MODEL and t[1] in self.ix.models \
                and self.ix.models[t[1]].orm != "django"
            if (name == "query" and sa_model) or (name != "query" and t is not None and t[0] == TK.SASELECT):
                return self._session_method(name, pos)
        if name in DJANGO_INST_KW and not pos and self.level != HIGH and self.ix.has_django \
                and all(k in DJANGO_INST_KW[name] for k, _v in ref[3]) and not _foreign_root(self, f[1]):
            if name in INST_READ:
                return None, (EV.QUERY, f"{name}()")
            return None, (EV.WRITE, f"{name}()")
        if name == "get_model":
            recv = f[1]
            if recv[0] == RT.PARAM and recv[2] == "apps":  # ``def forwards(apps, schema_editor)``
                return self._get_model(pos), None
        return None, None

    def _get_model(self, pos):
        """``get_model("shop", "Book")`` / ``get_model("shop.Book")`` with string literals."""
        parts = [literal_str(p) for p in pos[:2]]
        if len(parts) == 2 and all(parts):
            name = f"{parts[0]}.{parts[1]}"
        elif len(parts) == 1 and parts[0] and "." in parts[0]:
            name = parts[0]
        else:
            return None
        cands = self.ix.model_named(name)
        return (TK.MODEL, cands[0].qual) if len(cands) == 1 else None

    def _external_call(self, name: str, pos):
        if name == "builtins.super" and len(pos) == 1 and pos[0] is not None and pos[0][0] == RT.SELF:
            return (TK.SUPER, pos[0][1]), None
        if name in CALL_RESULT:
            return CALL_RESULT[name], None
        if name in GET_MODEL:
            return self._get_model(pos), None
        if name in GET_USER_MODEL:
            return ((TK.MODEL, self.ix.user_model) if self.ix.user_model else None), None
        if name == "builtins.type" and len(pos) == 1:
            t = self.type_of(pos[0])
            return ((TK.MODEL, t[1]) if t and t[0] == TK.INST else None), None
        if name in ("typing.NewType", "typing_extensions.NewType") and len(pos) > 1:
            return self.type_of(pos[1]), None  # ``AsyncSession = NewType("AsyncSession", _AsyncSession)``
        if name in SELECTS and pos:
            t = self.type_of(pos[0])
            return (TK.SASELECT, t[1] if t and t[0] == TK.MODEL else None), None
        if name in CLOSING and pos:  # ``contextlib.closing(conn)`` is still the connection
            t = self.type_of(pos[0])
            return (t if t is not None and t[0] in (TK.DBCONN, TK.CURSOR, TK.SACONN, TK.SASESSION) else None), None
        if name in DEPENDS and pos:
            t = self.type_of(pos[0])
            if t and t[0] == TK.FUNC:
                return (TK.DEPENDS, self.returns(t[1])), None
            return (TK.DEPENDS, None), None
        if name in EVALUATING_BUILTINS and pos:
            t = self.type_of(pos[0])
            if t and t[0] in (TK.QS, TK.MANAGER, TK.RELMGR, TK.SAQUERY):
                rows = (TK.LIST, t[1]) if name in _TO_LIST and t[1] else None
                return rows, (EV.QUERY, f"{name.split('.')[-1]}() over a queryset")
            if t and t[0] == TK.LIST and name in _TO_LIST:
                return t, None
        if name in GET_OR_404 and pos:
            t = self.type_of(pos[0])
            if t and t[0] in (TK.MODEL, TK.QS, TK.MANAGER, TK.RELMGR):
                return (TK.INST, t[1]), (EV.QUERY, name.rsplit(".", 1)[-1] + "()")
        return None, None

    def _method(self, base, name: str, pos):
        kind = base[0]
        if kind in (TK.MANAGER, "qs", "relmgr"):
            return self._django_method(base, name)
        if kind == "inst":
            label = self.ix.models[base[1]].name
            return None, (("write" if name in INST_WRITE else "query"), f"{label}.{name}()")
        if kind == "sasession":
            return self._session_method(name, pos)
        if kind == "saquery":
            if name in SAQUERY_LAZY:
                return base, None
            if name in SAQUERY_READ:
                res = (TK.INST, base[1]) if name in ("first", "one", "one_or_none", "get") and base[1] else None
                if name == "all" and base[1]:
                    res = (TK.LIST, base[1])
                return res, (EV.QUERY, f"Query.{name}()")
            if name in SAQUERY_WRITE:
                return None, (EV.WRITE, f"Query.{name}()")
            return None, None
        if kind == "saselect":
            return (base, None) if name in SASELECT_LAZY else (None, None)
        if kind == "saresult":
            return _result_method(base, name), None
        if kind == "samaker" and name == "begin":
            return (TK.SASESSION,), None
        if kind == "saengine":
            if name in ("connect", "begin"):
                return (TK.SACONN,), ((EV.BEGIN, "engine.begin()") if name == "begin" else None)
            if name == "execute":
                return (TK.SARESULT, None), (EV.QUERY, "engine.execute()")
            return None, None
        if kind in ("saconn", "dbconn", "cursor") and name in SQL_METHODS and pos and self.ix.sql_of(pos[0]) == "ddl":
            return None, None  # ``CREATE INDEX …`` on any handle: schema work, not a query or a row write
        if kind == "saconn":
            return self._conn_like(name, SACONN_READ, (TK.SARESULT, None), "connection")
        if kind in ("dbconn", "cursor") and base[1] is None and name in SQL_METHODS and pos:
            sql = self.ix.sql_of(pos[0])  # a handle known from its SQL: the verb decides
            if sql is not None:
                what = "connection" if kind == "dbconn" else "cursor"
                return None, (EV.WRITE if sql == "write" else EV.QUERY, f"{what}.{name}()")
        if kind == "dbconn":
            if name == "cursor":
                return (TK.CURSOR, base[1]), None
            if name == "transaction":
                return None, (EV.BEGIN, "connection.transaction()")
            return self._conn_like(name, CONN_READ, None, "connection")
        if kind == "dict":
            return (base[1] if name == "get" else None), None
        if kind == "pool":
            if name in ("acquire", "connection", "getconn"):
                return (TK.DBCONN, base[1]), None
            return self._conn_like(name, CONN_READ, None, "pool")
        if kind == "cursor":
            return self._conn_like(name, CURSOR_READ, None, "cursor")
        return None, None

    def _conn_like(self, name: str, reads, result, what: str):
        if name in reads:
            return result, (EV.QUERY, f"{what}.{name}()")
        if name in (EV.COMMIT, "rollback"):
            return None, (name, f"{what}.{name}()")
        if name == "begin":
            return None, (EV.BEGIN, f"{what}.begin()")
        return None, None

    def _django_method(self, base, name: str):
        model = base[1]
        label = self.ix.models[model].name if model in self.ix.models else "?"
        if name in QS_LAZY:
            return (TK.QS, model), None
        if name in QS_READ:
            return ((TK.INST, model) if name in QS_INSTANCE else None), (EV.QUERY, f"{label}.{name}()")
        if name in QS_WRITE or (base[0] == TK.RELMGR and name in RELMGR_WRITE):
            res = (TK.INST, model) if name in ("create", "acreate") else None
            return res, (EV.WRITE, f"{label}.{name}()")
        for meth in self.ix.manager_methods(model, name)[:1]:  # a custom manager's or queryset's own method
            # custom queryset methods return querysets (``return self.filter(...)``)
            return self.returns(meth) or (TK.QS, model), (EV.CALL, meth)
        return None, None

    def _session_method(self, name: str, pos):
        if name == "query" and pos:
            t = self.type_of(pos[0])
            return (TK.SAQUERY, t[1] if t and t[0] == TK.MODEL else None), None
        if name in SESSION_READ:
            target = self.type_of(pos[0]) if pos else None
            res = None
            if name in ("get", "get_one") and target and target[0] == TK.MODEL:
                res = (TK.INST, target[1])
            elif name in ("scalars", "exec", "execute") and target and target[0] == TK.SASELECT:
                res = (TK.SARESULT, target[1])
            return res, (EV.QUERY, f"session.{name}()")
        if name in SESSION_WRITE:
            return None, (EV.WRITE, f"session.{name}()")
        if name in SESSION_STAGE:
            return None, (EV.STAGE, f"session.{name}()")
        if name == "merge":
            return None, (EV.QUERY, "session.merge()")
        if name in (EV.COMMIT, "rollback"):
            return None, (name, f"session.{name}()")
        if name in (EV.BEGIN, "begin_nested"):
            return (TK.SASESSION,), (EV.BEGIN, f"session.{name}()")
        return None, None

    # -- function summaries -------------------------------------------------------------------
    def returns(self, func: str):
        # recursion (``a`` returns ``b()``, ``b`` returns ``a()``) is cut by the guard
        return self._guarded(self._returns, self._returning, func, self._returned, None)

    def _returned(self, func: str):
        fn = self.ix.functions.get(func)
        if fn is None:
            return None
        t = self.instance_of(fn.returns_ann)
        if t is None:
            for r in fn.returns:
                t = self.type_of(r)
                if t is not None:
                    break
        return t

    def _passed_through(self, func: str, ref, bound: bool):
        """``privacy_filter(viewer, user.status_set.all())`` whose every return is a lazy chain on
        one parameter (``return queryset.filter(...).exclude(...)``): the rows of the argument
        this call passes for it — a pass-through helper is typed per call, not from its body."""
        arg = self.through_arg(func, ref, bound)
        t = self.type_of(arg) if arg is not None else None
        return (TK.QS, t[1]) if t is not None and t[0] in (TK.QS, TK.MANAGER, TK.RELMGR) and t[1] else None

    def through_arg(self, func: str, ref, bound: bool):
        """The argument a call passes for the parameter a pass-through helper returns, or None."""
        param = self._through_param(func)
        fn = self.ix.functions.get(func)
        if param is None or fn is None or ref is None or ref[0] != RT.CALL:
            return None
        names = [p[0] for p in fn.params]
        offset = 1 if bound and fn.cls is not None and names and names[0] in ("self", "cls") else 0
        arg = dict(ref[3]).get(param)
        i = names.index(param) - offset
        if arg is None and 0 <= i < len(ref[2]):
            arg = ref[2][i]
        return arg

    def _through_param(self, func: str) -> Optional[str]:
        memo = self.ix.derived("types.through", dict)
        if func in memo:
            return memo[func]
        fn = self.ix.functions.get(func)
        found = None
        if fn is not None and fn.returns:
            roots = set()
            for r in fn.returns:
                for cand in (r[1:] if r and r[0] == RT.CONFLICT else (r,)):
                    roots.add(_lazy_root(cand))
            if len(roots) == 1:
                root_ref = next(iter(roots))
                if root_ref is not None and root_ref[0] == RT.PARAM and root_ref[1] == func:
                    found = root_ref[2]
        memo[func] = found
        return found

    def event(self, call_ref) -> Optional[tuple]:
        return self.call(call_ref)[1] if call_ref is not None and call_ref[0] == RT.CALL else None

    def queries(self, func: str, flags: Optional[Dict[str, bool]] = None) -> Optional[tuple]:
        """The first database query a project function may run, directly or through project
        calls: ``(kind, what, func_qual, line)``, or None. ``flags``: the values of its flag
        parameters at the call in question (``project/flags.py``); calls they rule out do not count."""
        memo_key = (func, flag_key(flags)) if flags else func
        if memo_key in self._summary:
            return self._summary[memo_key]
        self._summary[memo_key] = None  # cycles count as "does not query"
        fn = self.ix.functions.get(func)
        found = None
        if fn is not None and not _memoized(fn):
            found = self._first_query(fn, flags)
        self._summary[memo_key] = found
        return found

    def _first_query(self, fn, flags=None) -> Optional[tuple]:
        for ref, line, col in fn.calls:
            if ruled_out(fn, line, col, flags):
                continue
            ev = self.event(ref)
            if ev is None:
                continue
            if ev[0] in QUERYING:
                return (ev[0], ev[1], fn.qual, line)
            if ev[0] == EV.CALL and ev[1] != fn.qual:
                inner = self.queries(ev[1], at_site(self.ix, fn, ev[1], ref, line, col, flags))
                if inner is not None:
                    return inner
        for ref, line, _col in fn.iters:
            t = self.type_of(ref)
            if t and t[0] in (TK.QS, TK.MANAGER, TK.RELMGR, TK.SAQUERY):
                return (EV.QUERY, "iterating a queryset", fn.qual, line)
        return None


def _lazy_root(ref):
    """The ref a chain of lazy queryset calls starts from (``qs.filter(…).exclude(…)`` → ``qs``),
    or None when a step is not a lazy queryset method."""
    for _ in range(30):
        if ref is None:
            return None
        if ref[0] == RT.CALL and ref[1] is not None and ref[1][0] == RT.ATTR and ref[1][2] in QS_LAZY:
            ref = ref[1][1]
        else:
            return ref
    return None


_TO_LIST = {"builtins.list", "builtins.sorted", "builtins.tuple"}
_ROWS = (TK.QS, TK.MANAGER, TK.RELMGR)  # Django rows of one model, as a local's candidates agree
_PLAIN_DECORATORS = {"builtins.staticmethod", "builtins.classmethod", "django.db.transaction.atomic",
                     "functools.wraps", "typing.overload", "typing_extensions.override", "typing.override"}


def _plain_decorators(fn) -> bool:
    """No decorator that hands the function to a framework (a route, a task, a receiver):
    those have callers we cannot see."""
    for d in fn.decorators:
        while d is not None and d[0] == RT.CALL:
            d = d[1]
        name = dotted(d) or ""
        if name not in _PLAIN_DECORATORS and not name.endswith(("atomic", "cache", "lru_cache")):
            return False
    return True


def _callee_name(ref) -> Optional[str]:
    if ref is None:
        return None
    if ref[0] == RT.ATTR:
        return ref[2]
    if ref[0] == RT.GLOBAL:
        return ref[1].rsplit(".", 1)[-1]
    return None


def _is_property(d) -> bool:
    """``@property``, ``@cached_property`` (functools, Django, ``werkzeug``...), ``@hybrid_property``."""
    while d is not None and d[0] == RT.CALL:
        d = d[1]
    if d is None:
        return False
    name = d[2] if d[0] == RT.ATTR else (d[1].rsplit(".", 1)[-1] if d[0] == RT.GLOBAL else "")
    return name in ("property", "cached_property", "hybrid_property", "memoized_property", "reify")


def _foreign_root(typer, ref) -> bool:
    """Does ``ref`` start from a library that is not the ORM (boto3, requests, a cache, a file)?"""
    r = root(ref)
    if r is None or r[0] != RT.GLOBAL:
        return False
    t = typer.type_of(r)
    if t is None or t[0] != TK.EXT:
        return False
    q = t[1]
    return any(q == p or q.startswith(p + ".") for p in NOT_MODEL_ROOTS) or not q.startswith("django.")


def _model_names(ix) -> Dict[str, Optional[str]]:
    """Parameter name -> the one concrete application model it names (``invoice``,
    ``purchase_order``), None when several do."""
    out: Dict[str, Optional[str]] = {}
    for m in ix.models.values():
        if m.abstract or m.origin != "app":
            continue
        for key in {snake(m.name), m.name.lower()}:
            out[key] = None if key in out and out[key] != m.qual else m.qual
    return out


_CACHE_READS = {"django.core.cache.cache.get", "django.core.cache.cache.get_or_set",
                "django.core.cache.cache.get_many"}


def _memoized(fn) -> bool:
    """``@lru_cache``/``@cache``/``@cached_property``/``@memoize``, a body that reads Django's
    cache first (``if (hit := cache.get(k)): return hit``), or one that fills a class- or
    module-level store on a miss (``FuncFacts.memo``): not a query per call."""
    if getattr(fn, "memo", False):
        return True
    for ref, _line, _col in fn.calls:
        if ref is not None and ref[0] == RT.CALL and dotted(ref[1]) in _CACHE_READS:
            return True
    for d in fn.decorators:
        name = decorator_name(d)
        if "cache" in name or "memoiz" in name:
            return True
    return False


def _result_method(base, name: str):
    """``session.scalars(select(Book)).all()``: rows of a result keep their model."""
    if not base[1]:
        return None
    if name in SARESULT_LIST:
        return (TK.LIST, base[1])
    if name in SARESULT_ONE:
        return (TK.INST, base[1])
    return base if name in ("unique", "scalars") else None


def element_type(t):
    if t is None:
        return None
    if t[0] in (TK.QS, TK.MANAGER, TK.RELMGR, TK.SAQUERY, TK.LIST, TK.SARESULT):
        return (TK.INST, t[1]) if t[1] else None
    return None
