"""Breaking schema changes of one operation (MDB603): the Database track just before the
operation against just after it. Tables and columns that disappear are drops — or renames when
the operation renames (``RenameField``, ``RenameModel``, ``AlterModelTable``, ``alter_column(
new_column_name=…)``, ``rename_table``, SQL ``RENAME``) —, and a column whose type or length
shrinks is a narrowing. Comparing snapshots covers raw SQL (``RunSQL``, ``op.execute``) like
any operation; tables the replay lost track of are never compared.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from .records import Migration, Operation
from .schema import ColumnState, Schema, TableState

RENAMING = {"RenameField", "RenameModel", "AlterModelTable", "rename_table", "AlterField", "alter_column", "RunSQL",
            "execute"}
NUMBERS = {"smallint", "integer", "bigint", "numeric", "double", "real"}
INT_WIDTH = {"smallint": 2, "integer": 4, "bigint": 8}
WIDER_THAN = {("varchar", "text"), ("char", "varchar"), ("char", "text"), ("varchar", "citext"), ("text", "citext"),
              ("timestamp", "timestamptz"), ("integer", "numeric"), ("smallint", "numeric"), ("bigint", "numeric"),
              ("json", "jsonb"), ("date", "timestamp"), ("date", "timestamptz"), ("real", "double")}
WIDER_THAN |= {(i, f) for i in ("smallint", "integer", "bigint") for f in ("double", "numeric")}
WIDER_THAN |= {("smallint", "real")}


@dataclass
class Change:
    kind: str                   # drop-table | drop-column | rename-table | rename-column | narrow
    table: str
    column: Optional[str] = None
    new_name: Optional[str] = None
    detail: str = ""
    before: Optional[ColumnState] = None


def _known(schema: Schema, name: str) -> Optional[TableState]:
    table = schema.table(name)
    return None if table is None or table.unknown else table


def narrowing(old: ColumnState, new: ColumnState) -> Optional[str]:
    if old.type is None or new.type is None:
        return None
    if old.type == new.type:
        if old.type in ("varchar", "char") and old.max_length and new.max_length and new.max_length < old.max_length:
            return f"length {old.max_length} -> {new.max_length}"
        if old.type == "numeric" and old.type_params and new.type_params and len(old.type_params) == len(
                new.type_params) and all(isinstance(x, int) for x in old.type_params + new.type_params) and \
                any(n < o for o, n in zip(old.type_params, new.type_params)):
            return f"numeric{old.type_params} -> numeric{new.type_params}"
        return None
    if old.type in INT_WIDTH and new.type in INT_WIDTH:
        return f"{old.type} -> {new.type}" if INT_WIDTH[new.type] < INT_WIDTH[old.type] else None
    if (old.type, new.type) in WIDER_THAN or (old.type == "varchar" and new.type == "varchar"):
        return None
    if old.type in NUMBERS and (new.type == "text" or new.type == "varchar" and (new.max_length or 0) >= 20):
        return None  # every number fits in the text
    if old.type in ("varchar", "text") and new.type in ("varchar", "char"):
        return f"{old.type} -> {new.type}({new.max_length})" if new.max_length else None
    return f"type {old.type} -> {new.type}"


def changes(op: Operation, before: Schema, after: Schema) -> List[Change]:
    out: List[Change] = []
    gone = [t for name, t in before.tables.items() if not t.unknown and name not in after.tables]
    new = [t for name, t in after.tables.items() if name not in before.tables]
    renames_tables = op.kind in ("RenameModel", "AlterModelTable", "rename_table") or (
        op.kind in ("RunSQL", "execute") and any("rename_to" in " ".join(s.flags)
                                                 for s in op.args.get("statements") or ()))
    for table in gone:
        if renames_tables and len(gone) == 1 and len(new) == 1:
            out.append(Change("rename-table", table.name, new_name=new[0].name))
        elif renames_tables and new:
            continue  # several tables renamed at once (a model and its m2m tables): names only
        else:
            out.append(Change("drop-table", table.name))
    for name, old_table in before.tables.items():
        new_table = after.tables.get(name)
        if new_table is None or new_table is old_table or old_table.unknown or new_table.unknown:
            continue
        removed = [c for key, c in old_table.columns.items() if key not in new_table.columns]
        added = [c for key, c in new_table.columns.items() if key not in old_table.columns]
        renaming = op.kind in RENAMING and len(removed) == 1 and len(added) == 1
        for col in removed:
            if renaming:
                out.append(Change("rename-column", old_table.name, col.name, added[0].name, before=col))
            else:
                out.append(Change("drop-column", old_table.name, col.name, before=col))
        for key, col in old_table.columns.items():
            now = new_table.columns.get(key)
            if now is not None and now is not col:
                detail = narrowing(col, now)
                if detail:
                    out.append(Change("narrow", old_table.name, col.name, detail=detail, before=col))
    return out


def operation_changes(facts, mig: Migration) -> List[tuple]:
    """(operation, Change) for every database-affecting operation of ``mig``, in order."""
    replay = facts.replay
    ops = mig.operations
    out = []
    for i, op in enumerate(ops):
        if op.track in ("state", "none") or op.kind in ("SeparateDatabaseAndState", "batch_alter_table"):
            continue
        before = replay.before(op)
        if before is None:
            continue
        following = next((o for o in ops[i + 1:]), None)
        after = replay.before(following) if following is not None else facts.after(mig)
        if after is None:
            continue
        for change in changes(op, before, after):
            out.append((op, change))
    return out
