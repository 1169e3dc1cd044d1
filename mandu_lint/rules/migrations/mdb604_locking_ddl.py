"""MDB604: DDL that locks a live PostgreSQL table for a long time, or fails on one."""
from __future__ import annotations

import ast
import re
from typing import Iterator, List, Optional, Tuple

from ...core.messages import brief
from ...model import Edit, Fix, FixSafety
from .judged import downtime_deploy, runs_after_deploy
from .locking import MigrationFileRule, MigrationView, Target, is_volatile, migration_view, target
from .records import Operation
from .schema import ColumnState, ConstraintState, TableState

CONCURRENT_SQL = re.compile(r"\b(?:CREATE\s+(?:UNIQUE\s+)?INDEX|DROP\s+INDEX|REINDEX\b[^;]*?)\s+CONCURRENTLY\b",
                            re.I | re.S)
INDEX_DROPS = {"RemoveIndex", "drop_index"}
RENAMES = {"RenameIndex", "RenameField", "RenameModel", "AlterModelTable", "rename_table"}
# Type changes PostgreSQL makes without rewriting the table (binary-coercible, or a relaxed limit)
BINARY_SAFE = {("varchar", "text"), ("text", "varchar"), ("char", "varchar"), ("char", "text"),
               ("cidr", "inet"), ("json", "json"), ("jsonb", "jsonb"), ("varchar", "citext"), ("text", "citext"),
               ("citext", "text"), ("citext", "varchar")}


def _type_change(old: ColumnState, new: ColumnState) -> Optional[str]:
    """Why changing ``old``'s type to ``new``'s rewrites (or scans) the table; None when it
    does not or when either type is unknown."""
    if not old.type or not new.type:
        return None
    if (old.type, old.max_length, tuple(old.type_params)) == (new.type, new.max_length, tuple(new.type_params)):
        return None
    if old.type == new.type == "varchar":
        if new.max_length is None or (old.max_length is not None and new.max_length >= old.max_length):
            return None
        if old.max_length is None:
            return "varchar limited to a length: every row is checked under ACCESS EXCLUSIVE"
        return f"varchar({old.max_length}) shrunk to varchar({new.max_length}): every row is checked"
    if (old.type, new.type) in BINARY_SAFE:
        if new.type == "varchar" and new.max_length is not None:
            return f"{old.type} to varchar({new.max_length}): every row is checked under ACCESS EXCLUSIVE"
        return None
    if old.type == new.type == "numeric":
        old_p, new_p = tuple(old.type_params), tuple(new.type_params)
        if not new_p or not any(new_p):
            return None
        if len(old_p) == 2 and len(new_p) == 2 and None not in old_p + new_p and new_p[1] == old_p[1] \
                and new_p[0] >= old_p[0]:
            return None
        return f"numeric{old_p or ''} to numeric{new_p}: the table is rewritten"
    if old.type == new.type:
        return None  # same base type, parameters the replay does not compare (arrays, enums)
    return f"{old.type} to {new.type}: the table is rewritten under ACCESS EXCLUSIVE"


TEXTUAL = {"CharField", "TextField", "SlugField", "EmailField", "URLField", "FilePathField", "FileField",
           "ImageField", "GenericIPAddressField", "CICharField", "CITextField", "CIEmailField"}


def django_effective_default(field) -> bool:
    """Does Django fill existing rows when adding the field (``_effective_default``)? A
    ``default``, ``auto_now``/``auto_now_add`` (now), or ``blank=True`` on a text field (an
    empty string) - all dropped again right after the column is added."""
    kw = field.kwargs
    if field.has_default or kw.get("auto_now") is True or kw.get("auto_now_add") is True:
        return True
    return kw.get("blank") is True and (field.cls in TEXTUAL or field.cls.endswith("CharField"))


def _not_null_check(table: TableState, column: str) -> bool:
    """A validated CHECK (column IS NOT NULL) lets PostgreSQL 12+ skip SET NOT NULL's scan."""
    col = re.escape(column)
    pattern = re.compile(rf'(^|[^\w])"?{col}"?\s+IS\s+NOT\s+NULL\b|\b{col}__isnull\s*=\s*False', re.I)
    return any(c.kind == "check" and c.validated and c.definition and pattern.search(c.definition)
               for c in table.constraints.values())


# the one claim of `_judge` that holds without traffic: the migration itself fails
FAILS = "the migration fails as soon as the table holds a row"


class LockingDdl(MigrationFileRule):
    """
    ## What it does
    Finds migration operations that take a long, blocking lock on an existing PostgreSQL table,
    or fail on one that holds rows, judging each operation against the schema the static
    replay of the migration history gives just before it:

    - an index created or dropped without `CONCURRENTLY` (`AddIndex`, `RemoveIndex`,
      `db_index=True`/`unique=True` added to a field, `index_together`, Alembic
      `op.create_index`/`drop_index`, raw `CREATE INDEX`/`DROP INDEX`);
    - a foreign key, CHECK or UNIQUE constraint added validated (no `NOT VALID`, no
      `USING INDEX`), including the foreign key and index a new `ForeignKey` field brings;
    - `SET NOT NULL` with no validated `CHECK (col IS NOT NULL)` beside it;
    - a column type change that rewrites the table, judged from the previous type (growing a
      `varchar`, `varchar` to `text` and widening a `numeric` precision are safe);
    - a NOT NULL column added to an existing table (a) with no default at all (Alembic without
      `server_default`): the migration fails on the first row; (b) with only a Django Python
      `default`: Django drops the default right after adding the column, so the previous
      release's INSERTs (which do not know the column) fail during the deploy - use
      `db_default` (Django 5.0+); (c) with any default on PostgreSQL older than 11, or with a
      volatile database default (`random()`, `gen_random_uuid()`, `clock_timestamp()`): the
      table is rewritten;
    - `CONCURRENTLY` inside an atomic migration (always an error: PostgreSQL refuses
      `CREATE INDEX CONCURRENTLY` in a transaction block, Django's `AddIndexConcurrently`
      raises).

    Tables created in the same migration, or in one not released yet, are empty in production
    and exempt.

    Primary location: the operation (`migrations.AddIndex(...)`, `op.create_index(...)`,
    the `RunSQL`/`op.execute` holding the statement).

    ## Why is this bad?
    `CREATE INDEX` holds a SHARE lock for the whole build (writes wait), `SET NOT NULL`, a
    rewriting type change and validated constraints hold ACCESS EXCLUSIVE or SHARE ROW
    EXCLUSIVE locks during a full scan (reads or writes wait), and every later query queues
    behind the waiting DDL: on a large table, minutes of outage. A NOT NULL column without a
    default fails the deploy on a non-empty table; one with a Python-only default breaks the
    previous release's INSERTs while both releases run (not said of a migration
    django-safemigrate marks `Safe.after_deploy()`, which runs once the new release serves).
    With `migrations.deploy: downtime` (nothing serves while migrations run) only the failing
    NOT NULL column and `CONCURRENTLY` inside a transaction are reported.

    ## Known problems
    PostgreSQL only and version-aware (`database.version` or a `postgres:N` image tag; an
    unknown version is taken as 11 or later): silent when the engine is not known to be
    PostgreSQL (Django `DATABASES`, `alembic.ini`, or `database.engine`; a PostgreSQL image tag in
    compose or CI files when no engine is named anywhere makes its findings `medium`), except for
    `CONCURRENTLY` inside an atomic migration, which is wrong on any engine. Judges only
    unreleased migrations (not on the base branch) unless `migrations.judge: all`; without
    git or a base branch every migration counts as released and the rule is silent. Tables the
    replay cannot follow (custom operations, SQL it cannot parse) are skipped. Table size is
    unknown: a small table locks briefly. The implicit foreign key and index of a new
    `ForeignKey` field (an all-NULL column) are reported at `medium`; everything else at
    `high`. The execution context is always `migration`.

    ## Example
    ```python
    class Migration(migrations.Migration):
        dependencies = [("shop", "0001_initial")]
        operations = [
            migrations.AddIndex("order", models.Index(fields=["created"], name="order_created_idx")),
        ]
    ```

    ## Use instead
    ```python
    from django.contrib.postgres.operations import AddIndexConcurrently

    class Migration(migrations.Migration):
        atomic = False
        dependencies = [("shop", "0001_initial")]
        operations = [
            AddIndexConcurrently("order", models.Index(fields=["created"], name="order_created_idx")),
        ]
    ```

    ## Fix safety
    Unsafe, and offered only for an unreleased migration holding that one operation, when the
    engine is PostgreSQL and no other engine appears in any settings: `AddIndex` becomes
    `AddIndexConcurrently` with `atomic = False`; Alembic's `op.create_index(...)` gains
    `postgresql_concurrently=True` inside `with op.get_context().autocommit_block():`. A
    concurrent build that fails (a duplicate for a unique index, a cancelled statement) leaves
    an INVALID index behind that must be dropped before the migration is retried, and the
    migration is no longer all-or-nothing.
    """

    code = "MDB604"
    name = "locking-ddl"
    summary = "DDL that locks or fails on a live PostgreSQL table (index without CONCURRENTLY, validated " \
              "constraint, SET NOT NULL, rewriting type change, NOT NULL column without a usable default)"
    default = True  # blind triage on real migration histories: 17 of 20 default findings true
    precision = "high"
    tags = ("migrations", "postgresql", "availability")
    fixable = True

    _SETTINGS = """
        DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "shop"}}
    """
    _INITIAL = """
        from django.db import migrations, models

        class Migration(migrations.Migration):
            initial = True
            dependencies = []
            operations = [
                migrations.CreateModel("Order", [
                    ("id", models.BigAutoField(primary_key=True)),
                    ("code", models.CharField(max_length=20)),
                    ("note", models.CharField(max_length=50, null=True)),
                    ("created", models.DateTimeField()),
                ]),
            ]
    """
    _JUDGE_ALL = "migrations:\n  judge: all\n"
    BAD = [
        {"mandu.yaml": _JUDGE_ALL, "proj/settings.py": _SETTINGS, "shop/migrations/0001_initial.py": _INITIAL,
         "shop/migrations/0002_more.py": """
            from django.contrib.postgres.operations import AddIndexConcurrently
            from django.db import migrations, models

            class Migration(migrations.Migration):
                dependencies = [("shop", "0001_initial")]
                operations = [
                    migrations.AddIndex("order", models.Index(fields=["created"], name="order_created_idx")),  # error
                    migrations.AlterField("order", "note", models.CharField(max_length=50)),  # error
                    migrations.AlterField("order", "code", models.IntegerField()),  # error
                    migrations.AddField("order", "status", models.CharField(max_length=10, default="new")),  # error
                    AddIndexConcurrently("order", models.Index(fields=["code"], name="order_code_idx")),  # error
                ]
         """},
        {"mandu.yaml": _JUDGE_ALL, "alembic.ini": "[alembic]\nscript_location = migrations\n"
         "sqlalchemy.url = postgresql://localhost/app\n",
         "migrations/versions/a1_create.py": """
            import sqlalchemy as sa
            from alembic import op

            revision = "a1"
            down_revision = None

            def upgrade():
                op.create_table("account", sa.Column("id", sa.Integer, primary_key=True),
                                sa.Column("email", sa.String(100)))
         """,
         "migrations/versions/a2_more.py": """
            import sqlalchemy as sa
            from alembic import op

            revision = "a2"
            down_revision = "a1"

            def upgrade():
                op.create_index("ix_account_email", "account", ["email"])  # error
                op.add_column("account", sa.Column("plan", sa.String(10), nullable=False))  # error
                op.execute("ALTER TABLE account ADD CONSTRAINT plan_ok CHECK (plan <> '')")  # error
         """},
    ]
    GOOD = [
        {"mandu.yaml": _JUDGE_ALL, "proj/settings.py": _SETTINGS, "shop/migrations/0001_initial.py": _INITIAL,
         "shop/migrations/0002_more.py": """
            from django.contrib.postgres.operations import AddIndexConcurrently
            from django.db import migrations, models

            class Migration(migrations.Migration):
                atomic = False
                dependencies = [("shop", "0001_initial")]
                operations = [
                    AddIndexConcurrently("order", models.Index(fields=["created"], name="order_created_idx")),
                    migrations.AlterField("order", "code", models.CharField(max_length=40)),
                    migrations.AlterField("order", "note", models.TextField(null=True)),
                    migrations.AddField("order", "status", models.CharField(max_length=10, db_default="new")),
                    migrations.AddField("order", "ref", models.CharField(max_length=10, null=True)),
                ]
         """,
         "shop/migrations/0003_new_table.py": """
            from django.db import migrations, models

            class Migration(migrations.Migration):
                dependencies = [("shop", "0002_more")]
                operations = [
                    migrations.CreateModel("Coupon", [("id", models.BigAutoField(primary_key=True)),
                                                      ("code", models.CharField(max_length=20))]),
                    migrations.AddIndex("coupon", models.Index(fields=["code"], name="coupon_code_idx")),
                    migrations.AddField("coupon", "kind", models.CharField(max_length=5, default="x")),
                ]
         """},
        # the engine is SQLite: nothing PostgreSQL-specific to say
        {"mandu.yaml": _JUDGE_ALL, "proj/settings.py": """
            DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}
         """, "shop/migrations/0001_initial.py": _INITIAL,
         "shop/migrations/0002_more.py": """
            from django.db import migrations, models

            class Migration(migrations.Migration):
                dependencies = [("shop", "0001_initial")]
                operations = [
                    migrations.AddIndex("order", models.Index(fields=["created"], name="order_created_idx")),
                ]
         """},
    ]

    # -- the walk is not needed: everything is decided from the replayed migration -----------
    def finish(self) -> None:
        view = migration_view(self.ctx, self.notices)
        if view is None or not view.judged:
            return
        db = target(self.ctx)
        for op in view.ops:
            self._concurrently_in_transaction(view, op, db)
        if not db.postgresql:
            return
        downtime = downtime_deploy(self.ctx.project.settings)
        for op in view.ops:
            if op.track in ("state", "none") or op.kind in RENAMES or op.node is None:
                continue
            for message, confidence, fix in self._judge(view, op, db):
                if downtime and FAILS not in message:
                    continue  # ``deploy: downtime``: no traffic waits on the lock, no previous release
                self.report(op.node, message, confidence=confidence, fix=fix)

    # -- CONCURRENTLY in a transaction --------------------------------------------------------
    def _concurrently_in_transaction(self, view: MigrationView, op: Operation, db: Target) -> None:
        if db.engine not in (None, "postgresql") or not op.atomic or op.node is None:
            return
        what = None
        if op.kind in ("AddIndexConcurrently", "RemoveIndexConcurrently") and view.mig.atomic:
            what = f"`{op.kind}` raises NotSupportedError inside an atomic migration: set `atomic = False` on it"
        elif op.kind in ("create_index", "drop_index") and op.args.get("postgresql_concurrently") is True:
            what = (f"`op.{op.kind}(..., postgresql_concurrently=True)` runs in the migration's transaction and "
                    "PostgreSQL refuses it: put it inside `with op.get_context().autocommit_block():`")
        elif op.kind in ("RunSQL", "execute") and any(CONCURRENT_SQL.search(s) for s in self._sql_texts(op)):
            fix = ("set `atomic = False` on the migration" if view.mig.system == "django"
                   else "run it inside `with op.get_context().autocommit_block():`")
            what = f"CONCURRENTLY cannot run inside a transaction block, and this migration is atomic: {fix}"
        if what:
            self.report(op.node, f"`{brief(op.node)}`: {what}")

    @staticmethod
    def _sql_texts(op: Operation) -> List[str]:
        if op.kind == "RunSQL":
            return list(op.args.get("sql") or [])
        sql = op.args.get("sqltext")
        return [sql] if isinstance(sql, str) else []

    # -- the Database track before and after one operation ------------------------------------
    def _judge(self, view: MigrationView, op: Operation, db: Target) -> Iterator[Tuple[str, str, Optional[Fix]]]:
        before, after = view.before(op), view.after(op)
        for key in sorted(set(before.tables) | set(after.tables)):
            old, new = before.tables.get(key), after.tables.get(key)
            if old is new or old is None or new is None or new.unknown:
                continue
            if view.live_table(before, old.name) is None or view.snaps[-1][0].table(old.name) is None:
                continue  # new (empty) table, or one the migration drops anyway
            yield from self._indexes(view, op, old, new, db)
            yield from self._constraints(view, op, old, new)
            yield from self._columns(view, op, old, new, db)

    def _how_to_index(self, view: MigrationView) -> str:
        invalid = " (a concurrent build that fails leaves an INVALID index: drop it before retrying)"
        if view.mig.system == "alembic":
            return ("use `op.create_index(..., postgresql_concurrently=True)` inside "
                    "`op.get_context().autocommit_block()`" + invalid)
        return ("use `AddIndexConcurrently` (django.contrib.postgres.operations) in a migration with "
                "`atomic = False`" + invalid)

    def _indexes(self, view, op, old: TableState, new: TableState, db: Target):
        for name in sorted(set(new.indexes) - set(old.indexes)):
            index = new.indexes[name]
            if index.concurrently:
                continue
            fix = self._index_fix(view, op, db)
            yield (f"`{brief(op.node)}` builds index {index.name} on live table {new.name} without CONCURRENTLY: "
                   f"CREATE INDEX holds a SHARE lock for the whole build, so every write to {new.name} waits; "
                   + self._how_to_index(view), "high", fix)
        dropped = sorted(set(old.indexes) - set(new.indexes))
        if dropped and self._drops_index(op):
            yield (f"`{brief(op.node)}` drops index {dropped[0]} without CONCURRENTLY: DROP INDEX takes an ACCESS "
                   f"EXCLUSIVE lock on {new.name} and queues every query behind it; use "
                   + ("`op.drop_index(..., postgresql_concurrently=True)` in an autocommit block"
                      if view.mig.system == "alembic" else "`RemoveIndexConcurrently` with `atomic = False`"),
                   "high", None)

    @staticmethod
    def _drops_index(op: Operation) -> bool:
        if op.kind in INDEX_DROPS:
            return op.args.get("postgresql_concurrently") is not True
        if op.kind in ("RunSQL", "execute"):
            return any(s.kind == "drop_index" and "concurrently" not in s.flags
                       for s in op.args.get("statements") or [])
        return False

    def _constraints(self, view, op, old: TableState, new: TableState):
        using_index = op.kind in ("RunSQL", "execute") and any(
            "using_index" in s.flags for s in op.args.get("statements") or [])
        for name in sorted(set(new.constraints) - set(old.constraints)):
            c: ConstraintState = new.constraints[name]
            if not c.validated or using_index or c.kind not in ("check", "foreign_key", "unique", "exclude"):
                continue
            if c.kind == "unique":
                how = ("build the unique index with CREATE UNIQUE INDEX CONCURRENTLY first, then "
                       "ADD CONSTRAINT ... UNIQUE USING INDEX")
                lock = "builds its index under a SHARE lock (writes wait)"
            elif c.kind == "exclude":
                how = "build it on a new table, or accept the lock in a maintenance window"
                lock = "builds its index under ACCESS EXCLUSIVE (an exclusion constraint cannot be NOT VALID)"
            else:
                how = ("add it with `AddConstraintNotValid`, then `ValidateConstraint` in a later migration"
                       if view.mig.system == "django" and op.kind != "RunSQL"
                       else "add it NOT VALID, then VALIDATE CONSTRAINT in a later migration")
                lock = ("scans the whole table under " + ("ACCESS EXCLUSIVE" if c.kind == "check"
                                                          else "SHARE ROW EXCLUSIVE on both tables"))
            kind = c.kind.replace("_", " ")
            yield (f"`{brief(op.node)}` adds validated {kind} constraint {c.name} on live table {new.name}: it {lock}; "
                   + how, "high", None)

    def _columns(self, view, op, old: TableState, new: TableState, db: Target):
        removed = [k for k in old.columns if k not in new.columns]
        added = [k for k in new.columns if k not in old.columns]
        renamed = {}
        if len(removed) == len(added) == 1 and op.kind not in ("AddField", "add_column", "RemoveField", "drop_column"):
            renamed[added[0]] = old.columns[removed[0]]  # a rename (with other changes, maybe)
        for key, col in new.columns.items():
            prev = old.columns.get(key) or renamed.get(key)
            if prev is None:
                yield from self._new_column(view, op, new, col, db)
            elif prev is not col:
                yield from self._changed_column(op, old, new, prev, col, db)

    def _new_column(self, view, op, table: TableState, col: ColumnState, db: Target):
        field = op.args.get("field") if op.kind == "AddField" else None
        django = field is not None
        py_default = django_effective_default(field) if django else False
        db_default = field.db_default if django else col.db_default
        old_pg = db.version is not None and db.version < 11
        if col.primary_key:
            return
        if col.nullable is False:
            if not db_default and not py_default:
                how = ("add it nullable, backfill, then SET NOT NULL" if not django else
                       "give it `db_default`, or add it nullable and backfill")
                what = "server_default" if view.mig.system == "alembic" else "default"
                yield (f"`{brief(op.node)}` adds NOT NULL column {col.name} with no {what} to live table "
                       f"{table.name}: {FAILS}; {how}", "high", None)
                return
            if not db_default and py_default and not runs_after_deploy(view.mig):
                yield (f"`{brief(op.node)}` adds NOT NULL column {col.name} to {table.name} with only a Python "
                       "default: Django drops the database default right after adding the column, so INSERTs "
                       "of the previous release (still running during the deploy) fail with a NOT NULL "
                       "violation; use `db_default=` (Django 5.0+) or add it nullable first"
                       + ("; on PostgreSQL < 11 the DEFAULT also rewrites the table" if old_pg else ""),
                       "high", None)
                return
        if db_default and is_volatile(db_default):
            yield (f"`{brief(op.node)}` adds column {col.name} with volatile default {db_default} to live table "
                   f"{table.name}: every row gets its own value, so the table is rewritten under ACCESS EXCLUSIVE; "
                   "add it without a default, set the default, then backfill in batches", "high", None)
        elif old_pg and (db_default or py_default):
            yield (f"`{brief(op.node)}` adds column {col.name} with a default to live table {table.name}: before "
                   f"PostgreSQL 11 (this project: {db.version}) that rewrites the table under ACCESS EXCLUSIVE; add "
                   "it without a default, then set the default and backfill in batches", "high", None)
        constraint = col.fk and not (django and field.kwargs.get("db_constraint") is False)
        if constraint and not col.primary_key:
            index = " and its index is built without CONCURRENTLY (writes wait)" if col.index else ""
            yield (f"`{brief(op.node)}` adds foreign key column {col.name} to live table {table.name}: the "
                   f"constraint is validated at once (SHARE ROW EXCLUSIVE on both tables){index}; add the column "
                   "without `db_index`/`db_constraint`, then the index concurrently and the constraint NOT VALID + "
                   "VALIDATE", "medium", None)
        elif col.unique or col.index:
            kind = "unique constraint" if col.unique else "index"
            yield (f"`{brief(op.node)}` adds column {col.name} with a {kind} to live table {table.name}: its index "
                   "is built without CONCURRENTLY under a SHARE lock (writes wait); add the column plain, then "
                   "the index concurrently", "high", None)

    def _changed_column(self, op, old_table: TableState, table: TableState, prev: ColumnState, col: ColumnState,
                        db: Target):
        added = [table.constraints[k] for k in set(table.constraints) - set(old_table.constraints)]
        as_constraint = {c.kind for c in added if tuple(c.columns) == (col.name,)}  # reported by _constraints
        if prev.nullable and col.nullable is False:
            safe_check = _not_null_check(old_table, prev.name) and (db.version is None or db.version >= 12)
            if not safe_check:
                yield (f"`{brief(op.node)}` sets {table.name}.{col.name} NOT NULL: PostgreSQL scans the whole "
                       "table under ACCESS EXCLUSIVE (reads and writes wait); first add CHECK "
                       f"({col.name} IS NOT NULL) NOT VALID, VALIDATE it in another migration, then SET NOT NULL "
                       "(PostgreSQL 12+ then skips the scan)", "high", None)
        why = _type_change(prev, col)
        if why is not None:
            yield (f"`{brief(op.node)}` changes the type of {table.name}.{col.name} ({why}); every query on "
                   f"{table.name} waits meanwhile: add a new column, backfill it in batches and switch over",
                   "high", None)
        if col.unique and not prev.unique and not col.primary_key and "unique" not in as_constraint:
            yield (f"`{brief(op.node)}` makes {table.name}.{col.name} unique: the constraint's index is built under "
                   "a SHARE lock (writes wait); build the unique index CONCURRENTLY, then ADD CONSTRAINT ... USING "
                   "INDEX", "high", None)
        elif col.index and not prev.index and not col.unique:
            yield (f"`{brief(op.node)}` indexes {table.name}.{col.name} without CONCURRENTLY: CREATE INDEX holds a "
                   "SHARE lock for the whole build (writes wait); add the index with AddIndexConcurrently in a "
                   "non-atomic migration", "high", None)
        if col.fk and col.fk != prev.fk and "foreign_key" not in as_constraint:
            yield (f"`{brief(op.node)}` adds a foreign key on {table.name}.{col.name}, validated at once (SHARE ROW "
                   "EXCLUSIVE on both tables); add it NOT VALID and validate it later", "medium", None)

    # -- the unsafe fix -----------------------------------------------------------------------
    def _index_fix(self, view: MigrationView, op: Operation, db: Target) -> Optional[Fix]:
        if not (view.unreleased and view.single_operation and db.only_postgresql and op.atomic):
            return None
        if view.mig.system == "django" and op.kind == "AddIndex":
            return self._django_fix(view, op)
        if view.mig.system == "alembic" and op.kind == "create_index" and op.parent is None:
            return self._alembic_fix(op)
        return None

    def _django_fix(self, view: MigrationView, op: Operation) -> Optional[Fix]:
        cls = next((s for s in self.ctx.tree.body if isinstance(s, ast.ClassDef) and s.name == "Migration"), None)
        func = op.node.func if isinstance(op.node, ast.Call) else None
        if cls is None or func is None or cls.decorator_list:
            return None
        lines = self.ctx.source.splitlines(keepends=True)
        text = "".join(lines[cls.lineno - 1:cls.end_lineno])
        offset = _offsets(lines, cls.lineno)
        start, end = offset(func.lineno, func.col_offset), offset(func.end_lineno, func.end_col_offset)
        text = text[:start] + "AddIndexConcurrently" + text[end:]
        body = cls.body
        atomic = next((s for s in body if isinstance(s, ast.Assign) and len(s.targets) == 1
                       and isinstance(s.targets[0], ast.Name) and s.targets[0].id == "atomic"), None)
        if atomic is not None:
            a, b = offset(atomic.value.lineno, atomic.value.col_offset), offset(atomic.value.end_lineno,
                                                                                atomic.value.end_col_offset)
            text = text[:a] + "False" + text[b:]
        else:
            first = body[1] if len(body) > 1 and _is_docstring(body[0]) else body[0]
            at = offset(first.lineno, 0)
            text = text[:at] + " " * first.col_offset + "atomic = False\n" + text[at:]
        text = text[cls.col_offset:].rstrip("\n")
        span = self.ctx.span(cls)
        return Fix(FixSafety.UNSAFE, "AddIndex -> AddIndexConcurrently with atomic = False",
                   (Edit(span, text),), (("django.contrib.postgres.operations", "AddIndexConcurrently"),))

    def _alembic_fix(self, op: Operation) -> Optional[Fix]:
        call = op.node
        stmt = next((s for s in ast.walk(self.ctx.tree) if isinstance(s, ast.Expr) and s.value is call), None)
        if stmt is None or not isinstance(call.func, ast.Attribute) or not isinstance(call.func.value, ast.Name):
            return None
        lines = self.ctx.source.splitlines(keepends=True)
        offset = _offsets(lines, stmt.lineno)
        first = offset(stmt.lineno, stmt.col_offset)
        segment = "".join(lines[stmt.lineno - 1:stmt.end_lineno])[first:offset(stmt.end_lineno, stmt.end_col_offset)]
        close = offset(call.end_lineno, call.end_col_offset) - 1 - first  # the closing parenthesis
        head, tail = segment[:close].rstrip(), segment[close:]
        if head.endswith(","):  # a trailing comma: the keyword goes after it, the layout stays
            segment = head + " postgresql_concurrently=True," + segment[len(head):]
        else:
            segment = head + ("" if head.endswith("(") else ", ") + "postgresql_concurrently=True" + tail
        margin = " " * stmt.col_offset
        body = "\n".join("    " + (line[len(margin):] if i and line.startswith(margin) else line) if line.strip()
                         else line for i, line in enumerate(segment.split("\n")))
        text = f"with {call.func.value.id}.get_context().autocommit_block():\n{body}"
        return Fix(FixSafety.UNSAFE, "create the index CONCURRENTLY in an autocommit block (a failed build leaves "
                   "an INVALID index to drop before retrying)", (Edit(self.ctx.span(stmt), text),))


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def _offsets(lines: List[str], first_line: int):
    """(line, col) -> offset into the text of ``lines`` from ``first_line`` on (cols are
    UTF-8 byte offsets in ast; the migration files compared are ASCII in practice)."""
    starts = [0]
    for line in lines[first_line - 1:]:
        starts.append(starts[-1] + len(line))

    def offset(line: int, col: int) -> int:
        text = lines[line - 1]
        return starts[line - first_line] + len(text.encode("utf-8")[:col].decode("utf-8", errors="ignore"))
    return offset
