"""What a call means for transactions, from refs alone: does it open a transaction (Django
``atomic``, SQLAlchemy ``begin()``, DB-API ``with conn:``), write, commit, take a row lock, or
do something a rollback cannot undo (email, HTTP, a task queue, pub/sub)?

Working on refs (not trees) lets the per-file rules and the project-wide summaries of
:mod:`mandu_lint.rules.transactions.analysis` give the same answers. Unknown stays unknown: a call is
a side effect only when its receiver resolves to a known mail, HTTP, task or pub/sub API.
"""
from __future__ import annotations

from typing import Iterable, Optional, Tuple

from ...core.refs import dotted
from ...core.tags import EV, RT, TK

ATOMIC = frozenset({"django.db.transaction.atomic"})
ON_COMMIT = frozenset({"django.db.transaction.on_commit"})
METHOD_DECORATOR = frozenset({"django.utils.decorators.method_decorator"})
NON_ATOMIC = frozenset({"django.db.transaction.non_atomic_requests"})
ASYNC_TO_SYNC = frozenset({"asgiref.sync.async_to_sync"})
PARTIAL = frozenset({"functools.partial"})

MAIL_FUNCS = frozenset(f"django.core.mail.{n}" for n in ("send_mail", "send_mass_mail", "mail_admins",
                       "mail_managers"))
MAIL_CLASSES = frozenset(f"django.core.mail.{m}{n}" for m in ("", "message.")
                         for n in ("EmailMessage", "EmailMultiAlternatives"))
HTTP_VERBS = frozenset({"post", "put", "patch", "delete"})  # GET/HEAD read; they are not side effects
HTTP_MODULES = frozenset({"requests", "httpx"})
HTTP_CLIENTS = frozenset({"requests.Session", "requests.session", "requests.sessions.Session", "httpx.Client",
                          "httpx.AsyncClient", "aiohttp.ClientSession"})
REDIS = frozenset({"redis.Redis", "redis.StrictRedis", "redis.from_url", "redis.Redis.from_url",
                   "redis.StrictRedis.from_url", "redis.asyncio.Redis", "redis.asyncio.from_url",
                   "redis.asyncio.Redis.from_url", "django_redis.get_redis_connection"})
CHANNEL_LAYER = frozenset({"channels.layers.get_channel_layer"})
PUSH_FUNCS = frozenset({"django_eventstream.send_event"})
CELERY_CANVAS = frozenset(f"celery.{m}{n}" for m in ("", "canvas.") for n in ("chain", "group", "chord",
                          "signature"))
CELERY_APPS = frozenset({"celery.Celery", "celery.current_app"})
TASK_DECORATORS = frozenset({"shared_task", "task", "actor", "periodic_task", "db_task", "db_periodic_task"})
SA_DML = frozenset(f"sqlalchemy.{m}{n}" for m in ("", "sql.", "sql.expression.")
                   for n in ("insert", "update", "delete"))
SA_DML |= frozenset({"sqlalchemy.dialects.postgresql.insert", "sqlalchemy.dialects.sqlite.insert",
                     "sqlalchemy.dialects.mysql.insert", "sqlmodel.insert", "sqlmodel.update", "sqlmodel.delete"})

DB_ERROR_NAMES = frozenset("""Error DatabaseError IntegrityError OperationalError DataError InternalError
ProgrammingError InterfaceError NotSupportedError SQLAlchemyError DBAPIError PendingRollbackError""".split())
DB_ERROR_DRIVERS = ("psycopg2", "psycopg", "sqlite3", "asyncpg", "pymysql", "MySQLdb")
BROAD_ERRORS = frozenset({"builtins.Exception", "builtins.BaseException"})

DJANGO_KINDS = (TK.MANAGER, "qs", "relmgr", "inst")
SA_KINDS = (TK.SASESSION, "saquery", "saconn", "saengine", "samaker", "saselect", "saresult")
DBAPI_KINDS = (TK.DBCONN, "cursor", "pool")


def origin(ix, ref, depth: int = 0) -> Optional[str]:
    """The canonical dotted name a name/attribute ref stands for, through imports, re-exports and
    module-level aliases (``atomic = transaction.atomic``)."""
    d = dotted(ref) if ref is not None else None
    if d is None:
        return None
    q = ix.canonical(d)
    val = ix.assigns.get(q)
    if val is not None and depth < 3 and val[0] in (RT.GLOBAL, RT.ATTR):
        return origin(ix, val, depth + 1) or q
    return q


def made_by(ix, ref, depth: int = 0) -> Optional[str]:
    """The dotted constructor of a value: ``EmailMessage(...)``, a module-level ``app = Celery()``,
    ``self.client`` set to ``httpx.Client()`` in a method."""
    if ref is None or depth > 4:
        return None
    if ref[0] == RT.CALL:
        return origin(ix, ref[1]) or made_by(ix, ref[1], depth + 1)
    if ref[0] == RT.ATTR and ref[1] is not None and ref[1][0] == RT.SELF:
        val = ix.class_attr(ref[1][1], ref[2])
        return made_by(ix, val, depth + 1) if val is not None and val[0] != RT.LIT else None
    if ref[0] in (RT.GLOBAL, RT.ATTR):
        d = dotted(ref)
        if d:
            q = ix.canonical(d)
            val = ix.assigns.get(q)
            if val is not None:
                return made_by(ix, val, depth + 1)
            return q if q in CELERY_APPS else None
    return None


def strip_call(ref):
    """``atomic(using=x)`` → ``atomic``; ``method_decorator(atomic)`` is unwrapped by the caller."""
    return ref[1] if ref is not None and ref[0] == RT.CALL else ref


def opener(ix, typer, ref, helpers: Iterable[str] = ()) -> Optional[str]:
    """What kind of transaction a ``with`` item or a decorator opens: ``django`` (``atomic`` or a
    configured helper), ``sa`` (``session.begin()``, ``engine.begin()``, ``Session.begin()``),
    ``sa-nested`` (``begin_nested()``), ``dbapi`` (``conn.transaction()``, ``with conn:``)."""
    if ref is None:
        return None
    callee = strip_call(ref)
    name = origin(ix, callee)
    if name in METHOD_DECORATOR and ref[0] == RT.CALL and ref[2]:
        return opener(ix, typer, ref[2][0], helpers)
    if name in ATOMIC or (name and name in helpers):
        return "django"
    if ref[0] == RT.CALL:
        t = typer.type_of(callee)
        if t and t[0] == TK.METHOD:
            base, meth = t[1], t[2]
            if base[0] in SA_KINDS and meth in (EV.BEGIN, "begin_nested"):
                return "sa-nested" if meth == "begin_nested" else "sa"
            if base[0] in (TK.DBCONN, TK.POOL) and meth == "transaction":
                return "django" if base[1] == "django" else "dbapi"
        return None
    t = typer.type_of(ref)
    if t and t[0] == TK.DBCONN and t[1] in ("sqlite3", "psycopg", "psycopg2", "mysql"):
        return "dbapi"
    return None


def stack_of(base) -> Optional[str]:
    """Which transaction model governs a receiver type: django, sa or dbapi."""
    if base is None:
        return None
    if base[0] in DJANGO_KINDS:
        return "django"
    if base[0] in SA_KINDS:
        return "sa"
    if base[0] in DBAPI_KINDS:
        return "django" if len(base) > 1 and base[1] == "django" else "dbapi"
    return None


def db_event(ix, typer, ref) -> Optional[Tuple[str, str, str]]:
    """(kind, stack, what) of a database call: kind is write, query, commit, rollback or begin;
    ``session.execute(insert(...))`` is a write. None for anything else (project calls too)."""
    if ref is None or ref[0] != RT.CALL:
        return None
    _t, ev = typer.call(ref)
    if ev is None or ev[0] == EV.CALL:
        return None
    callee = typer.type_of(ref[1])
    base = callee[1] if callee and callee[0] == TK.METHOD else None
    stack = stack_of(base)
    if stack is None:
        stack = "django" if ev[0] in (EV.QUERY, EV.WRITE) and base is None else None  # get_object_or_404()
    if stack is None:
        return None
    kind = "write" if ev[0] == EV.STAGE else ev[0]  # session.add(): written by the next flush/commit
    if kind in (EV.COMMIT, "rollback") and _savepoint(ref[1]):
        return None  # ``nested = session.begin_nested(); nested.commit()`` releases a savepoint
    if kind == "query" and stack == "sa" and ref[2] and _is_dml(ix, ref[2][0]):
        kind = "write"
    return kind, stack, ev[1]


def _savepoint(callee) -> bool:
    recv = callee[1] if callee is not None and callee[0] == RT.ATTR else None
    return recv is not None and recv[0] == RT.CALL and recv[1] is not None and recv[1][0] == RT.ATTR and \
        recv[1][2] == "begin_nested"


def _is_dml(ix, ref, depth: int = 0) -> bool:
    """``insert(User).values(...)``, ``update(User).where(...)``: the root call is SQL DML."""
    while ref is not None and ref[0] in (RT.CALL, RT.ATTR) and depth < 12:
        if ref[0] == RT.CALL and origin(ix, ref[1]) in SA_DML:
            return True
        ref = ref[1]
        depth += 1
    return False


def is_task(ix, fn) -> bool:
    """A Celery/Dramatiq/Huey/Django task: a decorator named like ``shared_task``/``app.task``."""
    for d in fn.decorators:
        d = strip_call(d)
        if d is None:
            continue
        name = d[2] if d[0] == RT.ATTR else (d[1].rsplit(".", 1)[-1] if d[0] == RT.GLOBAL else "")
        if name in TASK_DECORATORS:
            return True
    return False


def side_effect(ix, typer, ref, extra: Iterable[str] = ()) -> Optional[str]:
    """What a call does outside the database that a rollback cannot take back, or None."""
    if ref is None or ref[0] != RT.CALL:
        return None
    callee = ref[1]
    if callee[0] == RT.CALL and origin(ix, callee[1]) in ASYNC_TO_SYNC and callee[2]:
        callee = callee[2][0]  # async_to_sync(layer.group_send)(...)
    if callee is None:
        return None
    name = origin(ix, callee)
    if name:
        found = _named_effect(name, extra)
        if found:
            return found
    if callee[0] == RT.ATTR:
        return _method_effect(ix, typer, callee[1], callee[2], extra)
    return None


def _named_effect(name: str, extra) -> Optional[str]:
    last = name.rsplit(".", 1)[-1]
    if name in MAIL_FUNCS:
        return f"`{last}()` sends an email"
    if name in PUSH_FUNCS:
        return f"`{last}()` pushes an event to clients"
    if name.split(".")[0] in HTTP_MODULES and name.count(".") == 1 and last in HTTP_VERBS:
        return f"`{name}()` sends an HTTP request"
    if name in extra:
        return f"`{last}()` is a configured side effect"
    return None


def _method_effect(ix, typer, base, meth: str, extra) -> Optional[str]:
    made = made_by(ix, base)
    if meth == "send" and made in MAIL_CLASSES:
        return "`EmailMessage.send()` sends an email"
    if meth in HTTP_VERBS and made in HTTP_CLIENTS:
        return f"`{made.rsplit('.', 1)[-1]}.{meth}()` sends an HTTP request"
    if meth == "publish" and made in REDIS:
        return "`publish()` sends a pub/sub message"
    if meth in ("group_send", "send") and made in CHANNEL_LAYER:
        return f"`channel_layer.{meth}()` sends a Channels message"
    if meth == "send_task" and made in CELERY_APPS:
        return "`send_task()` queues a Celery task"
    if meth in ("delay", "apply_async", "enqueue", "aenqueue", "send", "send_with_options"):
        task = _task_of(ix, typer, base)
        if task is not None:
            return f"`{task}.{meth}()` queues a task"
        if meth in ("delay", "apply_async") and made in CELERY_CANVAS:
            return f"`{made.rsplit('.', 1)[-1]}(...).{meth}()` queues Celery tasks"
    if extra:
        t = typer.type_of(base)
        cls = t[1] if t and t[0] in (TK.OBJ, TK.CLASS) else made
        if cls and f"{cls}.{meth}" in extra:
            return f"`{meth}()` is a configured side effect"
    return None


def _task_of(ix, typer, base) -> Optional[str]:
    """``send_email.delay`` or ``send_email.s(...).apply_async``: the task's name."""
    if base is not None and base[0] == RT.CALL and base[1] is not None and base[1][0] == RT.ATTR \
            and base[1][2] in ("s", "si", "signature"):
        base = base[1][1]
    t = typer.type_of(base)
    if t and t[0] == TK.FUNC:
        fn = ix.functions.get(t[1])
        if fn is not None and is_task(ix, fn):
            return fn.name
    return None


def catches(ix, refs, bare: bool) -> Optional[str]:
    """``db`` when an ``except`` clause names a database error class, ``broad`` for
    ``Exception``/``BaseException``/a bare ``except:``, else None."""
    if bare:
        return "broad"
    kind = None
    for ref in refs:
        name = origin(ix, ref) or ""
        if name in BROAD_ERRORS:
            kind = kind or "broad"
        elif _db_error(name):
            kind = "db"
    return kind


def _db_error(name: str) -> bool:
    head, _, last = name.rpartition(".")
    if head.startswith(("django.db", "sqlalchemy.exc", "sqlalchemy")):
        return last in DB_ERROR_NAMES
    return head.startswith(DB_ERROR_DRIVERS) and (last.endswith(("Error", "Violation")) or ".errors" in head)
