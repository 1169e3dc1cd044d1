"""Django operations applied to the **Database** track (their ``database_forwards``).

Tables and columns are found through the state *before* the operation, as Django's schema
editor does (``db_table`` or ``<app>_<model>``, ``db_column`` or ``<field>``/``<field>_id``).
Proxy and unmanaged models touch no table. ``RunSQL`` goes through ``ddl.py``. A custom
operation makes the model it names unknown, or every table of its app.
"""
from __future__ import annotations

from typing import Callable, Dict

from .ddl import apply_sql
from .django_db_fields import FIELD_HANDLERS
from .django_tables import add_constraint, add_index, create_m2m, m2m_table, model_with_table, together
from .fields import column_state
from .records import Migration, Operation
from .schema import Schema
from .state import ModelState, ProjectState, table_name


def database_forwards(op: Operation, before: ProjectState, schema: Schema, mig: Migration) -> None:
    handler = HANDLERS.get(op.kind)
    if op.kind == "RunSQL":
        _run_sql(op, schema, mig)
    elif not op.known and op.kind != "SeparateDatabaseAndState":
        _unknown(op, before, schema, mig)
    elif handler is not None:
        handler(op.args, before, schema, mig)


def _unknown(op: Operation, before: ProjectState, schema: Schema, mig: Migration) -> None:
    model = before.get(mig.label, op.args.get("model") or op.args.get("model_name") or op.args.get("name"))
    table = table_name(model) if model is not None else None
    if table:
        schema.mark_unknown(table)
    else:
        schema.mark_owner_unknown(mig.label)
        mig.unknown_effects.append(f"operation {op.kind} at line {op.line} names no model of app {mig.label!r}")


def _run_sql(op: Operation, schema: Schema, mig: Migration) -> None:
    statements = op.args.get("sql")
    if statements is None:
        mig.unknown_effects.append(f"RunSQL at line {op.line}: SQL not written literally")
        return
    results = [apply_sql(schema, sql, mig.key, mig.label) for sql in statements]
    op.args["statements"] = [s for r in results for s in r.statements]
    mig.unknown_effects.extend(e for r in results for e in r.unknown_effects)


def _create_model(args, before, schema, mig) -> None:
    model = ModelState(mig.label, args["name"], args.get("fields") or {}, args.get("options") or {})
    if not model.has_table or table_name(model) is None:
        return
    table = table_name(model)
    scratch = before.copy()
    scratch.put(model)  # self and forward references resolve to the new model
    cols = [column_state(f, model, scratch) for f in model.fields.values()]
    schema.create_table(table, [c for c in cols if c is not None], mig.key, mig.label)
    if args.get("fields") is None:
        schema.mark_unknown(table)
    for spec in model.indexes:
        add_index(schema, model, spec.name, spec.fields, spec.condition is not None, False)
    for spec in model.constraints:
        add_constraint(schema, model, spec, True)
    together(schema, model, "unique_together", (), model.options.get("unique_together", ()))
    together(schema, model, "index_together", (), model.options.get("index_together", ()))
    for f in model.fields.values():
        create_m2m(model, f, scratch, schema, mig)


def _delete_model(args, before, schema, mig) -> None:
    model = model_with_table(before, mig.label, args["name"], schema)
    if model is not None:
        schema.drop_table(table_name(model))
        for f in model.fields.values():
            if m2m_table(model, f):
                schema.drop_table(m2m_table(model, f))


def _rename_table(before: ProjectState, schema: Schema, old: ModelState, new: ModelState) -> None:
    if table_name(old) != table_name(new):
        schema.rename_table(table_name(old), table_name(new))
    for f in old.fields.values():
        if m2m_table(old, f) and m2m_table(old, f) != m2m_table(new, f):
            schema.rename_table(m2m_table(old, f), m2m_table(new, f))


def _rename_model(args, before, schema, mig) -> None:
    model = model_with_table(before, mig.label, args["old_name"], schema)
    if model is not None:
        _rename_table(before, schema, model, ModelState(model.app_label, args["new_name"], model.fields, model.options))


def _alter_model_table(args, before, schema, mig) -> None:
    model = model_with_table(before, mig.label, args["name"], schema)
    if model is not None:
        options = {k: v for k, v in model.options.items() if k != "db_table"}
        if args.get("table"):
            options["db_table"] = args["table"]
        _rename_table(before, schema, model, ModelState(model.app_label, model.name, model.fields, options))


def _alter_together(option: str) -> Callable:
    def handler(args, before, schema, mig) -> None:
        model = model_with_table(before, mig.label, args["name"], schema)
        if model is not None:
            together(schema, model, option, model.options.get(option, ()), args.get(option) or ())
    return handler


HANDLERS: Dict[str, Callable] = {
    "CreateModel": _create_model,
    "DeleteModel": _delete_model,
    "RenameModel": _rename_model,
    "AlterModelTable": _alter_model_table,
    "AlterUniqueTogether": _alter_together("unique_together"),
    "AlterIndexTogether": _alter_together("index_together"),
    **FIELD_HANDLERS,
}
