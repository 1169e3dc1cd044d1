"""What the data code of a migration writes, read statically for MDB605.

A Django ``RunPython`` function: models come from ``apps.get_model("app", "Model")`` (or are
imported app models), and writes are ``Model.objects.create/update/delete/bulk_*``, ``.save()``
on rows of a query or on new instances, and literal SQL passed to ``schema_editor.execute`` or
a cursor. Helper functions of the same module called with the function's arguments are
followed two calls deep. Alembic: ``op.execute`` with DML and ``op.bulk_insert`` on a local
``sa.table("name", ...)``. Each write says whether it touches every row (no filter).
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from . import pyast

INSERTS = {"create", "get_or_create", "update_or_create", "bulk_create"}
UPDATES = {"update", "bulk_update"}
DELETES = {"delete"}
WHOLE = {"all", "iterator", "only", "defer", "select_related", "prefetch_related", "order_by", "using"}
MANAGERS = {"objects", "_default_manager", "_base_manager"}
SQL_WRITE = re.compile(r"^\s*(?:WITH\b.*?\)\s*)?(UPDATE|INSERT\s+INTO|DELETE\s+FROM)\s+(?:ONLY\s+)?([\w.\"]+)",
                       re.I | re.S)

ModelRef = Tuple[Optional[str], str]  # (app label or None, model name) - or (None, table) for SQL


@dataclass
class Write:
    node: ast.AST
    model: ModelRef
    kind: str            # insert | update | delete | sql-insert | sql-update | sql-delete
    full_table: bool     # every row (no filter, no WHERE), or a loop over every row
    table: bool = False  # ``model`` names a table (SQL), not a model


def get_model_call(node: ast.AST) -> Optional[ModelRef]:
    """``apps.get_model("app", "Model")`` / ``apps.get_model("app.Model")``."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get_model"):
        return None
    args = [pyast.str_value(a) for a in node.args]
    kw = {k.arg: pyast.str_value(k.value) for k in node.keywords}
    app, name = (args + [None, None])[:2]
    app, name = kw.get("app_label", app), kw.get("model_name", name)
    if app and not name and "." in app:
        app, name = app.split(".", 1)
    return (app, name) if name else None


def chain(node: ast.AST) -> Tuple[Optional[str], List[str], List[ast.Call]]:
    """``Book.objects.filter(x=1).update(y=2)`` -> ("Book", ["objects", "filter", "update"], calls)."""
    names: List[str] = []
    calls: List[ast.Call] = []
    while True:
        if isinstance(node, ast.Call):
            calls.append(node)
            node = node.func
        elif isinstance(node, ast.Attribute):
            names.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Subscript):
            names.append("[]")
            node = node.value
        else:
            break
    return (node.id if isinstance(node, ast.Name) else None), list(reversed(names)), calls


def sql_write(text: Optional[str]) -> Optional[Tuple[str, str, bool]]:
    """(kind, table, every row) of a literal DML statement."""
    if not text:
        return None
    match = SQL_WRITE.match(text)
    if not match:
        return None
    verb = match.group(1).split()[0].lower()
    whole = verb != "insert" and not re.search(r"\bWHERE\b", text, re.I)
    return "sql-" + verb, match.group(2).strip('"'), whole


class WriteReader:
    """Writes of one function (and the module helpers it calls)."""

    def __init__(self, functions: Dict[str, ast.AST], models: Dict[str, ModelRef]):
        self.functions = functions
        self.models = dict(models)

    def read(self, fn: ast.AST, depth: int = 0) -> List[Write]:
        models = dict(self.models)
        rows: Dict[str, Tuple[ModelRef, bool]] = {}    # loop/instance name -> (model, over every row)
        out: List[Write] = []
        for node in _walk_in_order(fn):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                name, value = node.targets[0].id, node.value
                ref = get_model_call(value)
                if ref is not None:
                    models[name] = ref
                    continue
                root, names, _ = chain(value)
                if root in models and (not names or names[0] in MANAGERS or names == []):
                    rows[name] = (models[root], False)
            elif isinstance(node, (ast.For, ast.AsyncFor)) and isinstance(node.target, ast.Name):
                root, names, _ = chain(node.iter)
                if root in models and names and names[0] in MANAGERS:
                    rows[node.target.id] = (models[root], set(names[1:]) <= WHOLE)
            elif isinstance(node, ast.Call):
                out.extend(self._call(node, models, rows, depth))
        return out

    def _call(self, call: ast.Call, models, rows, depth: int) -> List[Write]:
        root, names, _ = chain(call)
        method = names[-1] if names else None
        if root in models and len(names) >= 2 and names[0] in MANAGERS:
            middle = set(names[1:-1])
            if method in INSERTS:
                return [Write(call, models[root], "insert", False)]
            if method in UPDATES | DELETES:
                kind = "delete" if method in DELETES else "update"
                return [Write(call, models[root], kind, method == "update" and middle <= WHOLE
                              or method == "delete" and middle <= WHOLE and "all" in middle)]
        if method == "save" and len(names) == 1 and root in rows:
            model, whole = rows[root]
            return [Write(call, model, "update", whole)]
        if method == "save" and isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Call):
            inner_root, inner_names, _ = chain(call.func.value)
            if inner_root in models and not inner_names:
                return [Write(call, models[inner_root], "insert", False)]
        if method in ("execute", "executemany") and call.args:
            found = sql_write(pyast.str_value(call.args[0]))
            if found:
                return [Write(call, (None, found[1]), found[0], found[2], table=True)]
        if isinstance(call.func, ast.Name) and call.func.id in self.functions and depth < 2:
            return self.read(self.functions[call.func.id], depth + 1)
        return []


def _walk_in_order(fn: ast.AST):
    """The nodes of a function body in source order (assignments before their uses)."""
    nodes = [n for n in ast.walk(fn) if n is not fn and hasattr(n, "lineno")]
    return sorted(nodes, key=lambda n: (n.lineno, n.col_offset, -getattr(n, "end_lineno", n.lineno)))


def local_tables(tree: ast.Module) -> Dict[str, str]:
    """Alembic: names bound to ``sa.table("name", ...)`` / ``table("name", ...)`` anywhere."""
    out: Dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = node.value
            if isinstance(value, ast.Call) and pyast.last_part(pyast.call_name(value)) in ("table", "Table") \
                    and value.args and pyast.str_value(value.args[0]):
                out[node.targets[0].id] = pyast.str_value(value.args[0])
    return out


def sa_expression_write(node: ast.AST, tables: Dict[str, str]) -> Optional[Tuple[str, str, bool]]:
    """``t.update().values(...)`` / ``t.delete()`` / ``sa.update(t)`` on a local table."""
    root, names, calls = chain(node)
    if root in tables and names and names[0] in ("update", "delete", "insert"):
        return "sql-" + names[0], tables[root], names[0] != "insert" and "where" not in names
    if names and names[0] in ("update", "delete", "insert") or pyast.last_part(root or "") in ("update", "delete"):
        verb_call = calls[-1] if calls else None
        if verb_call is not None and verb_call.args and isinstance(verb_call.args[0], ast.Name) \
                and verb_call.args[0].id in tables:
            verb = names[0] if names and names[0] in ("update", "delete", "insert") else root
            return "sql-" + verb, tables[verb_call.args[0].id], verb != "insert" and "where" not in names
    return None
