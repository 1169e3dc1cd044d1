"""MDB603: a migration drops, renames or narrows a column or table that application code
still uses, or that the previous release uses during a rolling deploy."""
from __future__ import annotations

from typing import List, Optional, Set

from ...model import Location, Span
from .judged import MigrationFacts, MigrationRule, downtime_deploy, runs_after_deploy
from .records import Migration, Operation

_CONFIG = "migrations:\n  judge: all\n"
_INITIAL = """
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    operations = [
        migrations.CreateModel(
            name="Book",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("title", models.CharField(max_length=200)),
                ("isbn", models.CharField(max_length=13)),
            ],
        ),
    ]
"""
_MODELS = """
from django.db import models


class Book(models.Model):
    title = models.CharField(max_length=200)
"""


def _fields_with_parents(state, model, depth: int = 0):
    """A model's fields and those of its multi-table-inheritance parents (reachable as its own)."""
    out = list(model.fields.values())
    for f in model.fields.values():
        if depth < 4 and f.relation == "o2o" and (f.name.endswith("_ptr") or f.kwargs.get("parent_link") is True):
            parent = state.resolve(f.to, model.app_label)
            if parent is not None:
                out += _fields_with_parents(state, parent, depth + 1)
    return out


class BreakingChangeInUse(MigrationRule):
    """
    ## What it does
    Finds operations of an unreleased migration that drop, rename or narrow a column or table
    (on the replayed Database track, so raw SQL counts too) and looks for application code that
    still uses it: ORM attribute access on the model (receivers typed as the other rules type
    them), lookups (`filter(isbn__startswith=…)`, `values("isbn")`, `order_by("-isbn")`,
    `F("isbn")`, SQLAlchemy `filter_by(isbn=…)`), field lists of serializers, forms and admin
    classes (`fields`, `list_display`, …), the model class still declaring the field, and raw SQL
    in string literals (parsed with sqlglot).

    Primary location: the operation in the migration; the code that still uses the column is a
    related location.

    ## Why is this bad?
    Migrations run before (or while) the new code is rolled out, so the previous release keeps
    serving requests against the new schema. Code that still names the dropped column fails with
    "column does not exist" — immediately if it is this release's code, for the length of the
    deploy if it is the previous release's. Dropping in two steps avoids it: first remove the
    field from the model and the migration state only (`SeparateDatabaseAndState` with
    `state_operations` alone), release, then drop the column in a later release.

    ## Known problems
    `high` when code still uses what the operation removes; `medium` when nothing uses it but it
    is dropped or renamed in one step (the previous release still selects it), and for every
    narrowing (a shorter `max_length`, a smaller integer or a different type: whether it breaks
    depends on the data the previous release writes). Silent when the table or column was
    created by a migration that is not released either, when the operation only completes a
    two-step removal whose first half is released (Django: the state-only removal; Alembic: a
    release whose models no longer map the column or table, read from the base branch with
    git), on tables the replay lost track of, and — but for uses by today's code — on
    migrations django-safemigrate marks `Safe.after_deploy()` and with `migrations.deploy:
    downtime` (no previous release runs against them).
    Only unreleased migrations are judged (`migrations.judge: all` judges every one); test code
    and migrations are not "application code". Uses through untyped receivers (`obj.isbn` with
    `obj` of unknown type), dynamic lookups and SQL built at run time are not seen. Execution
    contexts do not apply.

    ## Example
    ```python
    migrations.RemoveField(model_name="book", name="isbn"),  # views.py: Book.objects.filter(isbn=...)
    ```

    ## Use instead
    ```python
    # release N: stop using the field, remove it from the state only
    migrations.SeparateDatabaseAndState(state_operations=[migrations.RemoveField("book", "isbn")]),
    # release N+1: drop the column
    migrations.RunSQL("ALTER TABLE shop_book DROP COLUMN isbn", reverse_sql=migrations.RunSQL.noop),
    ```

    ## Fix safety
    No fix: splitting a release is a deploy decision.
    """

    code = "MDB603"
    name = "breaking-change-in-use"
    summary = "A migration drops, renames or narrows a column or table that code still uses"
    default = False  # opt-in until measured blind on real apps
    precision = "high"
    tags = ("migrations", "deploy")
    BAD = [
        {
            "mandu.yaml": _CONFIG,
            "shop/migrations/0001_initial.py": _INITIAL,
            "shop/migrations/0002_remove_book_isbn.py": """
                from django.db import migrations


                class Migration(migrations.Migration):
                    dependencies = [("shop", "0001_initial")]
                    operations = [
                        migrations.RemoveField(model_name="book", name="isbn"),  # error
                    ]
            """,
            "shop/models.py": _MODELS,
            "shop/views.py": """
                from .models import Book


                def by_isbn(isbn):
                    return Book.objects.filter(isbn=isbn).first()
            """,
        },
    ]
    GOOD = [
        {
            "mandu.yaml": _CONFIG,
            "shop/migrations/0001_initial.py": _INITIAL,
            "shop/migrations/0002_remove_book_isbn_state.py": """
                from django.db import migrations


                class Migration(migrations.Migration):
                    dependencies = [("shop", "0001_initial")]
                    operations = [
                        migrations.SeparateDatabaseAndState(
                            state_operations=[migrations.RemoveField(model_name="book", name="isbn")],
                        ),
                    ]
            """,
            "shop/migrations/0003_drop_isbn.py": """
                from django.db import migrations


                class Migration(migrations.Migration):
                    dependencies = [("shop", "0002_remove_book_isbn_state")]
                    operations = [
                        migrations.RunSQL("ALTER TABLE shop_book DROP COLUMN isbn", migrations.RunSQL.noop),
                    ]
            """,
            "shop/models.py": _MODELS,
            "shop/views.py": """
                from .models import Book


                def by_title(title):
                    return Book.objects.filter(title=title).first()
            """,
        },
    ]

    def check_migration(self, mig: Migration, facts: MigrationFacts) -> None:
        from .breaking import operation_changes
        from .usages import usages_of

        usages = None
        final = facts.replay.schema if mig.system == "django" else facts.replay.alembic_schemas.get(mig.label)
        for op, change in operation_changes(facts, mig):
            if self._new_in_release(facts, mig, change, op):
                continue
            if change.kind != "narrow" and self._back_later(final, change):
                continue
            if change.kind == "narrow":
                self._report(op, change, [], facts, mig)
                continue
            if usages is None:
                usages = usages_of(self.ctx.project, facts)
            models, names = self._targets(facts, mig, op, change)
            if change.kind in ("drop-table", "rename-table"):
                # a renamed model's class maps to the new table: only SQL can name the old one
                uses = usages.of_table(change.table, models if change.kind == "drop-table" else [])
            else:
                uses = usages.of_column(change.table, change.column, models, names)
                uses += self._declared(facts, mig, change, models, names)
            self._report(op, change, uses, facts, mig)

    # -- what the change is about -------------------------------------------------------------
    @staticmethod
    def _back_later(final, change) -> bool:
        """The table (or column) exists again after the last migration (re-created, or another
        table renamed to its name): today's code means that one."""
        from .schema import norm

        if final is None:
            return True
        if change.column is None:
            return final.table_exists(change.table) is not False
        table = final.table(change.table)
        if table is None:
            return False
        return table.unknown or norm(change.column) in table.columns

    def _new_in_release(self, facts: MigrationFacts, mig: Migration, change, op: Operation) -> bool:
        """Created by this or an unreleased migration: the previous release never had it."""
        before = facts.replay.before(op)
        created = before.created_in(change.table) if before is not None else None
        if created is not None and (created == mig.key or facts.is_unreleased(created)):
            return True
        if change.column is None or facts.unreleased is None:
            return False
        for other_file in sorted(facts.unreleased):
            other = facts.replay.migration(other_file)
            if other is None or other.system != mig.system or other.label != mig.label and mig.system == "alembic":
                continue
            for op in other.operations:
                renames = op.kind == "alter_column" and op.args.get("new_column_name")
                if op.kind in ("AddField", "RenameField", "add_column") or renames:
                    if self._adds(facts, op, change):
                        return True
        return False

    def _adds(self, facts: MigrationFacts, op: Operation, change) -> bool:
        from .schema import norm

        if op.kind == "add_column":
            column = op.args.get("column")
            return (norm(op.args.get("table_name") or "") == norm(change.table) and column is not None
                    and norm(column.name) == norm(change.column))
        if op.kind == "alter_column":
            return (norm(op.args.get("table_name") or "") == norm(change.table)
                    and norm(op.args.get("new_column_name") or "") == norm(change.column))
        before, after = facts.replay.before(op), None
        if before is None:
            return False
        mig = facts.replay.migration(op.file)
        following = next((o for o in mig.operations if o.index == op.index + 1), None)
        after = facts.replay.before(following) if following is not None else facts.after(mig)
        table_before, table_after = before.table(change.table), after.table(change.table) if after else None
        return (table_before is not None and table_after is not None
                and norm(change.column) not in table_before.columns and norm(change.column) in table_after.columns)

    def _targets(self, facts: MigrationFacts, mig: Migration, op: Operation, change):
        """The index models mapped to the table, and the names that mean the column."""
        from .schema import norm
        from .state import column_name, table_name
        from .usages import django_models_for, field_names, sa_models_for

        names: Set[str] = {change.column} if change.column else set()
        if mig.system == "alembic":
            models = sa_models_for(self.ctx.project, change.table)
            return models, names
        state = facts.replay.state_before(op)
        models: List[str] = []
        for model in (state.models.values() if state is not None else ()):
            if model.has_table and table_name(model) and norm(table_name(model)) == norm(change.table):
                for f in model.fields.values():
                    if change.column and column_name(f) and norm(column_name(f)) == norm(change.column):
                        names |= field_names(f.name, change.column, bool(f.relation))
                owner = model
                if change.column is not None:  # the model that owns the table today (it may be renamed)
                    owner = next((m for m in facts.replay.state.models.values() if m.has_table and table_name(m)
                                  and norm(table_name(m)) == norm(change.table)), model)
                    for f in _fields_with_parents(facts.replay.state, owner):  # names still meaning a field
                        names -= {f.name, f"{f.name}_id" if f.relation else f.name}
                models += django_models_for(self.ctx.project, facts, owner.app_label, owner.name)
        return models, names

    def _declared(self, facts, mig, change, models, names) -> list:
        """The model class itself still maps the column."""
        from .schema import norm
        from .usages import Use

        out = []
        index = self.ctx.project.index
        for qual in models:
            model = index.models.get(qual)
            if model is None:
                continue
            for name, ff in model.fields.items():
                column = ff.kw.get("db_column")
                if ff.ctor is not None and (name in names or (isinstance(column, str)
                                                              and norm(column) == norm(change.column or ""))):
                    rel = index.class_path.get(qual) or model.path
                    out.append(Use(rel, ff.line, f"the model `{model.name}` still declares `{name}`"))
        return out

    # -- reporting ----------------------------------------------------------------------------
    def _two_step(self, facts: MigrationFacts, mig: Migration, op: Operation, change) -> Optional[bool]:
        """Django: the State no longer has the field/model the operation drops (its state-only
        removal came first). True when that removal is released, False when it is not, None
        when this is a one-step drop."""
        from .schema import norm
        from .state import column_name, table_name

        if change.kind not in ("drop-column", "drop-table"):
            return None
        if mig.system == "alembic":
            return self._alembic_two_step(facts, change)
        if mig.system != "django":
            return None
        state = facts.replay.state_before(op)
        if state is None:
            return None
        owner = next((m for m in state.models.values()
                      if m.has_table and table_name(m) and norm(table_name(m)) == norm(change.table)), None)
        if owner is not None and (change.kind == "drop-table" or any(
                column_name(f) and norm(column_name(f)) == norm(change.column) for f in owner.fields.values())):
            return None
        unreleased = facts.unreleased or set()
        for other in facts.replay.migrations.values():
            if other.file not in unreleased or other.system != "django":
                continue
            for earlier in other.operations:
                if earlier.track == "state" and earlier.kind in ("RemoveField", "DeleteModel") and (
                        other.file != mig.file or earlier.index < op.index) and self._removes(facts, earlier, change):
                    return False
        return True

    def _alembic_two_step(self, facts: MigrationFacts, change) -> Optional[bool]:
        """Alembic has no state-only step: the first half of a two-step drop is a release whose
        models no longer map the column (or table). True when no model at the released base maps
        it (that release is out), None when one does or git cannot tell (one step)."""
        from .locking import is_migration_path
        from .released import sa_mapped_at

        release = facts.release
        if release is None or release.base_commit is None or release.unreleased is None:
            return None
        project = self.ctx.project

        def not_app(rel: str) -> bool:
            return is_migration_path(rel) or project.is_non_app(rel)

        mapped = sa_mapped_at(project.root, release.base_commit, change.table, change.column, not_app)
        return True if mapped is False else None

    def _removes(self, facts: MigrationFacts, op: Operation, change) -> bool:
        """Does the state-only ``op`` remove the model/field behind ``change``?"""
        from .schema import norm
        from .state import column_name, table_name

        state = facts.replay.state_before(op)
        mig = facts.replay.migration(op.file)
        model = state.get(mig.label, op.args.get("model_name") or op.args.get("name")) if state and mig else None
        if model is None or not table_name(model) or norm(table_name(model)) != norm(change.table):
            return False
        if op.kind == "DeleteModel":
            return True
        f = model.field_named(op.args.get("name") or "")
        return f is not None and bool(column_name(f)) and norm(column_name(f)) == norm(change.column or "")

    def _report(self, op: Operation, change, uses, facts: MigrationFacts, mig: Migration) -> None:
        what = {"drop-table": f"drops table `{change.table}`",
                "rename-table": f"renames table `{change.table}` to `{change.new_name}`",
                "drop-column": f"drops column `{change.table}.{change.column}`",
                "rename-column": f"renames column `{change.table}.{change.column}` to `{change.new_name}`",
                "narrow": f"narrows column `{change.table}.{change.column}` ({change.detail})"}[change.kind]
        head = f"`{op.kind}` {what}"
        node = op.node
        if node is None:
            return
        if uses:
            first = uses[0]
            related = tuple(Location(str(self.ctx.project.root / u.rel), Span(u.line, 0, u.line, 0), u.how)
                            for u in uses[:5])
            more = f" and {len(uses) - 1} more place(s)" if len(uses) > 1 else ""
            self.report(node, f"{head}, which application code still uses ({first.rel}:{first.line}: {first.how}"
                              f"{more}): it fails with the new schema", related=related,
                        confidence="medium" if change.kind == "narrow" else "high")
            return
        if runs_after_deploy(mig) or downtime_deploy(self.ctx.project.settings):
            return  # ``Safe.after_deploy()`` or ``deploy: downtime``: no previous release runs against it
        if change.kind == "narrow":
            self.report(node, f"{head}: the previous release may still write values that no longer fit during a "
                              "rolling deploy", confidence="medium")
            return
        two_step = self._two_step(facts, mig, op, change)
        if two_step is True:
            return
        if two_step is False:
            tail = "the state-only removal it completes is not released yet"
        elif change.kind.startswith("rename"):
            tail = "the previous release still uses the old name during a rolling deploy"
        elif mig.system == "django":
            tail = ("the previous release still selects it during a rolling deploy; remove it from the model state "
                    "first (released), drop it in a later release")
        else:
            tail = ("the previous release still maps it during a rolling deploy; stop mapping it in the models first "
                    "(released), drop it in a later release")
        self.report(node, f"{head} in one step: {tail}", confidence="medium")
