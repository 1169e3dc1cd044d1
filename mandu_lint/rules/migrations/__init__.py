"""Migrations family (issue 13): a static replay of Django migrations and Alembic revisions —
no database, no app import — that the MDB6xx rules query for the schema **before** each
operation.

Map of the family (data flows down):

- ``discover.py``: Django migration files (``migrations/`` + ``class Migration``) and their app
  labels (``apps.py`` ``label``); Alembic revisions and the environments ``alembic.ini`` names.
- ``graph.py``: the Django graph as ``MigrationLoader`` builds it (dependencies,
  ``__first__``/``__latest__``, swappable, ``run_before``, squashed ``replaces``); leaves,
  missing nodes, cycles; ``migrate``'s order. ``alembic_graph.py``: ``down_revision``,
  ``depends_on``, ``branch_labels``; heads (declared branches tolerated), duplicates, cycles.
- ``records.py``: ``Problem``, ``Operation`` (file, line, index, kind, args, track),
  ``Migration`` (atomic, unknown effects). ``pyast.py``: literals, dotted names, bound calls.
- ``state.py``: the **State** track (``FieldState``, ``ModelState``, ``ProjectState``).
  ``schema.py``: the **Database** track (``ColumnState``, ``TableState``, ``Schema``, ``UNKNOWN``).
- ``fields.py``: Django field/index/constraint calls -> specs; a field's column.
- ``django_ops.py``: a ``Migration``'s operations -> ``Operation`` records (nested ones
  flattened). ``django_state.py``: their ``state_forwards``. ``django_db.py``,
  ``django_db_fields.py``, ``django_tables.py``: their ``database_forwards``.
- ``alembic_ops.py``, ``sa_columns.py``: an ``upgrade()`` -> ``Operation`` records
  (``batch_alter_table``, ``autocommit_block``). ``alembic_db.py``: their effect.
- ``ddl.py``, ``ddl_columns.py``: raw SQL (``RunSQL``, ``op.execute``) via sqlglot (postgres).
- ``replay.py``: ``Replay(project).run()`` -> ``ReplayResult`` with ``before(op)``,
  ``state_before(op)``, ``app_state(app)``, ``problems``, ``coverage()``.
- ``released.py``: unreleased migrations (absent at the merge base with the base branch).
- ``settings_detect.py``: engine and version (Django ``DATABASES``, ``alembic.ini``, compose
  image tags, or ``database.*``: ``resolve``), ``AUTH_USER_MODEL``, and the ``--show-settings``
  lines (``describe``).
- ``locking.py``: what the per-migration rules (MDB604/605) share: the migration of the file
  being checked re-read from its tree and replayed op by op (schema before/after each one),
  whether it is judged (unreleased, or ``judge: all``), the target engine/version, table
  exemptions (created in this or an unreleased migration), and which files are migrations.
  ``mdb604_locking_ddl.py``: locking or failing DDL on a live PostgreSQL table (diffs of the
  Database track per operation, judged from the previous column). ``mdb605_data_migration.py``:
  data-migration hazards (RunPython/DML beside DDL, app-model imports, unbatched backfills,
  ``loaddata``, ``op.get_bind()`` reads without an offline guard); ``mdb605_writes.py``: what a
  ``RunPython`` function or an Alembic ``op.execute`` writes, and whether to every row.
- ``seeds.py``: seed entry points (``seeds`` globs, ``seed``/``init``/``bootstrap``/``load*``
  commands, ``post_migrate`` receivers, ``AppConfig.ready``, FastAPI startup/lifespan, Flask CLI
  commands) and the unique keys of models. ``mdb609_seed_not_idempotent.py``: inserts there
  with no idempotence mechanism, or one that only looks right.
- ``fixtures_files.py``: JSON/YAML fixture files (``fixtures/`` folders, files named in
  ``loaddata``) and the records they hold. ``mdb610_fixture_drift.py``: records naming models or
  fields that no longer exist, ``"pk": null`` records without natural keys (project rule).

The rules and their analyses:

- ``judged.py``: the replay of the project being checked (once per index, reading unsaved
  buffers), which migrations are judged (``migrations.judge``/``base``/``since``), the engine,
  and ``MigrationRule``, the base of the per-migration rules (they run on migration files, which
  are ``non-app`` for every other family, and in flake8).
- ``drift.py``: models (read from their source) against the State track (Django) or an
  Alembic environment's Database track, and ``env.py``'s ``target_metadata``;
  ``enum_drift.py``: PostgreSQL enum labels the Alembic revisions give each type against the
  Python ``Enum`` a model maps to it.
- ``breaking.py``: what one operation drops, renames or narrows (the Database track just
  before it against just after it).
- ``usages.py``: where application code still names a column or table (ORM attributes,
  lookup strings, ``values()``/``order_by()``, serializer ``fields``, raw SQL via sqlglot).
- ``rollback.py``: what the reverse of an operation does (``reverse_code``/``reverse_sql``,
  ``downgrade()``), and the Alembic downgrade read as operations.
- ``mdb601_migration_drift.py``, ``mdb602_broken_migration_graph.py`` (project rules, CLI only);
  ``mdb603_breaking_change_in_use.py``, ``mdb606_lossy_rollback.py``,
  ``mdb607_rename_as_drop_add.py`` (per migration).

Unknown means silent: an operation or SQL the replay cannot model makes only what it touches
unknown (``Schema.column`` -> ``UNKNOWN``, ``table_exists`` -> None), never a guess.
"""
from ...model import FamilySpec, RuleSpec
from ...options import declare

declare("migrations", "base", "str", None,
        "Base branch for released vs unreleased migrations (default: the merge base with origin/main, main, "
        "master or origin/master).")
declare("migrations", "judge", "str", "unreleased",
        "Which migrations the per-migration rules judge: `unreleased` (not on the base branch) or `all`.",
        choices=("unreleased", "all"))
declare("migrations", "since", "str", None,
        "A git revision: migrations added after it count as unreleased (audits of a history); replaces `base`.")
declare("migrations", "deploy", "str", "rolling",
        "How migrations reach production: `rolling` (the previous release keeps serving while they run) or "
        "`downtime` (the app is stopped while they run, as many self-hosted apps document): with `downtime` the "
        "claims about the previous release and about live traffic waiting on locks are not made.",
        choices=("rolling", "downtime"))
declare("database", "engine", "str", None,
        "Database engine the migrations run on (default: detected from Django settings or alembic.ini).",
        choices=("postgresql", "mysql", "sqlite", "oracle", "mssql"))
declare("database", "version", "int", None,
        "Major version of the database server (default: detected from compose files and CI workflows).")

declare("migrations", "seeds", "glob-list", [],
        "Seed scripts (globs): every function in these files is a seed entry point for MDB609, on top of the "
        "detected ones (`seed`/`init`/`bootstrap`/`load*` commands, `post_migrate` receivers, "
        "`AppConfig.ready`, FastAPI startup/lifespan, Flask CLI commands).")
declare("migrations", "fixtures", "glob-list", [],
        "Fixture files (globs) MDB610 checks on top of JSON/YAML files under `fixtures/` folders and files "
        "named in `loaddata`.")

FAMILY = FamilySpec(
    name="migrations",
    package=__name__,
    describe="settings_detect:describe",
    # opt-in until measured blind on real apps (docs/writing-rules.md). Blind triage of 9 tune
    # apps' histories (bench/realworld, --suite migrations, 2026-12-04): MDB604's default output
    # 17 TP / 1 FP / 2 NEG of 20 (85 %) -> default; the others stay opt-in (MDB601 0/20 before
    # this round's fixes, MDB603 58 %, MDB605 high n=12, MDB606 16 %; MDB602/607/609/610 too few)
    rules=(
        RuleSpec("MDB601", "migration-drift", "mdb601_migration_drift:MigrationDrift", default=False),
        RuleSpec("MDB602", "broken-migration-graph", "mdb602_broken_migration_graph:BrokenMigrationGraph",
                 default=False),
        RuleSpec("MDB603", "breaking-change-in-use", "mdb603_breaking_change_in_use:BreakingChangeInUse",
                 default=False),
        RuleSpec("MDB604", "locking-ddl", "mdb604_locking_ddl:LockingDdl", default=True),
        RuleSpec("MDB605", "data-migration-hazard", "mdb605_data_migration:DataMigrationHazard", default=False),
        RuleSpec("MDB606", "lossy-rollback", "mdb606_lossy_rollback:LossyRollback", default=False),
        RuleSpec("MDB607", "rename-as-drop-add", "mdb607_rename_as_drop_add:RenameAsDropAdd", default=False),
        RuleSpec("MDB609", "seed-not-idempotent", "mdb609_seed_not_idempotent:SeedNotIdempotent", default=False),
        RuleSpec("MDB610", "fixture-drift", "mdb610_fixture_drift:FixtureDrift", default=False),
    ),
)
