"""Shared plumbing of the transaction rules (MDB401–MDB408): which function the walk is in, and
its :class:`~mandu_lint.rules.transactions.flow.FlowView`, built at the first call the walk meets inside
the function (when the engine's scope is that function's) and checked when the walk leaves it.
"""
from __future__ import annotations

import ast
from typing import List, Optional

from .flow import FlowView, view_for
from ..base import Rule


class TxRule(Rule):
    """Subclasses implement :meth:`check_function`; they may also use :meth:`view` while the
    walk is inside a function."""

    def __init__(self, ctx):
        super().__init__(ctx)
        self._funcs: List[list] = []  # [node, qual, class qual, view]

    def visit_FunctionDef(self, node) -> None:
        qual = ".".join(self.ctx.qual + [node.name])
        self._funcs.append([node, qual, self.ctx.class_stack[-1], None])

    visit_AsyncFunctionDef = visit_FunctionDef

    def leave_FunctionDef(self, node) -> None:
        frame = self._funcs.pop()
        if frame[3] is not None:
            self.check_function(frame[3])

    leave_AsyncFunctionDef = leave_FunctionDef

    def visit_Call(self, node: ast.Call) -> None:
        self.view()

    def view(self) -> Optional[FlowView]:
        if not self._funcs:
            return None
        frame = self._funcs[-1]
        if frame[3] is None and self.ctx.scope.func == frame[1]:
            frame[3] = view_for(self.ctx, frame[0], frame[1], frame[2])
        return frame[3]

    def check_function(self, view: FlowView) -> None:
        """Called once per function that holds at least one call."""
