"""The **Database** track: tables, columns, indexes and constraints as the replay believes the
real database holds them.

Tables are immutable records and a ``Schema`` is a dict of them, so a snapshot before an
operation is a shallow copy. Anything the replay could not follow makes a table *unknown*:
``table_exists`` then answers None and ``column`` answers ``UNKNOWN`` (falsy, like a missing
column, so a rule testing ``if not col`` stays silent either way). An operation that
contradicts the replay (altering a table it thinks absent) also makes that table unknown rather
than inventing one: silence over guesses.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Dict, Mapping, Optional, Tuple

from .records import MigrationKey


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return False


UNKNOWN = _Unknown()


@dataclass(frozen=True)
class ColumnState:
    """What the DDL rules compare. ``type`` is a canonical name (``varchar``, ``integer``,
    ``timestamptz``…; None = unknown); ``has_default`` is an ORM-side default (Django
    ``default=``), ``db_default`` the database's DEFAULT expression as text."""

    name: str
    type: Optional[str] = None
    nullable: Optional[bool] = True
    max_length: Optional[int] = None
    has_default: bool = False
    db_default: Optional[str] = None
    unique: bool = False
    index: bool = False
    primary_key: bool = False
    fk: Optional[str] = None
    type_params: Tuple = ()


@dataclass(frozen=True)
class IndexState:
    name: str
    columns: Tuple[str, ...] = ()
    unique: bool = False
    concurrently: bool = False
    partial: bool = False


@dataclass(frozen=True)
class ConstraintState:
    name: str
    kind: str  # unique | check | foreign_key | primary_key | exclude
    columns: Tuple[str, ...] = ()
    validated: bool = True
    definition: Optional[str] = None
    references: Optional[str] = None


@dataclass(frozen=True)
class TableState:
    name: str
    columns: Mapping[str, ColumnState] = field(default_factory=dict)
    indexes: Mapping[str, IndexState] = field(default_factory=dict)
    constraints: Mapping[str, ConstraintState] = field(default_factory=dict)
    created_in: Optional[MigrationKey] = None
    unknown: bool = False
    owner: Optional[str] = None  # the Django app whose model it is


def norm(name: str) -> str:
    return name.strip('"`[]').lower()


class Schema:
    """One database's tables. Queries take table names in any case; mutations never edit a
    TableState in place (snapshots share them)."""

    def __init__(self, tables: Optional[Dict[str, TableState]] = None):
        self.tables: Dict[str, TableState] = dict(tables or {})

    def copy(self) -> "Schema":
        return Schema(self.tables)

    # -- what rules ask -------------------------------------------------------------------
    def table(self, name: str) -> Optional[TableState]:
        return self.tables.get(norm(name))

    def table_exists(self, name: str) -> Optional[bool]:
        table = self.table(name)
        return None if table is not None and table.unknown else table is not None

    def is_unknown(self, name: str) -> bool:
        table = self.table(name)
        return table is not None and table.unknown

    def column(self, table_name: str, column: str):
        table = self.table(table_name)
        if table is None:
            return None
        if table.unknown:
            return UNKNOWN
        return table.columns.get(norm(column))

    def created_in(self, name: str) -> Optional[MigrationKey]:
        table = self.table(name)
        return table.created_in if table is not None else None

    def find_index(self, name: str) -> Optional[Tuple[str, IndexState]]:
        for table in self.tables.values():
            if norm(name) in table.indexes:
                return table.name, table.indexes[norm(name)]
        return None

    # -- mutations ------------------------------------------------------------------------
    def _put(self, table: TableState) -> None:
        self.tables[norm(table.name)] = table

    def _edit(self, name: str, contradiction: bool = True) -> Optional[TableState]:
        """The table to change, or None: absent (made unknown when the change contradicts the
        replay) or already unknown (nothing more to learn)."""
        table = self.table(name)
        if table is None:
            if contradiction:
                self.mark_unknown(name)
            return None
        return None if table.unknown else table

    def create_table(self, name: str, columns=(), created_in=None, owner=None) -> None:
        cols = {norm(c.name): c for c in columns}
        self._put(TableState(name, cols, {}, {}, created_in, False, owner))

    def drop_table(self, name: str) -> None:
        self.tables.pop(norm(name), None)

    def rename_table(self, old: str, new: str) -> None:
        table = self.tables.pop(norm(old), None)
        if table is None:
            self.mark_unknown(new)
            return
        self._put(replace(table, name=new))
        for other in list(self.tables.values()):
            if any(c.fk and norm(c.fk) == norm(old) for c in other.columns.values()):
                cols = {k: replace(c, fk=new) if c.fk and norm(c.fk) == norm(old) else c
                        for k, c in other.columns.items()}
                self._put(replace(other, columns=cols))

    def add_column(self, table_name: str, column: ColumnState) -> None:
        table = self._edit(table_name)
        if table is not None:
            self._put(replace(table, columns={**table.columns, norm(column.name): column}))

    def drop_column(self, table_name: str, column: str) -> None:
        table = self._edit(table_name)
        if table is None:
            return
        if norm(column) not in table.columns:
            self.mark_unknown(table_name)
            return
        cols = {k: c for k, c in table.columns.items() if k != norm(column)}
        indexes = {k: i for k, i in table.indexes.items() if norm(column) not in map(norm, i.columns)}
        self._put(replace(table, columns=cols, indexes=indexes))

    def alter_column(self, table_name: str, column: str, **changes) -> None:
        table = self._edit(table_name)
        if table is None:
            return
        current = table.columns.get(norm(column))
        if current is None:
            self.mark_unknown(table_name)
            return
        self.replace_column(table_name, column, replace(current, **changes))

    def replace_column(self, table_name: str, old_name: str, column: ColumnState) -> None:
        """Swap a column for a new definition (and name), keeping its position."""
        table = self._edit(table_name)
        if table is None:
            return
        if norm(old_name) not in table.columns:
            self.mark_unknown(table_name)
            return
        cols = {(norm(column.name) if k == norm(old_name) else k): (column if k == norm(old_name) else c)
                for k, c in table.columns.items()}
        indexes = {k: replace(i, columns=tuple(column.name if norm(x) == norm(old_name) else x for x in i.columns))
                   for k, i in table.indexes.items()}
        self._put(replace(table, columns=cols, indexes=indexes))

    def rename_column(self, table_name: str, old: str, new: str) -> None:
        table = self._edit(table_name)
        current = table.columns.get(norm(old)) if table is not None else None
        if table is not None and current is None:
            self.mark_unknown(table_name)
        elif current is not None:
            self.replace_column(table_name, old, replace(current, name=new))

    def add_index(self, table_name: str, index: IndexState) -> None:
        table = self._edit(table_name)
        if table is not None:
            self._put(replace(table, indexes={**table.indexes, norm(index.name): index}))

    def drop_index(self, name: str, table_name: Optional[str] = None) -> None:
        found = self.find_index(name)
        if found is not None and (table_name is None or norm(found[0]) == norm(table_name)):
            table = self.tables[norm(found[0])]
            self._put(replace(table, indexes={k: i for k, i in table.indexes.items() if k != norm(name)}))

    def rename_index(self, old: str, new: str) -> None:
        found = self.find_index(old)
        if found is not None:
            self.drop_index(old)
            self.add_index(found[0], replace(found[1], name=new))

    def add_constraint(self, table_name: str, constraint: ConstraintState) -> None:
        table = self._edit(table_name)
        if table is not None:
            self._put(replace(table, constraints={**table.constraints, norm(constraint.name): constraint}))

    def drop_constraint(self, table_name: str, name: str) -> None:
        table = self._edit(table_name, contradiction=False)
        if table is not None:
            self._put(replace(table, constraints={k: c for k, c in table.constraints.items() if k != norm(name)}))

    def validate_constraint(self, table_name: str, name: str) -> None:
        table = self._edit(table_name, contradiction=False)
        if table is not None and norm(name) in table.constraints:
            validated = replace(table.constraints[norm(name)], validated=True)
            self._put(replace(table, constraints={**table.constraints, norm(name): validated}))

    def rename_constraint(self, table_name: str, old: str, new: str) -> None:
        """Names only: an unknown old name (Django's generated ones are not modelled) is fine."""
        table = self._edit(table_name)
        if table is not None and norm(old) in table.constraints:
            renamed = replace(table.constraints[norm(old)], name=new)
            constraints = {(norm(new) if k == norm(old) else k): (renamed if k == norm(old) else c)
                           for k, c in table.constraints.items()}
            self._put(replace(table, constraints=constraints))

    def mark_unknown(self, name: str) -> None:
        table = self.table(name)
        if table is None:
            self._put(TableState(name, unknown=True))
        elif not table.unknown:
            self._put(replace(table, unknown=True))

    def mark_owner_unknown(self, owner: str) -> None:
        for table in list(self.tables.values()):
            if table.owner == owner:
                self.mark_unknown(table.name)
