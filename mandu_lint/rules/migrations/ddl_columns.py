"""sqlglot expression pieces turned into Database-track records: table names, column
definitions, constraints, and each action of an ``ALTER TABLE``.

Split from ``ddl.py`` so that the statement dispatch stays readable; nothing here imports
sqlglot at module level (the callers already did).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Optional

from .schema import ColumnState, ConstraintState, Schema

SQL_TYPES = {
    "VARCHAR": "varchar", "NVARCHAR": "varchar", "CHAR": "char", "NCHAR": "char", "TEXT": "text",
    "INT": "integer", "BIGINT": "bigint", "SMALLINT": "smallint", "SERIAL": "integer", "BIGSERIAL": "bigint",
    "SMALLSERIAL": "smallint", "BOOLEAN": "boolean", "TIMESTAMPTZ": "timestamptz", "TIMESTAMP": "timestamp",
    "DATE": "date", "TIME": "time", "TIMETZ": "timetz", "INTERVAL": "interval", "DECIMAL": "numeric",
    "DOUBLE": "double", "FLOAT": "real", "UUID": "uuid", "JSONB": "jsonb", "JSON": "json",
    "VARBINARY": "bytea", "INET": "inet", "ARRAY": "array", "HSTORE": "hstore",
}


def table_name(node) -> str:
    """``schema.table`` (``public`` dropped), unquoted, lower case unless it was quoted."""
    if node is None:
        return "?"
    name = node.name if hasattr(node, "name") else str(node)
    db = node.args.get("db") if hasattr(node, "args") else None
    schema = db.name if db is not None and hasattr(db, "name") else None
    return f"{schema}.{name}" if schema and schema.lower() != "public" else name


def sql_type(dtype) -> tuple:
    """(canonical type, max_length, params) of a sqlglot DataType."""
    if dtype is None:
        return None, None, ()
    name = dtype.this.name if hasattr(dtype.this, "name") else str(dtype.this)
    canonical = SQL_TYPES.get(name)
    if canonical is None:  # a user-defined type or an extension's: its name as written
        canonical = dtype.sql("postgres").lower() if name == "USERDEFINED" else name.lower()
    params = tuple(_int(p.this) for p in dtype.expressions or [] if hasattr(p, "this"))
    max_length = params[0] if canonical in ("varchar", "char") and params else None
    return canonical, max_length, params


def _int(literal):
    try:
        return int(literal.this)
    except (AttributeError, TypeError, ValueError):
        return None


def column_def(node) -> ColumnState:
    """A ``ColumnDef``: PostgreSQL columns are nullable unless NOT NULL or PRIMARY KEY."""
    from sqlglot import exp

    ctype, max_length, params = sql_type(node.args.get("kind"))
    col = ColumnState(node.name, ctype, True, max_length, type_params=params)
    if ctype in ("integer", "bigint", "smallint") and node.args["kind"].this.name.endswith("SERIAL"):
        col = replace(col, db_default="nextval")
    for constraint in node.args.get("constraints") or []:
        kind = constraint.args.get("kind")
        if isinstance(kind, exp.NotNullColumnConstraint):
            col = replace(col, nullable=bool(kind.args.get("allow_null")))
        elif isinstance(kind, exp.PrimaryKeyColumnConstraint):
            col = replace(col, primary_key=True, nullable=False, unique=True, index=True)
        elif isinstance(kind, exp.UniqueColumnConstraint):
            col = replace(col, unique=True, index=True)
        elif isinstance(kind, exp.DefaultColumnConstraint):
            col = replace(col, db_default=kind.this.sql("postgres"))
        elif isinstance(kind, exp.Reference):
            col = replace(col, fk=table_name(kind.find(exp.Table)))
    return col


def constraint_of(node, table: str) -> Optional[ConstraintState]:
    """A table constraint (named with ``CONSTRAINT x …`` or not)."""
    from sqlglot import exp

    name = None
    if isinstance(node, exp.Constraint):
        name = node.name
        node = (node.expressions or [None])[0]
    columns = tuple(i.name for i in node.find_all(exp.Identifier)) if node is not None else ()
    if isinstance(node, exp.PrimaryKey):
        return ConstraintState(name or f"{table}_pkey", "primary_key", columns)
    if isinstance(node, exp.UniqueColumnConstraint):
        return ConstraintState(name or f"{table}_{'_'.join(columns)}_key", "unique", columns)
    if isinstance(node, exp.CheckColumnConstraint):
        return ConstraintState(name or f"{table}_check", "check", (), True, node.this.sql("postgres"))
    if isinstance(node, exp.ForeignKey):
        local = tuple(i.name for i in node.expressions)
        ref = table_name(node.find(exp.Table))
        return ConstraintState(name or f"{table}_{'_'.join(local)}_fkey", "foreign_key", local, references=ref)
    return None


def alter_action(schema: Schema, table: str, action, not_valid: bool) -> Optional[str]:
    """Apply one ALTER TABLE action; a short description, or None when not modelled."""
    from sqlglot import exp

    if isinstance(action, exp.ColumnDef):
        if action.args.get("exists") and schema.column(table, action.name):
            return f"add_column_if_not_exists {action.name}"
        schema.add_column(table, column_def(action))
        return f"add_column {action.name}"
    if isinstance(action, exp.Drop):
        return _drop_action(schema, table, action)
    if isinstance(action, exp.AlterColumn):
        return _alter_column(schema, table, action)
    if isinstance(action, exp.RenameColumn):
        schema.rename_column(table, action.this.name, action.args["to"].name)
        return f"rename_column {action.this.name}"
    if isinstance(action, exp.AlterRename):
        new = table_name(action.this)
        schema.rename_table(table, new)
        return f"rename_to {new}"
    if isinstance(action, exp.AddConstraint):
        for item in action.expressions:
            constraint = constraint_of(item, table)
            if constraint is None:
                return None
            schema.add_constraint(table, replace(constraint, validated=not not_valid))
        return "add_constraint"
    return None


def _drop_action(schema: Schema, table: str, action) -> Optional[str]:
    kind = str(action.args.get("kind")).upper()
    names = [item.name for item in action.args.get("tables") or []]
    if kind == "COLUMN":
        for name in names:
            if not (action.args.get("exists") and schema.column(table, name) is None):
                schema.drop_column(table, name)
        return "drop_column " + ",".join(names)
    if kind == "CONSTRAINT":
        for name in names:
            schema.drop_constraint(table, name)
        return "drop_constraint"
    return None


def _alter_column(schema: Schema, table: str, action) -> Optional[str]:
    name = action.name
    if action.args.get("dtype") is not None:
        ctype, max_length, params = sql_type(action.args["dtype"])
        schema.alter_column(table, name, type=ctype, max_length=max_length, type_params=params)
        return f"alter_type {name}"
    if action.args.get("allow_null") is False:
        schema.alter_column(table, name, nullable=False)
        return f"set_not_null {name}"
    if action.args.get("drop") and action.args.get("allow_null"):
        schema.alter_column(table, name, nullable=True)
        return f"drop_not_null {name}"
    if action.args.get("default") is not None:
        schema.alter_column(table, name, db_default=action.args["default"].sql("postgres"))
        return f"set_default {name}"
    if action.args.get("drop"):
        schema.alter_column(table, name, db_default=None)
        return f"drop_default {name}"
    return None
