"""MDB202: an import that crosses the configured layers the wrong way."""
from __future__ import annotations

import ast
from typing import Dict, List, Optional, Set, Tuple

from .analysis import layer_map, module_layer
from ..base import Rule

# Packages that are the ORM or a driver: a handler never needs them at run time.
DB_PACKAGES = ("sqlalchemy", "sqlmodel", "flask_sqlalchemy", "django.db", "sqlite3", "psycopg", "psycopg2",
               "psycopg_pool", "asyncpg", "aiosqlite", "pymysql", "MySQLdb", "mysql.connector", "aiomysql",
               "databases", "peewee", "tortoise", "pony.orm")
# Parts of the ORM that are not data access: the request's transaction boundary and events.
NOT_DATA_ACCESS = ("django.db.transaction", "django.db.models.signals", "sqlalchemy.event")
_EXCEPTION_SUFFIXES = ("Error", "Exception", "Warning", "DoesNotExist")
_EXCEPTION_MODULES = ("exc", "exceptions", "errors", "errorcodes")


class LayerImport(Rule):
    """
    ## What it does
    With a `layers` section in `mandu.yaml`, finds imports that cross the layers the wrong way:
    a handler module importing the ORM or a database driver (`sqlalchemy`, `sqlmodel`,
    `django.db`, `sqlite3`, `psycopg`, `asyncpg`…); any layered module importing a module of a
    layer above it; with `allow-skip: false`, a module importing past the layer right below it;
    and a module importing a private (`_name`) repository or adapter module or name from another
    layer.

    Primary location: the import statement.

    ## Why is this bad?
    Layers only hold when dependencies point one way. A handler that imports the ORM will soon
    query with it (MDB201 then reports each call); a repository that imports a service creates a
    cycle that makes both untestable in isolation. import-linter sees the same imports; this rule
    reports them in the editor, next to the call-level checks, from the same config.

    ## Known problems
    Off until `layers` is configured. Imports under `if TYPE_CHECKING:` and imported names used
    only in annotations (`session: Session`, the first argument of `Annotated[...]`) do not
    count; exception classes (`IntegrityError`, `NoResultFound`) may be imported anywhere, since
    handlers translate them to HTTP errors, and so may `django.db.transaction` (a request-wide
    transaction boundary) and signal/event modules, which are not data access.
    A name imported and never used (a re-export) does
    not count either. Modules in no layer are unconstrained, and may import anything.

    ## Example
    ```python
    # app/api/orders.py  (layers.handler)
    from sqlalchemy import select
    from app.models import Order

    def recent(session):
        return session.scalars(select(Order).limit(10)).all()
    ```

    ## Use instead
    ```python
    # app/api/orders.py
    from app.services.orders import recent_orders

    def recent(session):
        return recent_orders(session)
    ```

    ## Fix safety
    No automatic fix: the code that uses the import has to move to another layer.
    """

    code = "MDB202"
    name = "layer-import"
    summary = "Import that crosses the configured layers the wrong way"
    precision = "high"
    tags = ("architecture", "layers")

    BAD = [
        {
            "mandu.yaml": """
layers:
  handler: ["app/api/**"]
  service: ["app/services/**"]
  repository: ["app/repositories/**"]
  allow-skip: false
""",
            "app/api/orders.py": """
from sqlalchemy import select  # error
from app.repositories.orders import OrderRepository  # error

def recent(session):
    return OrderRepository(session).list(select)
""",
            "app/repositories/orders.py": """
from app.services import orders as order_service  # error

class OrderRepository:
    def __init__(self, session):
        self.session = session

    def list(self, q):
        order_service.touch()
""",
            "app/services/orders.py": """
def touch():
    pass
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
            "app/api/orders.py": """
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends
from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session
from app.services.orders import recent_orders
from app.repositories.orders import OrderRepository  # allow-skip defaults to true

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

def get_session():
    ...

SessionDep = Annotated[Session, Depends(get_session)]

def recent(session: SessionDep, engine: "Engine") -> list:
    try:
        return recent_orders(session)
    except NoResultFound:
        return OrderRepository(session).empty()
""",
            "app/services/orders.py": """
from sqlalchemy import select
from app.repositories.orders import OrderRepository

def recent_orders(session):
    return OrderRepository(session).list(select)
""",
            "app/repositories/orders.py": """
class OrderRepository:
    def __init__(self, session):
        self.session = session
""",
        },
    ]

    def __init__(self, ctx):
        super().__init__(ctx)
        self.lmap = layer_map(ctx.project.settings)
        self.layer = self.lmap.layer_of(ctx.relpath) if self.lmap.configured else None
        self.active = self.layer is not None  # off here: the engine skips it entirely
        self.type_only: Set[int] = set()  # imports under `if TYPE_CHECKING:`
        self.in_annotation: Set[int] = set()  # Name nodes inside annotations
        self.used: Set[str] = set()  # names loaded outside annotations
        self.imports: List[Tuple[ast.stmt, List[Tuple[str, str, str]]]] = []

    # -- collecting -------------------------------------------------------------------------
    def visit_If(self, node: ast.If) -> None:
        if self.layer is not None and _is_type_checking(node.test):
            for stmt in node.body:
                for sub in ast.walk(stmt):
                    if isinstance(sub, (ast.Import, ast.ImportFrom)):
                        self.type_only.add(id(sub))

    def visit_Import(self, node: ast.Import) -> None:
        if self.layer is not None and id(node) not in self.type_only:
            self.imports.append((node, [(a.asname or a.name.split(".")[0], a.name, "") for a in node.names]))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if self.layer is None or id(node) in self.type_only:
            return
        base = self.ctx.names.absolute(node.level, node.module)
        self.imports.append((node, [(a.asname or a.name, base, a.name) for a in node.names if a.name != "*"]))

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._annotation(node.annotation)

    def visit_FunctionDef(self, node) -> None:
        """The engine does not walk signatures: read them here. ``Depends(...)`` inside
        ``Annotated[...]`` runs at request time, so its names are runtime uses."""
        if self.layer is None:
            return
        args = node.args
        for a in args.posonlyargs + args.args + args.kwonlyargs + [x for x in (args.vararg, args.kwarg) if x]:
            if a.annotation is not None:
                self._runtime_in_annotation(a.annotation)
        if node.returns is not None:
            self._runtime_in_annotation(node.returns)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if _head(node) == "Annotated":  # a type alias: its first argument is a type
            self._annotation(_args(node)[0])

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load) and id(node) not in self.in_annotation:
            self.used.add(node.id)

    def _annotation(self, ann: ast.AST) -> None:
        meta = set()
        for sub in ast.walk(ann):
            if isinstance(sub, ast.Subscript) and _head(sub) == "Annotated":
                meta.update(id(n) for extra in _args(sub)[1:] for n in ast.walk(extra))
        self.in_annotation.update(id(n) for n in ast.walk(ann) if isinstance(n, ast.Name) and id(n) not in meta)

    def _runtime_in_annotation(self, ann: ast.AST) -> None:
        for sub in ast.walk(ann):
            if isinstance(sub, ast.Subscript) and _head(sub) == "Annotated":
                for extra in _args(sub)[1:]:
                    self.used.update(n.id for n in ast.walk(extra) if isinstance(n, ast.Name))

    # -- deciding ---------------------------------------------------------------------------
    def finish(self) -> None:
        for node, aliases in self.imports:
            problems: Dict[str, List[str]] = {}
            for local, module, name in aliases:
                if local not in self.used:
                    continue
                why = self._problem(module, name)
                if why is not None:
                    problems.setdefault(why, []).append(f"{module}.{name}" if name else module)
            for why, names in problems.items():
                shown = ", ".join(f"`{n}`" for n in names)
                self.report(node, f"{self.layer} module imports {shown}: {why}")

    def _problem(self, module: str, name: str) -> Optional[str]:
        target = f"{module}.{name}" if name else module
        if self.layer == "handler" and _is_db_package(target) and not _is_exception(module, name) \
                and not _is_db_package(target, NOT_DATA_ACCESS):
            return "the ORM or a database driver; handlers reach the database through services and repositories"
        index = self.ctx.index
        sub = target if target in index.module_rel else module
        layer, rel = module_layer(index, self.lmap, sub)
        if layer is None or rel == self.ctx.relpath:
            return None
        depth = self.lmap.below(self.layer, layer)
        if depth < 0:
            return f"the {layer} layer is above the {self.layer} layer, and layers import only downward"
        if depth > 1 and not self.lmap.allow_skip:
            return (f"it skips from the {self.layer} layer to the {layer} layer "
                    f"(`layers.allow-skip: false`); go through the layer in between")
        if layer != self.layer and layer in ("repository", "adapter") and _private(target, rel):
            return f"a private part of the {layer} layer; use its public interface"
        return None


def _is_type_checking(test: ast.AST) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _head(node: ast.Subscript) -> str:
    v = node.value
    return v.attr if isinstance(v, ast.Attribute) else getattr(v, "id", "")


def _args(node: ast.Subscript) -> list:
    return list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]


def _is_db_package(module: str, packages=DB_PACKAGES) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _is_exception(module: str, name: str) -> bool:
    """Exception classes, or the module holding them (``sqlalchemy.exc``, ``psycopg.errors``)."""
    if module.rsplit(".", 1)[-1] in _EXCEPTION_MODULES:
        return True
    return name.endswith(_EXCEPTION_SUFFIXES) or name in _EXCEPTION_MODULES


def _private(target: str, rel: str) -> bool:
    parts = target.split(".") + rel[:-3].split("/")
    return any(p.startswith("_") and not p.startswith("__") for p in parts)
