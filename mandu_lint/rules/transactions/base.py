"""Shared plumbing of the transaction rules (MDB401–MDB408): which function the walk is in, and
its :class:`~mandu_lint.rules.transactions.flow.FlowView`, built at the first call the walk meets inside
the function (when the engine's scope is that function's) and checked when the walk leaves it.
"""
from __future__ import annotations

import ast
from typing import Optional

from .flow import FlowView, view_for, view_key
from ...project.contexts import contexts
from ..base import Rule


class TxRule(Rule):
    """Subclasses implement :meth:`check_function`; they may also use :meth:`view` while the
    walk is inside a function. The enclosing function comes from the engine (``ctx.function``);
    the views are shared by every transaction rule through the file's memo."""

    def leave_FunctionDef(self, node) -> None:
        view = self.ctx.memo.get(view_key(node))
        if view is not None:
            self._checking = view
            try:
                self.check_function(view)
            finally:
                self._checking = None

    def reporting_contexts(self) -> frozenset:
        """Findings are reported after the walk left the function: ``high_in`` and ``quiet_in``
        judge the contexts of the function being checked, not of where the walk is."""
        view = getattr(self, "_checking", None)
        return contexts(self.ctx.index).of(view.qual) if view is not None else super().reporting_contexts()

    leave_AsyncFunctionDef = leave_FunctionDef

    def visit_Call(self, node: ast.Call) -> None:
        self.view()

    def view(self) -> Optional[FlowView]:
        """The view of the innermost enclosing function, built at the first call met in its own
        scope (not in a nested lambda or class body)."""
        fn = self.ctx.function
        if fn is None:
            return None
        hit = self.ctx.memo.get(view_key(fn))
        if hit is None and self.ctx.scope.func == self.ctx.scope_name:
            hit = view_for(self.ctx, fn, self.ctx.scope_name, self.ctx.class_stack[-2])
        return hit

    def check_function(self, view: FlowView) -> None:
        """Called once per function that holds at least one call."""
