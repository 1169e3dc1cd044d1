"""MDBnnn: <one line: the bad pattern, as the rule's name says it>.

Copy this file to ``mandu_lint/rules/<family>/mdbNNN_<name>.py`` and follow
``docs/writing-rules.md``. Everything a rule is lives in its class: the docstring is its reference
page, ``BAD``/``GOOD`` are examples the tests run, ``visit_*`` methods receive nodes from the
engine's single walk.
"""
from __future__ import annotations

import ast

from ...core.messages import brief
from ...core.tags import TK
from ...model import Edit, Fix, FixSafety
from ..base import Rule


class TemplateRule(Rule):
    """
    ## What it does
    <What the rule finds, in terms of harm, not code shape.>

    Primary location: <the node the user must change>.

    ## Why is this bad?
    <What goes wrong in production.>

    ## Known problems
    <What it misses, what it may report wrongly, which contexts it judges.>

    ## Example
    ```python
    <bad code>
    ```

    ## Use instead
    ```python
    <good code>
    ```

    ## Fix safety
    <Safe, unsafe or none, and why.>
    """

    code = "MDB999"
    name = "template-rule"
    summary = "<Sentence-case summary>"
    default = False  # opt-in until measured on real apps (docs/realworld.md)
    precision = "medium"
    tags = ("performance",)
    fixable = True
    BAD = ["""<project source; end each line that must be reported with>  # error"""]
    GOOD = ["""<source that must stay silent>"""]

    def visit_Call(self, node: ast.Call) -> None:
        t = self.ctx.type_of(node.func.value) if isinstance(node.func, ast.Attribute) else None
        if t is None or t[0] != TK.QS:  # unknown means silent
            return
        fix = Fix(FixSafety.SAFE, "describe the edit", (Edit(self.ctx.span(node), "new text"),))
        self.report(node, f"`{brief(node)}` <harm>; <what to do instead>", fix=fix)
