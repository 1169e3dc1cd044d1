"""Reading an Alembic revision's ``upgrade()`` into ``Operation`` records.

Calls on ``op`` (however ``alembic.op`` was imported) are taken in source order, through
``if``/``for``/``try`` bodies and through module-level helper functions that ``upgrade()``
calls. ``with op.batch_alter_table("t") as batch_op:`` becomes a parent operation whose
children act on ``t``; operations inside ``with op.get_context().autocommit_block():`` are
not atomic. Arguments are bound to Alembic's parameter names, which differ for batch calls.
"""
from __future__ import annotations

import ast
from typing import Any, Dict, List, Optional

from . import pyast
from .records import Operation
from .sa_columns import default_text, read_column, read_table_constraint, sa_type

OP_PARAMS: Dict[str, tuple] = {
    "create_table": ("table_name",), "drop_table": ("table_name",),
    "rename_table": ("old_table_name", "new_table_name"), "add_column": ("table_name", "column"),
    "drop_column": ("table_name", "column_name"), "alter_column": ("table_name", "column_name"),
    "create_index": ("index_name", "table_name", "columns"), "drop_index": ("index_name", "table_name"),
    "create_foreign_key": ("constraint_name", "source_table", "referent_table", "local_cols", "remote_cols"),
    "create_unique_constraint": ("constraint_name", "table_name", "columns"),
    "create_check_constraint": ("constraint_name", "table_name", "condition"),
    "create_primary_key": ("constraint_name", "table_name", "columns"),
    "drop_constraint": ("constraint_name", "table_name", "type_"),
    "execute": ("sqltext",), "bulk_insert": ("table", "rows"),
    "create_table_comment": ("table_name", "comment"), "drop_table_comment": ("table_name",),
    "create_exclude_constraint": ("constraint_name", "table_name"),
}
BATCH_PARAMS: Dict[str, tuple] = {
    "add_column": ("column",), "drop_column": ("column_name",), "alter_column": ("column_name",),
    "create_index": ("index_name", "columns"), "drop_index": ("index_name",),
    "create_foreign_key": ("constraint_name", "referent_table", "local_cols", "remote_cols"),
    "create_unique_constraint": ("constraint_name", "columns"),
    "create_check_constraint": ("constraint_name", "condition"),
    "create_primary_key": ("constraint_name", "columns"), "drop_constraint": ("constraint_name", "type_"),
    "execute": ("sqltext",), "create_table_comment": ("comment",), "drop_table_comment": (),
}
NOT_OPERATIONS = {"get_bind", "get_context", "f", "inline_literal", "invoke", "run_async", "implementation_for"}
NAMES = {"table_name", "old_table_name", "new_table_name", "column_name", "index_name", "constraint_name",
         "source_table", "referent_table", "new_column_name", "schema"}


class UpgradeReader:
    """Collects the operations of one revision's ``upgrade()``."""

    def __init__(self, tree: ast.Module, file: str):
        self.tree, self.file = tree, file
        self.op_names = _op_aliases(tree)
        self.ops: List[Operation] = []
        self.batch: Dict[str, tuple] = {}  # batch_op alias -> (table, parent index)
        self.inlined: List[str] = []

    def read(self) -> List[Operation]:
        upgrade = pyast.find_function(self.tree, "upgrade")
        if upgrade is not None:
            self._body(upgrade.body, atomic=True, depth=0)
        return self.ops

    def _body(self, body: List[ast.stmt], atomic: bool, depth: int) -> None:
        for stmt in body:
            if isinstance(stmt, (ast.With, ast.AsyncWith)):
                self._with(stmt, atomic, depth)
            elif isinstance(stmt, (ast.If, ast.For, ast.While, ast.Try, ast.AsyncFor)):
                for part in ("body", "orelse", "finalbody"):
                    self._body(getattr(stmt, part, []), atomic, depth)
                for handler in getattr(stmt, "handlers", []):
                    self._body(handler.body, atomic, depth)
            elif not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                for call in sorted((n for n in ast.walk(stmt) if isinstance(n, ast.Call)),
                                   key=lambda n: (n.lineno, n.col_offset)):
                    self._call(call, atomic, depth)

    def _with(self, stmt: ast.With, atomic: bool, depth: int) -> None:
        aliases = []
        for item in stmt.items:
            call = item.context_expr
            name = pyast.call_name(call) or ""
            func = call.func if isinstance(call, ast.Call) else None
            if isinstance(func, ast.Attribute) and func.attr == "autocommit_block":
                atomic = False
            elif isinstance(call, ast.Call) and self._receiver(call) == "op" and name.endswith("batch_alter_table"):
                parent = self._add("batch_alter_table", call, atomic, _decode(call, ("table_name",)))
                if isinstance(item.optional_vars, ast.Name):
                    self.batch[item.optional_vars.id] = (parent.args.get("table_name"), parent.index)
                    aliases.append(item.optional_vars.id)
            else:
                for inner in (n for n in ast.walk(call) if isinstance(n, ast.Call)):
                    self._call(inner, atomic, depth)
        self._body(stmt.body, atomic, depth)
        for alias in aliases:
            self.batch.pop(alias, None)

    def _receiver(self, call: ast.Call) -> Optional[str]:
        func = call.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            if func.value.id in self.op_names:
                return "op"
            if func.value.id in self.batch:
                return "batch"
        return None

    def _call(self, call: ast.Call, atomic: bool, depth: int) -> None:
        receiver = self._receiver(call)
        if receiver is None:
            helper = pyast.find_function(self.tree, call.func.id) if isinstance(call.func, ast.Name) else None
            if helper is not None and depth < 3 and helper.name not in ("upgrade", "downgrade"):
                self.inlined.append(helper.name)
                self._body(helper.body, atomic, depth + 1)
            return
        method = call.func.attr
        if method in NOT_OPERATIONS or method == "batch_alter_table":
            return
        if receiver == "batch":
            table, parent = self.batch[call.func.value.id]
            params = BATCH_PARAMS.get(method)
            args = _decode(call, params or ()) if params is not None else {"text": pyast.text(call)}
            args.update(table_name=table, batch=True)
            self._add(method, call, atomic, args, known=params is not None, parent=parent)
        else:
            params = OP_PARAMS.get(method)
            args = _decode(call, params or ()) if params is not None else _unknown_args(call)
            self._add(method, call, atomic, args, known=params is not None)

    def _add(self, kind: str, call: ast.Call, atomic: bool, args: Dict[str, Any], known: bool = True,
             parent: Optional[int] = None) -> Operation:
        op = Operation(kind, self.file, call.lineno, call.col_offset, len(self.ops), args, "database", parent,
                       known and not args.pop("_incomplete", False), atomic, call)
        self.ops.append(op)
        return op


def _op_aliases(tree: ast.Module) -> set:
    names = {"op"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "alembic":
            names.update(a.asname or a.name for a in node.names if a.name == "op")
        elif isinstance(node, ast.Import):
            names.update(a.asname for a in node.names if a.name == "alembic.op" and a.asname)
    return names


def _unknown_args(call: ast.Call) -> Dict[str, Any]:
    args: Dict[str, Any] = {"text": pyast.text(call)}
    table = next((k.value for k in call.keywords if k.arg in ("table_name", "table")), None)
    if pyast.str_value(table):
        args["table_name"] = pyast.str_value(table)
    return args


def _decode(call: ast.Call, params: tuple) -> Dict[str, Any]:
    bound, complete = pyast.bind(call, params)
    args: Dict[str, Any] = {}
    for key, node in bound.items():
        if key in NAMES:
            args[key] = _name(node)
        elif key in ("columns", "local_cols", "remote_cols"):
            args[key] = pyast.string_list(node)
        elif key == "column":
            args[key] = read_column(node)
        elif key in ("type_", "existing_type"):  # drop_constraint's type_ is a string ("foreignkey")
            args[key] = pyast.str_value(node) if pyast.str_value(node) is not None else sa_type(node)
        elif key in ("server_default", "existing_server_default"):
            args[key] = default_text(node)
        elif key == "sqltext":
            args[key] = _sql_text(node)
        elif key == "*":  # create_table's columns and constraints
            table = args.get("table_name") or "?"
            args["items"] = [read_column(n) or read_table_constraint(n, table) for n in node.elts]
        else:
            value = pyast.literal(node)
            args[key] = pyast.text(node) if value is pyast.NOT_LITERAL else value
    missing = [k for k in NAMES & set(bound) if args.get(k) is None and pyast.literal(bound[k]) is not None]
    args["_incomplete"] = bool(missing) or not complete
    return args


def _name(node: ast.AST) -> Optional[str]:
    """A name argument: a string, or ``op.f("ix_name")`` (a name the naming convention leaves
    alone), as autogenerate writes index and constraint names."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "f" \
            and len(node.args) == 1 and not node.keywords:
        return pyast.str_value(node.args[0])
    return pyast.str_value(node)


def _sql_text(node: ast.AST):
    """``op.execute("...")`` or ``op.execute(sa.text("..."))``: the SQL string; for an
    SQLAlchemy expression (``table.update()…``), the marker ``("expression", method)``."""
    if pyast.str_value(node) is not None:
        return pyast.str_value(node)
    if isinstance(node, ast.Call) and pyast.last_part(pyast.call_name(node)) == "text" and node.args:
        if pyast.str_value(node.args[0]) is not None:
            return pyast.str_value(node.args[0])
    methods = [n.func.attr for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]
    if any(m in ("update", "insert", "delete", "select", "values", "where") for m in methods):
        return ("expression", methods[-1] if methods else "?")
    return None
