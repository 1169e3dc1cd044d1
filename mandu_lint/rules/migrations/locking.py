"""What the per-migration rules (MDB604, MDB605) share.

- :func:`migration_view`: the migration of the file being checked, re-read from the tree the
  engine parsed (so a fix's re-check sees the edited text) and replayed operation by operation
  from the replay's Database/State tracks just before it: the schema before and after every
  operation, whether the migration is judged and whether it is unreleased.
- :func:`target`: the engine and PostgreSQL version the project runs on
  (``settings_detect.target_of``, shared with the replay facts: configured
  ``database.engine``/``database.version`` win, else Django ``DATABASES``, ``alembic.ini``,
  compose image tags). ``only_postgresql``: no other engine anywhere (the condition for the
  rules' unsafe fixes).
- :func:`is_migration_path`: the files the rules judge although they are ``non-app``
  (``runner.Selection.for_file`` asks ``judges_non_app``; a provisional hook until the family's
  own mechanism lands).

Judged migrations: by default only **unreleased** ones (absent at the merge base with the base
branch, ``released.py``; ``migrations.base``/``since`` are honoured when declared), where tables
created in another unreleased migration are exempt too. Without git or a base, nothing is
unreleased and the rules stay silent. ``migrations.judge: all`` is an audit: every migration is
judged as a deploy of its own (only tables it creates itself are exempt), git is not asked, and
no fix is offered.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Tuple

from . import pyast
from .alembic_ops import UpgradeReader
from .django_ops import read_operations
from .records import Migration, Operation
from .replay import Replay, ReplayResult, replay_migration
from .schema import Schema, TableState
from .settings_detect import Target, target_of
from .state import ProjectState
from ..base import Rule

MIGRATION_FILE = re.compile(r"(^|/)(migrations|versions|alembic)/[^/]+\.py$")
VOLATILE = re.compile(r"\b(random|RandomUUID|Random|gen_random_uuid|uuid_generate_v[14]\w*|clock_timestamp|"
                      r"timeofday|nextval|txid_current|statement_timestamp)\s*\(", re.I)


def is_migration_path(rel: str) -> bool:
    return bool(MIGRATION_FILE.search(rel)) and not rel.endswith("__init__.py")


def _setting(ctx, section: str, key: str):
    values = getattr(ctx.project.settings, "values", {})
    return values.get((section, key))


# -- engine and version -----------------------------------------------------------------------
def target(ctx) -> Target:
    return target_of(ctx.project)


# -- the replay and the release split ---------------------------------------------------------
def replay(ctx) -> ReplayResult:
    return ctx.derived("migrations.replay", lambda: Replay(ctx.project.root, files=list(ctx.project.relfiles)).run())


def release(ctx):
    """``released.ReleaseInfo`` for the run (None-valued ``unreleased`` = unknown): git only,
    no replay (``judged.release_of``, shared with the other per-migration rules)."""
    from .judged import release_of

    return release_of(ctx.project)


def judge_all(ctx) -> bool:
    return _setting(ctx, "migrations", "judge") == "all"


# -- one migration file -----------------------------------------------------------------------
Snapshot = Tuple[Schema, Optional[ProjectState]]


@dataclass
class MigrationView:
    mig: Migration
    result: ReplayResult
    snaps: List[Snapshot]          # before each operation, then the end state
    unreleased: Optional[bool]     # None: unknown (no git or base)
    judged: bool
    unreleased_files: Optional[frozenset] = None
    functions: Dict[str, ast.AST] = field(default_factory=dict)  # module-level defs by name

    @property
    def ops(self) -> List[Operation]:
        return self.mig.operations

    def before(self, op: Operation) -> Schema:
        return self.snaps[op.index][0]

    def after(self, op: Operation) -> Schema:
        return self.snaps[op.index + 1][0]

    def state_before(self, op: Operation) -> Optional[ProjectState]:
        return self.snaps[op.index][1]

    def new_table(self, table: Optional[TableState]) -> bool:
        """Created in this migration or in one not released yet: empty in production, so
        locks on it harm nobody."""
        if table is None or table.created_in is None:
            return False
        if table.created_in == self.mig.key:
            return True
        other = self.result.migrations.get(table.created_in)
        return bool(other is not None and self.unreleased_files is not None and other.file in self.unreleased_files)

    def live_table(self, schema: Schema, name: Optional[str]) -> Optional[TableState]:
        """The table, when it exists, is known and is not new (see :meth:`new_table`)."""
        if not name:
            return None
        table = schema.table(name)
        if table is None or table.unknown or self.new_table(table):
            return None
        return table

    @property
    def single_operation(self) -> bool:
        return len([op for op in self.ops if op.parent is None]) == 1


def migration_view(ctx, notices: Optional[list] = None) -> Optional[MigrationView]:
    """The view of ``ctx``'s file, or None when it is no migration the replay knows — or, before
    any replay (git only), when it is not judged: a released migration, or no release known
    (then ``notices`` gets the one notice that says why; the runner drops repeats)."""
    if not judge_all(ctx):
        info = release(ctx)
        if info.unreleased is None and notices is not None:
            from ...model import Notice
            from .judged import notice_text

            notices.append(Notice(str(ctx.project.root), notice_text(info)))
        if info.unreleased is None or ctx.relpath not in info.unreleased:
            return None
    result = replay(ctx)
    known = result.migration(ctx.relpath)
    if known is None or known.replaced_by is not None:
        return None
    disk_ops = result.operations(ctx.relpath)
    if disk_ops:
        schema, state = result.before(disk_ops[0]), result.state_before(disk_ops[0])
    else:
        return None
    if schema is None:
        return None
    mig = replace(known, operations=[], unknown_effects=[], tree=ctx.tree)
    if known.system == "django":
        cls = pyast.find_class(ctx.tree, "Migration")
        if cls is None:
            return None
        values = pyast.assignments(cls.body)
        atomic = pyast.literal(values.get("atomic", (None, 0))[0])
        mig.atomic = atomic is not False
        read_operations(values.get("operations", (None, 0))[0], ctx.relpath, mig.atomic, mig.operations)
    else:
        mig.operations = UpgradeReader(ctx.tree, ctx.relpath).read()
        mig.atomic = all(op.atomic for op in mig.operations)
    snaps: List[Snapshot] = []
    schema, state = schema.copy(), state.copy() if state is not None else None
    replay_migration(mig, schema, state, snaps)
    snaps.append((schema, state))
    if judge_all(ctx):  # an audit: each migration judged as a deploy of its own, git not asked
        unreleased_files, unreleased, judged = None, None, True
    else:
        info = release(ctx)
        unreleased_files = frozenset(info.unreleased) if info.unreleased is not None else None
        unreleased = None if unreleased_files is None else ctx.relpath in unreleased_files
        judged = bool(unreleased)
    functions = {s.name: s for s in ctx.tree.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))}
    return MigrationView(mig, result, snaps, unreleased, judged, unreleased_files, functions)


def is_volatile(default: Optional[str]) -> bool:
    return bool(default) and bool(VOLATILE.search(default))


class MigrationFileRule(Rule):
    """A rule that judges migration files (``non-app`` for every other family) and nothing else.
    Its findings are cached under ``judged.history_key`` (the project's files, the release
    state and the engine's non-Python sources), like the other per-migration rules'."""

    cached_by_history = True

    @classmethod
    def judges_non_app(cls, rel: str) -> bool:
        return is_migration_path(rel)

    @classmethod
    def cache_key(cls, project, rel: str) -> str:
        from .judged import history_key

        return history_key(project, rel) if is_migration_path(rel) else ""

    def confidence_of(self, node, asked: str) -> str:
        """``medium`` when PostgreSQL is only inferred (an image tag, no engine in the settings)."""
        return "medium" if target(self.ctx).inferred else super().confidence_of(node, asked)

    @classmethod
    def skips(cls, project, rel: str) -> bool:
        """A migration that is known to be released is not judged: the runner need not even
        parse it (most of a history, on every run). Unknown release state is not skipped, so
        the rule can say once why nothing is judged."""
        if not is_migration_path(rel) or getattr(project.settings, "values", {}).get(
                ("migrations", "judge")) == "all":
            return False
        from .judged import release_of

        info = release_of(project)
        return info.unreleased is not None and rel not in info.unreleased

    def __init__(self, ctx):
        super().__init__(ctx)
        self.active = is_migration_path(ctx.relpath)
