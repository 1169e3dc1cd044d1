"""MDB104: a tenant-scoped row fetched by its id alone (IDOR)."""
from __future__ import annotations

from .base import TenantRule, describe
from .mdb101_unscoped_query import CONFIG, MODELS
from ...project.contexts import REQUEST


class LookupById(TenantRule):
    """
    ## What it does
    Finds a lookup of one tenant-scoped row by its primary key with nothing scoping it:
    `Task.objects.get(pk=…)`, `get(id=…)`, `filter(pk=…).first()`, `in_bulk(ids)`,
    `get_object_or_404(Task, pk=…)`, SQLAlchemy `session.get(Task, id)`,
    `filter_by(id=…)`, `where(Task.id == …)`, `Query.get(id)`.

    Primary location: the lookup (the `get`/`first` call, `get_object_or_404(...)`,
    `session.get(...)`, or the `session.execute(...)` of the statement).

    ## Why is this bad?
    The id usually comes from the URL or the request body. Without the tenant predicate, any
    authenticated user who guesses or enumerates another customer's id reads or edits that
    customer's row: an insecure direct object reference (IDOR), OWASP's broken access control.

    ## Known problems
    Only ids the client can choose are reported: in a request handler (a function taking
    `request`, a routed function, a method of a view class) or read from request data
    (`request.data[...]`, a serializer's `initial_data`). A plain function's id parameter is its
    caller's responsibility, and a re-fetch by the id of a row already held
    (`get(pk=serializer.instance.pk)`) is not a lookup by a client id. Same scoping rules as
    MDB101 otherwise: a queryset derived from the tenant (`org.tasks.get(pk=…)`), a predicate on
    the caller (`get(pk=pk, owner=request.user)`), a filter on a parent along the tenant path,
    or a check of the row's tenant after the lookup (`if task.workspace_id != …`, or passing it
    to a function named like a permission check) silence it. An id that the view's access check
    ties to the tenant is verified: a decorator of the handler or a DRF permission class of its
    view (and the project functions they call) filtering by the tenant and by a key of the same
    name (`ProjectMember.objects.filter(workspace__slug=slug, project_id=project_id, …)`
    verifies `project_id` for `Project`). Checks the index cannot see (inherited
    `permission_classes`, URL-name tricks) are not: mark such lines `# noqa: MDB104`. A model
    whose primary key is a UUID is reported at `medium`: its ids cannot be enumerated, only
    leaked.

    ## Example
    ```python
    def task_detail(request, pk):
        task = Task.objects.get(pk=pk)
        return render(request, "task.html", {"task": task})
    ```

    ## Use instead
    ```python
    def task_detail(request, pk):
        task = Task.objects.get(pk=pk, project__workspace=request.tenant)
        return render(request, "task.html", {"task": task})
    ```

    ## Fix safety
    The same unsafe fix as MDB101, when exactly one tenant value is in scope: the tenant filter
    is inserted where the query starts (`Task.objects.filter(project__workspace=ws).get(pk=pk)`,
    `get_object_or_404(Task.objects.filter(...), pk=pk)`). `session.get()` gets no fix: it
    reads the identity map and has no place for a predicate.
    """

    code = "MDB104"
    name = "lookup-by-id-without-tenant"
    summary = "Tenant-scoped row looked up by id alone (IDOR)"
    security_severity = 8.1
    precision = "high"
    high_in = frozenset({REQUEST})
    level = "error"
    fixable = True

    BAD = [
        {
            "mandu.yaml": CONFIG,
            "app/models.py": MODELS,
            "app/views.py": """
from django.shortcuts import get_object_or_404
from app.models import Task

def detail(request, pk):
    return Task.objects.get(pk=pk)  # error

def edit(request, slug, pk):
    task = get_object_or_404(Task, pk=pk)  # error
    return task
""",
        },
        {
            "mandu.yaml": "tenant:\n  models: [Organization]\n",
            "app/db.py": """
from fastapi import APIRouter
from sqlalchemy import ForeignKey
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

router = APIRouter()

class Base(DeclarativeBase):
    pass

class Organization(Base):
    __tablename__ = "organizations"
    id: Mapped[int] = mapped_column(primary_key=True)

class Invoice(Base):
    __tablename__ = "invoices"
    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))

@router.get("/invoices/{invoice_id}")
def invoice(invoice_id: int, session: Session):
    return session.get(Invoice, invoice_id)  # error
""",
        },
    ]
    GOOD = [
        {
            "mandu.yaml": CONFIG,
            "app/models.py": MODELS,
            "app/views.py": """
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from app.models import Project, Task, Workspace

def detail(request, ws: Workspace, pk):
    a = Task.objects.get(pk=pk, project__workspace=ws)
    b = get_object_or_404(Task.objects.filter(project__workspace=ws), pk=pk)
    project = Project.objects.get(pk=pk, workspace__slug=request.GET["ws"])
    c = project.tasks.get(pk=pk)                  # derived from a scoped object
    d = Task.objects.get(pk=pk)
    if d.project.workspace_id != ws.pk:           # checked after the lookup
        raise PermissionDenied
    return a, b, c, d
""",
        },
    ]

    ACTION = "read"

    def wants(self, ev) -> bool:
        return ev.query.id_lookup

    def message(self, ev) -> str:
        model = self.model_name(ev)
        what = describe(ev.node, ev.iterated)
        guess = ("the id can name another tenant's row (IDOR)" if not self._uuid_pk(ev) else
                 "its ids are UUIDs, so they cannot be enumerated, but one that leaks (a shared link, a log, "
                 "an old member) still opens another tenant's row")
        return (f"{what} looks up `{model}` rows by id with no tenant predicate{self.origin_note(ev)}: "
                f"{guess}; `{model}` is scoped by {self.scoped_by(ev)}, add {self.hint(ev)}")

    def report_unscoped(self, ev, message: str, confidence: str = "high") -> None:
        # unguessable ids: the row is reachable only through a leaked id
        super().report_unscoped(ev, message, "medium" if self._uuid_pk(ev) else confidence)

    def _uuid_pk(self, ev) -> bool:
        """The model's primary key is a UUID (Django ``UUIDField(primary_key=True)``, SQLAlchemy
        ``Uuid``/``UUID`` column or ``Mapped[uuid.UUID]`` primary key): ids are not enumerable."""
        m = self.ctx.index.models.get(ev.query.model)
        for ff in (m.fields.values() if m is not None else ()):
            # the constructor, the ``Mapped[...]`` annotation and the type argument, as refs
            if ff.kw.get("primary_key") is True and "uuid" in repr((ff.ctor, ff.ann, ff.args)).lower():
                return True
        return False
