"""MDB605: data-migration hazards."""
from __future__ import annotations

import ast
import re
from dataclasses import replace
from typing import Dict, List, Optional, Set, Tuple

from ...model import Edit, Fix, FixSafety, Location
from . import pyast
from .judged import downtime_deploy
from .locking import MigrationFileRule, MigrationView, migration_view, target
from .mdb605_writes import ModelRef, Write, WriteReader, local_tables, sa_expression_write, sql_write
from .records import Operation
from .schema import Schema
from .state import table_name

# What a historical model (``apps.get_model``) has too: rewriting to it keeps these working.
HISTORICAL_ATTRS = {"objects", "_default_manager", "_base_manager", "DoesNotExist", "MultipleObjectsReturned",
                    "_meta", "pk"}
OFFLINE_GUARD = re.compile(r"\bis_offline_mode\b|\bas_sql\b")
READS = {"fetchall", "fetchone", "fetchmany", "first", "one", "one_or_none", "scalar", "scalar_one",
         "scalar_one_or_none", "scalars", "all", "mappings", "partitions", "keys"}
SCHEMA_KINDS = {"AddField", "AlterField", "RemoveField", "AddIndex", "RemoveIndex", "AddConstraint",
                "RemoveConstraint", "AlterUniqueTogether", "AlterIndexTogether", "RenameField", "AddIndexConcurrently",
                "RemoveIndexConcurrently", "AddConstraintNotValid", "ValidateConstraint", "AlterOrderWithRespectTo",
                "add_column", "drop_column", "alter_column", "create_index", "drop_index", "create_foreign_key",
                "create_unique_constraint", "create_check_constraint", "drop_constraint", "create_primary_key"}


def _in_transaction(view: MigrationView, op: Operation) -> bool:
    """Does the operation run inside a transaction (Django's ``Migration.apply`` rule)?"""
    if view.mig.system == "alembic":
        return op.atomic
    atomic = op.args.get("atomic") if op.kind == "RunPython" else None
    return atomic is True or (view.mig.atomic and atomic is not False)


def _code_function(view: MigrationView, op: Operation) -> Optional[ast.AST]:
    if not isinstance(op.node, ast.Call):
        return None
    bound, _ = pyast.bind(op.node, ("code", "reverse_code"))
    code = bound.get("code")
    if isinstance(code, ast.Name):
        return view.functions.get(code.id)
    return None


class DataMigrationHazard(MigrationFileRule):
    """
    ## What it does
    Finds data migrations that fail, lock a live table for their whole run, or depend on
    today's application code:

    - `RunPython` or DML (`RunSQL`, `op.execute`) in the same atomic PostgreSQL migration as a
      schema change to the table it writes: a schema change **after** the writes fails with
      `cannot ALTER TABLE "…" because it has pending trigger events` when the table has
      deferred foreign keys (every Django foreign key is `DEFERRABLE INITIALLY DEFERRED`); one
      **before** them keeps its ACCESS EXCLUSIVE lock for the whole data migration;
    - a Django data migration importing app models instead of `apps.get_model(...)`;
    - an Alembic revision importing app models, `Base` or `metadata` instead of a local
      `sa.table(...)`;
    - an unbatched full-table backfill (`Model.objects.update(...)`, a `.save()` per row of
      `Model.objects.all()`, `UPDATE`/`DELETE` without `WHERE`) in an atomic migration, on a
      table that holds rows;
    - `call_command("loaddata", ...)` inside a migration;
    - an Alembic revision reading through `op.get_bind()` (fetching rows, inspecting) with no
      offline-mode guard (`context.is_offline_mode()`).

    Primary location: the `RunPython`/`RunSQL`/`op.execute` operation, the import, the write,
    the `call_command`, or the `op.get_bind()` call.

    ## Why is this bad?
    A migration that fails on production data stops the deploy half-way; one that holds a lock
    while it rewrites rows is an outage. App models imported into a migration are today's
    classes: when a later release renames or removes a field, the old migration breaks for
    every fresh database (tests, new environments), and fixtures loaded with `loaddata` follow
    today's models, not the schema at that point of the history. In offline mode
    (`alembic upgrade --sql`) `op.get_bind()` has no connection and the revision crashes.

    ## Known problems
    Writes are found in the `RunPython` function and the module helpers it calls (two calls
    deep); models passed around in other ways are not followed. The mixed-migration check needs
    PostgreSQL (`DATABASES`, `alembic.ini`, `database.engine`; only `medium` when inferred from a
    PostgreSQL image tag); the other checks hold on any
    engine. With `migrations.deploy: downtime` the claims that rest only on locks held while
    traffic waits (a full-table backfill, a data step behind another operation's lock) are not
    made; the refused ALTER and the app-model imports still are. Table size is unknown, so
    full-table backfills are `medium`, as are
    `op.get_bind()` reads (they only break offline runs) and schema changes after writes to a
    table without foreign keys; the rest is `high`. Judges unreleased migrations only unless
    `migrations.judge: all` (as MDB604). The execution context is always `migration`.

    ## Example
    ```python
    from shop.models import Order

    def backfill(apps, schema_editor):
        Order.objects.update(status="new")

    class Migration(migrations.Migration):
        operations = [
            migrations.RunPython(backfill),
            migrations.AlterField("order", "status", models.CharField(max_length=10)),
        ]
    ```

    ## Use instead
    ```python
    def backfill(apps, schema_editor):
        Order = apps.get_model("shop", "Order")
        ...  # in batches, in a migration of its own with atomic = False

    class Migration(migrations.Migration):
        operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
    ```

    ## Fix safety
    Unsafe: an imported app model becomes `Model = apps.get_model("app", "Model")` at the top of
    each data function that uses it. Historical models have no custom methods, properties or
    managers, so code relying on them must be adapted by hand.
    """

    code = "MDB605"
    name = "data-migration-hazard"
    summary = "Data migration that fails or locks (writes beside schema changes, unbatched backfill, loaddata) or " \
              "uses today's app models"
    default = False
    precision = "high"
    tags = ("migrations", "availability", "data")
    fixable = True

    _SETTINGS = """
        DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "shop"}}
    """
    _MODELS = """
        from django.db import models

        class Customer(models.Model):
            name = models.CharField(max_length=20)

        class Order(models.Model):
            customer = models.ForeignKey(Customer, on_delete=models.CASCADE)
            status = models.CharField(max_length=10, null=True)
    """
    _INITIAL = """
        from django.db import migrations, models

        class Migration(migrations.Migration):
            initial = True
            dependencies = []
            operations = [
                migrations.CreateModel("Customer", [("id", models.BigAutoField(primary_key=True)),
                                                    ("name", models.CharField(max_length=20))]),
                migrations.CreateModel("Order", [
                    ("id", models.BigAutoField(primary_key=True)),
                    ("customer", models.ForeignKey("shop.customer", on_delete=models.CASCADE)),
                    ("status", models.CharField(max_length=10, null=True)),
                ]),
            ]
    """
    _JUDGE_ALL = "migrations:\n  judge: all\n"
    BAD = [
        {"mandu.yaml": _JUDGE_ALL, "proj/settings.py": _SETTINGS, "shop/models.py": _MODELS,
         "shop/migrations/0001_initial.py": _INITIAL,
         "shop/migrations/0002_backfill.py": """
            from django.db import migrations

            from shop.models import Customer, Order  # error


            def backfill(apps, schema_editor):
                \"\"\"One order for the first customer.\"\"\"
                Order.objects.create(customer=Customer.objects.first(), status="new")


            class Migration(migrations.Migration):
                dependencies = [("shop", "0001_initial")]
                operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
         """},
        {"mandu.yaml": _JUDGE_ALL, "proj/settings.py": _SETTINGS, "shop/models.py": _MODELS,
         "shop/migrations/0001_initial.py": _INITIAL,
         "shop/migrations/0002_backfill.py": """
            from django.core.management import call_command
            from django.db import migrations, models


            def backfill(apps, schema_editor):
                Order = apps.get_model("shop", "Order")
                Customer = apps.get_model("shop", "Customer")
                Order.objects.create(customer=Customer.objects.first(), status="new")


            def load(apps, schema_editor):
                call_command("loaddata", "statuses.json")  # error


            class Migration(migrations.Migration):
                dependencies = [("shop", "0001_initial")]
                operations = [
                    migrations.RunPython(backfill),  # error
                    migrations.AlterField("order", "status", models.CharField(max_length=10, default="new")),
                    migrations.RunPython(load),
                ]
         """},
        {"mandu.yaml": _JUDGE_ALL, "proj/settings.py": _SETTINGS, "shop/models.py": _MODELS,
         "shop/migrations/0001_initial.py": _INITIAL,
         "shop/migrations/0002_backfill.py": """
            from django.db import migrations


            def backfill(apps, schema_editor):
                Order = apps.get_model("shop", "Order")
                Order.objects.update(status="new")  # error


            class Migration(migrations.Migration):
                dependencies = [("shop", "0001_initial")]
                operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
         """},
        {"mandu.yaml": _JUDGE_ALL, "app/__init__.py": "", "app/models.py": """
            from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

            class Base(DeclarativeBase):
                pass

            class Account(Base):
                __tablename__ = "account"
                id: Mapped[int] = mapped_column(primary_key=True)
         """,
         "alembic/versions/a1_create.py": """
            import sqlalchemy as sa
            from alembic import op

            from app.models import Account  # error

            revision = "a1"
            down_revision = None

            def upgrade():
                op.create_table("account", sa.Column("id", sa.Integer, primary_key=True))
                conn = op.get_bind()  # error
                rows = conn.execute(sa.select(Account.__table__)).fetchall()
         """},
    ]
    GOOD = [
        {"mandu.yaml": _JUDGE_ALL, "proj/settings.py": _SETTINGS, "shop/models.py": _MODELS,
         "shop/migrations/0001_initial.py": _INITIAL,
         "shop/migrations/0002_backfill.py": """
            from django.db import migrations


            def backfill(apps, schema_editor):
                Order = apps.get_model("shop", "Order")
                Customer = apps.get_model("shop", "Customer")
                first = Customer.objects.first()
                Order.objects.filter(status__isnull=True, customer=first).update(status="new")


            class Migration(migrations.Migration):
                dependencies = [("shop", "0001_initial")]
                operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
         """,
         "shop/migrations/0003_status.py": """
            from django.db import migrations, models

            class Migration(migrations.Migration):
                dependencies = [("shop", "0002_backfill")]
                operations = [
                    migrations.AlterField("order", "status", models.CharField(max_length=10, default="new")),
                ]
         """},
        {"mandu.yaml": _JUDGE_ALL, "alembic/versions/a1_create.py": """
            import sqlalchemy as sa
            from alembic import context, op

            revision = "a1"
            down_revision = None

            account = sa.table("account", sa.column("id", sa.Integer))

            def upgrade():
                op.create_table("account", sa.Column("id", sa.Integer, primary_key=True))
                op.bulk_insert(account, [{"id": 1}])
                if not context.is_offline_mode():
                    rows = op.get_bind().execute(sa.select(account)).fetchall()
         """},
    ]
    FIXED = [
        {"shop/migrations/0002_backfill.py": """
            from django.db import migrations


            def backfill(apps, schema_editor):
                \"\"\"One order for the first customer.\"\"\"
                Customer = apps.get_model("shop", "Customer")
                Order = apps.get_model("shop", "Order")
                Order.objects.create(customer=Customer.objects.first(), status="new")


            class Migration(migrations.Migration):
                dependencies = [("shop", "0001_initial")]
                operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
         """},
    ]

    def finish(self) -> None:
        view = migration_view(self.ctx, self.notices)
        if view is None or not view.judged:
            return
        self._loaddata(view)
        if view.mig.system == "django":
            models = self._django_imports(view)
            self._django(view, models)
        else:
            self._alembic_imports(view)
            self._get_bind(view)
            self._alembic(view)

    # -- shared: loaddata ---------------------------------------------------------------------
    def _loaddata(self, view: MigrationView) -> None:
        for node in ast.walk(self.ctx.tree):
            if isinstance(node, ast.Call) and pyast.last_part(pyast.call_name(node)) == "call_command" and node.args \
                    and pyast.str_value(node.args[0]) == "loaddata":
                self.report(node, "`call_command(\"loaddata\", ...)` in a migration loads the fixture through "
                                  "today's models, not the historical ones: once a field changes, this migration "
                                  "fails on every fresh database; create the rows with `apps.get_model(...)` "
                                  "in the migration itself")

    # -- Django --------------------------------------------------------------------------------
    def _django_imports(self, view: MigrationView) -> Dict[str, ModelRef]:
        """Imported app models (local name -> (app label, model)); each import used by a data
        function is reported, with the apps.get_model fix when every name it imports is a model."""
        models: Dict[str, ModelRef] = {}
        users: Dict[str, List[ast.AST]] = {}
        constants: Dict[str, Set[str]] = {}  # model name -> class attributes read (not a manager)
        for name, fn in view.functions.items():
            parents = {id(c): p for p in ast.walk(fn) for c in ast.iter_child_nodes(p)}
            for node in ast.walk(fn):
                if isinstance(node, ast.Name):
                    users.setdefault(node.id, [])
                    if fn not in users[node.id]:
                        users[node.id].append(fn)
                    parent = parents.get(id(node))
                    if isinstance(parent, ast.Attribute) and parent.attr not in HISTORICAL_ATTRS:
                        constants.setdefault(node.id, set()).add(parent.attr)
        for node in ast.walk(self.ctx.tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            found = self._imported_models(node, "django")
            if not found:
                continue
            for local, model in found.items():
                models[local] = (model.app_label, model.name)
            used = [local for local in found if users.get(local)]
            local_import = any(node in ast.walk(fn) for fn in view.functions.values())
            if not used and not local_import:
                continue
            names = ", ".join(f"{m.app_label}.{m.name}" for m in found.values())
            read = sorted(f"{local}.{attr}" for local in found for attr in constants.get(local, ()))
            if read:  # class attributes a historical model does not have: no automatic rewrite
                self.report(node, f"the data migration imports app model(s) {names} for {', '.join(read[:3])}: it "
                                  "runs today's code, so it breaks once a later release changes or removes them; "
                                  "copy the values into the migration and use `apps.get_model(...)` for queries")
                continue
            fix = self._get_model_fix(view, node, found, users) if len(found) == len(node.names) else None
            self.report(node, f"the data migration imports app model(s) {names}: it runs with today's classes, "
                              "not the historical models, so it breaks once a later release changes them; use "
                              "`apps.get_model(\"app\", \"Model\")` inside the function", fix=fix)
        return models

    def _imported_models(self, node: ast.ImportFrom, orm: str) -> Dict[str, object]:
        module = self._absolute(node)
        out = {}
        for alias in node.names:
            qual = self.ctx.index.canonical(f"{module}.{alias.name}") if module else None
            model = self.ctx.index.models.get(qual) if qual else None
            if model is not None and model.orm == orm and not model.abstract:
                out[alias.asname or alias.name] = model
        return out

    def _absolute(self, node: ast.ImportFrom) -> Optional[str]:
        if not node.level:
            return node.module
        package = self.ctx.facts.module.split(".")
        if not self.ctx.facts.is_package:
            package = package[:-1]
        base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
        return ".".join(base + ([node.module] if node.module else [])) or None

    def _get_model_fix(self, view: MigrationView, node: ast.ImportFrom, found, users) -> Optional[Fix]:
        lines = "\n".join
        inside = next((fn for fn in view.functions.values() if node in ast.walk(fn)), None)
        if inside is not None:
            apps = _apps_param(inside)
            if apps is None:
                return None
            targets = ", ".join(found)
            calls = ", ".join(f'{apps}.get_model("{m.app_label}", "{m.name}")' for m in found.values())
            return Fix(FixSafety.UNSAFE, "apps.get_model instead of the imported model",
                       (Edit(self.ctx.span(node), f"{targets} = {calls}"),))
        edits = [Edit(self.ctx.span(node), "")]
        for fn in sorted({id(f): f for local in found for f in users.get(local, [])}.values(), key=lambda f: f.lineno):
            apps = _apps_param(fn)
            if apps is None or fn.decorator_list:
                return None
            needed = [(local, m) for local, m in found.items() if fn in users.get(local, [])]
            text = _insert_first(self.ctx.source, fn, lines(
                f'{local} = {apps}.get_model("{m.app_label}", "{m.name}")' for local, m in needed))
            if text is None:
                return None
            edits.append(Edit(self.ctx.span(fn), text))
        return Fix(FixSafety.UNSAFE, "apps.get_model instead of the imported model(s)", tuple(edits))

    def _table_of(self, view: MigrationView, op: Operation, ref: ModelRef, table: bool) -> Optional[str]:
        if table:
            return ref[1]
        state = view.state_before(op)
        model = state.get(ref[0] or view.mig.label, ref[1]) if state is not None else None
        return table_name(model) if model is not None else None

    def _django(self, view: MigrationView, imported: Dict[str, ModelRef]) -> None:
        reader = WriteReader(view.functions, imported)
        data_ops: List[Tuple[Operation, List[Tuple[Write, str]]]] = []
        for op in view.ops:
            if op.track in ("state", "none"):
                continue
            writes: List[Tuple[Write, str]] = []
            if op.kind == "RunPython":
                fn = _code_function(view, op)
                for w in reader.read(fn) if fn is not None else []:
                    table = self._table_of(view, op, w.model, w.table)
                    if table:
                        writes.append((w, table))
            elif op.kind == "RunSQL":
                for sql in op.args.get("sql") or []:
                    found = sql_write(sql)
                    if found:
                        writes.append((Write(op.node, (None, found[1]), found[0], found[2], True), found[1]))
            if writes:
                data_ops.append((op, writes))
        self._judge_data_ops(view, data_ops)

    # -- Alembic -------------------------------------------------------------------------------
    def _alembic_imports(self, view: MigrationView) -> None:
        for node in ast.walk(self.ctx.tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            module = self._absolute(node) or ""
            if not self.ctx.index.module_rel.get(module) and module not in self.ctx.index.module_rel:
                continue  # a library (sqlalchemy, alembic), not the app
            names = []
            for alias in node.names:
                qual = self.ctx.index.canonical(f"{module}.{alias.name}")
                model = self.ctx.index.models.get(qual)
                if model is not None and model.orm == "sqlalchemy":
                    names.append(alias.name)
                elif alias.name in ("metadata", "target_metadata", "Base", "Model") or self._is_declarative(qual):
                    names.append(alias.name)
            if names:
                self.report(node, f"the revision imports {', '.join(names)} from the application: it runs with "
                                  "today's models and metadata, so it breaks (or changes meaning) once they change; "
                                  "describe the tables it needs with a local `sa.table(\"name\", sa.column(...))`")

    def _is_declarative(self, qual: str) -> bool:
        return any(qual in self.ctx.index.mro(m.qual)[1:] for m in self.ctx.index.models.values()
                   if m.orm == "sqlalchemy")

    def _get_bind(self, view: MigrationView) -> None:
        if OFFLINE_GUARD.search(self.ctx.source):
            return
        binds: Set[str] = set()
        calls = [n for n in ast.walk(self.ctx.tree) if isinstance(n, ast.Call)
                 and pyast.last_part(pyast.call_name(n)) == "get_bind"]
        for node in ast.walk(self.ctx.tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                    and node.value in calls:
                binds.add(node.targets[0].id)
        reported: Set[int] = set()
        for node in ast.walk(self.ctx.tree):
            read = _bind_read(node, binds, calls)
            if read is None:
                continue
            origin = read if read in calls else next((c for c in calls if id(c) not in reported), None)
            if origin is None or id(origin) in reported:
                continue
            reported.add(id(origin))
            self.report(origin, "the revision reads through `op.get_bind()` without an offline-mode guard: with "
                                "`alembic upgrade --sql` there is no connection and it crashes; wrap the read in "
                                "`if not context.is_offline_mode():`", confidence="medium")

    def _alembic(self, view: MigrationView) -> None:
        tables = local_tables(self.ctx.tree)
        data_ops: List[Tuple[Operation, List[Tuple[Write, str]]]] = []
        for op in view.ops:
            writes: List[Tuple[Write, str]] = []
            if op.kind == "execute":
                sql = op.args.get("sqltext")
                found = sql_write(sql) if isinstance(sql, str) else None
                if found is None and isinstance(op.node, ast.Call) and op.node.args:
                    found = sa_expression_write(op.node.args[0], tables)
                if found:
                    writes.append((Write(op.node, (None, found[1]), found[0], found[2], True), found[1]))
            elif op.kind == "bulk_insert" and isinstance(op.node, ast.Call) and op.node.args \
                    and isinstance(op.node.args[0], ast.Name) and op.node.args[0].id in tables:
                table = tables[op.node.args[0].id]
                writes.append((Write(op.node, (None, table), "sql-insert", False, True), table))
            if writes:
                data_ops.append((op, writes))
        self._judge_data_ops(view, data_ops)

    # -- data beside schema changes, full-table backfills --------------------------------------
    def _judge_data_ops(self, view: MigrationView, data_ops) -> None:
        postgresql = target(self.ctx).postgresql
        downtime = downtime_deploy(self.ctx.project.settings)  # no traffic waits on the locks
        for op, writes in data_ops:
            if not _in_transaction(view, op):
                continue
            before = view.before(op)
            for w, table in writes:
                if w.full_table and not downtime and view.live_table(before, table) is not None:
                    what = "a loop saving every row of" if w.kind == "update" and isinstance(w.node, ast.Call) \
                        and isinstance(w.node.func, ast.Attribute) and w.node.func.attr == "save" else "every row of"
                    self.report(w.node, f"the data migration writes {what} {table} in one transaction: every row "
                                        "stays locked until the migration commits, and a failure rolls all of it "
                                        "back; backfill in batches (a non-atomic migration, `atomic=False`, "
                                        "committing each batch)", confidence="medium")
            if not postgresql or not view.mig.atomic:
                continue
            for table in sorted({t for _, t in writes}):
                self._mixed(view, op, table, {w.kind.replace("sql-", "") for w, t in writes if t == table})

    def _mixed(self, view: MigrationView, data_op: Operation, table: str, kinds: Set[str]) -> None:
        for other in view.ops:
            if other is data_op or other.kind not in SCHEMA_KINDS or other.track in ("state", "none"):
                continue
            if not _changes(view.before(other), view.after(other), table):
                continue
            where = Location(self.ctx.path, self.ctx.span(other.node), "the schema change") if other.node else None
            related = (where,) if where else ()
            if other.index > data_op.index:
                self._pending_events(view, data_op, other, table, kinds, related)
                return
            if view.live_table(view.before(other), table) is not None and not downtime_deploy(
                    self.ctx.project.settings):
                self.report(data_op.node,
                            f"writes to {table} after a schema change to it in the same atomic migration (line "
                            f"{other.line}): that change's ACCESS EXCLUSIVE lock is held for the whole data step, "
                            "so every query on the table waits; move the data step to a migration of its own",
                            related=related)
                return

    def _pending_events(self, view: MigrationView, data_op: Operation, other: Operation, table: str,
                        kinds: Set[str], related) -> None:
        """Django's foreign keys are DEFERRABLE INITIALLY DEFERRED: an INSERT into a table with
        one, a DELETE from a table one references (and an UPDATE that changes a key) queue
        trigger events until commit, and PostgreSQL refuses to ALTER a table that has some."""
        schema = view.before(other)
        django = view.mig.system == "django"
        certain = django and ("insert" in kinds and _has_fks(schema, table)
                              or "delete" in kinds and _is_referenced(schema, table))
        possible = django and "update" in kinds and (_has_fks(schema, table) or _is_referenced(schema, table))
        head = f"writes to {table} and a later operation of the same atomic migration (line {other.line}) alters it: "
        refusal = f"PostgreSQL refuses with `cannot ALTER TABLE \"{table}\" because it has pending trigger events`"
        if certain:
            what = refusal + " (its deferred foreign keys are checked at commit)"
        elif possible:
            what = refusal + " as soon as the update changes a foreign key value"
        else:
            if downtime_deploy(self.ctx.project.settings):
                return  # only a lock, and nothing serves while the migration runs
            what = "the rows stay locked until the ALTER's ACCESS EXCLUSIVE lock is released at commit"
        self.report(data_op.node, head + what + "; move the data step to a migration of its own", related=related,
                    confidence="high" if certain else "medium")


def _changes(before: Schema, after: Schema, table: str) -> bool:
    """Did the operation change the table in the database? An AlterField of ``choices`` or
    ``help_text`` (or of the Python default, which Django never keeps in the database) runs no
    DDL."""
    old, new = before.table(table), after.table(table)
    if old is None or new is None or old is new:
        return False
    if new.unknown or old.unknown:
        return True

    def ddl(t):
        return ({k: replace(c, has_default=False) for k, c in t.columns.items()}, dict(t.indexes),
                dict(t.constraints), t.name)
    return ddl(old) != ddl(new)


def _has_fks(schema: Schema, table: str) -> bool:
    state = schema.table(table)
    return state is not None and (any(c.fk for c in state.columns.values())
                                  or any(c.kind == "foreign_key" for c in state.constraints.values()))


def _is_referenced(schema: Schema, table: str) -> bool:
    return any(c.fk and c.fk.lower() == table.lower() for t in schema.tables.values() for c in t.columns.values())


def _apps_param(fn: ast.AST) -> Optional[str]:
    args = getattr(fn, "args", None)
    return args.args[0].arg if args is not None and args.args else None


def _insert_first(source: str, fn: ast.AST, new_lines: str) -> Optional[str]:
    """The function's text with ``new_lines`` as its first statements (after a docstring)."""
    if not fn.body:
        return None
    lines = source.splitlines(keepends=True)
    first = fn.body[1] if len(fn.body) > 1 and isinstance(fn.body[0], ast.Expr) \
        and isinstance(getattr(fn.body[0], "value", None), ast.Constant) \
        and isinstance(fn.body[0].value.value, str) else fn.body[0]
    if first.lineno == fn.lineno:  # `def f(apps, se): pass` on one line
        return None
    indent = " " * first.col_offset
    block = "".join(indent + line + "\n" for line in new_lines.split("\n"))
    head = "".join(lines[fn.lineno - 1:first.lineno - 1])
    tail = "".join(lines[first.lineno - 1:fn.end_lineno])
    return (head + block + tail)[fn.col_offset:].rstrip("\n")


def _bind_read(node: ast.AST, binds: Set[str], calls: List[ast.Call]) -> Optional[ast.AST]:
    """The bind (a name bound to op.get_bind(), or the call itself) a read goes through."""
    def bind_of(expr) -> Optional[ast.AST]:
        if isinstance(expr, ast.Name) and expr.id in binds:
            return expr
        if expr in calls:
            return expr
        return None

    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        method = node.func.attr
        inner = node.func.value
        if method in READS and isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute) \
                and inner.func.attr in ("execute", "exec_driver_sql", "scalars", "scalar"):
            return bind_of(inner.func.value)
        if method in ("scalar", "scalars", "exec_driver_sql") and bind_of(inner) is not None:
            return bind_of(inner)
    if isinstance(node, ast.Call) and pyast.last_part(pyast.call_name(node)) in ("inspect", "from_engine") \
            and node.args:
        return bind_of(node.args[0])
    if isinstance(node, (ast.For, ast.comprehension)):
        it = node.iter
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute) and it.func.attr == "execute":
            return bind_of(it.func.value)
    return None
