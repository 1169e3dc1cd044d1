"""Issue 11, "Robust index on real layouts": models and module names found on the layouts real
apps use (synthetic projects shaped like the tune apps' failures)."""
from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pytest

from mandu_lint import config
from mandu_lint.config import ConfigError
from mandu_lint.init import detect, orm_summary, run_init
from mandu_lint.runner import CheckOptions, check_paths, load_project


def make(root: Path, files: dict, conf: str = "") -> Path:
    (root / ".git").mkdir(parents=True, exist_ok=True)
    (root / "mandu.yaml").write_text(conf)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def project(root: Path):
    config.clear_caches()
    return load_project(root, root / "mandu.yaml", CheckOptions(use_cache=False, jobs=1))


# -- Flask-SQLAlchemy through a project subclass ------------------------------------------------
FLASK_SUBCLASS = {
    "app/__init__.py": "",
    "app/core/__init__.py": "",
    "app/core/db.py": """\
        from flask_sqlalchemy import SQLAlchemy
        from sqlalchemy.orm import declarative_base


        class IndicoModel:
            pass


        class IndicoSQLAlchemy(SQLAlchemy):
            def enforce_constraints(self):
                pass


        db = IndicoSQLAlchemy(model_class=declarative_base(cls=IndicoModel, name="Model"))
        """,
    "app/events/__init__.py": "",
    "app/events/models.py": """\
        from app.core.db import db


        class Event(db.Model):
            __tablename__ = "events"
            id = db.Column(db.Integer, primary_key=True)
            category_id = db.Column(db.Integer, db.ForeignKey("categories.id"))
            category = db.relationship("Category")


        class Category(db.Model):
            __tablename__ = "categories"
            id = db.Column(db.Integer, primary_key=True)
        """,
    "app/events/views.py": """\
        from app.core.db import db
        from app.events.models import Event


        def show(ids):
            for i in ids:
                db.session.get(Event, i)
        """,
    # a "manage" module inside a package: not Django's manage.py, not a source root
    "app/events/controllers/__init__.py": "from .manage import RHManage\n",
    "app/events/controllers/manage.py": "class RHManage:\n    pass\n",
}


def test_flask_sqlalchemy_subclass_models_are_found(tmp_path):
    root = make(tmp_path / "p", FLASK_SUBCLASS)
    p = project(root)
    ix = p.index
    assert {"app.events.models.Event", "app.events.models.Category"} <= set(ix.models)
    event = ix.models["app.events.models.Event"]
    assert event.flask and event.relations["category"].target == "app.events.models.Category"
    assert ix.typer.type_of((("a", ("g", "app.core.db.db"), "session"))) == ("sasession",)
    out = io.StringIO()
    assert run_init(root, force=True, out=out) == 0
    assert "no model classes found" not in orm_summary(detect(p))


def test_a_manage_module_in_a_package_is_not_a_source_root(tmp_path):
    p = project(make(tmp_path / "p", FLASK_SUBCLASS))
    assert p.roots == [""]
    assert p.modules["app/events/controllers/__init__.py"] == ("app.events.controllers", True)
    assert all(mod for mod, _pkg in p.modules.values())


RUN_FROM_PACKAGE = {
    "backend/__init__.py": "",
    "backend/app/__init__.py": "",
    "backend/app/main.py": "from core.database import SessionLocal\nimport users.crud as users_crud\n",
    "backend/app/core/__init__.py": "",
    "backend/app/core/database.py": """
        from sqlalchemy.orm import declarative_base, sessionmaker
        SessionLocal = sessionmaker()
        Base = declarative_base()
    """,
    "backend/app/users/__init__.py": "",
    "backend/app/users/models.py": """
        from sqlalchemy import Column, Integer, String
        from core.database import Base

        class User(Base):
            __tablename__ = "users"
            id = Column(Integer, primary_key=True)
            name = Column(String)
    """,
    "backend/app/users/crud.py": """
        from sqlalchemy.orm import Session
        import users.models as users_models

        def names(ids, db: Session):
            return [db.query(users_models.User).filter(users_models.User.id == i).first() for i in ids]
    """,
    # the tests mirror the packages: ``users`` is a package there too, without ``users.crud``
    "backend/tests/__init__.py": "",
    "backend/tests/users/__init__.py": "",
    "backend/tests/users/test_crud.py": "import users.crud\n",
}


def test_imports_of_code_run_from_a_package_folder_resolve_without_config(tmp_path):
    """``backend/app`` is a package, but the app runs from it (``from core.database import Base``):
    the index resolves those imports below it, models are found and queries typed, with no
    ``src`` in the config; ``init`` writes the folder as a source root."""
    root = make(tmp_path / "p", RUN_FROM_PACKAGE)
    p = project(root)
    ix = p.index
    assert ix.import_roots.get("core") == "backend.app" and ix.import_roots.get("users") == "backend.app"
    assert "backend.app.users.models.User" in ix.models
    result = check_paths([str(root)], CheckOptions(use_cache=False, jobs=1, confidence="medium", select=["MDB301"]))
    assert [(f.path.endswith("backend/app/users/crud.py"), f.code) for f in result.findings] == [(True, "MDB301")]
    assert run_init(root, force=True, out=io.StringIO()) == 0
    assert "backend/app" in (root / "mandu.yaml").read_text()


def test_a_lone_third_party_name_a_project_folder_shares_is_not_rebased(tmp_path):
    files = {"backend/app/__init__.py": "", "backend/app/celery/__init__.py": "",
             "backend/app/celery/tasks.py": "from celery import shared_task\nimport celery.schedules\n"}
    assert project(make(tmp_path / "p", files)).index.import_roots == {}


def test_a_flask_manage_script_is_not_a_source_root_but_djangos_is(tmp_path):
    files = {"backend/manage.py": "from flask_script import Manager\nfrom app import create_app\n",
             "backend/app/__init__.py": "", "site/manage.py": "import os\n"
             "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'site.settings')\n", "site/shop/__init__.py": ""}
    p = project(make(tmp_path / "p", files))
    assert "backend" not in p.roots and "site" in p.roots


# -- Alembic migrations wherever alembic.ini puts them --------------------------------------------
ALEMBIC = {
    "server/alembic.ini": "[alembic]\nscript_location = migrations\nversion_locations = %(here)s/extra\n",
    "server/app/__init__.py": "",
    "server/app/models.py": """\
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


        class Base(DeclarativeBase):
            pass


        class User(Base):
            __tablename__ = "users"
            id: Mapped[int] = mapped_column(primary_key=True)
        """,
    "server/migrations/env.py": "import app.models\n",
    "server/migrations/versions/0001_init.py": """\
        revision = "0001"
        down_revision = None
        """,
    "server/extra/0002_more.py": """\
        revision = "0002"
        down_revision = "0001"
        """,
    # a data migration keeping a copy of the model, in a folder no glob names
    "server/upgrades/0003_backfill.py": """\
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

        revision = "0003"
        down_revision = "0002"


        class Base(DeclarativeBase):
            pass


        class User(Base):
            __tablename__ = "users"
            id: Mapped[int] = mapped_column(primary_key=True)
        """,
    "server/app/tests/__init__.py": "",
    "server/app/tests/factories.py": """\
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


        class TBase(DeclarativeBase):
            pass


        class User(TBase):
            __tablename__ = "test_users"
            id: Mapped[int] = mapped_column(primary_key=True)
        """,
}


def test_alembic_folders_and_revision_files_are_migrations(tmp_path):
    p = project(make(tmp_path / "p", ALEMBIC))
    assert p.migration_dirs == ["server/extra", "server/migrations"]
    for rel in ("server/migrations/env.py", "server/migrations/versions/0001_init.py",
                "server/extra/0002_more.py", "server/upgrades/0003_backfill.py"):
        assert p.is_non_app(rel), rel
    assert not p.is_non_app("server/app/models.py")
    origins = {m.path: m.origin for m in p.index.models.values()}
    assert origins["server/upgrades/0003_backfill.py"] == "migration"
    assert origins["server/app/tests/factories.py"] == "test"


def test_a_model_copied_in_migrations_and_tests_is_not_ambiguous(tmp_path):
    root = make(tmp_path / "p", ALEMBIC, "tenant:\n  models: [User]\n")
    p = project(root)  # no ConfigError: the application model wins
    assert [m.qual for m in p.index.model_named("User")] == ["server.app.models.User"]


def test_two_application_models_with_one_name_are_still_ambiguous(tmp_path):
    files = dict(ALEMBIC)
    files["server/app/other.py"] = files["server/app/models.py"].replace('"users"', '"users2"')
    root = make(tmp_path / "p", files, "tenant:\n  models: [User]\n")
    with pytest.raises(ConfigError, match="ambiguous"):
        project(root)


# -- Django: library bases, the swappable user, app labels ----------------------------------------
DJANGO = {
    "manage.py": "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'conf.settings')\n",
    "conf/__init__.py": "",
    "conf/settings.py": 'DATABASES = {}\nAUTH_USER_MODEL = "accounts.Member"\n',
    "accounts/__init__.py": "",
    "accounts/apps.py": """\
        from django.apps import AppConfig


        class AccountsConfig(AppConfig):
            name = "accounts"
        """,
    "accounts/models.py": """\
        from django.contrib.auth.models import AbstractUser
        from mptt.models import MPTTModel
        from model_utils.models import TimeStampedModel


        class Member(AbstractUser):
            pass


        class Folder(MPTTModel):
            pass


        class Note(TimeStampedModel):
            pass
        """,
    # a model module below the app package, without its own ``models`` folder
    "accounts/billing/__init__.py": "",
    "accounts/billing/invoices.py": """\
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.db import models


        class Invoice(models.Model):
            owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
            payer = models.ForeignKey(get_user_model(), on_delete=models.CASCADE, related_name="paid")
        """,
    "labelled/__init__.py": "",
    "labelled/apps.py": """\
        from django.apps import AppConfig


        class LabelledConfig(AppConfig):
            name = "labelled"
            label = "docs"
        """,
    "labelled/models/__init__.py": "from .document import Document\n",
    "labelled/models/document.py": """\
        from django.db import models


        class Document(models.Model):
            class Meta:
                ordering = ["id"]


        class Pinned(models.Model):
            class Meta:
                app_label = "pins"
        """,
    "accounts/views.py": """\
        from django.contrib.auth import get_user_model

        User = get_user_model()


        def names(ids):
            return [User.objects.get(pk=i).username for i in ids]
        """,
}


def test_library_base_models_are_django_models(tmp_path):
    ix = project(make(tmp_path / "p", DJANGO)).index
    for name in ("Member", "Folder", "Note"):
        m = ix.models[f"accounts.models.{name}"]
        assert m.orm == "django" and not m.abstract and m.app_label == "accounts"


def test_the_swappable_user_model_resolves_to_the_projects(tmp_path):
    ix = project(make(tmp_path / "p", DJANGO)).index
    assert ix.user_model == "accounts.models.Member"
    invoice = ix.models["accounts.billing.invoices.Invoice"]
    assert invoice.relations["owner"].target == "accounts.models.Member"
    assert invoice.relations["payer"].target == "accounts.models.Member"
    assert "paid" in ix.models["accounts.models.Member"].relations
    call = ("c", ("g", "django.contrib.auth.get_user_model"), (), ())
    assert ix.typer.type_of(call) == ("model", "accounts.models.Member")
    assert ix.typer.type_of(("g", "accounts.views.User")) == ("model", "accounts.models.Member")


def test_app_labels_follow_apps_py_and_meta(tmp_path):
    ix = project(make(tmp_path / "p", DJANGO)).index
    assert ix.models["accounts.billing.invoices.Invoice"].app_label == "accounts"
    assert ix.models["labelled.models.document.Document"].app_label == "docs"
    assert ix.models["labelled.models.document.Pinned"].app_label == "pins"
    assert [m.name for m in ix.model_named("docs.Document")] == ["Document"]


def test_qualified_model_names_in_the_config_are_checked(tmp_path):
    root = make(tmp_path / "p", DJANGO, "tenant:\n  models: [accounts.Invoce]\n")
    with pytest.raises(ConfigError, match="did you mean 'accounts.Invoice'"):
        project(root)
    root = make(tmp_path / "q", DJANGO, "tenant:\n  models: [accounts.billing.invoices.Invoise]\n")
    with pytest.raises(ConfigError, match="did you mean 'accounts.billing.invoices.Invoice'"):
        project(root)
    for ok in ("accounts.Invoice", "accounts.billing.invoices.Invoice", "docs.Document", "auth.Group",
               "otherlib.models.Thing"):
        root = make(tmp_path / ok.replace(".", "_"), DJANGO, f"tenant:\n  models: [{ok}]\n")
        project(root)  # a project model, or a library's: accepted


# -- SQLAlchemy: declared_attr mixins and column-object FKs ---------------------------------------
SA_MIXINS = {
    "shop/__init__.py": "",
    "shop/models.py": """\
        from sqlalchemy import Column, ForeignKey, Integer
        from sqlalchemy.orm import DeclarativeBase, declared_attr, relationship


        class Base(DeclarativeBase):
            pass


        class Tenant(Base):
            __tablename__ = "tenant"
            id = Column(Integer, primary_key=True)


        class TenantMixin:
            @declared_attr
            def tenant_id(cls):
                return Column(Integer, ForeignKey("tenant.id"), nullable=False)

            @declared_attr
            def tenant(cls):
                return relationship("Tenant")

            @declared_attr
            def __tablename__(cls):
                return cls.__name__.lower()


        class Order(TenantMixin, Base):
            id = Column(Integer, primary_key=True)
            lines = relationship("Line")


        class Line(Base):
            __tablename__ = "line"
            id = Column(Integer, primary_key=True)
            order_id = Column(Integer, ForeignKey(Order.id))
            order = relationship(Order)
        """,
}


def test_declared_attr_mixin_columns_and_relations_are_inherited(tmp_path):
    ix = project(make(tmp_path / "p", SA_MIXINS)).index
    order = ix.models["shop.models.Order"]
    assert "tenant_id" in order.fields and order.fields["tenant_id"].kw["__fk__"] == "tenant.id"
    assert order.relations["tenant"].target == "shop.models.Tenant"
    assert order.relations["tenant"].kind == "many_to_one"


def test_column_object_foreign_keys_name_the_table(tmp_path):
    ix = project(make(tmp_path / "p", SA_MIXINS)).index
    line = ix.models["shop.models.Line"]
    assert line.fields["order_id"].kw["__fk__"] == f"{ix.models['shop.models.Order'].table}.id"
    assert line.relations["order"].kind == "many_to_one"
    assert ix.models["shop.models.Order"].relations["lines"].kind == "collection"
