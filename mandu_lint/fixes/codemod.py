"""mandu-lint's fixes as a libcst codemod command (:class:`ApplyFixes`), for pipelines that
already run codemods; the edits themselves come from ``apply.py`` and ``splice.py``.

Imports libcst at the top: only the fix path imports this module.
"""
from __future__ import annotations

from typing import List, Optional

import libcst as cst
from libcst.codemod import CodemodCommand, CodemodContext, SkipFile


def _codes(value: str) -> List[str]:
    return [c.strip().upper() for c in value.split(",") if c.strip()]


class ApplyFixes(CodemodCommand):
    """mandu-lint's fixes as a libcst codemod, for pipelines that already run codemods.

    Invocation (``-x`` takes ``module.Class``; ``--no-format`` because libcst otherwise pipes
    every changed file through ``black``, which would reformat lines no fix touched)::

        python -m libcst.tool codemod -x mandu_lint.fixes.codemod.ApplyFixes --no-format \\
            [--unsafe-fixes] [--select MDB301,...] PATH...

    Name the command right after ``codemod``/``-x``: libcst first parses the command line
    without knowing the command's options, and would take a value such as ``-j 1``'s ``1``
    for the command name. Without ``-x``, a ``.libcst.codemod.yaml`` holding
    ``modules: [mandu_lint.fixes]`` makes ``codemod.ApplyFixes`` name it. Each file is checked
    with its real project (its ``mandu.yaml``, its index) and fixed as ``mandu-lint fix``
    would fix it.
    """

    DESCRIPTION = "Apply mandu-lint's safe fixes (and unsafe ones with --unsafe-fixes)."

    @staticmethod
    def add_args(arg_parser) -> None:
        arg_parser.add_argument("--unsafe-fixes", dest="unsafe_fixes", action="store_true",
                                help="also apply fixes labelled unsafe")
        arg_parser.add_argument("--select", dest="select", type=_codes, default=None,
                                help="rules to fix (codes or prefixes), replacing the config's select")

    def __init__(self, context: CodemodContext, unsafe_fixes: bool = False,
                 select: Optional[List[str]] = None) -> None:
        super().__init__(context)
        self.unsafe_fixes = unsafe_fixes
        self.select = select
        self.projects: dict = {}  # (root, config) -> (Project, Selection), loaded once

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        from ..runner import CheckOptions
        from .apply import fix_source

        if not self.context.filename:
            raise SkipFile("mandu-lint needs the file's path to find its project")
        opts = CheckOptions(select=self.select)
        source = tree.code
        new = fix_source(self.context.filename, source, opts, unsafe=self.unsafe_fixes, encoding=tree.encoding,
                         projects=self.projects)
        if new == source:
            return tree
        return cst.parse_module(new).with_changes(encoding=tree.encoding)
