"""MDB203: a database engine, session factory, connection or pool created per request or per
loop iteration instead of once per process."""
from __future__ import annotations

import ast
from typing import Dict, Optional, Set

from .analysis import layer_map
from ...core.refs import iter_local_nodes
from .clients import (client_created, creates_client, depends_target, describe, per_request_worthy,
                      request_scoped)
from ...model import Location, Span
from ..base import Rule
from ...core.messages import brief
from ...core.tags import EV
from ...project.contexts import REQUEST, TASK

ONCE = ("create it once per process (module level, the app factory or lifespan, or an `lru_cache`d "
        "dependency) and check connections out of it per request")


class ClientPerCall(Rule):
    """
    ## What it does
    Finds database clients built where code runs per request or per loop iteration:
    `create_engine`/`create_async_engine`, `sessionmaker`/`async_sessionmaker`,
    `psycopg.connect`, `psycopg2.connect`, `asyncpg.connect`/`create_pool`, `psycopg_pool` pools,
    MySQL drivers' `connect` — inside a route handler (FastAPI, Starlette, Flask, Litestar, DRF
    `@api_view`), a method of a class-based view, a function view (taking `request` first, in a
    `views` module or a handler-layer module), a FastAPI dependency, or a function of the same
    module they call; or inside a loop. A
    request handler that calls a project function (or declares a `Depends(...)`) building a new
    client on every call is reported at that call.

    Primary location: the call that creates the client, or the call in the request handler that
    reaches a function creating one.

    ## Why is this bad?
    An engine is a connection pool: building one per request opens a new TCP connection and
    authentication handshake every time, never reuses them, and leaks pools until the database
    refuses connections (`too many clients`). A `sessionmaker` per request rebuilds
    configuration for nothing. Connections belong to a process-wide pool; requests borrow them.

    ## Known problems
    Confidence: reported at `medium` (`--confidence medium`): a blind triage of 15 unseen apps
    found none of its 10 findings true (in-process SQLite engines opened per request on purpose,
    engines for a user-supplied connection string, reconnect endpoints).
    A function is per request only when this file shows it (a decorator, a view class, a
    `request` parameter in a views or handler module, a `Depends` in this module): a helper
    called only from other modules is judged at their call sites, and app factories and
    lifespans are never per request. Factories decorated with a cache (`lru_cache`, `cache`), and
    functions that store the client in a `global`, on `self` or on another object (`app.state`),
    are treated as creating it once. `sqlite3.connect` per request is the documented pattern and
    is reported only inside loops. Loops whose connect arguments change per iteration (one
    database per tenant) are not reported. Sessions (`Session(engine)`, `SessionLocal()`) are per
    request by design and never reported.

    ## Example
    ```python
    @router.get("/orders")
    def list_orders():
        engine = create_engine(settings.DATABASE_URL)
        with Session(engine) as session:
            return session.scalars(select(Order)).all()
    ```

    ## Use instead
    ```python
    engine = create_engine(settings.DATABASE_URL)

    @router.get("/orders")
    def list_orders():
        with Session(engine) as session:
            return session.scalars(select(Order)).all()
    ```

    ## Fix safety
    No automatic fix: where the client should live (module, lifespan, app state) is the
    application's choice.
    """

    code = "MDB203"
    name = "db-client-per-call"
    summary = "Database engine, pool or connection created per request or per loop iteration"
    precision = "medium"  # holdout (15 unseen apps, blind triage, 2026-12-04): too few findings true
    high_in = frozenset({REQUEST, TASK})
    tags = ("performance", "lifecycle")

    BAD = [
        {
            "app/db.py": """
import psycopg2

def get_conn():
    return psycopg2.connect("dbname=app")
""",
            "app/api.py": """
from fastapi import APIRouter, Depends
from sqlalchemy import create_engine
from app.db import get_conn

router = APIRouter()

def make_engine():
    return create_engine("postgresql://app")  # error

@router.get("/orders")
def list_orders():
    engine = make_engine()
    conn = get_conn()  # error
    return conn

@router.post("/import")
def import_rows(rows, conn=Depends(get_conn)):  # error
    for row in rows:
        e = create_engine("postgresql://app")  # error
""",
        },
    ]
    GOOD = [
        {
            "app/api.py": """
import sqlite3
from functools import lru_cache
from fastapi import APIRouter, Depends
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

engine = create_engine("postgresql://app")
SessionLocal = sessionmaker(bind=engine)
router = APIRouter()
_pool = None

@lru_cache
def get_engine():
    return create_engine("postgresql://app")

def get_pool():
    global _pool
    if _pool is None:
        _pool = create_engine("postgresql://app")
    return _pool

def create_app(app):
    app.state.engine = create_engine("postgresql://app")

def migrate_all(tenants):
    for dsn in tenants:
        create_engine(dsn)              # one database per tenant, in a script

@router.get("/orders")
def list_orders(e=Depends(get_engine)):
    with Session(engine) as session, SessionLocal() as other:
        get_pool()
        return sqlite3.connect("app.db")  # sqlite: per request is fine
""",
        },
    ]

    def __init__(self, ctx):
        super().__init__(ctx)
        self.lmap = layer_map(ctx.project.settings)
        self._scoped: Optional[Dict[str, str]] = None
        self.exempt: Set[int] = set()
        self.globals: Dict[str, Set[str]] = {}

    @property
    def scoped(self) -> Dict[str, str]:
        if self._scoped is None:
            self._scoped = request_scoped(self.ctx, self.lmap)
        return self._scoped

    # -- where a created client is kept ---------------------------------------------------------
    def visit_FunctionDef(self, node) -> None:
        qual = ".".join(self.ctx.qual + [node.name])
        self.globals[qual] = {n for sub in iter_local_nodes(node.body) if isinstance(sub, (ast.Global, ast.Nonlocal))
                              for n in sub.names}
        args = node.args
        for a in args.posonlyargs + args.args + args.kwonlyargs:
            for sub in ast.walk(a.annotation) if a.annotation is not None else ():
                if isinstance(sub, ast.Call):  # ``Annotated[X, Depends(f)]``: the engine skips signatures
                    self._depends(sub)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Assign(self, node) -> None:
        value = node.value.value if isinstance(node.value, ast.Await) else node.value
        if not isinstance(value, ast.Call):
            return
        kept = self.globals.get(self.ctx.scope.func or "", set())
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if any(isinstance(t, (ast.Attribute, ast.Subscript)) or (isinstance(t, ast.Name) and t.id in kept)
               for t in targets):
            self.exempt.add(id(value))

    visit_AnnAssign = visit_Assign

    # -- calls ----------------------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        ref, _t, ev = self.ctx.call_info(node)
        made = client_created(self.ctx.typer, ref)
        if made is not None:
            self._created(node, made[0])
        elif ev is not None and ev[0] == EV.CALL:
            self._helper(node, ev[1])
        else:
            self._depends(node)

    def _created(self, node: ast.Call, t: tuple) -> None:
        if id(node) in self.exempt:
            return
        frame = self._loop(node)
        if frame is not None:
            self.report(node, f"`{brief(node)}` {describe(t)} on every iteration of the loop on line "
                              f"{frame.node.lineno}; create it once before the loop")
            return
        why = self._per_request()
        if why is not None and per_request_worthy(t):
            self.report(node, f"`{brief(node)}` {describe(t)} on every request ({why}); {ONCE}")

    def _helper(self, node: ast.Call, qual: str) -> None:
        found = creates_client(self.ctx.index, qual)
        if found is None or id(node) in self.exempt:
            return
        frame = self._loop(node)
        if frame is not None:
            self.report(node, f"`{brief(node)}` {describe(found[0])} on every iteration of the loop on line "
                              f"{frame.node.lineno} ({self._site(found)}); create it once before the loop",
                        related=self._related(found))
        elif qual not in self.ctx.facts.functions:
            why = self._per_request()
            if why is not None:
                self.report(node, f"`{brief(node)}` {describe(found[0])} on every request ({why}; "
                                  f"{self._site(found)}); {ONCE}", related=self._related(found))

    def _depends(self, node: ast.Call) -> None:
        target = depends_target(self.ctx.index, self.ctx.ref(node))
        if target is None or target in self.ctx.facts.functions:
            return  # a dependency of this module is judged where it creates the client
        found = creates_client(self.ctx.index, target)
        if found is not None:
            self.report(node, f"dependency `{target.rsplit('.', 1)[-1]}` {describe(found[0])} on every request "
                              f"({self._site(found)}); {ONCE}", related=self._related(found))

    # -- helpers ----------------------------------------------------------------------------------
    def _loop(self, node: ast.Call):
        """The innermost reporting loop, unless the call's arguments change per iteration."""
        frame = self.ctx.reporting_frame()
        if frame is None:
            return None
        varying = set(frame.targets) | frame.assigned
        used = {n.id for a in list(node.args) + [k.value for k in node.keywords] for n in ast.walk(a)
                if isinstance(n, ast.Name)}
        return None if used & varying else frame

    def _per_request(self) -> Optional[str]:
        parts = self.ctx.qual
        for i in range(len(parts), 1, -1):
            why = self.scoped.get(".".join(parts[:i]))
            if why is not None:
                return why
        return None

    def _site(self, found: tuple) -> str:
        path = self.ctx.index.func_path.get(found[2], "")
        return f"`{found[2].rsplit('.', 1)[-1]}` calls `{found[1]}` at {path}:{found[3]}" if path else \
            f"`{found[2]}` calls `{found[1]}`"

    def _related(self, found: tuple):
        path = self.ctx.index.func_path.get(found[2], "")
        if not path:
            return ()
        abspath = str(self.ctx.project.root / path)
        return (Location(abspath, Span(found[3], 0, found[3], 0), f"{found[1]} in {found[2]}"),)
