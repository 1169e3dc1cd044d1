"""Raw SQL (``RunSQL``, ``op.execute``) applied to the Database track, parsed with sqlglot's
PostgreSQL dialect (imported on first use).

Modelled: CREATE/DROP/ALTER TABLE (columns, NOT NULL, types, defaults, renames, constraints
incl. ``NOT VALID``, ``VALIDATE CONSTRAINT``, ``USING INDEX``), CREATE/DROP/ALTER INDEX. DML,
comments, grants, functions, extensions and the like change no table. SQL that cannot be
parsed, or a statement whose effect is not modelled, makes the tables it names unknown; if no
table can be identified the migration is marked as having unknown effects.
"""
from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, List, Optional, Tuple

from .ddl_columns import column_def, constraint_of, table_name
from .records import MigrationKey
from .schema import ConstraintState, IndexState, Schema, norm

# Statements that change no table's columns (DO blocks and ALTER TABLE are not among them).
NO_TABLE_EFFECT = re.compile(
    r"^\s*(?:(?:CREATE(?:\s+OR\s+REPLACE)?|DROP|ALTER)\s+(?:TRUSTED\s+|PROCEDURAL\s+|CONSTRAINT\s+)?"
    r"(?:FUNCTION|PROCEDURE|EXTENSION|TYPE|SCHEMA|SEQUENCE|VIEW|MATERIALIZED\s+VIEW|TRIGGER|RULE|POLICY|"
    r"AGGREGATE|OPERATOR|COLLATION|DOMAIN|PUBLICATION|SUBSCRIPTION|ROLE|USER|LANGUAGE|TEXT\s+SEARCH|STATISTICS|"
    r"EVENT\s+TRIGGER|SERVER|FOREIGN\s+DATA\s+WRAPPER|DEFAULT\s+PRIVILEGES)\b"
    r"|(?:COMMENT|GRANT|REVOKE|SET|RESET|ANALY[SZ]E|VACUUM|REINDEX|CLUSTER|REFRESH|NOTIFY|LISTEN|SELECT|BEGIN|"
    r"COMMIT|SHOW|SECURITY\s+LABEL)\b)", re.I)
ALTER_TABLE = re.compile(r"^\s*ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?([\w.\"]+)\s+(.*)$", re.I | re.S)
TABLE_MENTION = re.compile(r"\b(?:TABLE|INTO|UPDATE|FROM|ON|JOIN)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?(?:ONLY\s+)?"
                           r"([A-Za-z_][\w.\"]*)", re.I)


def is_catalog(name: str) -> bool:
    """PostgreSQL's own catalogs (``pg_indexes`` in a DO block) are no project table."""
    lowered = name.lower()
    return lowered.startswith(("pg_", "pg_catalog.", "information_schema."))


def is_sequence(name: str) -> bool:
    """``ALTER TABLE x_id_seq RENAME TO …`` renames a sequence (PostgreSQL allows it)."""
    return name.lower().endswith("_seq")


@dataclass
class SqlStatement:
    """One statement and what the replay made of it (rules read ``kind``/``flags``)."""

    kind: str  # create_table, drop_table, alter_table, create_index, drop_index, dml, no_effect, unknown
    text: str
    tables: Tuple[str, ...] = ()
    flags: Tuple[str, ...] = ()  # concurrently, not_valid, unique, if_exists, ...


@dataclass
class SqlEffects:
    statements: List[SqlStatement] = field(default_factory=list)
    unknown_tables: List[str] = field(default_factory=list)
    unknown_effects: List[str] = field(default_factory=list)


@contextmanager
def _quiet() -> Iterator[None]:
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def split_statements(sql: str) -> List[str]:
    """Split on semicolons outside quotes, dollar quotes and comments (for SQL that does not
    parse as a whole, so one bad statement does not hide the others)."""
    out, start, i, n = [], 0, 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"":
            end = sql.find(ch, i + 1)
            i = n if end < 0 else end + 1
        elif ch == "$" and re.match(r"\$\w*\$", sql[i:]):
            tag = re.match(r"\$\w*\$", sql[i:]).group(0)
            end = sql.find(tag, i + len(tag))
            i = n if end < 0 else end + len(tag)
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif ch == ";":
            out.append(sql[start:i])
            start = i = i + 1
        else:
            i += 1
    out.append(sql[start:])
    return [s.strip() for s in out if s.strip()]


def apply_sql(schema: Schema, sql: str, created_in: Optional[MigrationKey] = None,
              owner: Optional[str] = None) -> SqlEffects:
    import sqlglot  # lazily: a check without migrations never pays for it

    effects = SqlEffects()
    for text in split_statements(sql):
        try:
            with _quiet():
                parsed = [e for e in sqlglot.parse(text, read="postgres") if e is not None]
        except Exception:  # sqlglot raises ParseError, TokenError and others on odd input
            parsed = None
        if parsed is None or len(parsed) != 1:
            _unparsed(schema, text, effects)
            continue
        _statement(schema, parsed[0], text, effects, created_in, owner)
    return effects


def _unparsed(schema: Schema, text: str, effects: SqlEffects, reason: str = "SQL not understood") -> None:
    if NO_TABLE_EFFECT.match(text):
        effects.statements.append(SqlStatement("no_effect", text))
        return
    tables = tuple(dict.fromkeys(name for name in (m.group(1).strip('"') for m in TABLE_MENTION.finditer(text))
                                 if not is_catalog(name)))
    effects.statements.append(SqlStatement("unknown", text, tables))
    if tables:
        for table in tables:
            schema.mark_unknown(table)
        effects.unknown_tables.extend(tables)
    else:
        effects.unknown_effects.append(f"{reason}: {text[:80]}")


def _statement(schema: Schema, node, text: str, effects: SqlEffects, created_in, owner) -> None:
    from sqlglot import exp

    if isinstance(node, exp.Create):
        _create(schema, node, text, effects, created_in, owner)
    elif isinstance(node, exp.Drop):
        _drop(schema, node, text, effects)
    elif isinstance(node, exp.Alter) and str(node.args.get("kind")).upper() == "TABLE":
        _alter_table(schema, node, text, effects)
    elif isinstance(node, exp.Alter) and str(node.args.get("kind")).upper() == "INDEX":
        rename = next(iter(node.args.get("actions") or []), None)
        if isinstance(rename, exp.AlterRename):
            schema.rename_index(table_name(node.this), table_name(rename.this))
        effects.statements.append(SqlStatement("alter_index", text))
    elif isinstance(node, (exp.Insert, exp.Update, exp.Delete, exp.Select, exp.Merge, exp.TruncateTable, exp.Copy)):
        tables = tuple(dict.fromkeys(table_name(t) for t in node.find_all(exp.Table)))
        effects.statements.append(SqlStatement("dml", text, tables))
    elif isinstance(node, exp.Command):
        _command(schema, text, effects)
    elif isinstance(node, (exp.Comment, exp.Grant, exp.Revoke, exp.Set, exp.Transaction, exp.Commit)):
        effects.statements.append(SqlStatement("no_effect", text))
    else:
        _unparsed(schema, text, effects, "statement not modelled")


def _create(schema: Schema, node, text: str, effects: SqlEffects, created_in, owner) -> None:
    from sqlglot import exp

    kind = str(node.args.get("kind") or "").upper()
    exists = bool(node.args.get("exists"))
    if kind == "TABLE":
        target = node.this.this if isinstance(node.this, exp.Schema) else node.this
        name = table_name(target)
        effects.statements.append(SqlStatement("create_table", text, (name,), ("if_not_exists",) * exists))
        if exists and schema.table_exists(name) is not False:
            return
        columns, constraints = [], []
        for item in node.this.expressions if isinstance(node.this, exp.Schema) else ():
            if isinstance(item, exp.ColumnDef):
                columns.append(column_def(item))
            else:
                constraints.append(constraint_of(item, name))
        schema.create_table(name, _with_keys(columns, constraints), created_in, owner)
        for constraint in filter(None, constraints):
            schema.add_constraint(name, constraint)
        if node.args.get("expression") is not None:  # CREATE TABLE ... AS SELECT
            schema.mark_unknown(name)
    elif kind == "INDEX":
        index = node.this
        table = table_name(index.args.get("table"))
        params = index.args.get("params")
        columns = tuple(c.name for c in (params.args.get("columns") or []) if c.find(exp.Column)) if params else ()
        name = table_name(index.this) if index.this else f"{table}_{'_'.join(columns)}_idx"
        flags = tuple(f for f in ("unique", "concurrently") if node.args.get(f))
        effects.statements.append(SqlStatement("create_index", text, (table,), flags))
        if not (exists and schema.find_index(name)):
            schema.add_index(table, IndexState(name, columns, bool(node.args.get("unique")),
                                               bool(node.args.get("concurrently")),
                                               bool(params and params.args.get("where"))))
    else:
        effects.statements.append(SqlStatement("no_effect", text))


def _with_keys(columns, constraints):
    """Table-level PRIMARY KEY/UNIQUE folded into the column records they cover."""
    from dataclasses import replace

    out = []
    for col in columns:
        covering = [c for c in constraints if c and c.columns == (col.name,)]
        if any(c.kind == "primary_key" for c in covering):
            col = replace(col, primary_key=True, nullable=False, unique=True, index=True)
        if any(c.kind == "unique" for c in covering):
            col = replace(col, unique=True, index=True)
        out.append(col)
    return out


def _drop(schema: Schema, node, text: str, effects: SqlEffects) -> None:
    kind = str(node.args.get("kind") or "").upper()
    names = [table_name(t) for t in node.args.get("tables") or [node.this] if t is not None]
    flags = tuple(f for f in ("concurrently", "exists", "cascade") if node.args.get(f))
    if kind == "TABLE":
        for name in names:
            schema.drop_table(name)
        effects.statements.append(SqlStatement("drop_table", text, tuple(names), flags))
    elif kind == "INDEX":
        tables = tuple(schema.find_index(n)[0] for n in names if schema.find_index(n))
        for name in names:
            schema.drop_index(name)
        effects.statements.append(SqlStatement("drop_index", text, tables, flags))
    else:
        effects.statements.append(SqlStatement("no_effect", text))


def _alter_table(schema: Schema, node, text: str, effects: SqlEffects) -> None:
    from .ddl_columns import alter_action

    name = table_name(node.this)
    flags = ("not_valid",) if node.args.get("not_valid") else ()
    absent = schema.table_exists(name) is False
    if absent and (node.args.get("exists") or is_sequence(name)):  # a no-op, or a sequence
        effects.statements.append(SqlStatement("no_effect", text, (name,), flags + ("if_exists",)))
        return
    actions = []
    for action in node.args.get("actions") or []:
        done = alter_action(schema, name, action, bool(node.args.get("not_valid")))
        if done is None:
            schema.mark_unknown(name)
            effects.unknown_tables.append(name)
            done = "unknown"
        actions.append(done)
        name = done[len("rename_to "):] if done.startswith("rename_to ") else name
    effects.statements.append(SqlStatement("alter_table", text, (table_name(node.this),), flags + tuple(actions)))


def _command(schema: Schema, text: str, effects: SqlEffects) -> None:
    """What sqlglot passes through unparsed: VALIDATE CONSTRAINT and USING INDEX are common
    enough in zero-downtime migrations to be modelled; the rest goes to ``_unparsed``."""
    match = ALTER_TABLE.match(text)
    if match:
        table, rest = match.group(1).strip('"'), match.group(2)
        validate = re.match(r"VALIDATE\s+CONSTRAINT\s+([\w\"]+)\s*$", rest, re.I)
        using = re.match(r"ADD\s+CONSTRAINT\s+([\w\"]+)\s+(UNIQUE|PRIMARY\s+KEY)\s+USING\s+INDEX\s+([\w\"]+)\s*$",
                         rest, re.I)
        rename = re.match(r"RENAME\s+CONSTRAINT\s+([\w\"]+)\s+TO\s+([\w\"]+)\s*$", rest, re.I)
        if rename:
            schema.rename_constraint(table, norm(rename.group(1)), norm(rename.group(2)))
            effects.statements.append(SqlStatement("alter_table", text, (table,), ("rename_constraint",)))
            return
        if validate:
            schema.validate_constraint(table, norm(validate.group(1)))
            effects.statements.append(SqlStatement("alter_table", text, (table,), ("validate_constraint",)))
            return
        if using:
            found = schema.find_index(norm(using.group(3)))
            kind = "primary_key" if using.group(2).upper().startswith("PRIMARY") else "unique"
            schema.add_constraint(table, ConstraintState(norm(using.group(1)), kind, found[1].columns if found else ()))
            effects.statements.append(SqlStatement("alter_table", text, (table,), ("using_index",)))
            return
    _unparsed(schema, text, effects)
