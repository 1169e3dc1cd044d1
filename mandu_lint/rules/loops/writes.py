"""What counts as a write that reaches the database now, for the loop rules.

Not every write *event* is a round trip: SQLAlchemy's ``session.add()``/``delete()`` only stage
an object (the flush at commit sends the rows together, batched), and ``bulk_create``/
``bulk_update``/``bulk_save_objects`` are already one statement per batch. A raw ``execute``
is a write when its statement is an ``insert()``/``update()``/``delete()`` construct or SQL
text that starts with INSERT/UPDATE/DELETE/REPLACE/MERGE.
"""
from __future__ import annotations

import ast
import re
from typing import Optional, Tuple
from ...core.tags import EV, RT, TK
from ...project.flags import at_site, ruled_out

STAGING = frozenset("add add_all delete expunge".split())
# one statement per batch: ``bulk_create``, DB-API ``executemany`` (a list of parameter sets), peewee's
# ``insert_many``; in a loop over groups, each pass sends one batch, not one row
_BULK_NAMES = r"a?bulk_\w*|executemany|insert_many"
BULK = re.compile(rf"^(?:{_BULK_NAMES})$")
BULK_WHAT = re.compile(rf"\b(?:{_BULK_NAMES})\(")  # the same names, in an event's description
SA_DML = {"sqlalchemy.insert", "sqlalchemy.update", "sqlalchemy.delete", "sqlalchemy.sql.insert",
          "sqlalchemy.sql.update", "sqlalchemy.sql.delete", "sqlalchemy.sql.expression.insert",
          "sqlalchemy.sql.expression.update", "sqlalchemy.sql.expression.delete",
          "sqlalchemy.dialects.postgresql.insert", "sqlalchemy.dialects.sqlite.insert",
          "sqlalchemy.dialects.mysql.insert", "sqlmodel.insert", "sqlmodel.update", "sqlmodel.delete"}
WRITE_SQL = re.compile(r"^\s*(insert|update|delete|replace|merge|upsert)\b", re.I)
EXECUTES = frozenset("execute exec exec_driver_sql".split())


def method_name(call: ast.Call) -> str:
    return call.func.attr if isinstance(call.func, ast.Attribute) else ""


def is_staging(ctx, call: ast.Call) -> bool:
    """``session.add(obj)``: stages the object; nothing is sent until the next flush."""
    if method_name(call) not in STAGING:
        return False
    t = ctx.type_of(call.func.value)
    return t is not None and t[0] in (TK.SASESSION, TK.FSA)


def is_bulk(call: ast.Call) -> bool:
    return bool(BULK.match(method_name(call)))


def is_flush(ctx, call: ast.Call) -> bool:
    if method_name(call) != "flush":
        return False
    t = ctx.type_of(call.func.value)
    return t is not None and t[0] == TK.SASESSION


def dml_statement(ctx, call: ast.Call) -> Optional[str]:
    """``"INSERT"``/``"UPDATE"``/… when an ``execute`` call runs a data-changing statement."""
    if method_name(call) not in EXECUTES or not call.args:
        return None
    stmt = call.args[0]
    if isinstance(stmt, ast.Name):
        stmt = ctx.scope.value_of(stmt.id) or stmt
    text = _sql_text(stmt)
    if text is not None:
        m = WRITE_SQL.match(text)
        return m.group(1).upper() if m else None
    verb, node = _construct(stmt, _DML_VERBS)
    if verb is not None:
        return verb.upper()  # ``table.insert()``
    if isinstance(node, ast.Call):
        t = ctx.type_of(node.func)
        if t is not None and t[0] == TK.EXT and t[1] in SA_DML:
            return t[1].rsplit(".", 1)[-1].upper()
    return None


_DML_VERBS = ("insert", "update", "delete")


def _construct(stmt: ast.AST, verbs) -> Tuple[Optional[str], ast.AST]:
    """Walk a SQLAlchemy construct's method chain (``update(t).where(…).values(…)``) down to
    where it starts: ``(verb, table)`` for ``table.delete()`` (a method of ``verbs`` without
    arguments), else ``(None, root)`` — the innermost expression, ``update(t)`` here."""
    node = stmt
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr in verbs and not node.args:
            return node.func.attr, node.func.value
        node = node.func.value
    return None, node


_TABLE_BEFORE = re.compile(r"\b(from|into|update|table|join)\s*[\"'`\[]?$", re.I)


def table_per_pass(ctx, call: ast.Call, targets) -> bool:
    """``for table in tables: cur.execute(f"DELETE FROM {table}")``: the loop names the table
    of each statement; a statement per table, not a round trip per row."""
    if not call.args or not targets:
        return False
    stmt = call.args[0]
    if isinstance(stmt, ast.Name):
        stmt = ctx.scope.value_of(stmt.id) or stmt
    if not isinstance(stmt, ast.JoinedStr):
        return _construct_of_target(ctx, stmt, targets)
    before = ""
    for part in stmt.values:
        if isinstance(part, ast.Constant):
            before = str(part.value)
        elif isinstance(part, ast.FormattedValue):
            if _TABLE_BEFORE.search(before) and _of_target(ctx, part.value, targets):
                return True
            before = ""
    return False


def _construct_of_target(ctx, stmt: ast.AST, targets) -> bool:
    """``for model in (Order, Invoice): session.execute(update(model).where(...))``: a
    SQLAlchemy statement built on the loop's model or table (``update(model)``,
    ``select(table)``, ``table.delete()``) targets another table on each pass."""
    verb, node = _construct(stmt, _DML_VERBS + ("select",))
    if verb is not None:
        return _of_target(ctx, node, targets)  # ``table.delete()``
    if not (isinstance(node, ast.Call) and node.args):
        return False
    t = ctx.type_of(node.func)
    if t is None or t[0] != TK.EXT or not t[1].startswith(("sqlalchemy.", "sqlmodel.")) \
            or t[1].rsplit(".", 1)[-1] not in ("insert", "update", "delete", "select"):
        return False
    return _of_target(ctx, node.args[0], targets)


def _of_target(ctx, node: ast.AST, targets) -> bool:
    """The loop variable, something taken from it (``model.__table__``) or a local taken from it
    (``table_name = table[0]``, ``name = table.name``): the table the pass is about."""
    while isinstance(node, (ast.Subscript, ast.Attribute)):
        node = node.value
    if not isinstance(node, ast.Name):
        return False
    if node.id in targets:
        return True
    value = ctx.scope.value_of(node.id)
    while isinstance(value, (ast.Subscript, ast.Attribute)):
        value = value.value
    return isinstance(value, ast.Name) and value.id in targets


def _sql_text(node: ast.AST) -> Optional[str]:
    if isinstance(node, ast.Call) and node.args and getattr(node.func, "id", getattr(node.func, "attr", "")) == "text":
        node = node.args[0]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        return str(node.values[0].value)
    return None


def function_writes(index, func: str, depth: int = 0, seen=None, flags=None) -> Optional[Tuple[str, str, int]]:
    """The first write a project function sends, directly or through project calls:
    (what, function, line). Staging calls and bulk operations do not count, nor writes that the
    flag values of the call (``flags``: ``create(obj)`` with ``flush=False``) rule out."""
    seen = set() if seen is None else seen
    if func in seen or depth > 1:  # the helper or what it calls directly: deeper writes are rare branches
        return None
    seen.add(func)
    fn = index.functions.get(func)
    if fn is None:
        return None
    typer = index.typer
    for ref, line, col in fn.calls:
        if ruled_out(fn, line, col, flags):
            continue
        ev = typer.event(ref)
        if ev is None:
            continue
        name = ref[1][2] if ref[1] is not None and ref[1][0] == RT.ATTR else ""
        staged = name in STAGING and (typer.type_of(ref[1][1]) or ("",))[0] in (TK.SASESSION, TK.FSA)
        if ev[0] == EV.WRITE and not staged and not BULK.match(name):
            return ev[1], func, line
        if ev[0] == EV.CALL and ev[1] != func:
            inner = function_writes(index, ev[1], depth + 1, seen, at_site(index, fn, ev[1], ref, line, col, flags))
            if inner is not None:
                return inner
    return None


ROW_WRITES = frozenset("save delete asave adelete".split())


def param_write(index, func: str, param: str) -> Optional[Tuple[str, str, int]]:
    """``def save_title(book, title): ... book.save()``: the helper writes the row it is given,
    even when its parameter has no annotation the typer could follow."""
    fn = index.functions.get(func)
    if fn is None:
        return None
    for ref, line, _col in fn.calls:
        callee = ref[1] if ref is not None and ref[0] == RT.CALL else None
        if callee is not None and callee[0] == RT.ATTR and callee[2] in ROW_WRITES \
                and callee[1] == (RT.PARAM, func, param):
            return f"{param}.{callee[2]}()", func, line
    return None


def bulk_fallback(ctx, frame) -> bool:
    """The loop is the row-by-row fallback in the ``except`` of a failed bulk write
    (``try: bulk_create(rows) except …: for row in rows: row.save()``): it runs only when the
    batch failed, to keep the good rows and isolate the bad ones. The ids of the nodes inside
    such handlers are computed once per function, in the file's memo the loop rules share."""
    func = ctx.function
    if func is None:
        return False
    memo_key = ("loops.bulk_fallback", id(func))
    nodes = ctx.memo.get(memo_key)
    if nodes is None:
        nodes = ctx.memo[memo_key] = set()
        for t in ast.walk(func):
            if isinstance(t, ast.Try) and any(isinstance(c, ast.Call) and (is_bulk(c) or method_name(c) in
                                                                           ("executemany", "insert_many"))
                                              for stmt in t.body for c in ast.walk(stmt)):
                nodes.update(id(n) for h in t.handlers for n in ast.walk(h))
    return id(frame.node) in nodes
