"""Django operations applied to the **State** track (their ``state_forwards``).

Only what ``makemigrations`` compares is kept: models, fields, and the options with DDL
effect or that Django's autodetector diffs (``db_table``, ``*_together``, ``indexes``,
``constraints``, ``managed``, ``proxy``…). ``AlterModelOptions`` replaces the options Django
lets it alter and drops those it omits, as Django does.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Dict, Tuple

from .records import MigrationKey, Operation
from .state import FieldState, IndexSpec, ModelState, ProjectState, without_default

ALTER_OPTION_KEYS = ("base_manager_name", "default_manager_name", "default_related_name", "get_latest_by",
                     "managed", "ordering", "permissions", "default_permissions", "select_on_save",
                     "verbose_name", "verbose_name_plural")


def state_forwards(op: Operation, state: ProjectState, app: str, key: MigrationKey) -> None:
    handler = HANDLERS.get(op.kind)
    if not op.known and op.kind not in ("SeparateDatabaseAndState", "RunSQL"):
        make_unknown(state, app, op.args.get("model") or op.args.get("model_name") or op.args.get("name"))
    elif handler is not None:
        handler(op.args, state, app, key)


def make_unknown(state: ProjectState, app: str, model_name) -> None:
    model = state.get(app, model_name) if isinstance(model_name, str) else None
    if model is not None:
        state.put(replace(model, unknown=True))
    elif isinstance(model_name, str):
        state.put(ModelState(app, model_name, unknown=True))
    else:
        state.unknown_apps.add(app)


def _edit_model(state: ProjectState, app: str, name: str, **changes) -> None:
    model = state.get(app, name)
    if model is None:
        make_unknown(state, app, name)
    else:
        state.put(replace(model, **changes))


def _edit_options(state: ProjectState, app: str, name: str, **changes) -> None:
    model = state.get(app, name)
    if model is not None:
        options = {k: v for k, v in {**model.options, **changes}.items() if v is not None}
        _edit_model(state, app, name, options=options)
    else:
        make_unknown(state, app, name)


def _create(args, state, app, key) -> None:
    fields = args.get("fields")
    state.put(ModelState(app, args["name"], fields or {}, args.get("options") or {},
                         created_in=key, unknown=fields is None))


def _delete(args, state, app, key) -> None:
    state.remove(app, args["name"])


def _rename_model(args, state, app, key) -> None:
    model = state.remove(app, args["old_name"])
    if model is None:
        make_unknown(state, app, args["new_name"])
        return
    state.put(replace(model, name=args["new_name"]))
    old_ref, new_ref = f"{app}.{args['old_name']}".lower(), f"{app}.{args['new_name']}".lower()
    for other in list(state.models.values()):  # relations follow the rename, as in Django
        if any(f.to and f.to.lower() == old_ref for f in other.fields.values()):
            fields = {n: replace(f, to=new_ref) if f.to and f.to.lower() == old_ref else f
                      for n, f in other.fields.items()}
            state.put(replace(other, fields=fields))


def _alter_options(args, state, app, key) -> None:
    model = state.get(app, args["name"])
    if model is None:
        make_unknown(state, app, args["name"])
        return
    options = {k: v for k, v in model.options.items() if k not in ALTER_OPTION_KEYS}
    options.update(args.get("options") or {})
    state.put(replace(model, options=options))


def _field_after(args) -> FieldState:
    field = args["field"]
    if args.get("preserve_default") is False:  # a one-off default to fill existing rows
        field = without_default(field)
    return replace(field, name=args["name"])


def _add_field(args, state, app, key) -> None:
    model = state.get(app, args["model_name"])
    if model is None:
        make_unknown(state, app, args["model_name"])
    else:
        state.put(replace(model, fields={**model.fields, args["name"]: _field_after(args)}))


def _remove_field(args, state, app, key) -> None:
    model = state.get(app, args["model_name"])
    if model is not None:
        state.put(replace(model, fields={n: f for n, f in model.fields.items() if n.lower() != args["name"].lower()}))


def _alter_field(args, state, app, key) -> None:
    model = state.get(app, args["model_name"])
    if model is None or model.field_named(args["name"]) is None:
        make_unknown(state, app, args["model_name"])
        return
    fields = {(args["name"] if n.lower() == args["name"].lower() else n):
              (_field_after(args) if n.lower() == args["name"].lower() else f) for n, f in model.fields.items()}
    state.put(replace(model, fields=fields))


def _rename_field(args, state, app, key) -> None:
    model = state.get(app, args["model_name"])
    old, new = args["old_name"], args["new_name"]
    if model is None or model.field_named(old) is None:
        make_unknown(state, app, args["model_name"])
        return
    fields = {(new if n.lower() == old.lower() else n): (replace(f, name=new) if n.lower() == old.lower() else f)
              for n, f in model.fields.items()}
    options = dict(model.options)
    for option in ("unique_together", "index_together"):
        if option in options:
            options[option] = tuple(tuple(new if x == old else x for x in group) for group in options[option])
    state.put(replace(model, fields=fields, options=options))


def _specs(option: str, spec_key: str, remove: bool) -> Callable:
    def handler(args, state, app, key) -> None:
        model = state.get(app, args["model_name"])
        if model is None:
            make_unknown(state, app, args["model_name"])
            return
        current: Tuple = tuple(model.options.get(option, ()))
        if remove:
            current = tuple(s for s in current if s.name != args.get("name"))
        else:
            current = tuple(s for s in current if s.name != args[spec_key].name) + (args[spec_key],)
        _edit_options(state, app, args["model_name"], **{option: current})
    return handler


def _rename_index(args, state, app, key) -> None:
    model = state.get(app, args["model_name"])
    if model is None:
        make_unknown(state, app, args["model_name"])
        return
    indexes = tuple(model.options.get("indexes", ()))
    if args.get("old_name"):
        indexes = tuple(replace(i, name=args["new_name"]) if i.name == args["old_name"] else i for i in indexes)
        _edit_options(state, app, model.name, indexes=indexes)
    elif args.get("old_fields"):
        together = tuple(g for g in model.options.get("index_together", ()) if tuple(g) != tuple(args["old_fields"]))
        spec = IndexSpec(args["new_name"], tuple(args["old_fields"]))
        _edit_options(state, app, model.name, indexes=indexes + (spec,),
                      index_together=together or None)


def _options(option: str, arg: str, key: str = "name") -> Callable:
    def handler(args, state, app, migration) -> None:
        _edit_options(state, app, args[key], **{option: args.get(arg) or None})
    return handler


HANDLERS: Dict[str, Callable[[Dict[str, Any], ProjectState, str, MigrationKey], None]] = {
    "CreateModel": _create,
    "DeleteModel": _delete,
    "RenameModel": _rename_model,
    "AlterModelTable": _options("db_table", "table"),
    "AlterModelTableComment": _options("db_table_comment", "table_comment"),
    "AlterUniqueTogether": _options("unique_together", "unique_together"),
    "AlterIndexTogether": _options("index_together", "index_together"),
    "AlterModelOptions": _alter_options,
    "AlterOrderWithRespectTo": _options("order_with_respect_to", "order_with_respect_to"),
    "AddField": _add_field,
    "RemoveField": _remove_field,
    "AlterField": _alter_field,
    "RenameField": _rename_field,
    "AddIndex": _specs("indexes", "index", remove=False),
    "AddIndexConcurrently": _specs("indexes", "index", remove=False),
    "RemoveIndex": _specs("indexes", "index", remove=True),
    "RemoveIndexConcurrently": _specs("indexes", "index", remove=True),
    "RenameIndex": _rename_index,
    "AddConstraint": _specs("constraints", "constraint", remove=False),
    "AddConstraintNotValid": _specs("constraints", "constraint", remove=False),
    "RemoveConstraint": _specs("constraints", "constraint", remove=True),
    "AlterConstraint": _specs("constraints", "constraint", remove=False),
}
