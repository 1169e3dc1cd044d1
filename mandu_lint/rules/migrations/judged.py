"""What the MDB6xx rules share about the project being checked: its replay (computed once per
index, reading unsaved buffers and the fix engine's candidates rather than the disk), which
migrations are *judged* (``migrations.judge``, ``migrations.base``, ``migrations.since``), which
migrations were released, the database engine, and ``MigrationRule``, the base class of the
per-migration rules.

Per-migration rules are file rules: they run in the CLI and in flake8, on migration files,
which are ``non-app`` for every other family (``judges_non_app``). Their findings depend on
the other migrations, the application code and the git history, so their findings-cache key
holds the digest of every file and the base commit (``cache_key``).
"""
from __future__ import annotations

import ast
import hashlib
import re
from dataclasses import dataclass, field
from typing import Dict, Optional, Set

from ...core.source import decode
from ...model import Notice
from ..base import Rule
from .records import Migration
from .released import ReleaseInfo
from .replay import Replay, ReplayResult
from .settings_detect import target_of
from .schema import Schema

FACTS_KEY = "migrations.facts"


@dataclass
class MigrationFacts:
    root: str
    replay: ReplayResult
    judge_all: bool
    release: Optional[ReleaseInfo]
    engine: Optional[str] = None
    engine_reason: str = ""
    engine_inferred: bool = False  # PostgreSQL only from an image tag: engine-bound findings are medium
    version: Optional[int] = None
    _after: Dict[str, Schema] = field(default_factory=dict)
    _trees: Dict[str, Optional[ast.Module]] = field(default_factory=dict)
    _read: object = None  # rel -> text

    def source(self, rel: str) -> Optional[str]:
        return self._read(rel) if self._read is not None else None

    def tree(self, rel: str) -> Optional[ast.Module]:
        """A project file parsed once per run (models, application code)."""
        if rel not in self._trees:
            from .pyast import parse

            text = self.source(rel)
            self._trees[rel] = parse(text, rel) if text is not None else None
        return self._trees[rel]

    @property
    def unreleased(self) -> Optional[Set[str]]:
        return self.release.unreleased if self.release is not None else None

    def judged(self, mig: Migration) -> bool:
        """Is ``mig`` judged by the per-migration rules: every migration with ``judge: all``,
        else the unreleased ones (none when the release cannot be told)."""
        if mig.replaced_by is not None:
            return False  # a squashed set's member: never run on a fresh database
        if self.judge_all:
            return True
        return self.unreleased is not None and mig.file in self.unreleased

    def is_unreleased(self, key) -> bool:
        """Was the migration ``key`` (a MigrationKey) not released yet? With ``judge: all``, or
        with no git answer, every migration counts as released (the previous release had it)."""
        mig = self.replay.migrations.get(key) if key else None
        unreleased = self.unreleased
        return mig is not None and unreleased is not None and mig.file in unreleased

    def after(self, mig: Migration) -> Optional[Schema]:
        """The Database track just after ``mig`` (its own env/app track), or None."""
        if mig.file in self._after:
            return self._after[mig.file]
        before = self.replay._before.get(mig.key)
        out = None
        if before is not None:
            from dataclasses import replace

            from .replay import replay_migration

            schema, state = before
            out = schema.copy()
            replay_migration(replace(mig, unknown_effects=[]), out, state.copy() if state is not None else None)
        self._after[mig.file] = out
        return out


def notice_text(release: ReleaseInfo) -> str:
    return (f"migrations: {release.reason}; the per-migration rules (MDB603-MDB607) judge unreleased migrations "
            "only (set `migrations.judge: all` to audit every migration)")


def _reader(project):
    def read(rel: str) -> Optional[str]:
        data = project.data(rel)
        if data is None:
            return None
        try:
            return decode(data)
        except (UnicodeDecodeError, LookupError, SyntaxError):
            return None
    return read


def downtime_deploy(settings) -> bool:
    """``migrations.deploy: downtime``: nothing serves while migrations run."""
    return getattr(settings, "values", {}).get(("migrations", "deploy")) == "downtime"


def runs_after_deploy(mig: Migration) -> bool:
    """django-safemigrate's ``safe = Safe.after_deploy()`` on the Migration class: the migration
    is applied once the new release serves, so no previous release runs against its schema."""
    if mig.system != "django" or mig.tree is None:
        return False
    from . import pyast

    cls = pyast.find_class(mig.tree, "Migration")
    value = pyast.assignments(cls.body).get("safe", (None, 0))[0] if cls is not None else None
    name = pyast.call_name(value) if isinstance(value, ast.Call) else pyast.dotted(value)
    return bool(name) and pyast.last_part(name) == "after_deploy"


def build_facts(project) -> MigrationFacts:
    """The replay and release facts of ``project`` (a runner Project or unit)."""
    settings = project.settings
    section = settings.section("migrations")
    files = list(project.relfiles)
    read = _reader(project)
    replay = Replay(project.root, files=files, reader=read).run()
    judge_all = section.judge == "all"
    release = None
    if replay.migrations and not judge_all:  # ``all``: every migration judged, the ones before it released
        release = release_of(project)
    facts = MigrationFacts(str(project.root), replay, judge_all, release)
    facts._read = read
    t = target_of(project)
    facts.engine, facts.version, facts.engine_reason = t.engine, t.version, t.reason
    facts.engine_inferred = t.inferred
    return facts


def release_of(project) -> ReleaseInfo:
    """Released vs unreleased files of the project (git only, no replay, no index): once per
    Project object, so the runner can ask it before a file is parsed."""
    hit = project.__dict__.get("_migrations_release")
    if hit is None:
        from pathlib import Path

        from .released import _since, release_info

        section = project.settings.section("migrations")
        files = sorted(project.relfiles)
        if section.since:
            hit = _since(Path(project.root), files, section.since)
        else:
            hit = release_info(project.root, files, section.base)
        project.__dict__["_migrations_release"] = hit
    return hit


def facts_of(project) -> MigrationFacts:
    """Once per index: shared by the project rules and the per-migration rules of a run."""
    return project.index.derived(FACTS_KEY, lambda: build_facts(project))


_ALEMBIC = re.compile(r"^down_revision\s*[:=]", re.M)


def looks_like_migration(source: str, rel: str = "") -> bool:
    """Cheap: a Django migration module (``migrations/`` + ``class Migration``) or an Alembic
    revision (a module-level ``down_revision``); the replay's discovery decides for real."""
    if "class Migration" in source and (not rel or "/migrations/" in f"/{rel}"):
        return True
    return bool(_ALEMBIC.search(source))


def _release_key(project) -> str:
    """The git state a file's judgement depends on: the merge base (or ``since``) commit.
    Computed once per Project object (a run)."""
    hit = project.__dict__.get("_migrations_release_key")
    if hit is None:
        section = project.settings.section("migrations")
        if section.judge == "all":
            hit = "all"
        else:
            from .released import _git, find_base

            ref = section.since or find_base(project.root, section.base)
            commit = None
            if ref is not None:
                out = (_git(project.root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}") if section.since
                       else _git(project.root, "merge-base", "HEAD", ref))
                commit = out.strip() if out else None
            hit = f"{ref}@{commit}"
        project.__dict__["_migrations_release_key"] = hit
    return hit


def history_key(project, rel: str) -> str:
    """What a migration file's findings depend on beyond the file: every Python file of the
    project (the replay reads the whole history, models and code), the git state that decides
    what is released, and the non-Python files read for the engine and version (``alembic.ini``,
    compose files, CI workflows). '' for a file that is not a migration."""
    data = project.data(rel)
    if data is None or not (b"class Migration" in data or b"down_revision" in data):
        return ""
    hit = project.__dict__.get("_migrations_history_key")
    if hit is None:
        from pathlib import Path

        from .settings_detect import COMPOSE_GLOBS

        h = hashlib.sha256(project.index_key.encode())
        h.update(_release_key(project).encode())
        root = Path(project.root)
        extra = {p for pattern in (*COMPOSE_GLOBS, "alembic.ini", "*/alembic.ini", "*/*/alembic.ini")
                 for p in root.glob(pattern)}
        for path in sorted(extra):
            try:
                h.update(f"{path.relative_to(root)}\0".encode() + hashlib.sha256(path.read_bytes()).digest())
            except OSError:
                continue
        hit = project.__dict__["_migrations_history_key"] = h.hexdigest()[:24]
    return hit


class MigrationRule(Rule):
    """A rule judging one migration file at a time (CLI and flake8). Subclasses implement
    ``check_migration(mig, facts)`` and report on the replay's operation nodes, which are the
    nodes of this very file (the replay read the same text)."""

    judges_non_app = True
    # False: a rule that judges every migration (no release history needed).
    unreleased_only = True

    def __init__(self, ctx):
        super().__init__(ctx)
        self.active = looks_like_migration(ctx.source, ctx.relpath) and self._may_judge()

    def _may_judge(self) -> bool:
        """Cheap (git only): is this file judged at all? The replay is built only when it is."""
        if not self.unreleased_only or self.ctx.project.settings.section("migrations").judge == "all":
            return True
        try:
            release = release_of(self.ctx.project)
        except Exception:  # the walk's own crash handling reports it (``__init__`` has none)
            return True
        if release.unreleased is None:
            self.notices.append(Notice(str(self.ctx.project.root), notice_text(release)))
            return False
        return self.ctx.relpath in release.unreleased

    @classmethod
    def cache_key(cls, project, rel: str) -> str:
        return history_key(project, rel)

    def visit_Module(self, node: ast.Module) -> None:
        facts = facts_of(self.ctx.project)
        mig = facts.replay.migration(self.ctx.relpath)
        if mig is None or mig.replaced_by is not None:
            return
        if self.unreleased_only and not facts.judged(mig):
            return
        self.check_migration(mig, facts)

    def check_migration(self, mig: Migration, facts: MigrationFacts) -> None:
        raise NotImplementedError
