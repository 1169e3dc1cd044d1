"""MDB101: a read query on a tenant-scoped model with no tenant predicate."""
from __future__ import annotations

import ast

from .base import TenantRule, describe

MODELS = """
from django.db import models

class Workspace(models.Model):
    slug = models.SlugField(unique=True)

class Project(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=50)

class Task(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(max_length=50)
    done = models.BooleanField(default=False)
"""
CONFIG = "tenant:\n  models: [Workspace]\n"
VIEW_VERB = "is the queryset this view lists and retrieves from; it holds"


class UnscopedQuery(TenantRule):
    """
    ## What it does
    Finds a query that reads rows of a tenant-scoped model with no tenant predicate anywhere on
    it: no filter on the tenant key or on a lookup through it (`project__workspace=…`,
    `Task.project.has(Project.organization_id == …)`, a join with a tenant predicate), no `Q`
    object holding one, not derived from a tenant-scoped object (`org.projects.all()`), not
    through a configured helper or a manager whose `get_queryset` filters by the tenant.
    Scoped models come from the `tenant` section of `mandu.yaml`: every model with a non-null
    foreign-key path of at most `depth` hops to a tenant root (`Task → Project → Workspace`).

    Primary location: where the rows are read — the read call (`first()`, `count()`,
    `session.execute(...)`), the iterated queryset, `list(...)`, `get_object_or_404(...)`, a
    DRF serializer given the queryset, or a generic view's `queryset`/`get_queryset`.

    ## Why is this bad?
    In a multi-tenant app every customer's rows share the tables. A query without the tenant
    predicate returns other customers' data to whoever reaches this code path: the most common
    way multi-tenant SaaS apps leak data. Runtime guards (django-scopes, django-multitenant) only
    catch it when the path runs in a test.

    ## Known problems
    Silent when unsure. A queryset built and returned by a plain function is judged where it is
    read, not where it is built; a queryset from a parameter, a project function, `super()` or
    an unknown object is assumed scoped, as is a filter built elsewhere (`filter(**lookups)`,
    `where(*clauses)`). A predicate on the authenticated caller (`owner=request.user`, a FastAPI
    `Depends` value) counts as scoping (the rows are the caller's own), as does one naming a user
    of the project's user model or its key (`email=user.email`: rows addressed to that person; an
    untyped `user`/`new_user`, and the e-mail address any loaded object holds, `invite.email`, count
    too; a bare `email` from the client does not), and so does a check of
    the row after it is read (`if task.workspace_id != ws.id: raise …`) or passing it to a
    function named like a permission check. A filter pinning a foreign key to a scoped row
    (`project=…`, `state_id=…`) counts: the parent is assumed to be checked where it is looked
    up; so does a filter by a row the code already holds (`Issue.objects.filter(state=state)`,
    `pk=serializer.instance.pk`) and a lookup by a secret (`token=…`, `share_token=…`, a
    `*_hash`). A function that takes nothing a tenant could come from (no parameter besides
    `self` and database handles) and is not a request handler is treated as a cross-tenant job
    (`delete_expired(self)`). Code in `tenant.system` globs (admin, commands, scheduled jobs)
    and non-app files are not checked, nor is a function whose every chain of project callers
    starts in such a file (a repository method only a back-office endpoint calls); callers in
    tests do not count. A lookup by id is reported by MDB104 when that rule is
    enabled. Libraries that scope rows themselves are known: a model managed by django-scopes'
    `ScopedManager` or deriving from django-multitenant's `TenantModel`/`TenantModelMixin` is
    scoped by its manager; code under django-scopes' `scopes_disabled()` (a `with` block or a
    decorator) is cross-tenant on purpose; with a schema-per-tenant package (a model deriving
    from django-tenants' or django-tenant-schemas' `TenantMixin`) every query runs in the
    tenant's schema, so the MDB1xx rules are off and one notice says so.

    ## Example
    ```python
    def open_tasks(request):
        return list(Task.objects.filter(done=False))
    ```

    ## Use instead
    ```python
    def open_tasks(request):
        return list(Task.objects.filter(project__workspace=request.tenant, done=False))
    ```

    ## Fix safety
    Unsafe fix, offered when exactly one tenant value is in scope (a parameter that is the
    tenant or named like its key, `self.organization`, `request.tenant`, or the value another
    query of the function filters the tenant by): it inserts `.filter(<path>=<value>)` after
    the manager, or `.where(Model.tenant_id == <value>)` on a SQLAlchemy statement. It changes
    which rows the query returns, which is the point, but only the author knows the value is
    the right tenant.
    """

    code = "MDB101"
    name = "unscoped-tenant-query"
    summary = "Query on a tenant-scoped model without a tenant predicate"
    security_severity = 7.5
    precision = "medium"  # blind triage of real apps: too many findings immaterial or wrong for a default
    level = "error"
    fixable = True
    yields_to = ("MDB104",)

    BAD = [
        {
            "mandu.yaml": CONFIG,
            "app/models.py": MODELS,
            "app/views.py": """
from app.models import Task

def open_tasks(request):
    return list(Task.objects.filter(done=False))  # error

def titles(workspace):
    qs = Task.objects.order_by("title")
    return [t.title for t in qs]  # error
""",
        },
        {
            "mandu.yaml": "tenant:\n  models: [Organization]\n",
            "app/db.py": """
from sqlalchemy import ForeignKey, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

class Base(DeclarativeBase):
    pass

class Organization(Base):
    __tablename__ = "organizations"
    id: Mapped[int] = mapped_column(primary_key=True)

class Invoice(Base):
    __tablename__ = "invoices"
    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    paid: Mapped[bool]

def unpaid(session: Session, organization_id: int):
    return session.scalars(select(Invoice).where(Invoice.paid.is_(False))).all()  # error
""",
        },
    ]
    GOOD = [
        {
            "mandu.yaml": CONFIG,
            "app/models.py": MODELS,
            "app/views.py": """
from django.db.models import Q
from app.models import Project, Task, Workspace

def scoped(request, ws: Workspace, lookups):
    a = list(Task.objects.filter(project__workspace=ws, done=False))
    b = Task.objects.filter(Q(project__workspace=request.tenant) | Q(done=True)).count()
    c = list(ws.projects.all())                      # derived from the tenant
    d = Task.objects.filter(**lookups).first()       # filter built elsewhere
    qs = Task.objects.all()
    qs = qs.filter(project__workspace=ws)            # filtered before it is read
    e = [t.title for t in qs]
    f = Task.objects.filter(project_id=request.GET["project"]).exists()  # a parent on the path
    return a, b, c, d, e, f

def built_not_read():
    return Task.objects.filter(done=False)            # the caller decides
""",
        },
        {
            "app/models.py": MODELS,
            "app/views.py": """
from app.models import Task

def no_tenant_config():
    return list(Task.objects.all())   # no `tenant` section: the rule is off
""",
        },
    ]

    ACTION = "read"

    def visit_Return(self, node: ast.Return) -> None:
        fn = self.fn
        if self.tenant is None or node.value is None or fn is None or fn.name != "get_queryset":
            return
        if self.tenant.view_class(self.ctx.scope.self_cls):
            ev = self.tenant.view_queryset(node.value, fn, self.cls)
            if ev is not None and self.first_for_origin(ev):
                self.report_unscoped(ev, self._message(ev, VIEW_VERB))

    def visit_Assign(self, node: ast.Assign) -> None:
        """``queryset = Task.objects.all()`` on a generic view that does not narrow it."""
        cls = self.ctx.class_stack[-1]
        if self.tenant is None or cls is None or self.ctx.scope.func is not None:
            return
        if not any(isinstance(t, ast.Name) and t.id == "queryset" for t in node.targets):
            return
        if self.tenant.view_class(cls) and self.ctx.index.find_method(cls, "get_queryset") is None:
            ev = self.tenant.view_queryset(node.value, None)
            if ev is not None:
                self.report_unscoped(ev, self._message(ev, VIEW_VERB))

    def message(self, ev) -> str:
        return self._message(ev, "reads")

    def _message(self, ev, verb: str) -> str:
        model = self.model_name(ev)
        return (f"{describe(ev.node, ev.iterated)} {verb} `{model}` rows of every tenant{self.origin_note(ev)}: "
                f"`{model}` is scoped by {self.scoped_by(ev)}, and nothing on this query filters by it; "
                f"add {self.hint(ev)}")
