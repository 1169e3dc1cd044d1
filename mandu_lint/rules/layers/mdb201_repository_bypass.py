"""MDB201: a handler or service module that reaches the database itself instead of through the
repository layer."""
from __future__ import annotations

import ast
from typing import Optional, Tuple

from .analysis import ABOVE_REPOSITORY, access_key, layer_map, repository_methods, short_name, touched_model
from ..base import Rule
from ...core.messages import brief
from ...core.tags import EV, RT, TK

# Receivers whose every method call is ORM access (building a query counts, not only running it).
ORM_RECEIVERS = ("manager", "qs", "relmgr", "saquery")
# Unit-of-work control: the service's job, never a bypass. ``flush`` only sends the writes an
# ``add`` (already reported) staged; ``expunge`` only forgets an object.
UOW = ("commit", "rollback", "begin")
UOW_WRITES = ("session.flush()", "session.expunge()")


class RepositoryBypass(Rule):
    """
    ## What it does
    With a `layers` section in `mandu.yaml`, finds database access in a module of a layer above
    the repository — a route handler or an application service: a query or write (Django
    `Model.objects…`, related managers, `instance.save()`/`delete()`, SQLAlchemy
    `session.execute/scalars/get/add/delete…`, `Model.query…`, SQLModel `session.exec`, DB-API
    `cursor.execute`, asyncpg `fetch…`), or a query built on a model manager or queryset. The
    message names the layer and, when a repository function already reads or writes that model,
    the function to call instead.

    Primary location: the outermost database call of the expression (one finding per chain).

    ## Why is this bad?
    The layering Route Handler → Application Service → Repository → DB Adapter keeps every query
    of a model in one place: tenant filters, soft-delete predicates, eager loading and indexes
    are decided there once. A handler or service that queries on its own forks those decisions,
    and the copy is the one that misses the tenant filter or loads a relation per row.

    ## Known problems
    Off until `layers` is configured (most Django apps query from views on purpose). Transaction
    control in a service — `session.begin()`, `commit()`, `rollback()`, `flush()`,
    `transaction.atomic()` — is the unit-of-work boundary and is never reported, in any layer.
    Only receivers the typer resolves count: a session passed in without an annotation, or an
    object returned by an unknown library, is not reported. Calling a project function that
    queries (a repository method, a model method) is not a bypass; the query inside it is judged
    where it is written, and so is `list(qs)` over a queryset built elsewhere. A DRF view's
    `queryset = Model.objects.all()` in a handler module is reported like any other query built
    there (point it at a repository function, or `# noqa` it). Modules in no layer are
    unconstrained.

    ## Example
    ```python
    # app/api/orders.py  (layers.handler: ["app/api/**"])
    @router.get("/orders")
    def list_orders(user_id: int, session: SessionDep):
        return session.scalars(select(Order).where(Order.user_id == user_id)).all()
    ```

    ## Use instead
    ```python
    # app/api/orders.py
    @router.get("/orders")
    def list_orders(user_id: int, session: SessionDep):
        return OrderRepository(session).for_user(user_id)
    ```

    ## Fix safety
    No automatic fix: moving a query into a repository is a design change.
    """

    code = "MDB201"
    name = "repository-bypass"
    summary = "Database access in a handler or service module instead of the repository layer"
    precision = "high"
    tags = ("architecture", "layers")

    BAD = [
        {
            "mandu.yaml": """
layers:
  handler: ["app/api/**"]
  service: ["app/services/**"]
  repository: ["app/repositories/**"]
""",
            "app/models.py": """
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

class Base(DeclarativeBase):
    pass

class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int]
""",
            "app/repositories/orders.py": """
from sqlalchemy import select
from sqlalchemy.orm import Session
from app.models import Order

class OrderRepository:
    def __init__(self, session: Session):
        self.session = session

    def for_user(self, user_id: int):
        return self.session.scalars(select(Order).where(Order.user_id == user_id)).all()
""",
            "app/api/orders.py": """
from sqlalchemy import select
from sqlalchemy.orm import Session
from app.models import Order

def list_orders(user_id: int, session: Session):
    return session.scalars(select(Order).where(Order.user_id == user_id)).all()  # error
""",
            "app/services/orders.py": """
from sqlalchemy.orm import Session
from app.models import Order

def place(session: Session, user_id: int):
    with session.begin():
        session.add(Order(user_id=user_id))  # error
""",
        },
    ]
    GOOD = [
        {
            "mandu.yaml": """
layers:
  handler: ["app/api/**"]
  service: ["app/services/**"]
  repository: ["app/repositories/**"]
""",
            "app/models.py": """
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

class Base(DeclarativeBase):
    pass

class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
""",
            "app/repositories/orders.py": """
from sqlalchemy.orm import Session
from app.models import Order

class OrderRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, order: Order):
        self.session.add(order)
""",
            "app/services/orders.py": """
import requests
from sqlalchemy.orm import Session
from app.models import Order
from app.repositories.orders import OrderRepository

def place(session: Session):
    with session.begin():                      # the unit of work is the service's
        OrderRepository(session).add(Order())
    session.commit()
    requests.Session().get("https://example.com")  # not a database
""",
            "app/api/orders.py": """
from sqlalchemy.orm import Session
from app.services.orders import place

def create(session: Session):
    place(session)
    return Order(id=1)
""",
        },
        # without a layers section nothing is enforced
        {
            "shop/views.py": """
from django.db import models

class Book(models.Model):
    title = models.CharField(max_length=10)

def index(request):
    return list(Book.objects.filter(title="a"))
""",
        },
    ]

    def __init__(self, ctx):
        super().__init__(ctx)
        self.lmap = layer_map(ctx.project.settings)
        self.layer = self.lmap.layer_of(ctx.relpath) if self.lmap.configured else None
        self.active = self.layer in ABOVE_REPOSITORY  # off here: the engine skips it entirely
        self.covered = set()

    def visit_Call(self, node: ast.Call) -> None:
        if self.layer not in ABOVE_REPOSITORY or id(node) in self.covered:
            return
        found = self._access(node)
        if found is None:
            return
        kind, ref, key = found
        self._cover(node)
        self.report(node, self._message(node, kind, ref, key))

    def _access(self, node: ast.Call) -> Optional[Tuple[str, tuple, str]]:
        """("query"|"write"|"build", call ref, access key) for database access, else None."""
        ref, _t, ev = self.ctx.call_info(node)
        if ref is None or ref[0] != RT.CALL:
            return None
        callee = self.ctx.typer.type_of(ref[1])
        if ev is not None and ev[0] in UOW:
            return None
        if callee is not None and callee[0] == TK.EXT and callee[1].startswith("builtins."):
            return None  # ``list(qs)`` evaluates a query built elsewhere: the building is the bypass
        if ev is not None and ev[0] in (EV.QUERY, EV.WRITE, EV.STAGE):
            return None if ev[1] in UOW_WRITES else ("query" if ev[0] == EV.QUERY else "write", ref, access_key(ev))
        if callee is not None and callee[0] == TK.METHOD:
            base = callee[1]
            if base[0] in ORM_RECEIVERS or (base[0] == TK.SASESSION and callee[2] == "query"):
                return "build", ref, "query"
        return None

    def _cover(self, node: ast.AST) -> None:
        """The calls inside the reported chain (``Book.objects.filter(...)`` of ``….count()``)
        belong to this finding."""
        cur = node.func if isinstance(node, ast.Call) else node
        while True:
            if isinstance(cur, ast.Await):
                cur = cur.value
            elif isinstance(cur, ast.Call):
                self.covered.add(id(cur))
                cur = cur.func
            elif isinstance(cur, (ast.Attribute, ast.Subscript)):
                cur = cur.value
            else:
                return

    def _message(self, node: ast.Call, kind: str, ref, key: str) -> str:
        model = touched_model(self.ctx.typer, ref)
        m = self.ctx.index.models.get(model) if model else None
        target = f"`{m.name}`" if m else "the database"
        verb = {"query": "queries", "write": "writes to", "build": "builds a query on"}[kind]
        head = (f"`{brief(node)}` {verb} {target} directly in a {self.layer} module "
                f"(`layers.{self.layer}`)")
        why = ("handlers reach the database through services and repositories"
               if self.layer == "handler" else
               "services call repositories and keep only the transaction (begin/commit/rollback)")
        return f"{head}; {why} — {self._instead(m, key)}"

    def _instead(self, model, key: str) -> str:
        """Name the repository functions that already access this model the same way."""
        if model is not None and self.lmap.has("repository"):
            names = repository_methods(self.ctx.index, self.lmap).get((model.qual, key), [])
            shown = ", ".join(f"`{short_name(self.ctx.index, q)}`" for q in names[:3])
            if names and key == "query":
                return f"the repository already reads `{model.name}` in {shown}: call or extend it"
            if names:
                return f"the repository already does `{key[6:]}` on `{model.name}` in {shown}: call it instead"
        return "move it into a repository method"
