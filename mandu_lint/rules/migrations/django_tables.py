"""Where a Django model lives in the database: its table (through the state before the
operation), its many-to-many tables, the columns behind field names, and the indexes and
constraints its options declare. Shared by the model- and field-level handlers of the
Database track.
"""
from __future__ import annotations

from typing import Optional

from .fields import column_state
from .records import Migration
from .schema import ConstraintState, IndexState, Schema
from .state import FieldState, ModelState, ProjectState, column_name, table_name, truncate_name


def model_with_table(before: ProjectState, app: str, name: Optional[str], schema: Schema) -> Optional[ModelState]:
    """The model an operation names, if it has a table the replay can follow."""
    model = before.get(app, name)
    if model is None:
        if name and app not in before.unknown_apps:
            schema.mark_unknown(truncate_name(f"{app}_{name.lower()}"))
        return None
    if not model.has_table or table_name(model) is None:
        return None
    return model


def m2m_table(model: ModelState, f: FieldState) -> Optional[str]:
    if f.relation != "m2m" or "through" in f.kwargs:
        return None
    explicit = f.kwargs.get("db_table")
    return explicit if isinstance(explicit, str) else truncate_name(f"{table_name(model)}_{f.name.lower()}")


def create_m2m(model: ModelState, f: FieldState, before: ProjectState, schema: Schema, mig: Migration) -> None:
    table = m2m_table(model, f)
    if table is None:
        return
    target = model if f.to == "self" else before.resolve(f.to, model.app_label)
    own = model.name.lower()
    other = target.name.lower() if target is not None else (f.to or "?").rpartition(".")[2]
    left, right = (f"from_{own}", f"to_{own}") if own == other else (own, other)
    id_col = FieldState("id", "AutoField", primary_key=True, unique=True)
    side = [FieldState(n, "ForeignKey", relation="fk", to=t, db_index=True)
            for n, t in ((left, f"{model.app_label}.{own}"), (right, f.to))]
    through = ModelState(model.app_label, f"{model.name}_{f.name}", {"id": id_col})
    cols = [column_state(c, through, before) for c in [id_col] + side]
    schema.create_table(table, cols, mig.key, mig.label)


def columns_of(model: ModelState, names) -> tuple:
    return tuple(column_name(model.field_named(n)) or n if model.field_named(n) else n for n in names)


def add_index(schema: Schema, model: ModelState, name, fields, partial: bool, concurrently: bool) -> None:
    columns = columns_of(model, fields)
    name = name or f"{table_name(model)}_{'_'.join(columns)}_idx"
    schema.add_index(table_name(model), IndexState(name, columns, False, concurrently, partial))


def add_constraint(schema: Schema, model: ModelState, spec, validated: bool) -> None:
    if spec.name:
        schema.add_constraint(table_name(model), ConstraintState(spec.name, spec.kind, columns_of(model, spec.fields),
                                                                 validated, spec.condition))


def together(schema: Schema, model: ModelState, option: str, old, new) -> None:
    """unique_together/index_together sets get Django-like synthetic names here: rules match
    them by columns, not by name."""
    suffix = "uniq" if option == "unique_together" else "idx"
    for group in old:
        name = f"{table_name(model)}_{'_'.join(columns_of(model, group))}_{suffix}"
        if suffix == "uniq":
            schema.drop_constraint(table_name(model), name)
        else:
            schema.drop_index(name)
    for group in new:
        name = f"{table_name(model)}_{'_'.join(columns_of(model, group))}_{suffix}"
        if suffix == "uniq":
            schema.add_constraint(table_name(model), ConstraintState(name, "unique", columns_of(model, group)))
        else:
            schema.add_index(table_name(model), IndexState(name, columns_of(model, group)))
