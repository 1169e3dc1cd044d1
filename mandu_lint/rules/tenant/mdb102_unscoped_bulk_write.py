"""MDB102: a bulk update or delete on a tenant-scoped model without a tenant predicate."""
from __future__ import annotations

from .base import TenantRule, describe
from .mdb101_unscoped_query import CONFIG, MODELS


class UnscopedBulkWrite(TenantRule):
    """
    ## What it does
    Finds a set-based write to a tenant-scoped model with no tenant predicate on the rows it
    touches: Django `update()`/`delete()` (and `aupdate`/`adelete`) on a queryset,
    `bulk_update(objs, …)` of objects read by an unscoped query, SQLAlchemy
    `session.execute(update(Task)…)`/`delete(Task)` statements, and a legacy
    `session.query(Task)…update()`/`.delete()`.

    Primary location: the write call (`update(...)`, `delete()`, `bulk_update(...)`,
    `session.execute(...)`).

    ## Why is this bad?
    One statement changes or deletes rows of every customer that match the other conditions.
    Unlike a leaky read, the damage is done before anyone notices, and restoring another
    customer's data needs a backup.

    ## Known problems
    Scoping is judged as in MDB101 (derived querysets, dynamic filters, helpers and filters on a
    parent along the tenant path count as scoped). `bulk_update` is reported only when its
    objects come from an unscoped query in the same function; objects from elsewhere are
    assumed to be scoped. Instance `save()`/`delete()` is not a bulk write and not reported. A
    write by id list in a plain function (`update(Order).where(Order.id == order_id)` in a
    repository) is its caller's responsibility, as in MDB104. A function that takes nothing a
    tenant could come from and is not a request handler (`delete_expired(self)`) is treated as a
    maintenance job; data migrations and other jobs belong in `tenant.system` or non-app folders.

    ## Example
    ```python
    def archive_done(request):
        Task.objects.filter(done=True).delete()
    ```

    ## Use instead
    ```python
    def archive_done(request):
        Task.objects.filter(project__workspace=request.tenant, done=True).delete()
    ```

    ## Fix safety
    The same unsafe fix as MDB101 when exactly one tenant value is in scope: the tenant filter
    is inserted where the query starts (`.filter(...)` after the manager, `.where(...)` on the
    statement), so fewer rows are written.
    """

    code = "MDB102"
    name = "unscoped-tenant-bulk-write"
    summary = "Bulk update/delete on a tenant-scoped model without a tenant predicate"
    security_severity = 8.1
    precision = "medium"  # blind triage of real apps: too many findings immaterial or wrong for a default
    level = "error"
    fixable = True

    BAD = [
        {
            "mandu.yaml": CONFIG,
            "app/models.py": MODELS,
            "app/views.py": """
from app.models import Task

def close_all(request, workspace):
    Task.objects.filter(done=False).update(done=True)  # error

def rename(request, ids):
    tasks = list(Task.objects.filter(pk__in=ids))
    for t in tasks:
        t.title = t.title.strip()
    Task.objects.bulk_update(tasks, ["title"])  # error
""",
        },
        {
            "mandu.yaml": "tenant:\n  models: [Organization]\n",
            "app/db.py": """
from sqlalchemy import ForeignKey, delete
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

def purge_paid(session: Session, organization_id: int):
    session.execute(delete(Invoice).where(Invoice.paid.is_(True)))  # error
""",
        },
    ]
    GOOD = [
        {
            "mandu.yaml": CONFIG,
            "app/models.py": MODELS,
            "app/views.py": """
from app.models import Project, Task

def close_all(request, project: Project, ws):
    Task.objects.filter(project__workspace=ws, done=False).update(done=True)
    project.tasks.all().delete()                       # derived from a scoped object
    Task.objects.filter(project=project).delete()      # a parent along the tenant path
    tasks = list(Task.objects.filter(project__workspace=ws))
    Task.objects.bulk_update(tasks, ["title"])
    Task.objects.create(project=project, title="x")     # not a bulk write
""",
        },
    ]

    ACTION = "write"

    def message(self, ev) -> str:
        model = self.model_name(ev)
        what = describe(ev.node, ev.iterated)
        return (f"{what} changes `{model}` rows of every tenant{self.origin_note(ev)}: `{model}` is "
                f"scoped by {self.scoped_by(ev)}, and nothing on this write filters by it; add {self.hint(ev)}")
