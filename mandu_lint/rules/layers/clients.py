"""Which code runs once per request, and which calls create a database client.

A database client (an engine and its pool, a session factory, a driver connection, a pool) is
meant to live as long as the process; code that runs per request should check a connection out
of it, never build a new one. This module answers the two questions MDB203 needs:

- *per request*: route handlers (FastAPI/Starlette/Flask/Litestar decorators, DRF `@api_view`),
  methods of class-based views, function views (``request`` first, in a ``views`` module or a
  handler-layer module), FastAPI dependencies (`Depends(fn)`), and functions of the same module
  they call;
- *creates a client*: a call of a known factory (``create_engine``, ``sessionmaker``,
  ``psycopg2.connect``, ``asyncpg.create_pool``… from the typer's ``CALL_RESULT``), or of a project
  function that makes one on every call (not memoized, not cached in a global or on ``self``).

Only the current file's functions are judged per request (callers in other files would make a
file's findings depend on files it does not import, which the findings cache cannot track); a
handler reaching a client factory in another module is reported at its call instead.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

from ...core.refs import decorator_name, dotted
from ...project.types import CALL_RESULT, DEPENDS
from ...core.tags import EV, RT, TK

CLIENT_KINDS = ("saengine", "samaker", "dbconn", "pool")
DEPENDS_ALL = DEPENDS | {"fastapi.Security", "fastapi.params.Security"}
ROUTERS = {"fastapi.APIRouter", "fastapi.FastAPI", "fastapi.routing.APIRouter", "fastapi.applications.FastAPI",
           "starlette.routing.Router", "starlette.applications.Starlette", "flask.Flask", "flask.Blueprint",
           "flask.app.Flask", "flask.blueprints.Blueprint", "quart.Quart", "quart.Blueprint",
           "ninja.NinjaAPI", "ninja.Router", "sanic.Sanic", "sanic.Blueprint"}
ROUTE_METHODS = {"get", "post", "put", "patch", "delete", "head", "options", "trace", "route", "api_route",
                 "websocket", "api_view"}
ROUTE_DECORATORS = {"rest_framework.decorators.api_view", "litestar.get", "litestar.post", "litestar.put",
                    "litestar.patch", "litestar.delete", "litestar.route", "litestar.websocket"}
VIEW_BASES = ("django.views.", "django.contrib.admin.", "rest_framework.views.", "rest_framework.generics.",
              "rest_framework.viewsets.", "flask.views.", "starlette.endpoints.", "litestar.Controller",
              "litestar.controller.")
_DEPTH = 4


def client_created(typer, call_ref) -> Optional[Tuple[tuple, str]]:
    """(client type, factory name) when ``call_ref`` calls a known client factory."""
    if call_ref is None or call_ref[0] != RT.CALL:
        return None
    callee = typer.type_of(call_ref[1])
    if callee is not None and callee[0] == TK.EXT:
        t = CALL_RESULT.get(callee[1])
        if t is not None and t[0] in CLIENT_KINDS:
            return t, callee[1]
    return None


def describe(t: tuple) -> str:
    """What creating a client of type ``t`` does, for messages."""
    if t[0] == TK.SAENGINE:
        return "creates a SQLAlchemy engine (and its connection pool)"
    if t[0] == TK.SAMAKER:
        return "creates a session factory"
    if t[0] == TK.POOL:
        return f"creates a {t[1]} connection pool"
    return f"opens a new {t[1]} connection"


def per_request_worthy(t: tuple) -> bool:
    """sqlite3 has no server round trip and no pool: one connection per request is the
    documented pattern (Flask's ``g.db``), so only loops count for it."""
    return not (t[0] == TK.DBCONN and t[1] == "sqlite3")


def memoized(fn) -> bool:
    for d in fn.decorators:
        name = decorator_name(d)
        if "cache" in name or "memoiz" in name or name in ("singleton", "once"):
            return True
    return False


def caches_value(fn) -> bool:
    """Keeps what it builds across calls: ``global _engine`` (or ``nonlocal``), ``@lru_cache``."""
    return memoized(fn) or bool(getattr(fn, "global_names", ()))


# -- per-call client factories across the project ---------------------------------------------
def creates_client(index, qual: str, depth: int = 0) -> Optional[tuple]:
    """``(client type, factory, function qual, line)`` when calling project function ``qual``
    builds a new database client every time (directly or through project calls), else None."""
    table = index.derived("layers.creates_client", dict)
    if qual in table:
        return table[qual]
    table[qual] = None  # cycle guard
    fn = index.functions.get(qual)
    found = None
    if fn is not None and not caches_value(fn) and depth < _DEPTH:
        stored = {ref for _name, ref in fn.self_assigns}
        for ref, line, _col in fn.calls:
            made = client_created(index.typer, ref)
            if made is not None:
                if ref not in stored and per_request_worthy(made[0]):
                    found = (made[0], made[1], qual, line)
                    break
                continue
            ev = index.typer.event(ref)
            if ev is not None and ev[0] == EV.CALL and ev[1] != qual:
                inner = creates_client(index, ev[1], depth + 1)
                if inner is not None:
                    found = inner
                    break
    table[qual] = found
    return found


# -- what runs per request in one file --------------------------------------------------------
def request_scoped(ctx, lmap) -> Dict[str, str]:
    """Function qual -> why it runs per request, for the functions of ``ctx``'s file."""
    key = ("request_scoped",)
    memo = getattr(ctx, "memo", None)
    if memo is not None and key in memo:
        return memo[key]
    facts, ix = ctx.facts, ctx.index
    in_handler = lmap.configured and lmap.layer_of(ctx.relpath) == "handler"
    out: Dict[str, str] = {}
    for qual, fn in facts.functions.items():
        if memoized(fn):
            continue
        why = _why_per_request(ix, fn, ctx.relpath, in_handler)
        if why:
            out[qual] = why
    for qual in _depends_targets(ix, facts):
        if qual in facts.functions and not memoized(facts.functions[qual]):
            out.setdefault(qual, f"`{facts.functions[qual].name}` is a FastAPI dependency")
    _close_over_calls(ix, facts, out)
    if memo is not None:
        memo[key] = out
    return out


def _why_per_request(ix, fn, relpath: str, in_handler: bool) -> Optional[str]:
    """Decorators and base classes say so; a function taking ``request`` first is a view in a
    ``views`` module or a handler-layer module (an app factory or lifespan there is not)."""
    for d in fn.decorators:
        if d is not None and d[0] == RT.CALL and _is_route(ix, d[1]):
            return f"`{fn.name}` is a route handler"
    if fn.cls is not None and any(a.startswith(VIEW_BASES) for a in ix.mro(fn.cls)[1:]):
        return f"`{fn.name}` is a method of a view class"
    parts = relpath[:-3].split("/")
    if fn.cls is None and fn.params and fn.params[0][0] == "request" and (in_handler or "views" in parts):
        return f"`{fn.name}` is a view"
    return None


def _is_route(ix, callee) -> bool:
    name = dotted(callee)
    if name is not None and ix.canonical(name) in ROUTE_DECORATORS:
        return True
    if callee[0] != RT.ATTR or callee[2] not in ROUTE_METHODS:
        return False
    return is_router(ix, callee[1])


def is_router(ix, ref) -> bool:
    """``router``/``app``/``bp`` built from a known router class (or a project subclass)."""
    t = ix.typer.type_of(ref)
    if t is not None and t[0] == TK.OBJ:
        return any(c in ROUTERS for c in ix.mro(t[1]))
    if ref is not None and ref[0] == RT.GLOBAL:
        val = ix.assigns.get(ix.canonical(ref[1]))
        if val is not None and val[0] == RT.CALL:
            name = dotted(val[1])
            return name is not None and ix.canonical(name) in ROUTERS
    return False


def depends_target(ix, ref) -> Optional[str]:
    """The project function a ``Depends(fn)`` call ref names, or None."""
    if ref is None or ref[0] != RT.CALL:
        return None
    callee = ix.typer.type_of(ref[1])
    if callee is None or callee[0] != TK.EXT or callee[1] not in DEPENDS_ALL:
        return None
    arg = ref[2][0] if ref[2] else dict(ref[3]).get("dependency")
    t = ix.typer.type_of(arg) if arg is not None else None
    return t[1] if t is not None and t[0] == TK.FUNC else None


def _depends_targets(ix, facts):
    refs = list(facts.assigns.values())
    for fn in facts.functions.values():
        for _name, ann, default in fn.params:
            refs += [ann, default]
    for ref in refs:
        for sub in _subrefs(ref):
            target = depends_target(ix, sub)
            if target is not None:
                yield target


def _subrefs(ref, depth: int = 0):
    """``ref`` and the refs nested in it (``Annotated`` metadata, call arguments)."""
    if ref is None or depth > 6 or not isinstance(ref, tuple):
        return
    yield ref
    if ref[0] == RT.ANNOTATED:
        for meta in ref[2]:
            yield from _subrefs(meta, depth + 1)
    elif ref[0] == RT.CALL:
        for arg in ref[2]:
            yield from _subrefs(arg, depth + 1)


def _close_over_calls(ix, facts, out: Dict[str, str]) -> None:
    """Functions of the same module that per-request functions call also run per request."""
    todo = list(out)
    while todo:
        caller = todo.pop()
        fn = facts.functions.get(caller)
        for ref, line, _col in (fn.calls if fn is not None else ()):
            ev = ix.typer.event(ref)
            callee = ev[1] if ev is not None and ev[0] == EV.CALL else None
            if callee in facts.functions and callee not in out and not memoized(facts.functions[callee]):
                out[callee] = f"`{fn.name}` calls it on line {line}, and runs per request"
                todo.append(callee)
