"""MDB204: a connection, cursor or session opened in a function and not closed on every path."""
from __future__ import annotations

import ast
from typing import Dict, List, NamedTuple, Optional, Tuple

from .leaks import escapes, find_leak, stores
from .clients import client_created
from .fix import edits_of, plan_wrap
from ...model import Edit, Fix, FixSafety
from ...project.types import INSTANCE_OF
from ..base import Rule
from ...core.messages import brief
from ...core.tags import RT, TK

_SESSION_CLASSES = {k for k, v in INSTANCE_OF.items() if v == (TK.SASESSION,) and "scoped" not in k}
_CLOSING = "contextlib.closing({})"
_WITH = "{}"
# (kind, driver) -> (with-item template, `with x:` closes it, fix keeps commit behaviour)
_HOW = {
    ("connection", "sqlite3"): (_CLOSING, False, True),
    ("connection", "psycopg2"): (_CLOSING, False, True),
    ("connection", "mysql"): (_CLOSING, False, True),
    ("connection", "psycopg"): (_WITH, True, False),  # psycopg 3's ``with`` commits at exit
    ("cursor", "sqlite3"): (_CLOSING, False, True),
    ("cursor", "mysql"): (_CLOSING, False, True),
    ("cursor", "psycopg2"): (_WITH, True, True),
    ("cursor", "psycopg"): (_WITH, True, True),
    ("cursor", "django"): (_WITH, True, True),
    ("session", "sqlalchemy"): (_WITH, True, True),
    ("connection", "sqlalchemy"): (_WITH, True, True),
}


class Opened(NamedTuple):
    stmt: ast.stmt
    call: ast.Call
    var: str
    kind: str  # connection | cursor | session | pooled connection
    driver: str
    awaited: bool


class ConnectionLeak(Rule):
    """
    ## What it does
    Finds a connection (`sqlite3.connect`, `psycopg2.connect`, `psycopg.connect`,
    `asyncpg.connect`, MySQL drivers, SQLAlchemy `engine.connect()`), a cursor on a long-lived
    connection (`connection.cursor()` in Django, a connection passed in), a SQLAlchemy session
    (`Session(engine)`, `SessionLocal()`) or a pooled connection (`pool.acquire()`,
    `pool.getconn()`) that a function opens into a local variable and leaves open on some way
    out of the function: falling off its end, an early `return`, an explicit `raise`, or the
    next iteration of a loop.

    Primary location: the statement that opens it.

    ## Why is this bad?
    An unclosed connection holds a server slot (and, inside a transaction, its locks) until the
    garbage collector finds it; a pooled one is never returned to the pool, which runs dry under
    load. sqlite3 and psycopg2 connections used as `with conn:` only commit or roll back — they
    stay open. `contextlib.closing` (or the object's own `with`, where it closes) makes closing
    unconditional.

    ## Known problems
    Opt-in (select it by code: `--select MDB204`): over the ten blind holdout rounds, 1 of 70
    judged `medium` findings were true, too few to show it even in the `medium` audit output.
    Silent when ownership moves on: the object is returned, yielded, stored (`self.conn = conn`,
    a container), passed to a function, or captured by a nested function; for temporaries such
    as `conn.execute(...).fetchone()`; and when the variable is assigned more than once.
    Exceptions raised by calls are not counted as paths (an explicit `raise` is). A cursor of a
    connection the same function opens is left to the connection's finding.

    ## Example
    ```python
    def count_users(path):
        conn = sqlite3.connect(path)
        row = conn.execute("SELECT count(*) FROM users").fetchone()
        if row is None:
            return 0
        conn.close()
        return row[0]
    ```

    ## Use instead
    ```python
    import contextlib

    def count_users(path):
        with contextlib.closing(sqlite3.connect(path)) as conn:
            row = conn.execute("SELECT count(*) FROM users").fetchone()
            if row is None:
                return 0
        return row[0]
    ```

    ## Fix safety
    The fix wraps the opening statement and the statements after it that use the object (in
    the same block) in `with contextlib.closing(...) as x:` for sqlite3, psycopg2 and MySQL
    connections and sqlite3 cursors (their own `with` commits but does not close), and in the
    object's own `with` for SQLAlchemy sessions and connections and psycopg/Django cursors; a
    trailing `x.close()` is dropped. It is safe when that block is straight-line (no `return`,
    `raise`, `yield` or jump out of it) and nothing it assigns is read after it (an ORM object
    used after its session closes would be detached); otherwise it is unsafe. For psycopg 3
    connections the fix uses `with psycopg.connect(...)`, which commits at exit, and is always
    unsafe. No fix is offered for asyncpg and pooled connections.
    """

    code = "MDB204"
    name = "connection-leak"
    summary = "Connection, cursor or session not closed on every path"
    precision = "medium"  # blind triage of real apps: too many findings immaterial or wrong for a default
    default = False  # opt-in: 1 of 70 judged findings true over holdout rounds 1-10 (`medium`, blind)
    tags = ("reliability", "lifecycle")
    fixable = True

    BAD = [
        """
import sqlite3
from django.db import connection
from sqlalchemy.orm import Session, sessionmaker

SessionLocal = sessionmaker()

def count_users(path):
    conn = sqlite3.connect(path)  # error
    row = conn.execute("SELECT count(*) FROM users").fetchone()
    if row is None:
        return 0
    conn.close()
    return row[0]

def names():
    cursor = connection.cursor()  # error
    cursor.execute("SELECT name FROM users")
    return [r[0] for r in cursor.fetchall()]

def rename(user_id, name):
    session = SessionLocal()  # error
    session.execute("UPDATE users SET name = :n", {"n": name})
    session.commit()
""",
    ]
    GOOD = [
        """
import contextlib
import sqlite3
from sqlalchemy.orm import Session, sessionmaker

SessionLocal = sessionmaker()

def closed(path):
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return conn.execute("SELECT 1").fetchone()

def finally_closed(path):
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT 1").fetchone()
    finally:
        conn.close()

def handed_over(path):
    conn = sqlite3.connect(path)
    return conn

def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()

def temporary(path):
    return sqlite3.connect(path).execute("SELECT 1").fetchone()

def session_with(engine):
    with Session(engine) as session:
        session.commit()
""",
    ]

    def __init__(self, ctx):
        super().__init__(ctx)
        self.opened: Dict[int, List[Opened]] = {}  # id(def node) -> handles it opens

    def leave_FunctionDef(self, node) -> None:
        for item in self.opened.pop(id(node), ()):
            self._judge(node, item)

    leave_AsyncFunctionDef = leave_FunctionDef

    def visit_Assign(self, node) -> None:
        func = self.ctx.function
        if func is None or self.ctx.scope.func != self.ctx.scope_name:
            return
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if len(targets) != 1 or not isinstance(targets[0], ast.Name) or node.value is None:
            return
        value = node.value
        awaited = isinstance(value, ast.Await)
        call = value.value if awaited else value
        if isinstance(call, ast.Call):
            kind = self._kind(call)
            if kind is not None:
                opened = Opened(node, call, targets[0].id, kind[0], kind[1], awaited)
                self.opened.setdefault(id(func), []).append(opened)

    visit_AnnAssign = visit_Assign

    def _kind(self, call: ast.Call) -> Optional[Tuple[str, str]]:
        """(kind, driver) of what the call opens, or None."""
        typer = self.ctx.typer
        ref, result, _ev = self.ctx.call_info(call)
        made = client_created(typer, ref)
        if made is not None:
            return ("connection", made[0][1]) if made[0][0] == TK.DBCONN else None
        if ref is None or ref[0] != RT.CALL:
            return None
        callee = typer.type_of(ref[1])
        if callee is None:
            return None
        from_maker = callee[0] == TK.SAMAKER or (callee[0] == TK.EXT and callee[1] in _SESSION_CLASSES)
        if result == (TK.SASESSION,) and from_maker:
            return "session", "sqlalchemy"
        if callee[0] != TK.METHOD:
            return None
        base, name = callee[1], callee[2]
        if base[0] == TK.DBCONN and name == "cursor" and ref[1][1][0] != RT.CALL:
            return TK.CURSOR, base[1]  # a cursor of a connection that outlives this function
        if base[0] == TK.SAENGINE and name == "connect":
            return "connection", "sqlalchemy"
        if base[0] == TK.POOL and name in ("acquire", "getconn"):
            return "pooled connection", base[1]
        return None

    def _judge(self, func: ast.AST, op: Opened) -> None:
        if stores(func, op.var) != 1 or escapes(func, op.var):
            return
        how = _HOW.get((op.kind, op.driver))
        leak = find_leak(func, op.stmt, op.var, with_closes=bool(how and how[1]))
        if leak is None:
            return
        where = {"return": f"returns on line {leak.node.lineno}", "raise": f"raises on line {leak.node.lineno}",
                 "end": "ends", "loop": f"starts the next iteration of the loop on line {leak.node.lineno}"}[leak.how]
        what = f"{op.driver} {op.kind}" if op.driver not in ("sqlalchemy", "django") else \
            {"sqlalchemy": "SQLAlchemy ", "django": "Django "}[op.driver] + op.kind
        hint = f" (`with {op.var}:` only ends a transaction)" if how and not how[1] and _with_over(func, op.var) else ""
        article = "an" if what[0] in "aeiou" else "a"
        close = f"{'await ' if op.awaited else ''}{op.var}.close()"
        self.report(op.stmt, f"`{op.var} = {brief(op.call)}` opens {article} {what} that is still open when the "
                             f"function {where}{hint}; close it with a `with` block or `finally: {close}`",
                    fix=self._fix(func, op, how))

    def _fix(self, func: ast.AST, op: Opened, how) -> Optional[Fix]:
        if how is None or (op.awaited and not isinstance(func, ast.AsyncFunctionDef)):
            return None
        is_async = isinstance(func, ast.AsyncFunctionDef) and op.driver == "sqlalchemy"
        if op.awaited and not is_async:
            return None
        lines = self.ctx.source.splitlines()
        wrap = plan_wrap(lines, func, op.stmt, op.call, op.var, how[0], is_async, orm=op.driver == "sqlalchemy")
        if wrap is None:
            return None
        safe = how[2] and wrap.straight
        label = "contextlib.closing" if how[0] is _CLOSING else "its own `with`"
        desc = f"wrap `{op.var}` and the code using it in a `with` block ({label})"
        edits = tuple(Edit(span, text) for span, text in edits_of(wrap, op.stmt, self.ctx.span))
        imports = (("contextlib", None),) if how[0] is _CLOSING else ()
        return Fix(FixSafety.SAFE if safe else FixSafety.UNSAFE, desc, edits, imports)


def _with_over(func: ast.AST, var: str) -> bool:
    return any(isinstance(n, ast.withitem) and isinstance(n.context_expr, ast.Name) and n.context_expr.id == var
               for n in ast.walk(func))
