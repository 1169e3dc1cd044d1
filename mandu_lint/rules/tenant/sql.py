"""Raw SQL against tenant tables: find the SQL text a call runs and parse it with sqlglot.

sqlglot is imported on first use, so a check of files without raw SQL never loads it. SQL that
no dialect parses, or that is built at run time (f-strings, ``%`` formatting, concatenation of
unknown parts), is skipped: a guess about its tables would be a guess about a leak.
"""
from __future__ import annotations

import ast
import logging
from functools import lru_cache
from typing import List, Optional, Tuple

DIALECTS = ("postgres", "mysql", "sqlite")
TEXT_FUNCS = frozenset(("sqlalchemy.text", "sqlalchemy.sql.text", "sqlalchemy.sql.expression.text", "sqlmodel.text"))
RAW_SQL = frozenset(("django.db.models.expressions.RawSQL", "django.db.models.RawSQL"))


def literal_sql(ctx, node: Optional[ast.AST], depth: int = 0) -> Optional[str]:
    """The SQL a node holds when it is known statically: a string, implicit or ``+``
    concatenation of strings, or a local name assigned exactly one of those."""
    if node is None or depth > 3:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = literal_sql(ctx, node.left, depth + 1), literal_sql(ctx, node.right, depth + 1)
        return left + right if left is not None and right is not None else None
    if isinstance(node, ast.Name):
        value = ctx.scope.value_of(node.id)
        return literal_sql(ctx, value, depth + 1) if value is not None else None
    return None


@lru_cache(maxsize=512)
def parse(sql: str):
    """The statements of ``sql`` (sqlglot trees), or () when no dialect parses it."""
    import sqlglot
    from sqlglot.errors import SqlglotError

    logging.getLogger("sqlglot").setLevel(logging.CRITICAL)
    for dialect in DIALECTS:
        try:
            found = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
        except (SqlglotError, ValueError, RecursionError):
            continue
        return tuple(found)
    return ()


def unscoped_tables(sql: str, spec) -> Tuple[str, List[str], bool]:
    """(statement kind, scoped tables it touches without a tenant column in any WHERE/ON/
    HAVING condition, whether it pins an ``id`` instead); ("", [], False) when it is fine or
    cannot be judged."""
    from sqlglot import exp

    for stmt in parse(sql):
        if not isinstance(stmt, (exp.Select, exp.Update, exp.Delete, exp.Union, exp.Insert)):
            continue
        if isinstance(stmt, exp.Insert) and stmt.find(exp.Select) is None:
            continue  # INSERT ... VALUES writes the rows it names
        tables = {t.name.lower() for t in stmt.find_all(exp.Table)}
        scoped = sorted(t for t in tables if t in spec.tables)
        if not scoped:
            continue
        wanted = {c.lower() for t in scoped for c in spec.tables[t].columns}
        roots = {t for t in tables if t in spec.root_tables}
        if not _condition_names(stmt, wanted, roots, exp):
            return type(stmt).__name__.upper(), scoped, _condition_names(stmt, {"id"}, set(), exp)
    return "", [], False


def _condition_names(stmt, wanted, roots, exp) -> bool:
    """A tenant column (or a column of a joined root table) is compared with a value in a
    WHERE/ON/HAVING condition; a join between two columns pins nothing."""
    aliases = roots | {t.alias.lower() for t in stmt.find_all(exp.Table) if t.name.lower() in roots and t.alias}

    def keyish(node) -> bool:
        if not isinstance(node, exp.Column):
            return False
        return node.name.lower() in wanted or bool(node.table and node.table.lower() in aliases)

    conds = list(stmt.find_all(exp.Where, exp.Having))
    conds += [j.args.get("on") for j in stmt.find_all(exp.Join) if j.args.get("on") is not None]
    for cond in conds:
        for node in cond.find_all(exp.EQ, exp.In):
            sides = [node.this] + ([node.expression] if isinstance(node, exp.EQ) else [])
            if isinstance(node, exp.In) and keyish(node.this):
                return True
            if len(sides) == 2:
                for col, other in (sides, sides[::-1]):
                    if keyish(col) and not isinstance(other, exp.Column):
                        return True
    return False
