"""The replay: every migration along its graph, keeping for Django the **State** and
**Database** tracks and for each Alembic environment a Database track, so a rule can ask what
the schema was just **before** any operation.

Snapshots are taken before each migration (a shallow copy: tables and models are immutable);
the state before an operation inside a migration is recomputed from its migration's snapshot
on first request. ``SeparateDatabaseAndState.database_operations`` run against a throwaway
copy of the state taken before the operation, as Django does.
"""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from .alembic_db import apply_alembic
from .alembic_graph import AlembicGraph, build_alembic_graph
from .alembic_ops import UpgradeReader
from .discover import Discovery, discover
from .django_db import database_forwards
from .django_ops import read_operations
from .django_state import state_forwards
from .graph import DjangoGraph, build_django_graph
from .pyast import assignments
from .records import Migration, MigrationKey, Operation, Problem
from .schema import Schema
from .state import ModelState, ProjectState

Snapshot = Tuple[Schema, Optional[ProjectState]]


class ReplayResult:
    def __init__(self, discovery: Discovery):
        self.discovery = discovery
        self.migrations: Dict[MigrationKey, Migration] = {}
        self.by_file: Dict[str, MigrationKey] = {}
        self.django_graph: Optional[DjangoGraph] = None
        self.alembic_graphs: Dict[str, AlembicGraph] = {}
        self.state = ProjectState()          # Django State track, final
        self.schema = Schema()               # Django Database track, final
        self.alembic_schemas: Dict[str, Schema] = {}
        self._before: Dict[MigrationKey, Snapshot] = {}
        self._per_op: Dict[MigrationKey, List[Snapshot]] = {}

    @property
    def problems(self) -> List[Problem]:
        graphs = [self.django_graph] if self.django_graph else []
        return (list(self.discovery.problems) + [p for g in graphs for p in g.problems]
                + [p for g in self.alembic_graphs.values() for p in g.problems])

    def migration(self, file: str) -> Optional[Migration]:
        key = self.by_file.get(file)
        return self.migrations.get(key) if key else None

    def operations(self, file: str) -> List[Operation]:
        mig = self.migration(file)
        return mig.operations if mig else []

    def app_state(self, app: str) -> Dict[str, ModelState]:
        """One Django app's final State track (model name lower case -> ModelState)."""
        return self.state.app(app)

    def _snapshots(self, key: MigrationKey) -> List[Snapshot]:
        if key not in self._per_op and key in self._before:
            schema, state = self._before[key]
            snaps: List[Snapshot] = []
            scratch = replace(self.migrations[key], unknown_effects=[])
            replay_migration(scratch, schema.copy(), state.copy() if state else None, snaps)
            self._per_op[key] = snaps
        return self._per_op.get(key, [])

    def before(self, op: Operation) -> Optional[Schema]:
        """The Database track just before ``op`` (None for a migration not replayed, such as
        one a squashed migration replaces)."""
        snaps = self._snapshots(self.by_file.get(op.file))
        return snaps[op.index][0] if op.index < len(snaps) else None

    def state_before(self, op: Operation) -> Optional[ProjectState]:
        snaps = self._snapshots(self.by_file.get(op.file))
        return snaps[op.index][1] if op.index < len(snaps) else None

    def before_at(self, file: str, line: int, index: Optional[int] = None) -> Optional[Schema]:
        for op in self.operations(file):
            if op.line == line and (index is None or op.index == index):
                return self.before(op)
        return None

    def coverage(self) -> Tuple[int, int]:
        """(migrations replayed without an unknown operation or effect, migrations replayed)."""
        replayed = [m for k, m in self.migrations.items() if k in self._before]
        return sum(1 for m in replayed if m.fully_modelled), len(replayed)


def replay_migration(mig: Migration, schema: Schema, state: Optional[ProjectState],
                     snapshots: Optional[List[Snapshot]] = None) -> None:
    """Apply one migration's operations to the tracks, in order."""
    views: Dict[int, ProjectState] = {}
    for op in mig.operations:
        if snapshots is not None:
            snapshots.append((schema.copy(), state.copy() if state is not None else None))
        if state is None:
            apply_alembic(op, schema, mig)
        else:
            _django_op(op, mig, schema, state, views)


def _django_op(op: Operation, mig: Migration, schema: Schema, state: ProjectState,
               views: Dict[int, ProjectState]) -> None:
    if op.kind == "SeparateDatabaseAndState":
        views[op.index] = state.copy()
    elif op.track == "both":
        database_forwards(op, state, schema, mig)
        state_forwards(op, state, mig.label, mig.key)
    elif op.track == "state":
        state_forwards(op, state, mig.label, mig.key)
    elif op.track == "database":
        view = views.setdefault(op.parent if op.parent is not None else -1, state.copy())
        database_forwards(op, view, schema, mig)
        state_forwards(op, view, mig.label, mig.key)


class Replay:
    """``Replay(project).run()``: ``project`` is a root path or an object with ``root`` and
    ``python_files()`` (the project file walker); ``swappable`` maps settings such as
    ``AUTH_USER_MODEL`` to ``"app.Model"`` (detected from the settings when not given)."""

    def __init__(self, project, files: Optional[Sequence[str]] = None, swappable: Optional[Dict[str, str]] = None,
                 reader: Optional[Callable[[str], Optional[str]]] = None):
        is_path = isinstance(project, (str, os.PathLike))  # a Path has a .root too: "/"
        self.root = Path(project if is_path else project.root)
        if files is None and hasattr(project, "python_files"):
            files = project.python_files()
        self.files = files
        self.swappable = swappable
        self.reader = reader  # rel -> text, for content not on disk (see discover)

    def run(self) -> ReplayResult:
        found = discover(self.root, self.files, self.reader)
        if self.swappable is None:
            from .settings_detect import detect

            self.swappable = detect(self.root, self.files).swappable
        result = ReplayResult(found)
        self._django(found, result)
        for env in sorted(found.alembic_envs):
            self._alembic(env, found, result)
        return result

    def _django(self, found: Discovery, result: ReplayResult) -> None:
        graph = result.django_graph = build_django_graph(found.django, self.swappable)
        result.state = ProjectState(swappable=self.swappable)
        by_node = {(m.app_label, m.name): m for m in found.django}
        for node, mig_file in sorted(by_node.items()):
            mig = Migration(("django",) + node, mig_file.path, mig_file.cls.lineno, "django", node[0], node[1],
                            tree=mig_file.tree)
            info = graph.nodes.get(node)
            mig.atomic = info.atomic if info else True
            mig.initial = info.initial if info else False
            value = assignments(mig_file.cls.body).get("operations", (None, 0))[0]
            if not read_operations(value, mig.file, mig.atomic, mig.operations):
                mig.unknown_effects.append("operations is not a literal list")
                result.state.unknown_apps.add(node[0])
            if node in graph.replaced:
                mig.replaced_by = ("django",) + graph.replaced[node]
            result.migrations[mig.key] = mig
            result.by_file[mig.file] = mig.key
        for node in graph.order:
            mig = result.migrations[("django",) + node]
            result._before[mig.key] = (result.schema.copy(), result.state.copy())
            replay_migration(mig, result.schema, result.state)

    def _alembic(self, env: str, found: Discovery, result: ReplayResult) -> None:
        files = [f for f in found.alembic if f.env == env]
        if not files:
            return
        graph = result.alembic_graphs[env] = build_alembic_graph(env, files)
        schema = result.alembic_schemas[env] = Schema()
        for rev_id in graph.order:
            rev = graph.revisions[rev_id]
            rev_file = next(f for f in files if f.path == rev.file)
            mig = Migration(("alembic", env, rev_id), rev.file, rev.line, "alembic", env, rev_id, tree=rev_file.tree)
            mig.operations = UpgradeReader(rev_file.tree, rev.file).read()
            mig.atomic = all(op.atomic for op in mig.operations)
            result.migrations[mig.key] = mig
            result.by_file[mig.file] = mig.key
            result._before[mig.key] = (schema.copy(), None)
            replay_migration(mig, schema, None)
