"""The **State** track: Django's migration state (what ``makemigrations`` compares models
with), model by model, with the DDL-relevant field attributes read statically.

Records are immutable and ``ProjectState`` is a dict of them, so copies are cheap (Django
applies ``SeparateDatabaseAndState.database_operations`` to a throwaway copy of the state; so
does the replay). A model the replay cannot follow is kept with ``unknown=True``; an app whose
changes it cannot attribute to one model is listed in ``unknown_apps``.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any, Dict, Mapping, Optional, Set, Tuple

from .records import MigrationKey

MAX_NAME_LENGTH = 63  # PostgreSQL identifiers; Django truncates default table names to it


@dataclass(frozen=True)
class Expr:
    """A non-literal argument, kept as its source text."""

    text: str


@dataclass(frozen=True)
class FieldState:
    name: str
    cls: str                     # class name as written, last part: "CharField"
    path: str = ""               # dotted as written: "models.CharField"
    null: bool = False
    max_length: Optional[int] = None
    has_default: bool = False
    db_default: Optional[str] = None
    unique: bool = False
    db_index: bool = False
    primary_key: bool = False
    to: Optional[str] = None     # "app_label.modelname" (lower case) for relations
    relation: Optional[str] = None  # fk | o2o | m2m
    db_column: Optional[str] = None
    kwargs: Mapping[str, Any] = field(default_factory=dict)  # every keyword, literal or Expr


@dataclass(frozen=True)
class IndexSpec:
    name: Optional[str]
    fields: Tuple[str, ...] = ()
    kind: str = "Index"          # Index, GinIndex, ...
    condition: Optional[str] = None
    expressions: bool = False    # functional index: columns not known


@dataclass(frozen=True)
class ConstraintSpec:
    name: Optional[str]
    kind: str                    # unique | check | exclude | other
    fields: Tuple[str, ...] = ()
    condition: Optional[str] = None
    cls: str = ""


@dataclass(frozen=True)
class ModelState:
    app_label: str
    name: str
    fields: Mapping[str, FieldState] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    bases: Tuple[str, ...] = ()
    created_in: Optional[MigrationKey] = None
    unknown: bool = False

    @property
    def key(self) -> Tuple[str, str]:
        return (self.app_label, self.name.lower())

    @property
    def has_table(self) -> bool:
        """Proxy and unmanaged models have no table Django creates or alters."""
        return not self.options.get("proxy") and self.options.get("managed", True) is not False

    @property
    def indexes(self) -> Tuple[IndexSpec, ...]:
        return tuple(self.options.get("indexes", ()))

    @property
    def constraints(self) -> Tuple[ConstraintSpec, ...]:
        return tuple(self.options.get("constraints", ()))

    def field_named(self, name: str) -> Optional[FieldState]:
        return self.fields.get(name) or next((f for n, f in self.fields.items() if n.lower() == name.lower()), None)


def without_default(f: FieldState) -> FieldState:
    """The field after ``preserve_default=False``: its default only filled existing rows."""
    return replace(f, has_default=False, kwargs={k: v for k, v in f.kwargs.items() if k != "default"})


def truncate_name(name: str, length: int = MAX_NAME_LENGTH) -> str:
    """Django's ``truncate_name``: a too-long identifier keeps a hash of its full text."""
    if len(name) <= length:
        return name
    digest = hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()[:4]
    return name[: length - 4] + digest


def table_name(model: ModelState) -> Optional[str]:
    """``db_table`` or Django's default ``<app_label>_<model name lower>``; None when
    ``db_table`` is not a literal."""
    explicit = model.options.get("db_table")
    if explicit is not None:
        return explicit if isinstance(explicit, str) else None
    return truncate_name(f"{model.app_label}_{model.name.lower()}")


def column_name(f: FieldState) -> Optional[str]:
    """A field's column (None for a many-to-many, which has its own table)."""
    if f.relation == "m2m":
        return None
    if f.db_column:
        return f.db_column
    return f"{f.name}_id" if f.relation in ("fk", "o2o") else f.name


class ProjectState:
    """All apps' models as the migrations declare them (Django's ``ProjectState``)."""

    def __init__(self, models: Optional[Dict[Tuple[str, str], ModelState]] = None,
                 unknown_apps: Optional[Set[str]] = None, swappable: Optional[Mapping[str, str]] = None):
        self.models: Dict[Tuple[str, str], ModelState] = dict(models or {})
        self.unknown_apps: Set[str] = set(unknown_apps or ())
        self.swappable: Mapping[str, str] = swappable or {}

    def copy(self) -> "ProjectState":
        return ProjectState(self.models, self.unknown_apps, self.swappable)

    def get(self, app: str, name: Optional[str]) -> Optional[ModelState]:
        return self.models.get((app, name.lower())) if name else None

    def app(self, app: str) -> Dict[str, ModelState]:
        """One app's final State track: model name (lower case) -> ModelState."""
        return {name: m for (label, name), m in sorted(self.models.items()) if label == app}

    def put(self, model: ModelState) -> None:
        self.models[model.key] = model

    def remove(self, app: str, name: str) -> Optional[ModelState]:
        return self.models.pop((app, name.lower()), None)

    def resolve(self, to: Optional[str], app: str) -> Optional[ModelState]:
        """The model a relation's ``to`` names: "app.Model", a bare "Model" of the same app, or
        a swappable setting (``settings.AUTH_USER_MODEL``)."""
        if not to:
            return None
        if to.startswith("settings."):
            to = self.swappable.get(to.split(".", 1)[1], "")
        if "." in to:
            label, _, name = to.rpartition(".")
            return self.get(label, name)
        return self.get(app, to)

    def is_unknown(self, app: str, name: Optional[str] = None) -> bool:
        model = self.get(app, name) if name else None
        return app in self.unknown_apps or (model is not None and model.unknown)
