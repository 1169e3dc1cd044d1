"""Test-only rules with fixes, so that the fix engine can be tested before real rules offer
fixes. They are opt-in (``default = False``) and registered only while a test needs them
(:func:`registered`), so no other test or run ever sees them.

- MDB990 ``legacy_call(x)`` -> ``modern_call(x)`` + ``from mylib import modern_call`` (safe)
- MDB991 ``risky(x)`` -> ``safe_version(x)`` (unsafe)
- MDB992 ``bad(x)`` -> ``legacy_call(x)``: a safe fix that creates an MDB990 finding
- MDB993 ``shown(x)`` -> ``hidden(x)`` (display: shown, never applied)
- MDB994 ``old_stmt(x)`` as a statement -> ``with ctx():`` block (a statement edit)
"""
from __future__ import annotations

import ast
import contextlib

from mandu_lint.model import Edit, Fix, FixSafety
from mandu_lint.registry import register, unregister
from mandu_lint.rules.base import Rule


def _args(rule: Rule, node: ast.Call) -> str:
    return ", ".join(ast.get_source_segment(rule.ctx.source, a) or "" for a in node.args)


class _CallRule(Rule):
    """Flags calls of ``FUNC`` and offers ``NEW(args)`` in their place."""

    default = False
    fixable = True
    FUNC = ""
    NEW = ""
    SAFETY = FixSafety.SAFE
    IMPORTS: tuple = ()

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id == self.FUNC:
            text = f"{self.NEW}({_args(self, node)})"
            fix = Fix(self.SAFETY, f"use {self.NEW}", (Edit(self.ctx.span(node), text),), self.IMPORTS)
            self.report(node, f"`{self.FUNC}` is deprecated", fix=fix)


class TestFixRule(_CallRule):
    """Test rule: ``legacy_call`` with a safe fix that needs an import."""

    __test__ = False  # not a pytest class
    code, name, summary = "MDB990", "legacy-call", "legacy_call is deprecated"
    FUNC, NEW, IMPORTS = "legacy_call", "modern_call", (("mylib", "modern_call"),)


class UnsafeFixRule(_CallRule):
    code, name, summary = "MDB991", "risky-call", "risky is risky"
    FUNC, NEW, SAFETY = "risky", "safe_version", FixSafety.UNSAFE


class BackfireRule(_CallRule):
    code, name, summary = "MDB992", "bad-call", "bad is bad"
    FUNC, NEW = "bad", "legacy_call"


class DisplayRule(_CallRule):
    code, name, summary = "MDB993", "shown-call", "shown is shown"
    FUNC, NEW, SAFETY = "shown", "hidden", FixSafety.DISPLAY


class StatementRule(Rule):
    """``old_stmt(x)`` as a statement becomes ``with ctx():`` around ``new_stmt(x)``."""

    code, name, summary = "MDB994", "old-stmt", "old_stmt needs a context"
    default = False
    fixable = True

    def visit_Expr(self, node: ast.Expr) -> None:
        call = node.value
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "old_stmt":
            text = f"with ctx():\n    new_stmt({_args(self, call)})\n"
            fix = Fix(FixSafety.SAFE, "wrap", (Edit(self.ctx.span(node), text),), (("mylib", "ctx"),))
            self.report(node, "old_stmt outside a context", fix=fix)


ALL = (TestFixRule, UnsafeFixRule, BackfireRule, DisplayRule, StatementRule)
CODES = [r.code for r in ALL]


@contextlib.contextmanager
def registered():
    for rule in ALL:
        register(rule)
    try:
        yield
    finally:
        for rule in ALL:
            unregister(rule)
