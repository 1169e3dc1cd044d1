"""Reading a Django ``Migration`` class's ``operations`` into ``Operation`` records.

Each known operation has its arguments bound to Django's parameter names and decoded (fields
as ``FieldState``, indexes and constraints as specs, SQL as a list of strings). Nested
operations (``SeparateDatabaseAndState``, ``RunSQL(state_operations=…)``) follow their parent
in the flat list with ``track`` set. Anything else is kept with ``known=False`` and the model
it names, if any, so the replay can make just that model unknown.
"""
from __future__ import annotations

import ast
from typing import Any, Dict, List, Optional

from . import pyast
from .fields import normalize_together, read_constraint, read_field, read_fields, read_index, read_options
from .records import Operation

PARAMS: Dict[str, tuple] = {
    "CreateModel": ("name", "fields", "options", "bases", "managers"),
    "DeleteModel": ("name",),
    "RenameModel": ("old_name", "new_name"),
    "AlterModelTable": ("name", "table"),
    "AlterModelTableComment": ("name", "table_comment"),
    "AlterUniqueTogether": ("name", "unique_together"),
    "AlterIndexTogether": ("name", "index_together"),
    "AlterModelOptions": ("name", "options"),
    "AlterModelManagers": ("name", "managers"),
    "AlterOrderWithRespectTo": ("name", "order_with_respect_to"),
    "AddField": ("model_name", "name", "field", "preserve_default"),
    "RemoveField": ("model_name", "name"),
    "AlterField": ("model_name", "name", "field", "preserve_default"),
    "RenameField": ("model_name", "old_name", "new_name"),
    "AddIndex": ("model_name", "index"),
    "RemoveIndex": ("model_name", "name"),
    "RenameIndex": ("model_name", "new_name", "old_name", "old_fields"),
    "AddConstraint": ("model_name", "constraint"),
    "RemoveConstraint": ("model_name", "name"),
    "AlterConstraint": ("model_name", "name", "constraint"),
    "RunSQL": ("sql", "reverse_sql", "state_operations", "hints", "elidable"),
    "RunPython": ("code", "reverse_code", "atomic", "hints", "elidable"),
    "SeparateDatabaseAndState": ("database_operations", "state_operations"),
    # django.contrib.postgres.operations
    "AddIndexConcurrently": ("model_name", "index"),
    "RemoveIndexConcurrently": ("model_name", "name"),
    "AddConstraintNotValid": ("model_name", "constraint"),
    "ValidateConstraint": ("model_name", "name"),
    "CreateExtension": ("name",),
    "CreateCollation": ("name", "locale", "provider", "deterministic"),
    "RemoveCollation": ("name", "locale", "provider", "deterministic"),
}
for _ext in ("Bloom", "BtreeGin", "BtreeGist", "CIText", "Crypto", "HStore", "Trigram", "Unaccent"):
    PARAMS[_ext + "Extension"] = ("hints",)
NAMES = {"name", "model_name", "old_name", "new_name", "table", "order_with_respect_to"}


def read_operations(node: Optional[ast.AST], file: str, atomic: bool, out: List[Operation],
                    track: str = "both", parent: Optional[int] = None) -> bool:
    """Append the operations of a list literal to ``out``; False when ``node`` is not one."""
    if not isinstance(node, (ast.List, ast.Tuple)):
        return False
    for element in node.elts:
        read_operation(element, file, atomic, out, track, parent)
    return True


def read_operation(node: ast.AST, file: str, atomic: bool, out: List[Operation], track: str,
                   parent: Optional[int]) -> Operation:
    kind = pyast.last_part(pyast.call_name(node)) or "?"
    op = Operation(kind, file, node.lineno, node.col_offset, len(out), track=track, parent=parent,
                   atomic=atomic, node=node)
    out.append(op)
    if not isinstance(node, ast.Call) or kind not in PARAMS:
        op.known = False
        op.args = _unknown_args(node)
        return op
    bound, complete = pyast.bind(node, PARAMS[kind])
    op.args = decode(kind, bound)
    op.known = complete and _names_literal(op.args, bound)
    if kind == "RunPython" and op.args.get("atomic") is not None:
        op.atomic = op.args["atomic"] is not False and atomic
    if kind == "SeparateDatabaseAndState":
        op.known &= _nested(bound.get("database_operations"), file, atomic, out, "database", op.index, track)
        op.known &= _nested(bound.get("state_operations"), file, atomic, out, "state", op.index, track)
    elif kind == "RunSQL":
        op.known &= _nested(bound.get("state_operations"), file, atomic, out, "state", op.index, track)
    return op


def _nested(node, file, atomic, out, track, parent, outer_track) -> bool:
    if node is None:
        return True
    if outer_track != "both" and outer_track != track:
        track = "none"  # a database op nested in a state-only list never reaches the database
    return read_operations(node, file, atomic, out, track, parent)


def _names_literal(args: Dict[str, Any], bound: Dict[str, ast.AST]) -> bool:
    return all(args.get(k) is not None or pyast.literal(bound[k]) is None for k in NAMES & set(bound))


def _unknown_args(node: ast.AST) -> Dict[str, Any]:
    """For a custom operation: the model it says it touches (``model_name=``/``name=``)."""
    args: Dict[str, Any] = {"text": pyast.text(node)}
    if isinstance(node, ast.Call):
        for keyword in node.keywords:
            if keyword.arg in ("model_name", "name") and pyast.str_value(keyword.value):
                args.setdefault("model", pyast.str_value(keyword.value))
    return args


def _literal_or_none(node: ast.AST):
    value = pyast.literal(node)
    return None if value is pyast.NOT_LITERAL else value


def decode(kind: str, bound: Dict[str, ast.AST]) -> Dict[str, Any]:
    """Each bound argument through the reader of its parameter; unknown parameters dropped."""
    args: Dict[str, Any] = {}
    for key, node in bound.items():
        if key == "field":
            args[key] = read_field(pyast.str_value(bound.get("name")) or "?", node)
        elif key in NAMES:
            args[key] = pyast.str_value(node)
        elif key in READERS:
            args[key] = READERS[key](node)
    if kind in ("AddField", "AlterField"):
        args.setdefault("preserve_default", True)
    return args


def read_sql(node: ast.AST) -> Optional[List[str]]:
    """RunSQL's ``sql``: a string, a list of strings or of (sql, params) pairs; ``RunSQL.noop``
    is no SQL. None when the SQL is not written literally (built at run time)."""
    if pyast.last_part(pyast.dotted(node)) == "noop":
        return []
    value = pyast.literal(node)
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        out = []
        for item in value:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, (list, tuple)) and item and isinstance(item[0], str):
                out.append(item[0])
            else:
                return None
        return out
    return None


READERS = {
    "fields": read_fields, "options": read_options, "index": read_index, "constraint": read_constraint,
    "unique_together": lambda node: normalize_together(pyast.literal(node)),
    "index_together": lambda node: normalize_together(pyast.literal(node)),
    "old_fields": pyast.string_list, "sql": read_sql, "reverse_sql": read_sql,
    "code": pyast.text, "reverse_code": pyast.text, "managers": pyast.text, "bases": pyast.text, "hints": pyast.text,
    "preserve_default": _literal_or_none, "atomic": _literal_or_none, "elidable": _literal_or_none,
}
