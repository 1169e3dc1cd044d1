"""What the tenant-scope rules (MDB101–MDB105) share: the per-file tenant state, the enclosing
function, one finding per query origin, and the wording of messages and fixes.

They are silent unless ``tenant.models`` is configured, and in files matched by
``tenant.system`` (admin, management commands, scheduled jobs: cross-tenant on purpose).
"""
from __future__ import annotations

import ast
from typing import Optional

from .spec import django_path
from .evaluation import Evaluation, called_only_from_system, tenant_file
from .fix import build_fix
from ..base import Rule
from ...core.messages import brief


class TenantRule(Rule):
    security = True
    tags = ("security", "tenant-isolation")

    def __init__(self, ctx):
        super().__init__(ctx)
        self.tenant = tenant_file(ctx)
        self.active = self.tenant is not None  # off here: the engine skips it entirely
        schema = ctx.memo.get("tenant.schema_per_tenant")
        if schema:
            from ...model import Notice

            self.notices.append(Notice(str(ctx.project.root), f"tenant: `{schema}` derives from a schema-per-tenant "
                                       "package's TenantMixin (django-tenants): every query runs in the current "
                                       "tenant's schema, so the row-level tenant rules (MDB101-MDB105) are off"))
        self._origins: set = set()
        if self.high_in is not None:  # ``tenant.judge`` widens the contexts judged at ``high``
            judged = ctx.project.settings.section("tenant").judge
            if judged:
                self.high_in = frozenset(judged)

    @classmethod
    def confidence_doc(cls) -> str:
        doc = super().confidence_doc()
        if cls.high_in is not None and cls.precision == "high":
            doc += ("; `tenant.judge` (any of request, admin, command, task, signal; default request) "
                    "sets the contexts judged at `high`")
        return doc

    # -- the enclosing function (kept by the engine) -------------------------------------------------
    @property
    def fn(self) -> Optional[ast.AST]:
        return self.ctx.function

    @property
    def cls(self) -> Optional[ast.ClassDef]:
        """The class the current function is a method of."""
        return self.ctx.method_of

    def resolver(self):
        return self.tenant.resolver(self.fn, self.cls)

    # -- judging --------------------------------------------------------------------------------------
    # -- where rows are read or changed -------------------------------------------------------------
    ACTION = ""  # "read" or "write": the evaluations the rule reports through ``judge``

    def visit_Call(self, node: ast.Call) -> None:
        self.judge(node)

    def visit_For(self, node) -> None:
        self.judge(node.iter, iterated=True)

    visit_AsyncFor = visit_For

    def visit_ListComp(self, node) -> None:
        self.judge(node.generators[0].iter, iterated=True)

    visit_SetComp = visit_GeneratorExp = visit_DictComp = visit_ListComp

    def visit_comprehension(self, node: ast.comprehension) -> None:
        self.judge(node.iter, iterated=True)  # the walker hands over only the inner generators

    def judge(self, node: ast.AST, iterated: bool = False) -> None:
        if not self.ACTION:
            return
        ev = self.unscoped(node, iterated)
        if ev is not None and called_only_from_system(self.ctx):
            return
        if ev is None or ev.action != self.ACTION or not self.wants(ev) or not self.first_for_origin(ev):
            return
        self.report_unscoped(ev, self.message(ev))

    def wants(self, ev: Evaluation) -> bool:
        return True

    def message(self, ev: Evaluation) -> str:  # pragma: no cover - each judging rule words its own
        raise NotImplementedError

    def unscoped(self, node: ast.AST, iterated: bool = False) -> Optional[Evaluation]:
        if self.tenant is None:
            return None
        return self.tenant.unscoped(node, self.fn, self.cls, iterated)

    def first_for_origin(self, ev: Evaluation) -> bool:
        """One finding per query: ``qs = Task.objects.all()`` read twice is one leak."""
        keys = {id(o) for o in ev.query.origins}
        if keys and keys <= self._origins:
            return False
        self._origins |= keys
        return True

    def report_unscoped(self, ev: Evaluation, message: str, confidence: str = "high") -> None:
        fix = build_fix(self.ctx, self.tenant.spec, ev.query, self.resolver())
        self.report(ev.node, message, fix=fix, confidence=confidence)

    # -- wording --------------------------------------------------------------------------------------
    def model_name(self, ev: Evaluation) -> str:
        return self.tenant.spec.models[ev.query.model].name

    def scoped_by(self, ev: Evaluation) -> str:
        sm = self.tenant.spec.models[ev.query.model]
        if sm.orm == "django" and django_path(sm):
            return f"`{django_path(sm)}`"
        edge = sm.direct or (sm.paths[0][0] if sm.paths else None)
        return f"`{edge.name}`" if edge is not None else ", ".join(f"`{k}`" for k in sorted(sm.keys)[:2])

    def hint(self, ev: Evaluation) -> str:
        sm = self.tenant.spec.models[ev.query.model]
        path = django_path(sm)
        if ev.query.orm == "django" and path:
            return f"`.filter({path}=…)`"
        edge = sm.direct
        if edge is not None:
            return f"`.where({sm.name}.{edge.name} == …)`"
        return "a tenant predicate"

    def origin_note(self, ev: Evaluation) -> str:
        """Where the query started, when that is not at the reported node."""
        lines = sorted({o.lineno for o in ev.query.origins if not _inside(o, ev.node)})
        return f" (the query starts on line {lines[0]})" if lines else ""


def _inside(inner: ast.AST, outer: ast.AST) -> bool:
    return (outer.lineno, outer.col_offset) <= (inner.lineno, inner.col_offset) and \
        (inner.end_lineno, inner.end_col_offset) <= (outer.end_lineno, outer.end_col_offset)


def describe(node: ast.AST, iterated: bool = False) -> str:
    return f"iterating `{brief(node)}`" if iterated else f"`{brief(node)}`"
