"""The libcst side of fixing: splice edit texts into a concrete syntax tree.

libcst keeps every byte it was not asked to change (comments, blank lines, quotes, newline
style), which a text splice cannot promise once edits nest or need imports. This module
imports libcst at the top, so only the fix path (``mandu_lint.fixes.apply``) may import it;
a check run never does.
"""
from __future__ import annotations

import re
from typing import Dict, Optional, Sequence, Tuple

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider

_NEWLINE = re.compile(r"\r\n|\r|\n")
# Expressions that bind looser than an operand: spliced bare into `a * _` they would change
# the meaning, so they get parentheses unless their parent is a place that never needs them.
_LOOSE = (cst.BinaryOperation, cst.BooleanOperation, cst.UnaryOperation, cst.Comparison, cst.IfExp,
          cst.Lambda, cst.Await)
_LOOSE_OK = (cst.Expr, cst.Assign, cst.AnnAssign, cst.AugAssign, cst.Return, cst.Arg, cst.Element,
             cst.DictElement, cst.Index)
_TUPLE_OK = (cst.Expr, cst.Assign, cst.AnnAssign, cst.AugAssign, cst.Return)


class _Offsets:
    """(line, column) -> character offset, so that ranges can be widened over parentheses."""

    def __init__(self, source: str):
        self.starts = [0] + [m.end() for m in _NEWLINE.finditer(source)]

    def __call__(self, line: int, col: int) -> int:
        return self.starts[line - 1] + col if 0 < line <= len(self.starts) else -1


def _ranges(module: cst.Module, positions, offsets: _Offsets) -> Dict[Tuple[int, int], list]:
    """Offset range -> [(node, k)]: the node's range inside its parentheses (k=0) and widened
    over its k innermost pairs (``ast`` counts a tuple's own parentheses, libcst never does)."""
    out: Dict[Tuple[int, int], list] = {}
    for node, rng in positions.items():
        start, end = offsets(rng.start.line, rng.start.column), offsets(rng.end.line, rng.end.column)
        out.setdefault((start, end), []).append((node, 0))
        if not isinstance(node, cst.BaseExpression):
            continue
        lpar, rpar = node.lpar, node.rpar
        for k in range(1, min(len(lpar), len(rpar)) + 1):
            # the parentheses' own positions: ``code_for_node`` drops the block's indentation
            # from a parenthesis followed by a line break, so lengths would be off there
            lp, rp = positions.get(lpar[len(lpar) - k]), positions.get(rpar[k - 1])
            if lp is not None and rp is not None:
                out.setdefault((offsets(lp.start.line, lp.start.column), offsets(rp.end.line, rp.end.column)),
                               []).append((node, k))
                continue
            left = sum(len(module.code_for_node(p)) for p in lpar[len(lpar) - k:])
            right = sum(len(module.code_for_node(p)) for p in rpar[:k])
            out.setdefault((start - left, end + right), []).append((node, k))
    return out


def _parse(text: str, module: cst.Module, kind: str):
    """The module's config makes the snippet's newlines and indents the file's own."""
    try:
        if kind == "expr":
            return cst.parse_expression(text, config=module.config_for_parsing)
        return cst.parse_statement(text, config=module.config_for_parsing)
    except Exception:  # not that kind of code (libcst raises ParserSyntaxError and others)
        return None


def _expr_rep(node, k: int, new, parent):
    """Keep the original's outer parentheses (those the edit span did not cover)."""
    keep = len(node.lpar) - k
    lpar, rpar = list(node.lpar[:keep]) + list(new.lpar), list(new.rpar) + list(node.rpar[k:])
    if not lpar and _needs_parens(new, parent):
        lpar, rpar = [cst.LeftParen()], [cst.RightParen()]
    return new.with_changes(lpar=lpar, rpar=rpar)


def _needs_parens(new, parent) -> bool:
    if isinstance(new, (cst.NamedExpr, cst.Yield)):
        return True
    if isinstance(new, cst.Tuple):
        return not isinstance(parent, _TUPLE_OK)
    return isinstance(new, _LOOSE) and not isinstance(parent, _LOOSE_OK)


def _stmt_rep(node, new):
    """Keep the statement's leading blank lines and comments, and its end-of-line comment."""
    if isinstance(node, cst.BaseSmallStatement):  # one of several statements on a line
        if isinstance(new, cst.SimpleStatementLine) and len(new.body) == 1:
            return new.body[0].with_changes(semicolon=node.semicolon)
        return None
    leading = list(node.leading_lines)
    if isinstance(node, cst.SimpleStatementLine):
        if isinstance(new, cst.SimpleStatementLine):
            return new.with_changes(leading_lines=leading, trailing_whitespace=node.trailing_whitespace)
        if node.trailing_whitespace.comment is not None:  # no end of line left: keep it above
            leading.append(cst.EmptyLine(comment=node.trailing_whitespace.comment))
    return new.with_changes(leading_lines=leading)


def _replacement(text: str, found: list, parents, module: cst.Module):
    """(node, new node) for an edit whose span matched ``found``, or None. An expression
    replaces an expression; anything else replaces a statement; an empty text deletes a whole
    statement line (a fix that moves statements into a new block deletes them where they were)."""
    if not text.strip():
        whole = [n for n, _ in found if isinstance(n, (cst.SimpleStatementLine, cst.BaseCompoundStatement))]
        return (whole[0], cst.RemoveFromParent()) if whole else None
    exprs = [(n, k) for n, k in found if isinstance(n, cst.BaseExpression)]
    new = _parse(text, module, "expr") if exprs else None
    if new is not None:
        node, k = exprs[0]
        return node, _expr_rep(node, k, new, parents.get(node))
    new = _parse(text, module, "stmt")
    if new is None:
        return None
    whole = [n for n, _ in found if isinstance(n, (cst.SimpleStatementLine, cst.BaseCompoundStatement))]
    small = [n for n, _ in found if isinstance(n, cst.BaseSmallStatement)]
    for node in whole + small:
        rep = _stmt_rep(node, new)
        if rep is not None:
            return node, rep
    return None


class _Replacer(cst.CSTTransformer):
    def __init__(self, plan: Dict[int, cst.CSTNode]):
        super().__init__()
        self.plan = plan

    def on_leave(self, original_node, updated_node):
        return self.plan.get(id(original_node), updated_node)


def _plan(source: str, findings: Sequence) -> Tuple[Optional[MetadataWrapper], Dict[int, cst.CSTNode], list]:
    """Locate every edit of every finding; a finding is used only when all its edits are found
    and none of its nodes is already taken."""
    try:
        wrapper = MetadataWrapper(cst.parse_module(source), unsafe_skip_copy=True)
    except Exception:  # libcst cannot parse what ast can (rare): nothing is fixed
        return None, {}, []
    positions, parents = wrapper.resolve(PositionProvider), wrapper.resolve(ParentNodeProvider)
    offsets = _Offsets(source)
    ranges = _ranges(wrapper.module, positions, offsets)
    plan: Dict[int, cst.CSTNode] = {}
    used = []
    for f in findings:
        reps = []
        for e in f.fix.edits:
            key = (offsets(e.span.line, e.span.col), offsets(e.span.end_line, e.span.end_col))
            reps.append(_replacement(e.text, ranges.get(key, []), parents, wrapper.module))
        if all(reps) and not any(id(n) in plan for n, _ in reps):
            plan.update((id(n), rep) for n, rep in reps)
            used.append(f)
    return wrapper, plan, used


def splice(source: str, findings: Sequence) -> Tuple[str, list]:
    """(new source, findings whose fixes were applied): one libcst pass for all the edits
    (their spans must not overlap), then the imports those fixes need."""
    wrapper, plan, used = _plan(source, findings)
    if not used:
        return source, []
    module = wrapper.module.visit(_Replacer(plan))
    imports = {imp for f in used for imp in f.fix.imports}
    if imports:
        context = CodemodContext()
        for mod, name in sorted(imports, key=lambda i: (i[0], i[1] or "")):
            AddImportsVisitor.add_needed_import(context, mod, name)
        module = AddImportsVisitor(context).transform_module(module)
    return module.code, used
