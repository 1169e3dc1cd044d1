"""Alembic operations applied to the Database track (Alembic has no State track).

Each handler takes the decoded arguments of ``alembic_ops.py``. ``alter_column`` changes only
what it is given (``server_default=None`` drops the default, an absent one keeps it);
``op.execute`` SQL goes through ``ddl.py``; an SQLAlchemy DML expression changes no table. An
operation naming no literal table, or one the replay does not know, makes the table it names
unknown, or else the revision's effects unknown.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable, Dict

from .ddl import apply_sql
from .records import Migration, Operation
from .schema import ColumnState, ConstraintState, IndexState, Schema

NO_EFFECT = {"batch_alter_table", "bulk_insert", "create_table_comment", "drop_table_comment"}


def apply_alembic(op: Operation, schema: Schema, mig: Migration) -> None:
    args = op.args
    if op.kind in NO_EFFECT and op.known:
        return
    if not op.known or (op.kind in TABLE_OPS and not _table(args)):
        if args.get("table_name"):
            schema.mark_unknown(args["table_name"])
        else:
            mig.unknown_effects.append(f"op.{op.kind} at line {op.line} not modelled")
        return
    handler = HANDLERS.get(op.kind)
    if handler is not None:
        handler(args, schema, mig, op)


def _table(args) -> str:
    name = args.get("table_name") or args.get("source_table") or args.get("old_table_name")
    schema = args.get("schema")
    return f"{schema}.{name}" if name and schema and schema != "public" else name


def _create_table(args, schema, mig, op) -> None:
    table = _table(args)
    items = args.get("items") or []
    columns = [c for c in items if isinstance(c, ColumnState)]
    schema.create_table(table, columns, mig.key, None)
    for constraint in (c for c in items if isinstance(c, ConstraintState)):
        schema.add_constraint(table, constraint)
        if constraint.kind in ("primary_key", "unique") and len(constraint.columns) == 1:
            pk = constraint.kind == "primary_key"
            schema.alter_column(table, constraint.columns[0], unique=True, index=True, primary_key=pk,
                                **({"nullable": False} if pk else {}))
    if any(c is None for c in items):  # something neither a literal Column nor a known constraint
        schema.mark_unknown(table)


def _alter_column(args, schema, mig, op) -> None:
    table, name = _table(args), args.get("column_name")
    changes = {}
    if isinstance(args.get("nullable"), bool):
        changes["nullable"] = args["nullable"]
    if "type_" in args:
        ctype, max_length, params = args["type_"]
        changes.update(type=ctype, max_length=max_length, type_params=params)
    if "server_default" in args:
        changes["db_default"] = args["server_default"]
    if changes:
        schema.alter_column(table, name, **changes)
    if args.get("new_column_name"):
        schema.rename_column(table, name, args["new_column_name"])


def _create_index(args, schema, mig, op) -> None:
    concurrently = args.get("postgresql_concurrently") is True
    columns = tuple(args.get("columns") or ())
    index = IndexState(args.get("index_name") or f"ix_{_table(args)}_{'_'.join(columns)}", columns,
                       args.get("unique") is True, concurrently, "postgresql_where" in args)
    if not (args.get("if_not_exists") and schema.find_index(index.name)):
        schema.add_index(_table(args), index)


def _drop_index(args, schema, mig, op) -> None:
    schema.drop_index(args.get("index_name") or "", _table(args) or None)


def _constraint(kind: str) -> Callable:
    def handler(args, schema, mig, op) -> None:
        table = _table(args)
        columns = tuple(args.get("local_cols") or args.get("columns") or ())
        name = args.get("constraint_name") or f"{table}_{'_'.join(columns)}_{kind}"
        schema.add_constraint(table, ConstraintState(name, kind, columns, True, args.get("condition"),
                                                     args.get("referent_table")))
        if len(columns) == 1 and kind in ("unique", "primary_key", "foreign_key"):
            change = {"fk": args.get("referent_table")} if kind == "foreign_key" else {"unique": True, "index": True}
            col = schema.column(table, columns[0])
            if isinstance(col, ColumnState):
                schema.replace_column(table, columns[0], replace(col, **change))
    return handler


def _execute(args, schema, mig, op) -> None:
    sql = args.get("sqltext")
    if isinstance(sql, str):
        effects = apply_sql(schema, sql, mig.key)
        op.args["statements"] = effects.statements
        mig.unknown_effects.extend(effects.unknown_effects)
    elif sql is None:
        mig.unknown_effects.append(f"op.execute at line {op.line}: SQL not written literally")


TABLE_OPS = {"create_table", "drop_table", "rename_table", "add_column", "drop_column", "alter_column", "create_index",
             "create_unique_constraint", "create_check_constraint", "create_primary_key", "create_foreign_key",
             "drop_constraint"}
HANDLERS: Dict[str, Callable] = {
    "create_table": _create_table,
    "drop_table": lambda a, s, m, o: s.drop_table(_table(a)),
    "rename_table": lambda a, s, m, o: s.rename_table(_table(a), a.get("new_table_name") or "?"),
    "add_column": lambda a, s, m, o: (s.add_column(_table(a), a["column"]) if a.get("column")
                                      else s.mark_unknown(_table(a))),
    "drop_column": lambda a, s, m, o: s.drop_column(_table(a), a.get("column_name") or "?"),
    "alter_column": _alter_column,
    "create_index": _create_index,
    "drop_index": _drop_index,
    "create_foreign_key": _constraint("foreign_key"),
    "create_unique_constraint": _constraint("unique"),
    "create_check_constraint": _constraint("check"),
    "create_primary_key": _constraint("primary_key"),
    "drop_constraint": lambda a, s, m, o: s.drop_constraint(_table(a), a.get("constraint_name") or ""),
    "execute": _execute,
}
