"""The MDB6xx rules of this issue with a real git history: released vs unreleased migrations,
tables created in the same release, the two-step removal, the notice without a base branch,
the findings cache across a change of application code, migration files in flake8, and the
MDB607 fixes (Django and Alembic)."""
from __future__ import annotations

import io
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mandu_lint.runner import CheckOptions, check_paths

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
CODES = ["MDB601", "MDB602", "MDB603", "MDB606", "MDB607"]

INITIAL = """
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    operations = [
        migrations.CreateModel(
            name="Book",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("title", models.CharField(max_length=200)),
                ("isbn", models.CharField(max_length=13, null=True)),
                ("blurb", models.TextField(null=True)),
                ("subtitle", models.CharField(max_length=100, null=True)),
            ],
        ),
    ]
"""
MODELS = """
from django.db import models


class Book(models.Model):
    title = models.CharField(max_length=200)
"""


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.invalid",
                           "-c", "commit.gpgsign=false", *args], check=True, capture_output=True, text=True).stdout


def migration(deps: str, ops: str) -> str:
    body = textwrap.indent(textwrap.dedent(ops).strip(), " " * 8)
    return (f"from django.db import migrations, models\n\n\nclass Migration(migrations.Migration):\n"
            f"    dependencies = [{deps}]\n    operations = [\n{body}\n    ]\n")


def findings(root: Path, use_cache: bool = False, codes=CODES):
    result = check_paths([str(root)], CheckOptions(use_cache=use_cache, jobs=1, select=codes, confidence="medium"))
    assert not result.had_error, result.notices
    found = {(Path(f.path).relative_to(root).as_posix(), f.span.line, f.code, f.confidence) for f in result.findings}
    return found, result


@pytest.fixture
def repo(tmp_path):
    """main: 0001 (Book) and 0002 (drops `isbn`, released); feature: what each test adds."""
    root = tmp_path / "repo"
    write(root, "mandu.yaml", "exclude: []\n")
    for rel in ("shop/__init__.py", "shop/migrations/__init__.py"):
        write(root, rel, "")
    write(root, "shop/migrations/0001_initial.py", INITIAL)
    write(root, "shop/migrations/0002_remove_isbn.py", migration('("shop", "0001_initial")', """
        migrations.RemoveField(model_name="book", name="isbn"),
    """))
    write(root, "shop/models.py", MODELS + "    blurb = models.TextField(null=True)\n"
          "    subtitle = models.CharField(max_length=100, null=True)\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, "commit", "-qm", "release 1")
    git(root, "checkout", "-qb", "feature")
    return root


@needs_git
def test_only_unreleased_migrations_are_judged(repo):
    write(repo, "shop/migrations/0003_remove_blurb.py", migration('("shop", "0002_remove_isbn")', """
        migrations.RemoveField(model_name="book", name="blurb"),
    """))
    write(repo, "shop/views.py", """
        from .models import Book


        def with_blurb():
            return Book.objects.exclude(blurb=None).values("title", "blurb")
    """)
    write(repo, "shop/models.py", MODELS + "    subtitle = models.CharField(max_length=100, null=True)\n")
    found, result = findings(repo)
    assert found == {("shop/migrations/0003_remove_blurb.py", 7, "MDB603", "high")}
    assert "views.py" in result.findings[0].message and result.findings[0].related
    assert not result.notices


@needs_git
def test_tables_created_in_the_same_release_are_not_judged(repo):
    write(repo, "shop/migrations/0003_author.py", migration('("shop", "0002_remove_isbn")', """
        migrations.CreateModel(name="Author", fields=[
            ("id", models.BigAutoField(primary_key=True, serialize=False)),
            ("name", models.CharField(max_length=100)),
            ("nick", models.CharField(max_length=100, null=True)),
        ]),
    """))
    write(repo, "shop/migrations/0004_drop_nick.py", migration('("shop", "0003_author")', """
        migrations.RemoveField(model_name="author", name="nick"),
        migrations.RemoveField(model_name="book", name="subtitle"),
    """))
    write(repo, "shop/models.py", MODELS + "    blurb = models.TextField(null=True)\n\n\n"
          "class Author(models.Model):\n    name = models.CharField(max_length=100)\n")
    found, _ = findings(repo)
    # `nick` belongs to a table of this release: no previous release reads it; `subtitle` is old
    assert found == {("shop/migrations/0004_drop_nick.py", 8, "MDB603", "medium")}


@needs_git
def test_two_step_removal(repo):
    write(repo, "shop/migrations/0003_state_only.py", migration('("shop", "0002_remove_isbn")', """
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.RemoveField(model_name="book", name="blurb")],
        ),
    """))
    write(repo, "shop/models.py", MODELS + "    subtitle = models.CharField(max_length=100, null=True)\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "state-only removal")
    drop = migration('("shop", "0003_state_only")', """
        migrations.RunSQL("ALTER TABLE shop_book DROP COLUMN blurb", migrations.RunSQL.noop),
    """)
    write(repo, "shop/migrations/0004_drop_blurb.py", drop)
    found, _ = findings(repo)  # the state-only half is on this branch too: not released yet
    assert found == {("shop/migrations/0004_drop_blurb.py", 7, "MDB603", "medium")}
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "feature")  # released
    git(repo, "checkout", "-qb", "next")
    write(repo, "shop/migrations/0004_drop_blurb.py", drop)
    assert findings(repo)[0] == set()


@needs_git
def test_since_replaces_the_base_branch(repo):
    write(repo, "shop/migrations/0003_remove_blurb.py", migration('("shop", "0002_remove_isbn")', """
        migrations.RemoveField(model_name="book", name="blurb"),
    """))
    write(repo, "shop/models.py", MODELS + "    subtitle = models.CharField(max_length=100, null=True)\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "more")
    first = git(repo, "rev-list", "--max-parents=0", "HEAD").strip()
    write(repo, "mandu.yaml", f"exclude: []\nmigrations:\n  since: {first}\n  judge: unreleased\n")
    git(repo, "checkout", "-q", "main")  # on the base branch itself: nothing is unreleased but for `since`
    git(repo, "merge", "-q", "feature")
    found, _ = findings(repo)
    assert {(p, c) for p, _, c, _ in found} == {("shop/migrations/0003_remove_blurb.py", "MDB603")}


def test_without_git_nothing_is_judged_and_one_notice_says_why(tmp_path):
    root = tmp_path / "exported"
    write(root, "mandu.yaml", "exclude: []\n")
    for rel in ("shop/__init__.py", "shop/migrations/__init__.py"):
        write(root, rel, "")
    write(root, "shop/migrations/0001_initial.py", INITIAL)
    write(root, "shop/migrations/0002_remove_isbn.py", migration('("shop", "0001_initial")', """
        migrations.RemoveField(model_name="book", name="isbn"),
    """))
    write(root, "shop/migrations/0003_remove_blurb.py", migration('("shop", "0002_remove_isbn")', """
        migrations.RemoveField(model_name="book", name="blurb"),
    """))
    write(root, "shop/models.py", MODELS + "    subtitle = models.CharField(max_length=100, null=True)\n")
    found, result = findings(root)
    assert found == set()
    notices = [n.message for n in result.notices if "migrations:" in n.message]
    assert len(notices) == 1 and "not a git repository" in notices[0] and "judge: all" in notices[0]


@needs_git
def test_findings_cache_follows_application_code(repo):
    write(repo, "shop/migrations/0003_remove_blurb.py", migration('("shop", "0002_remove_isbn")', """
        migrations.RemoveField(model_name="book", name="blurb"),
    """))
    write(repo, "shop/views.py", "from .models import Book\n\n\ndef f():\n    return Book.objects.values('blurb')\n")
    write(repo, "shop/models.py", MODELS + "    subtitle = models.CharField(max_length=100, null=True)\n")
    assert {c for _, _, _, c in findings(repo, use_cache=True)[0]} == {"high"}
    write(repo, "shop/views.py", "from .models import Book\n\n\ndef f():\n    return Book.objects.values('title')\n")
    assert {c for _, _, _, c in findings(repo, use_cache=True)[0]} == {"medium"}


def test_migration_files_are_judged_in_flake8(tmp_path):
    root = tmp_path / "proj"
    write(root, "mandu.yaml", "exclude: []\nextend-select: [MDB601, MDB602, MDB603, MDB606, MDB607]\n"
          "migrations:\n  judge: all\n")
    write(root, ".git/HEAD", "")
    for rel in ("shop/__init__.py", "shop/migrations/__init__.py"):
        write(root, rel, "")
    write(root, "shop/migrations/0001_initial.py", INITIAL)
    write(root, "shop/migrations/0002_cleanup.py", """
        from django.db import migrations


        def purge(apps, schema_editor):
            apps.get_model("shop", "Book").objects.filter(title="").delete()


        class Migration(migrations.Migration):
            dependencies = [("shop", "0001_initial")]
            operations = [migrations.RunPython(purge, migrations.RunPython.noop)]
    """)
    write(root, "shop/models.py", MODELS + "    isbn = models.CharField(max_length=13, null=True)\n"
          "    blurb = models.TextField(null=True)\n    subtitle = models.CharField(max_length=100, null=True)\n")
    proc = subprocess.run([sys.executable, "-m", "flake8", "--isolated", "--select=MDB",
                           "--format=%(path)s|%(row)d|%(code)s", "shop/migrations/0002_cleanup.py", "shop/models.py"],
                          cwd=root, capture_output=True, text=True)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stdout.split() == ["shop/migrations/0002_cleanup.py|10|MDB606"]


def test_other_families_still_skip_migration_files(tmp_path):
    """Only rules that judge non-app files see migrations: a query in a loop there is no
    MDB301, while the migrations family reports on it."""
    root = tmp_path / "proj"
    write(root, "mandu.yaml", "exclude: []\nextend-select: [MDB601, MDB602, MDB603, MDB606, MDB607]\n"
          "migrations:\n  judge: all\n")
    for rel in ("shop/__init__.py", "shop/migrations/__init__.py"):
        write(root, rel, "")
    write(root, "shop/migrations/0001_initial.py", INITIAL)
    write(root, "shop/migrations/0002_loop.py", """
        from django.db import migrations


        def touch(apps, schema_editor):
            Book = apps.get_model("shop", "Book")
            for book in Book.objects.all():
                Book.objects.filter(pk=book.pk).update(title=book.title.strip())


        class Migration(migrations.Migration):
            dependencies = [("shop", "0001_initial")]
            operations = [migrations.RunPython(touch)]
    """)
    write(root, "shop/models.py", MODELS + "    isbn = models.CharField(max_length=13, null=True)\n"
          "    blurb = models.TextField(null=True)\n    subtitle = models.CharField(max_length=100, null=True)\n")
    result = check_paths([str(root)], CheckOptions(use_cache=False, jobs=1, confidence="medium"))
    assert {(Path(f.path).name, f.code) for f in result.findings} == {("0002_loop.py", "MDB606")}


ALEMBIC_INI = "[alembic]\nscript_location = migrations\n"


def test_alembic_rename_fix(tmp_path):
    from mandu_lint.fixes.apply import fix_paths

    root = tmp_path / "proj"
    write(root, "mandu.yaml", "exclude: []\nextend-select: [MDB607]\n"
          "migrations:\n  judge: all\n")
    write(root, ".git/HEAD", "")
    write(root, "alembic.ini", ALEMBIC_INI)
    write(root, "migrations/versions/a1_initial.py", """
        import sqlalchemy as sa
        from alembic import op

        revision = "a1"
        down_revision = None


        def upgrade():
            op.create_table("users", sa.Column("id", sa.Integer(), primary_key=True),
                            sa.Column("nick", sa.String(40), nullable=True))


        def downgrade():
            op.drop_table("users")
    """)
    write(root, "migrations/versions/b2_rename.py", """
        import sqlalchemy as sa
        from alembic import op

        revision = "b2"
        down_revision = "a1"


        def upgrade():
            op.drop_column("users", "nick")
            op.add_column("users", sa.Column("nickname", sa.String(40), nullable=True))


        def downgrade():
            op.drop_column("users", "nickname")
            op.add_column("users", sa.Column("nick", sa.String(40), nullable=True))
    """)
    found, _ = findings(root, codes=["MDB607"])
    assert found == {("migrations/versions/b2_rename.py", 9, "MDB607", "high")}
    fix_paths([str(root)], CheckOptions(use_cache=False, jobs=1, select=["MDB607"]), unsafe=True, diff=False,
              out=io.StringIO())
    text = (root / "migrations/versions/b2_rename.py").read_text()
    assert 'op.alter_column("users", "nick", new_column_name="nickname")\n\n\ndef downgrade' in text
    assert findings(root, codes=["MDB607"])[0] == set()


@needs_git
def test_django_safemigrate_after_deploy_has_no_previous_release(repo):
    """``safe = Safe.after_deploy()`` (django-safemigrate): applied once the new release serves,
    so a one-step drop the current code no longer uses, and a Python-only default, break nothing."""
    ops = """
        migrations.RemoveField(model_name="book", name="subtitle"),
        migrations.AddField("book", "pages", models.IntegerField(default=0)),
    """
    write(repo, "shop/models.py", MODELS + "    blurb = models.TextField(null=True)\n"
          "    pages = models.IntegerField(default=0)\n")
    write(repo, "proj/settings.py", 'DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql"}}\n')
    write(repo, "shop/migrations/0003_cleanup.py", migration('("shop", "0002_remove_isbn")', ops))
    codes = ["MDB603", "MDB604"]
    found, _ = findings(repo, codes=codes)
    assert {(line, code) for _, line, code, _ in found} == {(7, "MDB603"), (8, "MDB604")}
    after = migration('("shop", "0002_remove_isbn")', ops).replace(
        "from django.db import migrations, models\n",
        "from django.db import migrations, models\nfrom django_safemigrate import Safe\n").replace(
        "    dependencies", "    safe = Safe.after_deploy()\n    dependencies")
    write(repo, "shop/migrations/0003_cleanup.py", after)
    assert findings(repo, codes=codes)[0] == set()


@pytest.mark.parametrize("delete_later", [False, True])
def test_no_lossy_rollback_when_the_migration_later_deletes_the_model(tmp_path, delete_later):
    root = tmp_path / "p"
    write(root, "mandu.yaml", "exclude: []\nmigrations:\n  judge: all\n")
    for rel in ("shop/__init__.py", "shop/migrations/__init__.py"):
        write(root, rel, "")
    write(root, "shop/migrations/0001_initial.py", INITIAL)
    ops = 'migrations.RemoveField(model_name="book", name="title"),\n'
    if delete_later:
        ops += 'migrations.DeleteModel(name="Book"),\n'
    write(root, "shop/migrations/0002_drop.py", migration('("shop", "0001_initial")', ops))
    found, _ = findings(root, codes=["MDB606"])
    assert found == (set() if delete_later else {("shop/migrations/0002_drop.py", 7, "MDB606", "high")})


def postgres_shop(root: Path) -> Path:
    """The shop app on PostgreSQL: its models and first migration, no config yet."""
    for rel in ("shop/__init__.py", "shop/migrations/__init__.py"):
        write(root, rel, "")
    write(root, "proj/settings.py", 'DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql"}}\n')
    write(root, "shop/models.py", MODELS)
    write(root, "shop/migrations/0001_initial.py", INITIAL)
    return root


def test_downtime_deploys_drop_the_claims_that_need_traffic(tmp_path):
    """``migrations.deploy: downtime``: nothing serves while migrations run, so no previous
    release breaks and no request waits on a lock; a migration that fails still fails."""
    root = postgres_shop(tmp_path / "p")
    write(root, "shop/migrations/0002_changes.py", migration('("shop", "0001_initial")', """
        migrations.RemoveField(model_name="book", name="isbn"),
        migrations.AddIndex("book", models.Index(fields=["title"], name="book_title_idx")),
        migrations.AddField("book", "pages", models.IntegerField()),
    """))
    codes = ["MDB603", "MDB604"]
    for deploy, expected in [("rolling", {(7, "MDB603"), (8, "MDB604"), (9, "MDB604")}), ("downtime", {(9, "MDB604")})]:
        write(root, "mandu.yaml", f"exclude: []\nmigrations:\n  judge: all\n  deploy: {deploy}\n")
        found, result = findings(root, codes=codes)
        assert {(line, code) for _, line, code, _ in found} == expected, deploy
    assert "fails as soon as the table holds a row" in result.findings[0].message


def test_downtime_deploys_drop_the_backfill_lock_claim(tmp_path):
    root = postgres_shop(tmp_path / "p")
    write(root, "shop/migrations/0002_backfill.py", """
        from django.db import migrations


        def fill(apps, schema_editor):
            Book = apps.get_model("shop", "Book")
            for book in Book.objects.all():
                book.title = book.title.strip()
                book.save(update_fields=["title"])


        class Migration(migrations.Migration):
            dependencies = [("shop", "0001_initial")]
            operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
    """)
    for deploy, expected in [("rolling", {(8, "MDB605")}), ("downtime", set())]:
        write(root, "mandu.yaml", f"exclude: []\nmigrations:\n  judge: all\n  deploy: {deploy}\n")
        found, _ = findings(root, codes=["MDB605"])
        assert {(line, code) for _, line, code, _ in found} == expected, deploy
