"""What the migrations family reads around the migrations: which are unreleased (git), which
engine and version the project targets, and swappable models from the settings."""
from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from mandu_lint.rules.migrations.replay import Replay
from mandu_lint.rules.migrations.released import release_info, unreleased_migrations
from mandu_lint.rules.migrations.settings_detect import detect

MIGRATION = ("from django.db import migrations, models\nclass Migration(migrations.Migration):\n"
             "    dependencies = {deps}\n    operations = {ops}\n")
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.invalid",
                           "-c", "commit.gpgsign=false", *args], check=True, capture_output=True, text=True).stdout


def migration(root: Path, rel: str, deps: str = "[]") -> None:
    write(root, rel, MIGRATION.format(deps=deps, ops="[]"))


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    migration(root, "app/migrations/0001_initial.py")
    git(root, "add", ".")
    git(root, "commit", "-qm", "first")
    git(root, "checkout", "-qb", "feature")
    migration(root, "app/migrations/0002_more.py", "[('app', '0001_initial')]")
    git(root, "add", ".")
    git(root, "commit", "-qm", "second")
    migration(root, "app/migrations/0003_wip.py", "[('app', '0002_more')]")  # not even committed
    return root


@needs_git
def test_unreleased_are_the_files_missing_at_the_merge_base(repo):
    files = ["app/migrations/0001_initial.py", "app/migrations/0002_more.py", "app/migrations/0003_wip.py"]
    info = release_info(repo, files)
    assert info.unreleased == {"app/migrations/0002_more.py", "app/migrations/0003_wip.py"}
    assert info.base_ref == "main" and len(info.base_commit) == 40
    result = Replay(repo).run()
    assert unreleased_migrations(result).unreleased == set(files[1:])
    first = git(repo, "rev-list", "--max-parents=0", "HEAD").strip()
    assert unreleased_migrations(result, since=first).unreleased == set(files[1:])


@needs_git
def test_project_in_a_subfolder_of_the_repository(repo):
    migration(repo, "sub/app/migrations/0001_initial.py")
    git(repo, "checkout", "-q", "main")
    git(repo, "add", "sub")
    git(repo, "commit", "-qm", "sub project")
    git(repo, "checkout", "-q", "feature")
    git(repo, "merge", "-q", "main", "-m", "merge")
    migration(repo, "sub/app/migrations/0002_next.py")
    info = release_info(repo / "sub", ["app/migrations/0001_initial.py", "app/migrations/0002_next.py"])
    assert info.unreleased == {"app/migrations/0002_next.py"}


@needs_git
def test_no_base_branch_means_every_migration_released(repo):
    git(repo, "branch", "-qm", "main", "trunk")
    info = release_info(repo, ["app/migrations/0002_more.py"])
    assert info.unreleased is None and "no base branch" in info.reason
    configured = release_info(repo, ["app/migrations/0002_more.py"], base="trunk")
    assert configured.unreleased == {"app/migrations/0002_more.py"}


def test_outside_git_every_migration_is_released(tmp_path):
    info = release_info(tmp_path, ["app/migrations/0001_initial.py"])
    assert info.unreleased is None and "not a git repository" in info.reason


def test_engines_from_settings_alembic_ini_and_compose(tmp_path):
    write(tmp_path, "proj/settings/base.py", """
        AUTH_USER_MODEL = "accounts.User"
        DATABASES = {
            "default": {"ENGINE": "django.db.backends.postgresql", "NAME": "app"},
            "replica": dj_database_url.config(default="postgres://ro@replica/app"),
        }
    """)
    write(tmp_path, "proj/settings/test.py", """
        from .base import *
        DATABASES["default"]["ENGINE"] = "django.db.backends.sqlite3"
    """)
    write(tmp_path, "alembic.ini", "[alembic]\nscript_location = alembic\nsqlalchemy.url = mysql+pymysql://x@h/db\n")
    write(tmp_path, "docker-compose.yml",
          "services:\n  db:\n    image: postgres:13-alpine\n  db2:\n    image: 'postgis/postgis:16-3.4'\n")
    found = detect(tmp_path)
    assert [(e.engine, e.file, e.alias) for e in found.engines] == [
        ("postgresql", "proj/settings/base.py", "default"), ("postgresql", "proj/settings/base.py", "replica"),
        ("sqlite", "proj/settings/test.py", "default"), ("mysql", "alembic.ini", "alembic")]
    assert found.engine is None and "several engines" in found.reason()
    assert found.version == 13 and found.versions[0] == (13, "docker-compose.yml", 3)
    assert found.swappable == {"AUTH_USER_MODEL": "accounts.User"}


def test_single_engine_and_none(tmp_path):
    assert detect(tmp_path).engine is None
    assert "no database engine" in detect(tmp_path).reason()
    write(tmp_path, "settings.py", 'DATABASES = {"default": {"ENGINE": "django.contrib.gis.db.backends.postgis"}}\n')
    found = detect(tmp_path)
    assert found.engine == "postgresql" and found.version is None


def test_swappable_user_model_provided_by_an_app(tmp_path):
    write(tmp_path, "settings.py", 'AUTH_USER_MODEL = "accounts.User"\n')
    write(tmp_path, "accounts/migrations/0001_initial.py", MIGRATION.format(deps="[]", ops="""[
        migrations.CreateModel(name="User", fields=[("id", models.UUIDField(primary_key=True, serialize=False))])]"""))
    write(tmp_path, "shop/migrations/0001_initial.py", """
        from django.conf import settings
        from django.db import migrations, models
        class Migration(migrations.Migration):
            dependencies = [migrations.swappable_dependency(settings.AUTH_USER_MODEL)]
            operations = [migrations.CreateModel(name="Cart", fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("owner", models.ForeignKey(on_delete=models.CASCADE, to=settings.AUTH_USER_MODEL)),
            ])]
    """)
    result = Replay(tmp_path).run()
    assert ("accounts", "0001_initial") in result.django_graph.parents[("shop", "0001_initial")]
    owner = result.schema.column("shop_cart", "owner_id")
    assert (owner.type, owner.fk, owner.index) == ("uuid", "accounts_user", True)


def _show_settings(root: Path, capsys) -> str:
    from mandu_lint.cli import main

    assert main(["check", "--show-settings", str(root)]) == 0
    return capsys.readouterr().out


def test_show_settings_names_the_engine_and_version_and_what_unknown_silences(tmp_path, capsys):
    write(tmp_path / "a", "app.py", "x = 1\n")
    text = _show_settings(tmp_path / "a", capsys)
    assert "database.engine = unknown (no database engine found" in text
    assert "PostgreSQL-only checks of MDB604/MDB605 are silent" in text
    settings = 'DATABASES = {{"default": {{"ENGINE": "django.db.backends.{}"}}}}\n'
    for name in ("b", "c"):
        write(tmp_path / name, "proj/settings/base.py", settings.format("postgresql"))
        write(tmp_path / name, "proj/settings/test.py", settings.format("sqlite3"))
        write(tmp_path / name, "docker-compose.yml", "services:\n  db:\n    image: postgres:14\n")
    text = _show_settings(tmp_path / "b", capsys)
    assert "database.engine = postgresql (postgresql in production settings; sqlite in proj/settings/test.py" in text
    assert "database.version = 14 (oldest PostgreSQL image tag, docker-compose.yml:3)" in text
    write(tmp_path / "c", "mandu.yaml", "database:\n  engine: postgresql\n  version: 16\n")
    text = _show_settings(tmp_path / "c", capsys)
    assert "database.engine = postgresql (database.engine in the configuration)" in text
    assert "database.version = 16 (the configuration)" in text


def test_an_app_folder_that_is_the_project_root_is_labelled_by_its_name(tmp_path):
    """A nested mandu.yaml in the app makes the app folder the root: the label is the folder's
    name (not "."), so dependencies on ("billing", ...) resolve and tables are billing_*."""
    app = tmp_path / "billing"
    write(app, "migrations/0001_initial.py", MIGRATION.format(deps="[]", ops="""[
        migrations.CreateModel(name="Invoice", fields=[("id", models.BigAutoField(primary_key=True))])]"""))
    write(app, "migrations/0002_more.py", MIGRATION.format(deps='[("billing", "0001_initial")]', ops="""[
        migrations.AddField("invoice", "total", models.IntegerField(null=True))]"""))
    result = Replay(app).run()
    assert {m.label for m in result.migrations.values()} == {"billing"}
    assert result.schema.table("billing_invoice") is not None
    assert not result.problems  # one leaf, every dependency found


def test_postgresql_inferred_from_an_image_when_no_engine_is_named(tmp_path, capsys):
    """Settings that read the engine from the environment name none; a PostgreSQL image in the
    compose file makes PostgreSQL likely: MDB604 reports, at ``medium``."""
    from mandu_lint.runner import CheckOptions, check_paths

    root = tmp_path / "p"
    write(root, "mandu.yaml", "exclude: []\nmigrations:\n  judge: all\n")
    write(root, "proj/settings.py", "import dj_database_url\nDATABASES = {'default': dj_database_url.config()}\n")
    write(root, "shop/__init__.py", "")
    write(root, "shop/migrations/__init__.py", "")
    write(root, "shop/migrations/0001_initial.py", MIGRATION.format(deps="[]", ops="""[
        migrations.CreateModel(name="Order", fields=[("id", models.BigAutoField(primary_key=True)),
                                                     ("code", models.CharField(max_length=5))])]"""))
    write(root, "shop/migrations/0002_index.py", MIGRATION.format(deps='[("shop", "0001_initial")]', ops="""[
        migrations.AddIndex("order", models.Index(fields=["code"], name="order_code_idx"))]"""))

    def found():
        opts = CheckOptions(use_cache=False, jobs=1, select=["MDB604"], confidence="medium")
        return [(f.code, f.confidence) for f in check_paths([str(root)], opts).findings]

    assert found() == []  # no engine anywhere: silent
    write(root, "docker-compose.yml", "services:\n  db:\n    image: postgres:16\n")
    assert found() == [("MDB604", "medium")]
    assert "inferred from the PostgreSQL 16 image at docker-compose.yml:3" in _show_settings(root, capsys)
