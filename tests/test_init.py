"""`mandu-lint init`: detections in the written file, a file that always loads, no silent
overwrite, and proposers filling reserved sections."""
from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mandu_lint import init
from mandu_lint.config import CONFIG_NAME, clear_caches, load_settings
from mandu_lint.init import register_proposer, run_init, unregister_proposer
from mandu_lint.project.build import Project

REPO = Path(__file__).resolve().parents[1]

DJANGO = {
    "manage.py": "import os\n",
    "shop/__init__.py": "",
    "shop/models.py": """\
        from django.db import models


        class Author(models.Model):
            name = models.CharField(max_length=50)


        class Stamped(models.Model):
            created = models.DateTimeField()

            class Meta:
                abstract = True


        class Book(Stamped):
            author = models.ForeignKey(Author, on_delete=models.CASCADE)
        """,
    "shop/views.py": """\
        import sqlite3

        from .models import Book


        def totals(ids):
            return {i: Book.objects.filter(author_id=i).count() for i in ids}
        """,
    "shop/tests/test_views.py": "import psycopg2\n",
}

SQLALCHEMY = {
    "app/__init__.py": "",
    "app/db.py": """\
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
        from sqlalchemy import ForeignKey


        class Base(DeclarativeBase):
            pass


        class User(Base):
            __tablename__ = "users"
            id: Mapped[int] = mapped_column(primary_key=True)
            posts: Mapped[list["Post"]] = relationship(back_populates="user")


        class Post(Base):
            __tablename__ = "posts"
            id: Mapped[int] = mapped_column(primary_key=True)
            user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
            user: Mapped[User] = relationship(back_populates="posts")
        """,
    "app/extensions.py": "from flask_sqlalchemy import SQLAlchemy\n\ndb = SQLAlchemy()\n",
    "app/flask_models.py": """\
        from .extensions import db


        class Tag(db.Model):
            id = db.Column(db.Integer, primary_key=True)
        """,
    "app/sqlm.py": """\
        from sqlmodel import Field, SQLModel


        class Hero(SQLModel, table=True):
            id: int = Field(primary_key=True)
        """,
    "app/raw.py": "import asyncpg\nimport psycopg\n",
}


def make_project(root: Path, files: dict) -> Path:
    (root / ".git").mkdir(parents=True)  # a VCS root: init writes here
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def init_text(root: Path, force: bool = False, path: Path = None):
    out = io.StringIO()
    rc = run_init(path or root, force=force, out=out)
    return rc, out.getvalue()


def load(root: Path):
    clear_caches()
    return load_settings(root / CONFIG_NAME, root)


@pytest.fixture
def django_project(tmp_path):
    return make_project(tmp_path / "dj", DJANGO)


@pytest.fixture
def proposer():
    """Register proposers for one test; always unregistered afterwards."""
    added = []

    def add(section, fn):
        register_proposer(section, fn)
        added.append((section, fn))
        return fn

    yield add
    for section, fn in added:
        unregister_proposer(section, fn)


def test_cli_writes_a_django_config_that_loads(django_project):
    proc = subprocess.run([sys.executable, "-m", "mandu_lint", "init", str(django_project)], cwd=REPO,
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.returncode == 0, proc.stderr
    target = django_project / CONFIG_NAME
    assert proc.stdout.count("\n") == 1 and f"wrote {target}" in proc.stdout
    assert "Django (2 models, 1 abstract)" in proc.stdout
    text = target.read_text()
    assert "# Detected ORMs: Django (2 models, 1 abstract)\n" in text
    # drivers imported by tests do not count; sqlite3 in views.py does
    assert "# Detected DB-API drivers: sqlite3 (1 file)\n" in text
    assert "\nexclude: []\n" in text
    assert '\n# src: ["."]\n' in text  # auto-detection suffices: shown, not set
    assert '\n# non-app: ["tests/"' in text or "\n# non-app:\n" in text
    for section in ("tenant", "layers", "transactions"):
        assert f"\n# {section}:\n" in text
    settings = load(django_project)
    assert settings.src is None and settings.exclude == [] and settings.section("tenant").models == []


def test_sqlalchemy_flavours_and_drivers(tmp_path):
    root = make_project(tmp_path / "sa", SQLALCHEMY)
    rc, out = init_text(root)
    assert rc == 0
    text = (root / CONFIG_NAME).read_text()
    header = next(line for line in text.splitlines() if line.startswith("# Detected ORMs:"))
    assert header == ("# Detected ORMs: SQLAlchemy (2 models), Flask-SQLAlchemy (1 model), "
                      "SQLModel (1 model)")
    assert "# Detected DB-API drivers: asyncpg (1 file), psycopg (1 file)" in text
    assert "drivers: asyncpg, psycopg" in out
    load(root)


def test_empty_project_still_gets_a_valid_file(tmp_path):
    root = make_project(tmp_path / "empty", {})
    assert init_text(root)[0] == 0
    assert "# Detected ORMs: none" in (root / CONFIG_NAME).read_text()
    load(root)


def test_no_overwrite_without_force(django_project):
    target = django_project / CONFIG_NAME
    mine = "# hand-written\nexclude: [vendor/]\n"
    target.write_text(mine)
    rc, out = init_text(django_project)
    assert rc == 1
    assert target.read_text() == mine
    assert f"--- {target} (existing)" in out and f"+++ {target} (init)" in out
    assert "-exclude: [vendor/]" in out and "+exclude: []" in out
    assert out.rstrip().endswith("mandu.yaml exists; rerun with --force to overwrite")


def test_force_overwrites_then_rerun_is_identical(django_project):
    target = django_project / CONFIG_NAME
    target.write_text("exclude: [vendor/]\n")
    rc, out = init_text(django_project, force=True)
    assert rc == 0 and out.startswith(f"wrote {target}")
    assert "exclude: []" in target.read_text()
    load(django_project)
    written = target.read_text()
    rc, out = init_text(django_project)  # unchanged project: same bytes, nothing to do
    assert rc == 0 and "nothing to do" in out and "---" not in out
    assert target.read_text() == written


def test_path_inside_the_repo_writes_at_the_vcs_root(django_project):
    rc, _ = init_text(django_project, path=django_project / "shop" / "views.py")
    assert rc == 0
    assert (django_project / CONFIG_NAME).is_file()
    assert not (django_project / "shop" / CONFIG_NAME).exists()


def test_missing_path_is_an_error(tmp_path, capsys):
    assert run_init(tmp_path / "nope", out=io.StringIO()) == 2
    assert "no such file" in capsys.readouterr().err


def test_proposer_output_is_written_uncommented(django_project, proposer):
    proposer("transactions", lambda project: 'helpers: ["shop.db.atomic"]\nside-effects: []\n'
             if "shop.models.Author" in project.index.models else None)
    rc, out = init_text(django_project)
    assert rc == 0 and "proposed: transactions" in out
    text = (django_project / CONFIG_NAME).read_text()
    assert '\ntransactions:\n  helpers: ["shop.db.atomic"]\n  side-effects: []\n' in text
    assert "\n# transactions:\n" not in text and "\n# layers:\n" in text
    assert load(django_project).section("transactions").helpers == ["shop.db.atomic"]


def test_a_policy_section_is_proposed_commented_out(django_project, proposer):
    """``tenant`` and ``layers`` are confirmed by the team: a proposal is written, commented out."""
    proposer("tenant", lambda project: "models: [Author]\ndepth: 2\n")
    rc, out = init_text(django_project)
    assert rc == 0 and "proposed: tenant" in out
    text = (django_project / CONFIG_NAME).read_text()
    assert "\n# tenant:\n#   models: [Author]\n#   depth: 2\n" in text
    assert "only the team can confirm" in text
    assert load(django_project).section("tenant").models in (None, [])


def test_proposer_may_return_the_whole_section(django_project, proposer):
    proposer("transactions", lambda project: """
        transactions:
          helpers: ["shop.db.atomic"]
        """)  # indented as a triple-quoted string in a function body: dedented
    proposer("transactions", lambda project: pytest.fail("the first answer wins"))
    assert init_text(django_project)[0] == 0
    assert load(django_project).section("transactions").helpers == ["shop.db.atomic"]


def test_proposer_returning_none_leaves_the_section_commented(django_project, proposer):
    proposer("transactions", lambda project: None)
    init_text(django_project)
    assert "\n# transactions:\n" in (django_project / CONFIG_NAME).read_text()


@pytest.mark.parametrize("bad", [
    "depth: -1\n",  # fails validation
    "bogus: 1\n",  # unknown key
    "[not, a, mapping]\n",
    "models: [unclosed\n",  # not YAML
    RuntimeError("proposer bug"),
])
def test_bad_proposal_falls_back_to_the_commented_section(django_project, proposer, bad):
    def propose(project):
        if isinstance(bad, Exception):
            raise bad
        return bad

    proposer("tenant", propose)
    rc, out = init_text(django_project)
    assert rc == 0 and "proposed: none" in out
    text = (django_project / CONFIG_NAME).read_text()
    assert "\n# tenant:\n" in text and "# (no proposal: " in text
    load(django_project)


def test_register_proposer_rejects_unknown_sections():
    with pytest.raises(ValueError):
        register_proposer("tenants", lambda project: None)


def test_commented_sections_uncomment_into_valid_config(django_project):
    """The commented shape is real config: uncommenting a whole section must load."""
    init_text(django_project)
    target = django_project / CONFIG_NAME
    lines = target.read_text().splitlines()
    out, inside = [], False
    for line in lines:
        if line in ("# tenant:", "# layers:", "# transactions:"):
            inside = True
        elif not line.startswith("#   "):
            inside = False
        out.append(line[2:] if inside else line)
    target.write_text("\n".join(out) + "\n")
    settings = load(django_project)
    assert settings.section("tenant").scoped == "auto" and settings.section("layers").allow_skip is True


def test_src_and_non_app_written_when_detection_adds_to_the_defaults(tmp_path):
    root = make_project(tmp_path / "mono", {
        "backend/app/__init__.py": "",
        "backend/app/models.py": "from django.db import models\n\n\nclass Item(models.Model):\n    pass\n",
        "backend/app/views.py": "from app.models import Item\n",  # resolves only from backend/
        "e2e/test_flow.py": "",
        "e2e/helpers.py": "import app\n",
    })
    rc, out = init_text(root)
    assert rc == 0 and "src: +backend" in out and "non-app: +e2e/" in out
    settings = load(root)
    assert settings.src == [".", "backend"]
    assert settings.non_app == list(init.DEFAULT_NON_APP) and settings.get("extend-non-app") == ["e2e/"]
    assert settings.non_app_globs[-1] == "e2e/"
    project = Project(root, settings, use_cache=False)
    assert project.modules["backend/app/models.py"] == ("app.models", False)
    assert "app.models.Item" in project.index.models
    assert project.is_non_app("e2e/helpers.py")
