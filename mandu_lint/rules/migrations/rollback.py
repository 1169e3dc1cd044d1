"""What rolling a migration back does (MDB606): the reverse of each Django operation
(``reverse_code``, ``reverse_sql``, the schema operation Django derives), and an Alembic
revision's ``downgrade()`` read as operations (the same reader as ``upgrade()``).

A reverse is *missing* (Django raises ``IrreversibleError``; an empty ``downgrade()`` does
nothing), a *no-op* (``RunPython.noop``, ``RunSQL.noop``, a function or ``downgrade()`` whose
body does nothing), *acknowledged* (it raises: ``NotImplementedError("irreversible: …")``,
``IrreversibleError``), or real. A forward step is *destructive* when it deletes rows or drops
a table or column: ``.delete()`` in a data migration, ``DELETE``/``TRUNCATE``/``DROP`` SQL,
``op.drop_table``/``op.drop_column``.
"""
from __future__ import annotations

import ast
import re
from typing import List, Optional

from . import pyast
from .alembic_ops import UpgradeReader
from .records import Operation

DESTRUCTIVE_SQL = re.compile(r"^\s*(?:DELETE\b|TRUNCATE\b|DROP\s+TABLE\b|ALTER\s+TABLE\b.*\bDROP\s+(?:COLUMN\b|\w))",
                             re.I | re.S)
ALEMBIC_DESTRUCTIVE = {"drop_table", "drop_column"}


class DowngradeReader(UpgradeReader):
    """An Alembic revision's ``downgrade()`` as ``Operation`` records."""

    def read(self) -> List[Operation]:
        downgrade = pyast.find_function(self.tree, "downgrade")
        if downgrade is not None:
            self._body(downgrade.body, atomic=True, depth=0)
        return self.ops


def function(tree: Optional[ast.Module], name: Optional[str]):
    if tree is None or not name or not name.isidentifier():
        return None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            return node
    return None


def _meaningful(body: List[ast.stmt]) -> List[ast.stmt]:
    """Statements other than a docstring, ``pass`` and ``...``."""
    out = []
    for stmt in body:
        if isinstance(stmt, ast.Pass):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue
        out.append(stmt)
    return out


def does_nothing(fn) -> bool:
    return fn is not None and not _meaningful(fn.body)


def raises(fn) -> bool:
    """The body raises unconditionally at its top level: an acknowledged irreversible step."""
    return fn is not None and any(isinstance(stmt, ast.Raise) for stmt in _meaningful(fn.body))


def deletes(fn) -> bool:
    """A data migration function that deletes rows or runs destructive SQL."""
    if fn is None:
        return False
    for node in ast.walk(fn):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "delete" \
                and not node.args and not node.keywords:
            return True
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and DESTRUCTIVE_SQL.match(node.value):
            return True
    return False


def reverse_kind(tree: Optional[ast.Module], text: Optional[str]) -> str:
    """``missing`` | ``noop`` | ``raises`` | ``real`` for a RunPython ``reverse_code`` as written."""
    if not text:
        return "missing"
    if text.endswith(".noop") or text == "noop":
        return "noop"
    if text.startswith("lambda"):
        try:
            body = ast.parse(text, mode="eval").body.body
        except (SyntaxError, AttributeError):
            return "real"
        return "noop" if isinstance(body, ast.Constant) else "real"
    fn = function(tree, text)
    if fn is None:
        return "real"
    if raises(fn):
        return "raises"
    return "noop" if does_nothing(fn) else "real"


def destructive_sql(statements) -> bool:
    return bool(statements) and any(isinstance(s, str) and DESTRUCTIVE_SQL.match(s) for s in statements)
