"""MDB103: raw SQL reading or writing a tenant table without the tenant column in a condition."""
from __future__ import annotations

import ast

from .sql import RAW_SQL, TEXT_FUNCS, literal_sql, unscoped_tables
from ...core.refs import dotted
from .base import TenantRule
from .mdb101_unscoped_query import CONFIG, MODELS
from ...core.tags import EV, TK
from ...project.contexts import REQUEST

DRIVERS = ("cursor", "dbconn", "pool", "saconn", "sasession", "saengine")


class UnscopedRawSql(TenantRule):
    """
    ## What it does
    Finds raw SQL that reads or writes a tenant-scoped table without comparing its tenant
    column with a value in a `WHERE`, `JOIN … ON` or `HAVING` condition: SQL run by
    `cursor.execute`, a connection's or pool's `execute`/`fetch`/`fetchrow`/`fetchval`
    (sqlite3, psycopg, asyncpg, Django's `connection`), Django `Model.objects.raw()` and
    `RawSQL(...)`, SQLAlchemy `text(...)` and `session.execute`/`connection.execute`.
    A table is scoped when its model is (see MDB101); its name is the model's `db_table` /
    `__tablename__`, or the ORM's default (`applabel_modelname` for Django, the class name for
    SQLAlchemy). The tenant columns are the foreign keys on its tenant paths
    (`workspace_id`, `project_id`), and a condition on a joined root table also counts.

    Primary location: the call that holds the SQL string (`execute(...)`, `text(...)`, `raw(...)`).

    ## Why is this bad?
    Raw SQL bypasses every ORM-level safeguard (tenant managers, scoped querysets). A report or
    maintenance query written against the whole table returns or changes every customer's rows.

    ## Known problems
    The SQL is parsed with sqlglot (PostgreSQL, then MySQL, then SQLite syntax); SQL that does
    not parse, or that is built at run time (f-strings, `%`/`format` templating, concatenation of
    unknown parts), is skipped. `INSERT … VALUES` is not checked (it writes the rows it names).
    A statement keyed by `id = %s` in a plain function (not a request handler) is its caller's
    responsibility, as in MDB104.
    A join between two columns (`ON p.id = t.project_id`) pins nothing; one tenant predicate
    anywhere in the statement is accepted for all its tables. Schema-per-tenant setups are out
    of scope.

    ## Example
    ```python
    def overdue(cursor):
        cursor.execute("SELECT id, title FROM app_task WHERE done = false")
        return cursor.fetchall()
    ```

    ## Use instead
    ```python
    def overdue(cursor, project_id):
        cursor.execute("SELECT id, title FROM app_task WHERE done = false AND project_id = %s",
                       [project_id])
        return cursor.fetchall()
    ```

    ## Fix safety
    No automatic fix: adding a predicate to SQL also means adding a parameter.
    """

    code = "MDB103"
    name = "unscoped-tenant-raw-sql"
    summary = "Raw SQL on a tenant-scoped table without the tenant column in its conditions"
    security_severity = 7.5
    precision = "high"
    high_in = frozenset({REQUEST})
    level = "error"

    BAD = [
        {
            "mandu.yaml": CONFIG,
            "app/models.py": MODELS,
            "app/reports.py": """
from django.db import connection
from app.models import Task

def overdue():
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, title FROM app_task WHERE done = false")  # error
        return cursor.fetchall()

def raw_titles():
    return list(Task.objects.raw("SELECT * FROM app_task t JOIN app_project p ON p.id = t.project_id"))  # error
""",
        },
        {
            "mandu.yaml": "tenant:\n  models: [Organization]\n",
            "app/db.py": """
from sqlalchemy import ForeignKey, text
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

def total(session: Session):
    return session.execute(text("SELECT sum(amount) FROM invoices")).scalar()  # error
""",
        },
    ]
    GOOD = [
        {
            "mandu.yaml": CONFIG,
            "app/models.py": MODELS,
            "app/reports.py": """
from django.db import connection

def scoped(project_id, workspace_id, table):
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM app_task WHERE project_id = %s", [project_id])
        cursor.execute(
            "SELECT t.id FROM app_task t JOIN app_project p ON p.id = t.project_id "
            "WHERE p.workspace_id = %s", [workspace_id])
        cursor.execute("INSERT INTO app_task (title, project_id) VALUES (%s, %s)", ["a", project_id])
        cursor.execute(f"SELECT * FROM {table}")          # built at run time: skipped
        cursor.execute("SELECT slug FROM app_workspace")  # the tenant table itself
        cursor.execute("this is not SQL ((")
""",
        },
    ]

    def visit_Call(self, node: ast.Call) -> None:
        if self.tenant is None:
            return
        sql_node = self._sql_argument(node)
        sql = literal_sql(self.ctx, sql_node)
        if not sql:
            return
        kind, tables, by_id = unscoped_tables(sql, self.tenant.spec)
        if not tables or (by_id and self.resolver().access.trusted_id(node, None, sql_node)):
            return  # ``WHERE id = %s`` in a plain function: its caller decides, as in MDB104
        spec = self.tenant.spec
        cols = sorted({c for t in tables for c in spec.tables[t].columns})
        names = ", ".join(f"`{t}`" for t in tables)
        self.report(node, f"raw SQL {kind} on tenant table{'s' if len(tables) > 1 else ''} {names} has no tenant "
                          f"predicate: compare {' or '.join(f'`{c}`' for c in cols[:3])} with the tenant in its "
                          f"WHERE/ON condition")

    def _sql_argument(self, node: ast.Call):
        ctx = self.ctx
        if not node.args:
            return None
        f = node.func
        d = dotted(ctx.ref(f)) if ctx.ref(f) is not None else None
        name = ctx.index.canonical(d) if d else ""
        if name in TEXT_FUNCS or name in RAW_SQL:
            return node.args[0]
        if isinstance(f, ast.Attribute):
            t = ctx.type_of(f.value)
            if t is None:
                return None
            if f.attr == "raw" and t[0] in (TK.MANAGER, TK.QS):
                return node.args[0]
            _ref, _t, ev = ctx.call_info(node)
            if t[0] in DRIVERS and ev is not None and ev[0] == EV.QUERY:
                return node.args[0]
        return None
