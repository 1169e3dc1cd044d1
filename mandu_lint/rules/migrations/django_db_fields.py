"""Field-, index- and constraint-level Django operations on the **Database** track.

A field's column comes from the state before the operation; ``AlterField`` swaps the column
definition in place (renaming it when ``db_column`` or the relation changes its name);
``RenameField`` renames the column only when the name really changes (not with ``db_column``).
The ``django.contrib.postgres`` variants record ``concurrently`` / ``NOT VALID``.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable, Dict

from .django_tables import add_constraint, add_index, columns_of, create_m2m, m2m_table, model_with_table
from .fields import column_state
from .schema import ColumnState
from .state import column_name, table_name, without_default


def _field_after(args):
    field = replace(args["field"], name=args["name"])
    return without_default(field) if args.get("preserve_default") is False else field


def _add_field(args, before, schema, mig) -> None:
    model = model_with_table(before, mig.label, args["model_name"], schema)
    if model is None:
        return
    field = _field_after(args)
    if field.relation == "m2m":
        create_m2m(model, field, before, schema, mig)
        return
    column = column_state(field, model, before)
    schema.add_column(table_name(model), column)


def _remove_field(args, before, schema, mig) -> None:
    model = model_with_table(before, mig.label, args["model_name"], schema)
    field = model.field_named(args["name"]) if model is not None else None
    if model is None:
        return
    if field is None:
        schema.mark_unknown(table_name(model))
    elif m2m_table(model, field):
        schema.drop_table(m2m_table(model, field))
    elif column_name(field):
        schema.drop_column(table_name(model), column_name(field))


def _alter_field(args, before, schema, mig) -> None:
    model = model_with_table(before, mig.label, args["model_name"], schema)
    old = model.field_named(args["name"]) if model is not None else None
    if model is None:
        return
    new = _field_after(args)
    if old is None:
        schema.mark_unknown(table_name(model))
        return
    if column_name(old) and column_name(new):
        schema.replace_column(table_name(model), column_name(old), column_state(new, model, before))


def _rename_field(args, before, schema, mig) -> None:
    model = model_with_table(before, mig.label, args["model_name"], schema)
    old = model.field_named(args["old_name"]) if model is not None else None
    if model is None:
        return
    if old is None:
        schema.mark_unknown(table_name(model))
        return
    new = replace(old, name=args["new_name"])
    if m2m_table(model, old):
        renamed = replace(model, fields={**model.fields, args["new_name"]: new})
        schema.rename_table(m2m_table(model, old), m2m_table(renamed, new))
    elif column_name(old) != column_name(new):
        schema.rename_column(table_name(model), column_name(old), column_name(new))


def _add_index(concurrently: bool) -> Callable:
    def handler(args, before, schema, mig) -> None:
        model = model_with_table(before, mig.label, args["model_name"], schema)
        spec = args.get("index")
        if model is not None and spec is not None:
            add_index(schema, model, spec.name, spec.fields, spec.condition is not None, concurrently)
    return handler


def _remove_index(args, before, schema, mig) -> None:
    model = model_with_table(before, mig.label, args["model_name"], schema)
    if model is not None and args.get("name"):
        schema.drop_index(args["name"], table_name(model))


def _rename_index(args, before, schema, mig) -> None:
    model = model_with_table(before, mig.label, args["model_name"], schema)
    if model is None:
        return
    if args.get("old_name"):
        schema.rename_index(args["old_name"], args["new_name"])
    elif args.get("old_fields"):
        columns = columns_of(model, args["old_fields"])
        table = schema.table(table_name(model))
        for name, index in (table.indexes.items() if table is not None and not table.unknown else ()):
            if tuple(index.columns) == columns:
                schema.rename_index(name, args["new_name"])
                break


def _add_constraint(validated: bool) -> Callable:
    def handler(args, before, schema, mig) -> None:
        model = model_with_table(before, mig.label, args["model_name"], schema)
        if model is not None and args.get("constraint") is not None:
            add_constraint(schema, model, args["constraint"], validated)
    return handler


def _remove_constraint(args, before, schema, mig) -> None:
    model = model_with_table(before, mig.label, args["model_name"], schema)
    if model is not None and args.get("name"):
        schema.drop_constraint(table_name(model), args["name"])


def _validate_constraint(args, before, schema, mig) -> None:
    model = model_with_table(before, mig.label, args["model_name"], schema)
    if model is not None and args.get("name"):
        schema.validate_constraint(table_name(model), args["name"])


def _order_with_respect_to(args, before, schema, mig) -> None:
    """Django adds (or drops) an ``_order`` integer column, filled with 0 for existing rows."""
    model = model_with_table(before, mig.label, args["name"], schema)
    if model is None:
        return
    had = bool(model.options.get("order_with_respect_to"))
    if args.get("order_with_respect_to") and not had:
        schema.add_column(table_name(model), ColumnState("_order", "integer", False, has_default=True))
    elif not args.get("order_with_respect_to") and had:
        schema.drop_column(table_name(model), "_order")


FIELD_HANDLERS: Dict[str, Callable] = {
    "AddField": _add_field,
    "RemoveField": _remove_field,
    "AlterField": _alter_field,
    "RenameField": _rename_field,
    "AddIndex": _add_index(False),
    "AddIndexConcurrently": _add_index(True),
    "RemoveIndex": _remove_index,
    "RemoveIndexConcurrently": _remove_index,
    "RenameIndex": _rename_index,
    "AddConstraint": _add_constraint(True),
    "AddConstraintNotValid": _add_constraint(False),
    "RemoveConstraint": _remove_constraint,
    "ValidateConstraint": _validate_constraint,
    "AlterOrderWithRespectTo": _order_with_respect_to,
}
