"""MDB606: rolling the migration back loses data silently, fails, or is impossible."""
from __future__ import annotations

import ast
from typing import Optional

from .judged import MigrationFacts, MigrationRule
from .records import Migration, Operation

_CONFIG = "migrations:\n  judge: all\n"
ACK_WORDS = ("irreversib", "lossy", "one-way", "not reversible", "cannot be reversed", "can't be reversed")


class LossyRollback(MigrationRule):
    """
    ## What it does
    Reads what rolling each unreleased migration back would do. It reports a destructive forward
    step whose reverse does nothing — a data migration that deletes rows with
    `RunPython.noop` (or an empty function) as its reverse, destructive `RunSQL` with
    `RunSQL.noop`, an Alembic `upgrade()` that drops tables or columns with an empty or `pass`
    `downgrade()` —, and a reverse that re-creates a NOT NULL or unique column with no default,
    which fails on the rows that exist by then (Django's reverse of `RemoveField` of such a
    field; an Alembic `downgrade()` adding a `nullable=False` column without
    `server_default`). A reverse that is merely missing after a non-destructive step
    (`RunPython` without `reverse_code`, `RunSQL` without `reverse_sql`, an empty `downgrade()`)
    and a reverse that restores NOT NULL or UNIQUE on a column the migration relaxed are
    `medium`.

    Primary location: the forward operation (Alembic: the `downgrade` function or the
    operation in it).

    ## Why is this bad?
    A rollback is what you reach for when a release goes wrong, and it must either work or say
    it cannot. A no-op reverse "succeeds" while the schema or the data stays as the failed
    release left it; a reverse that re-adds a NOT NULL column without a default fails halfway
    through the rollback, in production, under pressure.

    ## Known problems
    Only unreleased migrations are judged (`migrations.judge: all` judges every one). A reverse
    that raises — `raise NotImplementedError("irreversible: …")`, `IrreversibleError` — is an
    acknowledgement and stays silent, as does a `RunPython.noop` whose line carries a comment
    saying the step is irreversible, and SQL that drops a column or table the migration state
    no longer has (the second half of a two-step removal). Destructive SQL on a table the
    migrations never created (a removed third-party app's) is `medium`. "Destructive" is read
    from the code: `.delete()` calls and `DELETE`/`TRUNCATE`/`DROP` SQL in literals; an update
    that overwrites data is not recognised. A field removed or relaxed in a migration that later
    deletes its model is not reported: the rollback re-creates the table empty first.
    Execution contexts do not apply.

    ## Example
    ```python
    migrations.RunPython(delete_orphans, migrations.RunPython.noop),
    ```

    ## Use instead
    ```python
    def keep_orphans(apps, schema_editor):
        raise NotImplementedError("irreversible: deleted orphans cannot be restored")

    migrations.RunPython(delete_orphans, keep_orphans),
    ```

    ## Fix safety
    No fix: only the author knows what the reverse should restore.
    """

    code = "MDB606"
    name = "lossy-rollback"
    summary = "A migration's rollback silently loses data, fails on existing rows, or is missing"
    default = False  # opt-in until measured blind on real apps
    precision = "high"
    tags = ("migrations", "rollback")
    BAD = [
        {
            "mandu.yaml": _CONFIG,
            "shop/migrations/0001_initial.py": """
                from django.db import migrations, models


                class Migration(migrations.Migration):
                    initial = True
                    operations = [
                        migrations.CreateModel(
                            name="Book",
                            fields=[
                                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                                ("isbn", models.CharField(max_length=13)),
                            ],
                        ),
                    ]
            """,
            "shop/migrations/0002_cleanup.py": """
                from django.db import migrations


                def delete_orphans(apps, schema_editor):
                    apps.get_model("shop", "Book").objects.filter(isbn="").delete()


                class Migration(migrations.Migration):
                    dependencies = [("shop", "0001_initial")]
                    operations = [
                        migrations.RunPython(delete_orphans, migrations.RunPython.noop),  # error
                        migrations.RemoveField(model_name="book", name="isbn"),  # error
                    ]
            """,
        },
        {
            "mandu.yaml": _CONFIG,
            "db/alembic.ini": "[alembic]\nscript_location = migrations\n",
            "db/migrations/versions/a1_create.py": """
                from alembic import op
                import sqlalchemy as sa

                revision = "a1"
                down_revision = None


                def upgrade():
                    op.create_table("book", sa.Column("id", sa.Integer, primary_key=True),
                                    sa.Column("isbn", sa.String(13), nullable=False))


                def downgrade():
                    op.drop_table("book")
            """,
            "db/migrations/versions/b2_drop_isbn.py": """
                from alembic import op

                revision = "b2"
                down_revision = "a1"


                def upgrade():
                    op.drop_column("book", "isbn")


                def downgrade():  # error
                    pass
            """,
        },
    ]
    GOOD = [
        {
            "mandu.yaml": _CONFIG,
            "shop/migrations/0001_initial.py": """
                from django.db import migrations, models


                class Migration(migrations.Migration):
                    initial = True
                    operations = [
                        migrations.CreateModel(
                            name="Book",
                            fields=[
                                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                                ("isbn", models.CharField(max_length=13, null=True)),
                            ],
                        ),
                    ]
            """,
            "shop/migrations/0002_cleanup.py": """
                from django.db import migrations


                def delete_orphans(apps, schema_editor):
                    apps.get_model("shop", "Book").objects.filter(isbn="").delete()


                def cannot_restore(apps, schema_editor):
                    raise NotImplementedError("irreversible: deleted orphans cannot be restored")


                def fill(apps, schema_editor):
                    apps.get_model("shop", "Book").objects.filter(isbn=None).update(isbn="")


                class Migration(migrations.Migration):
                    dependencies = [("shop", "0001_initial")]
                    operations = [
                        migrations.RunPython(delete_orphans, cannot_restore),
                        migrations.RunPython(fill, migrations.RunPython.noop),
                        migrations.RemoveField(model_name="book", name="isbn"),
                    ]
            """,
        },
    ]

    def check_migration(self, mig: Migration, facts: MigrationFacts) -> None:
        if mig.system == "django":
            self._django(mig, facts)
        else:
            self._alembic(mig, facts)

    # -- Django -------------------------------------------------------------------------------
    def _acknowledged(self, op: Operation) -> bool:
        node = op.node
        if node is None:
            return False
        lines = self.ctx.source.splitlines()
        first, last = node.lineno, getattr(node, "end_lineno", node.lineno) or node.lineno
        text = " ".join(lines[max(first - 2, 0):last]).lower()
        return "#" in text and any(word in text for word in ACK_WORDS)

    def _django(self, mig: Migration, facts: MigrationFacts) -> None:
        from .rollback import destructive_sql, function, raises, reverse_kind

        for op in mig.operations:
            if op.track in ("state", "none") or op.node is None:
                continue
            if op.kind == "RunPython":
                forward = function(mig.tree, op.args.get("code"))
                kind = reverse_kind(mig.tree, op.args.get("reverse_code"))
                if raises(forward) or kind == "raises" or self._acknowledged(op):
                    continue
                from .rollback import deletes

                if kind == "noop" and deletes(forward):
                    self.report(op.node, f"`{op.args.get('code')}` deletes rows but its reverse is a no-op: a rollback "
                                         "succeeds without restoring them; raise NotImplementedError('irreversible: "
                                         "…') in the reverse to say so")
                elif kind == "missing":
                    self.report(op.node, "`RunPython` has no `reverse_code`: this migration cannot be rolled back "
                                         "(give a reverse, or `RunPython.noop` when there is nothing to undo)",
                                confidence="medium")
            elif op.kind == "RunSQL":
                sql = op.args.get("sql") or []
                if "reverse_sql" not in op.args:
                    if sql and not self._acknowledged(op):
                        self.report(op.node, "`RunSQL` has no `reverse_sql`: this migration cannot be rolled back",
                                    confidence="medium")
                    continue
                reverse = op.args.get("reverse_sql")
                if reverse is not None and not any(s.strip() for s in reverse) and destructive_sql(sql) \
                        and not self._acknowledged(op):
                    before = facts.replay.before(op)
                    tables = [t for st in op.args.get("statements") or () for t in st.tables]
                    ours = before is not None and any(before.table_exists(t) is not False for t in tables)
                    if self._completes_two_step(op, mig, facts):
                        continue
                    self.report(op.node, "destructive `RunSQL` with a no-op `reverse_sql`: a rollback succeeds without "
                                         "restoring what it dropped or deleted",
                                confidence="high" if ours or not tables else "medium")
            elif op.kind == "RemoveField":
                self._remove_field(op, mig, facts)
            elif op.kind == "AlterField":
                self._alter_field(op, mig, facts)

    def _completes_two_step(self, op: Operation, mig: Migration, facts: MigrationFacts) -> bool:
        """SQL that only drops columns or tables the State track no longer has (their state-only
        removal came first): the models do not expect them back, a no-op reverse is right."""
        from .schema import norm
        from .state import column_name, table_name

        state = facts.replay.state_before(op)
        statements = op.args.get("statements") or ()
        if state is None or not statements:
            return False
        tables = {norm(table_name(m)): m for m in state.models.values() if m.has_table and table_name(m)}
        for st in statements:
            if st.kind == "drop_table":
                if any(norm(t) in tables for t in st.tables):
                    return False
            elif st.kind == "alter_table" and all(f.startswith("drop_column") for f in st.flags if f != "not_valid"):
                model = tables.get(norm(st.tables[0])) if st.tables else None
                dropped = {norm(c) for f in st.flags if f.startswith("drop_column ")
                           for c in f.split(" ", 1)[1].split(",")}
                if model is not None and any(column_name(f) and norm(column_name(f)) in dropped
                                             for f in model.fields.values()):
                    return False
            else:
                return False
        return True

    def _remove_field(self, op: Operation, mig: Migration, facts: MigrationFacts) -> None:
        state = facts.replay.state_before(op)
        model = state.get(mig.label, op.args.get("model_name")) if state is not None else None
        f = model.field_named(op.args.get("name") or "") if model is not None else None
        if f is None or model.unknown or not model.has_table or f.relation == "m2m" or f.primary_key:
            return
        if model.created_in == mig.key or self._deleted_later(op, mig, model.name):
            return  # a table this migration creates or deletes: its rollback drops it / re-creates it empty
        auto = f.kwargs.get("auto_now") is True or f.kwargs.get("auto_now_add") is True
        blank_string = f.kwargs.get("blank") is True and f.cls not in ("ForeignKey", "OneToOneField") and \
            f.cls in ("CharField", "TextField", "SlugField", "EmailField", "URLField", "FileField", "ImageField",
                      "FilePathField")
        if not f.null and not f.has_default and not f.db_default and not auto and not blank_string:
            self.report(op.node, f"rolling back re-adds `{model.name}.{f.name}` as NOT NULL without a default: the "
                                 "rollback fails on any existing row; give the field a default (or db_default) "
                                 "before removing it, or make it nullable first")
        elif f.unique and (f.has_default or blank_string) and not f.null:
            self.report(op.node, f"rolling back re-adds unique `{model.name}.{f.name}` with one default for every "
                                 "row: the rollback fails as soon as the table has two rows")

    @staticmethod
    def _deleted_later(op: Operation, mig: Migration, model: str) -> bool:
        """A later ``DeleteModel`` of the same model in this migration: a rollback re-creates
        the table empty before it undoes ``op``, so no existing row can make that fail."""
        return any(o.index > op.index and o.kind == "DeleteModel"
                   and str(o.args.get("name") or "").lower() == model.lower() for o in mig.operations)

    def _alter_field(self, op: Operation, mig: Migration, facts: MigrationFacts) -> None:
        state = facts.replay.state_before(op)
        model = state.get(mig.label, op.args.get("model_name")) if state is not None else None
        old = model.field_named(op.args.get("name") or "") if model is not None else None
        new = op.args.get("field")
        if old is None or new is None or model.unknown or not model.has_table:
            return
        if self._deleted_later(op, mig, model.name):
            return
        if not old.null and new.null and not old.primary_key:
            self.report(op.node, f"rolling back sets `{model.name}.{old.name}` NOT NULL again: it fails once a NULL "
                                 "has been written (backfill in the reverse before restoring the constraint)",
                        confidence="medium")
        elif old.unique and not new.unique and not old.primary_key and old.relation != "o2o":
            self.report(op.node, f"rolling back makes `{model.name}.{old.name}` unique again: it fails once a "
                                 "duplicate has been written", confidence="medium")

    # -- Alembic ------------------------------------------------------------------------------
    def _alembic(self, mig: Migration, facts: MigrationFacts) -> None:
        from . import pyast
        from .rollback import ALEMBIC_DESTRUCTIVE, DowngradeReader, destructive_sql, does_nothing, raises

        tree = mig.tree
        downgrade = pyast.find_function(tree, "downgrade") if tree is not None else None
        if downgrade is not None and raises(downgrade):
            return
        forward = [op for op in mig.operations if op.kind not in ("batch_alter_table",)]
        if not forward:
            return
        destructive = [op for op in forward if op.kind in ALEMBIC_DESTRUCTIVE or (
            op.kind == "execute" and destructive_sql([op.args.get("sqltext")]))]
        if downgrade is None or does_nothing(downgrade):
            anchor: Optional[ast.AST] = downgrade or forward[0].node
            if anchor is None:
                return
            if destructive:
                first = destructive[0]
                self.report(anchor, "`downgrade()` does nothing although `upgrade()` is destructive "
                                    f"(`op.{first.kind}` at line {first.line}): a rollback succeeds and leaves the "
                                    "schema as it is; restore what it drops, or raise "
                                    "NotImplementedError('irreversible: …')")
            else:
                self.report(anchor, "`downgrade()` does nothing: rolling this revision back leaves its changes in "
                                    "place", confidence="medium")
            return
        after = facts.after(mig)
        for op in DowngradeReader(tree, mig.file).read():
            self._downgrade_op(op, after)

    def _downgrade_op(self, op: Operation, after) -> None:
        if op.node is None or after is None:
            return
        table = op.args.get("table_name")
        if op.kind == "add_column" and table and after.table_exists(table):
            column = op.args.get("column")
            if column is not None and column.nullable is False and not column.db_default and not column.primary_key:
                self.report(op.node, f"`downgrade()` re-adds `{table}.{column.name}` NOT NULL without a "
                                     "server_default: the rollback fails on any existing row")
        elif op.kind == "alter_column" and table and op.args.get("nullable") is False:
            current = after.column(table, op.args.get("column_name") or "")
            if current and current.nullable is True:
                self.report(op.node, f"`downgrade()` sets `{table}.{op.args.get('column_name')}` NOT NULL again: it "
                                     "fails once a NULL has been written", confidence="medium")
