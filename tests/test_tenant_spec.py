"""Which models the tenant rules treat as scoped, and by which keys (``analysis/tenant.py``)."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mandu_lint.rules.tenant.spec import django_path, tenant_spec, walk_lookup
from mandu_lint.config import ConfigError, clear_caches
from mandu_lint.runner import CheckOptions, load_project

DJANGO_MODELS = """
from django.db import models

class Workspace(models.Model):
    slug = models.SlugField()

class Project(models.Model):
    workspace = models.ForeignKey("app.WorkSpace", on_delete=models.CASCADE)   # Django matches names case-insensitively
    state = models.ForeignKey("State", null=True, on_delete=models.SET_NULL)

class State(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE)

class Task(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tasks")

class Comment(models.Model):
    task = models.ForeignKey(Task, on_delete=models.CASCADE)

class Reaction(models.Model):
    comment = models.ForeignKey(Comment, on_delete=models.CASCADE)

class Profile(models.Model):
    workspace = models.ForeignKey(Workspace, null=True, on_delete=models.SET_NULL)

class Audit(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, db_column="ws")
"""

SA_MODELS = """
from typing import Optional
from sqlalchemy import Column, ForeignKey, Integer
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship

class Base(DeclarativeBase):
    pass

class Organization(Base):
    __tablename__ = "organizations"
    id: Mapped[int] = mapped_column(primary_key=True)

class Product(Base):
    __tablename__ = "products"
    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))

    @declared_attr
    def organization(cls) -> Mapped["Organization"]:
        return relationship("Organization")

class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[Optional[int]] = mapped_column(ForeignKey("organizations.id"))

class Member(Base):
    __tablename__ = "members"
    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))

class Legacy(Base):
    __tablename__ = "legacy"
    id = Column(Integer, primary_key=True)
    organization_id = Column(Integer, ForeignKey("organizations.id"))

class Strict(Base):
    __tablename__ = "strict"
    id = Column(Integer, primary_key=True)
    organization_id = Column(Integer, ForeignKey("organizations.id"), nullable=False)

class Event(Base):
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))

class PaidEvent(Event):
    pass

class EventNote(Base):
    __tablename__ = "event_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))
"""


def load(tmp_path: Path, models: str, config: str, app: str = "app"):
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True, exist_ok=True)
    (root / app).mkdir(exist_ok=True)
    (root / app / "__init__.py").write_text("")
    (root / app / "models.py").write_text(textwrap.dedent(models))
    (root / "mandu.yaml").write_text(textwrap.dedent(config))
    clear_caches()
    project = load_project(root, root / "mandu.yaml", CheckOptions(use_cache=False))
    return project, tenant_spec(project.index, project.settings)


def names(spec):
    return sorted(s.name for s in spec.models.values())


def test_django_scoped_models_follow_non_null_paths_up_to_depth(tmp_path):
    _project, spec = load(tmp_path, DJANGO_MODELS, "tenant:\n  models: [Workspace]\n")
    assert names(spec) == ["Audit", "Comment", "Project", "State", "Task"]  # Reaction is 4 hops away
    task = next(s for s in spec.models.values() if s.name == "Task")
    assert django_path(task) == "project__workspace"
    assert task.keys == {"project", "project_id"} and task.columns == {"project_id"}
    audit = next(s for s in spec.models.values() if s.name == "Audit")
    assert audit.columns == {"ws"}  # db_column
    assert spec.tables["app_task"] is task


def test_depth_exempt_and_explicit_lists(tmp_path):
    _p, spec = load(tmp_path, DJANGO_MODELS, "tenant:\n  models: [Workspace]\n  depth: 4\n  exempt: [Audit]\n")
    assert names(spec) == ["Comment", "Project", "Reaction", "State", "Task"]
    _p, spec = load(tmp_path, DJANGO_MODELS, "tenant:\n  models: [Workspace]\n  scoped: [Task, Profile]\n")
    assert names(spec) == ["Profile", "Task"]  # listed by hand: the nullable path still names the keys
    profile = next(s for s in spec.models.values() if s.name == "Profile")
    assert profile.keys == {"workspace", "workspace_id"}


def test_no_tenant_section_means_no_spec(tmp_path):
    _p, spec = load(tmp_path, DJANGO_MODELS, "exclude: []\n")
    assert spec is None


def test_unknown_tenant_model_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as err:
        load(tmp_path, DJANGO_MODELS, "tenant:\n  models: [Workspaces]\n")
    assert "did you mean 'Workspace'" in str(err.value.problems[0])


def test_lookups_that_pin_the_tenant(tmp_path):
    project, spec = load(tmp_path, DJANGO_MODELS, "tenant:\n  models: [Workspace]\n")
    ix = project.index
    task = "app.models.Task"
    assert walk_lookup(ix, spec, task, "project__workspace") == (True, "")
    assert walk_lookup(ix, spec, task, "project__workspace__slug") == (True, "slug")
    assert walk_lookup(ix, spec, task, "project_id__in") == (True, None)
    assert walk_lookup(ix, spec, task, "project") == (True, None)
    assert walk_lookup(ix, spec, task, "project__name") == (False, None)  # any tenant's project of that name
    assert walk_lookup(ix, spec, "app.models.Project", "state") == (True, None)  # a nullable FK to a scoped row
    assert walk_lookup(ix, spec, task, "title") == (False, None)


def test_sqlalchemy_nullability_and_relationship_names(tmp_path):
    _p, spec = load(tmp_path, SA_MODELS, "tenant:\n  models: [Organization]\n")
    assert names(spec) == ["Event", "EventNote", "PaidEvent", "Product", "Strict"]  # User, Member, Legacy: nullable
    product = next(s for s in spec.models.values() if s.name == "Product")
    assert product.keys == {"organization_id", "organization"}  # the @declared_attr relationship too
    assert product.direct.name == "organization_id"
    note = next(s for s in spec.models.values() if s.name == "EventNote")
    assert len(note.paths) == 1  # single-table inheritance: one path through the base class


def test_configured_fields_scope_models_without_foreign_keys(tmp_path):
    models = SA_MODELS + """
class Report(Base):
    __tablename__ = "reports"
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int]
"""
    _p, spec = load(tmp_path, models, "tenant:\n  models: [Organization]\n  scoped: [Report]\n  fields: [tenant_id]\n")
    report = spec.models["app.models.Report"]
    assert report.keys == {"tenant_id"} and report.columns == {"tenant_id"}
