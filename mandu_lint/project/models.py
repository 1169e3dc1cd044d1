"""Model discovery: which project classes are Django or SQLAlchemy models, and their relations.

Everything is decided from per-file facts, never by importing the app. A class is a model only
when its bases resolve, through project classes and imports, to a known ORM base; an unresolved
base leaves it a plain class (the rules then stay silent about it).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional

DJANGO_MODEL_BASES = {"django.db.models.Model", "django.db.models.base.Model"}
# Model bases that libraries define (abstract or concrete): a project class deriving from one is
# a Django model although the library's source is never read.
LIBRARY_DJANGO_BASES = frozenset(f"{mod}.{name}" for mod, names in {
    "django.contrib.auth.models": "AbstractUser AbstractBaseUser PermissionsMixin User Group Permission",
    "django.contrib.auth.base_user": "AbstractBaseUser",
    "django.contrib.sessions.base_session": "AbstractBaseSession",
    "django.contrib.sites.models": "Site",
    "mptt.models": "MPTTModel",
    "treebeard.mp_tree": "MP_Node", "treebeard.ns_tree": "NS_Node", "treebeard.al_tree": "AL_Node",
    "treebeard.models": "Node",
    "model_utils.models": "TimeStampedModel StatusModel SoftDeletableModel TimeFramedModel UUIDModel "
                          "SaveSignalHandlingModel",
    "django_extensions.db.models": "TimeStampedModel TitleDescriptionModel TitleSlugDescriptionModel "
                                   "ActivatorModel",
    "polymorphic.models": "PolymorphicModel",
    "polymorphic_tree.models": "PolymorphicMPTTModel",
    "payments.models": "BasePayment",
    "ordered_model.models": "OrderedModel OrderedModelBase",
    "safedelete.models": "SafeDeleteModel",
    "taggit.models": "TagBase TaggedItemBase GenericTaggedItemBase CommonGenericTaggedItemBase ItemBase",
    "oauth2_provider.models": "AbstractApplication AbstractAccessToken AbstractRefreshToken AbstractGrant "
                              "AbstractIDToken",
    "guardian.models": "UserObjectPermissionBase GroupObjectPermissionBase",
    "django_celery_results.models": "TaskResult",
    "rest_framework.authtoken.models": "Token",
    "allauth.account.models": "EmailAddress",
}.items() for name in names.split())
# Django's own concrete models that application models point at (``ForeignKey(User)``, or
# ``settings.AUTH_USER_MODEL`` when the project has no user model of its own): qual -> (name,
# app label, table, relations as name -> (target qual, kind)). Their relations are what Django
# declares; their fields are not listed (reading ``user.username`` is not a query either way).
DJANGO_LIBRARY_MODELS = {
    "django.contrib.auth.models.User": ("User", "auth", "auth_user", {
        "groups": ("django.contrib.auth.models.Group", "m2m"),
        "user_permissions": ("django.contrib.auth.models.Permission", "m2m")}),
    "django.contrib.auth.models.Group": ("Group", "auth", "auth_group", {
        "permissions": ("django.contrib.auth.models.Permission", "m2m")}),
    "django.contrib.auth.models.Permission": ("Permission", "auth", "auth_permission", {
        "content_type": ("django.contrib.contenttypes.models.ContentType", "fk")}),
    "django.contrib.contenttypes.models.ContentType": ("ContentType", "contenttypes", "django_content_type", {}),
}
DEFAULT_USER_MODEL = "django.contrib.auth.models.User"
USER_MODEL_BASES = frozenset({"django.contrib.auth.models.AbstractUser", "django.contrib.auth.models.AbstractBaseUser",
                              "django.contrib.auth.base_user.AbstractBaseUser"})
DJANGO_APP_CONFIG = {"django.apps.AppConfig", "django.apps.config.AppConfig"}
# The swappable user model, written as an FK target or called for.
USER_MODEL_REFS = {"django.conf.settings.AUTH_USER_MODEL"}
GET_USER_MODEL = {"django.contrib.auth.get_user_model"}
DJANGO_MANAGER_BASES = {"django.db.models.Manager", "django.db.models.manager.Manager",
                        "django.db.models.QuerySet", "django.db.models.query.QuerySet",
                        "django.db.models.manager.BaseManager"}
SA_DECL_BASES = {"sqlalchemy.orm.DeclarativeBase", "sqlalchemy.orm.DeclarativeBaseNoMeta",
                 "sqlalchemy.orm.decl_api.DeclarativeBase", "sqlalchemy.ext.asyncio.AsyncAttrs"}
SA_DECL_FACTORIES = {"sqlalchemy.orm.declarative_base", "sqlalchemy.ext.declarative.declarative_base",
                     "sqlalchemy.orm.decl_api.declarative_base"}
SQLMODEL_BASE = "sqlmodel.SQLModel"
FLASK_SQLALCHEMY = {"flask_sqlalchemy.SQLAlchemy", "flask_sqlalchemy.extension.SQLAlchemy"}

DJANGO_REL = {"ForeignKey": "fk", "OneToOneField": "o2o", "ManyToManyField": "m2m", "ParentalKey": "fk",
              "ParentalManyToManyField": "m2m", "TreeForeignKey": "fk", "TreeOneToOneField": "o2o",
              "TreeManyToManyField": "m2m", "SortedManyToManyField": "m2m"}
SA_REL = {"relationship", "Relationship", "relation"}


@dataclass
class Relation:
    name: str
    target: str  # model qual
    kind: str  # fk | o2o | m2m | reverse_fk | reverse_o2o | reverse_m2m | many_to_one | collection
    null: bool = True
    lazy: Optional[str] = None  # SQLAlchemy lazy= strategy
    field_line: int = 0

    @property
    def to_many(self) -> bool:
        return self.kind in ("m2m", "reverse_fk", "reverse_m2m", "collection")


@dataclass
class Model:
    qual: str
    name: str
    orm: str  # django | sqlalchemy
    path: str
    line: int
    abstract: bool = False
    app_label: str = ""
    table: str = ""
    fields: Dict[str, object] = field(default_factory=dict)  # name -> FieldFacts
    relations: Dict[str, Relation] = field(default_factory=dict)
    managers: Dict[str, Optional[str]] = field(default_factory=dict)  # attr -> manager class qual
    flask: bool = False  # Flask-SQLAlchemy model (has ``Model.query``)
    origin: str = "app"  # app | migration | test (see ``path_origin``) | library: an app model wins a name tie


class ModelTable(dict):
    """Model qual -> :class:`Model`. Iterating it (``values()``, ``items()``, ``len()``) gives the
    project's own models; ``[]``, ``get()`` and ``in`` also find the library models the project's
    models point at (``library``), so that a relation to Django's ``User`` is a relation while
    every rule that walks "the models" (drift, tenant proposals, counts) sees only the project's."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.library: Dict[str, Model] = {}

    def __missing__(self, key):
        try:
            return self.library[key]
        except KeyError:
            raise KeyError(key) from None

    def get(self, key, default=None):
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        return self.library.get(key, default)

    def __contains__(self, key) -> bool:
        return dict.__contains__(self, key) or key in self.library


def library_models() -> Dict[str, Model]:
    out = {}
    for qual, (name, label, table, rels) in DJANGO_LIBRARY_MODELS.items():
        m = Model(qual, name, "django", "", 0, app_label=label, table=table, origin="library")
        m.managers["objects"] = None
        m.relations = {r: Relation(r, target, kind) for r, (target, kind) in rels.items()}
        out[qual] = m
    return out


TEST_DIRS = frozenset({"tests", "test", "testing", "fixtures"})


def path_origin(rel: str, migration_dirs=()) -> str:
    """Where a file belongs: ``migration`` (Django ``migrations/``, Alembic ``versions/`` and the
    folders ``alembic.ini`` names), ``test`` (test folders and files, fixtures) or ``app``."""
    parts = rel.split("/")
    dirs, name = parts[:-1], parts[-1]
    if "migrations" in dirs or ("versions" in dirs and "alembic" in dirs) or \
            (migration_dirs and rel.startswith(tuple(d + "/" for d in migration_dirs))):
        return "migration"
    if TEST_DIRS.intersection(dirs) or name.startswith("test_") or name.endswith(("_test.py", "_tests.py")) \
            or name in ("tests.py", "conftest.py"):
        return "test"
    return "app"


def prefer_app(cands: List["Model"]) -> List["Model"]:
    """Of several models sharing a name, the application ones (a copy in a migration or a test
    does not make a real model ambiguous); all of them when none is an application model."""
    if len(cands) > 1:
        app = [m for m in cands if m.origin == "app"]
        return app or cands
    return cands


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def django_app_label(module: str) -> str:
    """Django's default app label: the package that holds ``models`` (``shop.models.x`` → shop)."""
    parts = module.split(".")
    if "models" in parts:
        i = parts.index("models")
        return parts[i - 1] if i > 0 else parts[0]
    return parts[-2] if len(parts) > 1 else parts[0]


def resolve_target(target: str, owner: Model, by_name: Dict[str, List[Model]]) -> Optional[str]:
    """A relation target written as a string: "self", "Model", "app_label.Model"."""
    if target == "self":
        return owner.qual
    if "." in target:
        label, name = target.rsplit(".", 1)
        if name not in by_name:  # Django resolves "app.ModelName" case-insensitively ("db.WorkSpace")
            name = next((n for n in by_name if n.lower() == name.lower()), name)
        cands = [m for m in by_name.get(name, []) if m.app_label == label or m.qual == target]
        if not cands:
            cands = [m for m in by_name.get(name, []) if m.qual.endswith("." + target)]
    else:
        cands = by_name.get(target, [])
        if len(cands) > 1:
            same_app = [m for m in cands if m.app_label == owner.app_label]
            cands = same_app or cands
    if len(cands) > 1 and owner.origin == "app":
        cands = prefer_app(cands)
    return cands[0].qual if len(cands) == 1 else None


def default_reverse_name(model: Model, kind: str) -> str:
    low = model.name.lower()
    return low if kind == "o2o" else f"{low}_set"


def expand_related_name(rn: str, model: Model) -> str:
    return rn.replace("%(class)s", model.name.lower()).replace("%(app_label)s", model.app_label)
