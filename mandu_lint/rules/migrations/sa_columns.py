"""SQLAlchemy column, type and constraint expressions in Alembic revisions, read statically.

``sa.Column("title", sa.String(length=50), nullable=False, server_default="")`` becomes a
``ColumnState`` with the canonical type names ``ddl.py`` uses, so a column created by Alembic
and altered by raw SQL compares cleanly. SQLAlchemy columns are nullable unless they say
otherwise or are a primary key.
"""
from __future__ import annotations

import ast
from typing import List, Optional, Tuple

from . import pyast
from .schema import ColumnState, ConstraintState

SA_TYPES = {
    "String": "varchar", "VARCHAR": "varchar", "Unicode": "varchar", "NVARCHAR": "varchar", "AutoString": "varchar",
    "CHAR": "char", "Text": "text", "TEXT": "text", "UnicodeText": "text", "Integer": "integer",
    "INTEGER": "integer", "INT": "integer", "BigInteger": "bigint", "BIGINT": "bigint", "SmallInteger": "smallint",
    "SMALLINT": "smallint", "Boolean": "boolean", "BOOLEAN": "boolean", "DateTime": "timestamp",
    "TIMESTAMP": "timestamp", "Date": "date", "DATE": "date", "Time": "time", "TIME": "time",
    "Interval": "interval", "INTERVAL": "interval", "Numeric": "numeric", "NUMERIC": "numeric",
    "DECIMAL": "numeric", "Float": "double", "FLOAT": "double", "Double": "double", "DOUBLE_PRECISION": "double",
    "REAL": "real", "UUID": "uuid", "Uuid": "uuid", "GUID": "uuid", "JSON": "json", "JSONB": "jsonb",
    "LargeBinary": "bytea", "BYTEA": "bytea", "INET": "inet", "ARRAY": "array", "Enum": "enum", "ENUM": "enum",
    "HSTORE": "hstore", "TSVECTOR": "tsvector", "CITEXT": "citext",
}


def sa_type(node: Optional[ast.AST]) -> Tuple[Optional[str], Optional[int], tuple]:
    """(canonical type, max_length, params) of ``sa.String(50)``, ``sa.Integer``…"""
    if node is None:
        return None, None, ()
    call = node if isinstance(node, ast.Call) else None
    name = pyast.last_part(pyast.dotted(call.func if call else node))
    canonical = SA_TYPES.get(name)
    if canonical is None or call is None:
        return canonical, None, ()
    bound, _ = pyast.bind(call, ("length",) if canonical in ("varchar", "char") else ("precision", "scale"))
    if canonical in ("varchar", "char"):
        length = pyast.literal(bound.get("length"))
        return canonical, length if isinstance(length, int) else None, (length,) if isinstance(length, int) else ()
    if canonical == "timestamp" and pyast.literal(bound.get("timezone")) is True:
        return "timestamptz", None, ()
    if canonical == "numeric":
        params = tuple(pyast.literal(bound[k]) for k in ("precision", "scale") if k in bound)
        return canonical, None, params
    return canonical, None, ()


def default_text(node: Optional[ast.AST]) -> Optional[str]:
    """``server_default``: ``sa.text("now()")`` -> ``now()``, a string -> its quoted literal,
    ``sa.false()`` -> ``false``; None for no default."""
    if node is None or pyast.literal(node) is None:
        return None
    value = pyast.literal(node)
    if isinstance(value, str):
        return repr(value)
    called = pyast.last_part(pyast.call_name(node)) if isinstance(node, ast.Call) else ""
    if called in ("text", "literal_column") and node.args:
        return pyast.str_value(node.args[0]) or pyast.text(node)
    if isinstance(node, ast.Call) and pyast.last_part(pyast.call_name(node)) in ("true", "false", "null"):
        return pyast.last_part(pyast.call_name(node))
    return pyast.text(node)


def read_column(node: ast.AST) -> Optional[ColumnState]:
    """``sa.Column(...)``; None when it is not one or has no literal name."""
    if not isinstance(node, ast.Call) or pyast.last_part(pyast.call_name(node)) != "Column":
        return None
    name = pyast.str_value(node.args[0]) if node.args else pyast.str_value(_kw(node, "name"))
    if not name:
        return None
    positional = node.args[1:] if node.args and pyast.str_value(node.args[0]) else node.args
    type_node = next((a for a in positional if pyast.last_part(pyast.call_name(a)) != "ForeignKey"), _kw(node, "type_"))
    ctype, max_length, params = sa_type(type_node)
    fk = next((_fk_table(a) for a in positional if pyast.last_part(pyast.call_name(a)) == "ForeignKey"), None)
    primary = pyast.literal(_kw(node, "primary_key")) is True
    nullable = pyast.literal(_kw(node, "nullable"))
    unique = pyast.literal(_kw(node, "unique")) is True or primary
    return ColumnState(name, ctype, (not primary) if nullable in (pyast.NOT_LITERAL, None) else bool(nullable),
                       max_length, _kw(node, "default") is not None, default_text(_kw(node, "server_default")),
                       unique, unique or pyast.literal(_kw(node, "index")) is True, primary, fk, params)


def _kw(call: ast.Call, name: str) -> Optional[ast.AST]:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _fk_table(call: ast.Call) -> Optional[str]:
    target = pyast.str_value(call.args[0]) if call.args else None
    return target.rpartition(".")[0] or None if target else None


def read_table_constraint(node: ast.AST, table: str) -> Optional[ConstraintState]:
    """``sa.PrimaryKeyConstraint``/``UniqueConstraint``/``ForeignKeyConstraint``/
    ``CheckConstraint`` inside ``op.create_table``."""
    if not isinstance(node, ast.Call):
        return None
    kind = {"PrimaryKeyConstraint": "primary_key", "UniqueConstraint": "unique", "ForeignKeyConstraint": "foreign_key",
            "CheckConstraint": "check"}.get(pyast.last_part(pyast.call_name(node)))
    if kind is None:
        return None
    name = pyast.str_value(_kw(node, "name"))
    if kind == "foreign_key":
        local = pyast.string_list(node.args[0]) if node.args else ()
        remote = pyast.string_list(node.args[1]) if len(node.args) > 1 else ()
        ref = (remote or ("",))[0].rpartition(".")[0] or None
        return ConstraintState(name or f"{table}_{'_'.join(local or ())}_fkey", kind, local or (), references=ref)
    if kind == "check":
        condition = pyast.str_value(node.args[0]) if node.args else None
        return ConstraintState(name or f"{table}_check", kind, (), True, condition or pyast.text(node))
    columns: List[str] = [pyast.str_value(a) for a in node.args if pyast.str_value(a)]
    default = f"{table}_pkey" if kind == "primary_key" else f"{table}_{'_'.join(columns)}_key"
    return ConstraintState(name or default, kind, tuple(columns))
