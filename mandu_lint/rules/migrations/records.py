"""Plain records shared by the whole family: graph problems, operations and migrations.

They carry file + line so every rule can anchor a finding, and nothing else: no AST walking, no
schema logic. Keeping them separate lets the graph, the op readers and the replay import them
without importing each other.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

# A migration's identity: ("django", app_label, name) or ("alembic", env, revision). Django
# graph nodes themselves are the (app_label, name) pairs Django uses.
MigrationKey = Tuple[str, str, str]


@dataclass(frozen=True)
class Problem:
    """Something wrong with a migration graph (MDB602 material): where and why."""

    kind: str  # multiple-leaves, missing-dependency, cycle, duplicate-revision, multiple-heads, ...
    message: str
    file: str
    line: int
    related: Tuple[Tuple[str, int], ...] = ()


@dataclass
class Operation:
    """One operation of a migration, as written.

    ``index`` is the position in the migration's flat list (nested operations of
    ``SeparateDatabaseAndState``/``RunSQL(state_operations=…)`` and the calls inside
    ``batch_alter_table`` come right after their parent, with ``parent`` set), so (file, line,
    index) identifies it. ``track`` says which replay track it feeds: ``both`` (a plain Django
    operation), ``state`` or ``database``. ``known`` is False for an operation the replay cannot
    model (its effect made the touched model or table unknown).
    """

    kind: str
    file: str
    line: int
    col: int
    index: int
    args: Dict[str, Any] = field(default_factory=dict)
    track: str = "both"
    parent: Optional[int] = None
    known: bool = True
    atomic: bool = True
    node: Optional[ast.AST] = field(default=None, repr=False, compare=False)

    @property
    def ident(self) -> Tuple[str, int, int]:
        return (self.file, self.line, self.index)


@dataclass
class Migration:
    """One migration file: Django ``Migration`` class or Alembic revision module.

    ``atomic`` is Django's class attribute (Alembic: False when any operation runs inside
    ``autocommit_block()``; each Operation also carries its own flag). ``unknown_effects`` lists
    why the replay could not fully model it (a custom operation with no model, SQL naming no
    table...). ``replaced_by`` is set on Django migrations superseded by a squashed one: they
    are not replayed, as Django skips them on a fresh database.
    """

    key: MigrationKey
    file: str
    line: int
    system: str  # "django" | "alembic"
    label: str   # Django app label, Alembic environment name
    name: str    # Django migration name, Alembic revision id
    atomic: bool = True
    initial: bool = False
    operations: List[Operation] = field(default_factory=list)
    unknown_effects: List[str] = field(default_factory=list)
    replaced_by: Optional[MigrationKey] = None
    tree: Optional[ast.Module] = field(default=None, repr=False, compare=False)

    @property
    def fully_modelled(self) -> bool:
        return not self.unknown_effects and all(op.known for op in self.operations)
