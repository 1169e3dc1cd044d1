"""MDB604/MDB605 against a real git history: only unreleased migrations are judged, tables
created in an unreleased migration are exempt, no git means silence, and the unsafe fixes are
offered only for an unreleased single-operation migration on a PostgreSQL-only project."""
from __future__ import annotations

import io
import subprocess
import textwrap
from pathlib import Path

import pytest

from mandu_lint.fixes.apply import fix_paths
from mandu_lint.runner import CheckOptions, check_paths

GIT = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", "-c", "commit.gpgsign=false"]

SETTINGS = 'DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "shop"}}\n'
INITIAL = """
    from django.db import migrations, models


    class Migration(migrations.Migration):
        initial = True
        dependencies = []
        operations = [
            migrations.CreateModel("Order", [
                ("id", models.BigAutoField(primary_key=True)),
                ("created", models.DateTimeField()),
                ("code", models.CharField(max_length=20)),
            ]),
        ]
"""
RELEASED_BAD = """
    from django.db import migrations, models


    class Migration(migrations.Migration):
        dependencies = [("shop", "0001_initial")]
        operations = [
            migrations.AddIndex("order", models.Index(fields=["code"], name="order_code_idx")),
        ]
"""
NEW_TABLE = """
    from django.db import migrations, models


    class Migration(migrations.Migration):
        dependencies = [("shop", "0002_code")]
        operations = [
            migrations.CreateModel("Coupon", [
                ("id", models.BigAutoField(primary_key=True)),
                ("code", models.CharField(max_length=20)),
            ]),
        ]
"""
TWO_OPS = """
    from django.db import migrations, models


    class Migration(migrations.Migration):
        dependencies = [("shop", "0003_coupon")]
        operations = [
            migrations.AddIndex("coupon", models.Index(fields=["code"], name="coupon_code_idx")),
            migrations.AddField("coupon", "kind", models.CharField(max_length=5, default="x")),
            migrations.AddIndex("order", models.Index(fields=["created"], name="order_created_idx")),
        ]
"""
ONE_OP = """
    from django.db import migrations, models


    class Migration(migrations.Migration):
        \"\"\"Index the orders by code and date.\"\"\"

        dependencies = [("shop", "0004_two")]
        operations = [
            migrations.AddIndex(
                "order", models.Index(fields=["code", "created"], name="order_code_created_idx"),
            ),
        ]
"""
ONE_OP_FIXED = """
    from django.contrib.postgres.operations import AddIndexConcurrently
    from django.db import migrations, models


    class Migration(migrations.Migration):
        \"\"\"Index the orders by code and date.\"\"\"

        atomic = False
        dependencies = [("shop", "0004_two")]
        operations = [
            AddIndexConcurrently(
                "order", models.Index(fields=["code", "created"], name="order_code_created_idx"),
            ),
        ]
"""


def _write(root: Path, files) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))


def _git(root: Path, *args: str) -> None:
    subprocess.run(GIT + list(args), cwd=root, check=True, capture_output=True)


def _project(tmp_path: Path, released, unreleased, git: bool = True) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    _write(root, {"mandu.yaml": "exclude: []\n", "proj/__init__.py": "", "shop/__init__.py": "",
                  "shop/migrations/__init__.py": "", **released})
    if git:
        _git(root, "init", "-q", "-b", "main")
        _git(root, "add", "-A")
        _git(root, "commit", "-qm", "released")
        _git(root, "checkout", "-qb", "feature")
    _write(root, unreleased)
    return root


def _found(root: Path, code: str = "MDB604"):
    result = check_paths([str(root)], CheckOptions(use_cache=False, jobs=1, select=[code], confidence="medium"))
    assert not result.had_error, [n.message for p in result.projects for n in p.notices]
    return sorted((Path(f.path).relative_to(root).as_posix(), f.span.line, f.fix is not None) for f in result.findings)


BASE = {"proj/settings.py": SETTINGS, "shop/migrations/0001_initial.py": INITIAL,
        "shop/migrations/0002_code.py": RELEASED_BAD}
FEATURE = {"shop/migrations/0003_coupon.py": NEW_TABLE, "shop/migrations/0004_two.py": TWO_OPS,
           "shop/migrations/0005_one.py": ONE_OP}


def test_only_unreleased_migrations_are_judged_and_new_tables_are_exempt(tmp_path):
    root = _project(tmp_path, BASE, FEATURE)
    # 0002 is released (on main): not judged. In 0004 the coupon table comes from the unreleased
    # 0003 (exempt); the index on the live order table is reported, without a fix (two other
    # operations share the migration). 0005 holds one operation: the fix is offered.
    assert _found(root) == [("shop/migrations/0004_two.py", 9, False), ("shop/migrations/0005_one.py", 9, True)]


def test_without_git_every_migration_counts_as_released(tmp_path):
    root = _project(tmp_path, BASE, FEATURE, git=False)
    assert _found(root) == []


def test_judge_all_audits_the_history_without_fixes(tmp_path):
    root = _project(tmp_path, BASE, {**FEATURE, "mandu.yaml": "migrations:\n  judge: all\n"})
    found = _found(root)
    assert ("shop/migrations/0002_code.py", 7, False) in found
    assert ("shop/migrations/0004_two.py", 7, False) in found  # coupon: created in another migration
    assert all(not fixable for _, _, fixable in found)


def test_no_fix_when_another_engine_appears_in_settings(tmp_path):
    test_settings = 'DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}\n'
    root = _project(tmp_path, {**BASE, "proj/test_settings.py": test_settings}, FEATURE)
    assert ("shop/migrations/0005_one.py", 9, False) in _found(root)


def test_django_fix_makes_the_index_concurrent_in_a_non_atomic_migration(tmp_path):
    root = _project(tmp_path, BASE, FEATURE)
    fix_paths([str(root)], CheckOptions(use_cache=False, jobs=1, select=["MDB604"]), unsafe=True, diff=False,
              out=io.StringIO())
    assert (root / "shop/migrations/0005_one.py").read_text() == textwrap.dedent(ONE_OP_FIXED).lstrip("\n")
    assert _found(root) == [("shop/migrations/0004_two.py", 9, False)]


ALEMBIC_BASE = {
    "alembic.ini": "[alembic]\nscript_location = migrations\nsqlalchemy.url = postgresql://app@localhost/app\n",
    "migrations/versions/a1.py": """
        import sqlalchemy as sa
        from alembic import op

        revision = "a1"
        down_revision = None


        def upgrade():
            op.create_table("account", sa.Column("id", sa.Integer, primary_key=True), sa.Column("email", sa.String(50)))
    """,
}
ALEMBIC_NEW = {"migrations/versions/a2.py": """
    from alembic import op

    revision = "a2"
    down_revision = "a1"


    def upgrade():
        op.create_index(
            "ix_account_email",
            "account",
            ["email"],
            unique=True,
        )
"""}
ALEMBIC_FIXED = """
    from alembic import op

    revision = "a2"
    down_revision = "a1"


    def upgrade():
        with op.get_context().autocommit_block():
            op.create_index(
                "ix_account_email",
                "account",
                ["email"],
                unique=True, postgresql_concurrently=True,
            )
"""


def test_alembic_fix_builds_the_index_concurrently_in_an_autocommit_block(tmp_path):
    root = _project(tmp_path, ALEMBIC_BASE, ALEMBIC_NEW)
    assert _found(root) == [("migrations/versions/a2.py", 8, True)]
    fix_paths([str(root)], CheckOptions(use_cache=False, jobs=1, select=["MDB604"]), unsafe=True, diff=False,
              out=io.StringIO())
    assert (root / "migrations/versions/a2.py").read_text() == textwrap.dedent(ALEMBIC_FIXED).lstrip("\n")
    assert _found(root) == []


def test_fix_message_warns_about_invalid_indexes(tmp_path):
    root = _project(tmp_path, ALEMBIC_BASE, ALEMBIC_NEW)
    result = check_paths([str(root)], CheckOptions(use_cache=False, jobs=1, select=["MDB604"]))
    (finding,) = result.findings
    assert "INVALID index" in finding.fix.description


@pytest.mark.parametrize("code", ["MDB605"])
def test_data_rules_follow_the_same_release_split(tmp_path, code):
    backfill = """
        from django.db import migrations


        def fill(apps, schema_editor):
            apps.get_model("shop", "Order").objects.update(code="x")
            Order = apps.get_model("shop", "Order")
            Order.objects.update(code="y")


        class Migration(migrations.Migration):
            dependencies = [("shop", "0002_code")]
            operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
    """
    released = {**BASE, "shop/migrations/0003_fill.py": backfill}
    root = _project(tmp_path, released, {"shop/migrations/0004_fill.py": backfill.replace("0002_code", "0003_fill")})
    assert _found(root, code) == [("shop/migrations/0004_fill.py", 7, False)]


def test_a_migration_released_since_the_last_run_is_not_served_from_the_cache(tmp_path):
    root = _project(tmp_path, BASE, FEATURE)
    (root / ".gitignore").write_text(".mandu_cache/\n")

    def run():
        opts = CheckOptions(use_cache=True, jobs=1, select=["MDB604"], confidence="medium")
        return sorted((Path(f.path).name, f.span.line) for f in check_paths([str(root)], opts).findings)

    assert run() == [("0004_two.py", 9), ("0005_one.py", 9)]
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "feature")
    _git(root, "checkout", "-q", "main")
    _git(root, "merge", "-q", "feature")  # released: nothing left to judge, though no file changed
    assert run() == []


ALEMBIC_MODEL = """
    import sqlalchemy as sa
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


    class Base(DeclarativeBase):
        pass


    class Account(Base):
        __tablename__ = "account"
        id: Mapped[int] = mapped_column(primary_key=True)
{email}"""
ALEMBIC_DROP = {"migrations/versions/a2.py": """
    from alembic import op

    revision = "a2"
    down_revision = "a1"


    def upgrade():
        op.drop_column("account", "email")
"""}


@pytest.mark.parametrize("released_model_maps_it", [True, False])
def test_alembic_drop_is_two_step_when_the_released_models_no_longer_map_the_column(tmp_path, released_model_maps_it):
    """Alembic's first half of a two-step drop is a release whose models stop mapping the
    column; the base branch is read with git. Today's models never map it (else it is `high`)."""
    mapped = '        email: Mapped[str] = mapped_column(sa.String(50))\n' if released_model_maps_it else ""
    base = {**ALEMBIC_BASE, "app/__init__.py": "", "app/models.py": ALEMBIC_MODEL.format(email=mapped)}
    root = _project(tmp_path, base, {**ALEMBIC_DROP, "app/models.py": ALEMBIC_MODEL.format(email="")})
    found = _found(root, "MDB603")
    assert found == ([("migrations/versions/a2.py", 8, False)] if released_model_maps_it else [])


def test_alembic_drop_without_a_base_stays_one_step(tmp_path):
    base = {**ALEMBIC_BASE, "app/__init__.py": "", "app/models.py": ALEMBIC_MODEL.format(email="")}
    root = _project(tmp_path, base, ALEMBIC_DROP)
    (root / "mandu.yaml").write_text("exclude: []\nmigrations:\n  judge: all\n")
    assert ("migrations/versions/a2.py", 8, False) in _found(root, "MDB603")


def test_warm_runs_serve_migration_findings_from_the_cache_until_compose_changes(tmp_path, monkeypatch):
    """MDB604 is on by default: its findings are cached under the project's files, the release
    state and the engine's non-Python sources, so a warm run does not re-check every migration."""
    import mandu_lint.runner as runner

    root = _project(tmp_path, BASE, FEATURE)
    (root / ".gitignore").write_text(".mandu_cache/\n")
    checked = []
    real = runner.check_file_cached

    def spy(project, rel, sel):
        checked.append(rel)
        return real(project, rel, sel)

    monkeypatch.setattr(runner, "check_file_cached", spy)

    def run():
        checked.clear()
        opts = CheckOptions(use_cache=True, jobs=1, select=["MDB604"], confidence="medium")
        return sorted((Path(f.path).name, f.span.line) for f in check_paths([str(root)], opts).findings)

    first = run()
    assert first == [("0004_two.py", 9), ("0005_one.py", 9)] and "shop/migrations/0005_one.py" in checked
    assert run() == first and checked == []
    (root / "docker-compose.yml").write_text("services:\n  db:\n    image: postgres:10\n")
    assert run() != [] and "shop/migrations/0005_one.py" in checked  # the version is read again


def test_the_default_run_says_once_why_no_migration_was_judged(tmp_path):
    """MDB604 is a default rule: outside git its silence comes with one notice, not none."""
    root = _project(tmp_path, BASE, FEATURE, git=False)
    result = check_paths([str(root)], CheckOptions(use_cache=False, jobs=1))
    said = [n.message for p in result.projects for n in p.notices if "migrations:" in n.message]
    assert not [f for f in result.findings if f.code == "MDB604"]
    assert len(said) == 1 and "not a git repository" in said[0]


def test_released_migrations_are_not_even_run_through_the_rule(tmp_path, monkeypatch):
    """A default rule on every migration file must not cost a parse and a replay per released
    migration on every run: ``skips`` answers from git alone."""
    from mandu_lint.rules.migrations.mdb604_locking_ddl import LockingDdl

    seen = []
    real = LockingDdl.finish

    def spy(self):
        seen.append(self.ctx.relpath)
        return real(self)

    monkeypatch.setattr(LockingDdl, "finish", spy)
    root = _project(tmp_path, BASE, FEATURE)
    result = check_paths([str(root)], CheckOptions(use_cache=False, jobs=1, select=["MDB604"], confidence="medium"))
    assert sorted(Path(f.path).name for f in result.findings) == ["0004_two.py", "0005_one.py"]
    assert sorted(seen) == ["shop/migrations/0003_coupon.py", "shop/migrations/0004_two.py",
                            "shop/migrations/0005_one.py"]
