"""Parse a file once, walk it once, and let every enabled rule see each node.

The walker keeps the context rules need — the scope that names things (``refs.Scope``), the
enclosing qualified name, and the stack of per-row contexts (loops and comprehensions) — so a
rule is just a few ``visit_*`` methods. A rule that raises is switched off for the rest of the
file and reported as an error notice; the run goes on.
"""
from __future__ import annotations

import ast
import hashlib
import sys
from dataclasses import replace
from typing import Dict, List, Sequence, Tuple

from .core.bounded import FRESH, bounded_iter, few_rows
from .core.refs import child_nodes, loop_element_ref
from .core.source import SYNTAX_CODE, decode, parse, parse_tree  # noqa: F401 - the engine's entry points
from .diagnostics import NOT_CHECKED_CODE
from .model import Finding, Notice, Span
from .noqa import NoqaMap, file_is_skipped
from .project.extract import function_scope, module_scope
from .rules.context import FileContext, LoopFrame, node_text  # noqa: F401 - re-exported for the front ends

_MISSING = object()
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class Walker:
    """One walk of the tree, dispatching to every rule's ``visit_X``/``leave_X``."""

    def __init__(self, ctx: FileContext, rules: Sequence):
        self.ctx = ctx
        self.rules = list(rules)
        self.crashed: Dict[str, str] = {}
        self.visitors: Dict[type, list] = {}
        self.leavers: Dict[type, list] = {}
        for rule in self.rules:
            if not rule.active:
                continue
            for attr, typ, is_visit in _hooks(type(rule)):
                table = self.visitors if is_visit else self.leavers
                table.setdefault(typ, []).append((rule, getattr(rule, attr)))

    def run(self) -> None:
        if self.visitors or self.leavers:  # rules that only ``finish`` (the migration rules) need no walk
            self.visit(self.ctx.tree)
        for rule in self.rules:
            if rule.code not in self.crashed and rule.active:
                self._call(rule, rule.finish)

    def _call(self, rule, fn, *args) -> None:
        try:
            fn(*args)
        except Exception as exc:  # a broken rule must not stop the run
            self.crashed[rule.code] = f"{type(exc).__name__}: {exc}"
            for table in (self.visitors, self.leavers):
                for typ in list(table):
                    table[typ] = [(r, f) for r, f in table[typ] if r is not rule]

    def _dispatch(self, table, node) -> None:
        for rule, fn in table.get(type(node), ()):
            self._call(rule, fn, node)

    def visit(self, node: ast.AST) -> None:
        self._dispatch(self.visitors, node)
        method = _SPECIAL.get(type(node))
        if method is not None:
            method(self, node)
        else:
            for child in child_nodes(node):
                self.visit(child)
        self._dispatch(self.leavers, node)

    def _visit_all(self, nodes) -> None:
        for n in nodes:
            if n is not None:
                self.visit(n)

    def _function(self, node) -> None:
        ctx = self.ctx
        self._visit_all(node.decorator_list)
        self._visit_all(node.args.defaults + [d for d in node.args.kw_defaults if d is not None])
        cls = ctx.class_stack[-1]
        qual = ".".join(ctx.qual + [node.name])
        decos = [ctx.scope.ref_of(d) for d in node.decorator_list]
        saved = (ctx.scope, ctx.loops)
        ff = ctx.facts.functions.get(qual)
        cached = ff.locals if ff is not None and ff.line == node.lineno else None
        ctx.scope = function_scope(ctx.names, node, qual, cls, ctx.scope, decos, locals_=cached)
        ctx.loops = []
        ctx.qual.append(node.name)
        ctx.class_stack.append(None)
        ctx.defs.append(node)
        self._visit_all(node.body)
        ctx.defs.pop()
        ctx.class_stack.pop()
        ctx.qual.pop()
        ctx.scope, ctx.loops = saved

    def _class(self, node: ast.ClassDef) -> None:
        ctx = self.ctx
        self._visit_all(node.decorator_list + node.bases + [k.value for k in node.keywords])
        saved_loops, ctx.loops = ctx.loops, []
        ctx.qual.append(node.name)
        ctx.class_stack.append(".".join(ctx.qual))
        ctx.defs.append(node)
        saved_scope = ctx.scope
        if saved_scope.func is not None:  # a class in a function sees module names only
            ctx.scope = module_scope(ctx.names, ast.Module(body=[], type_ignores=[]))
        self._visit_all(node.body)
        ctx.scope = saved_scope
        ctx.defs.pop()
        ctx.class_stack.pop()
        ctx.qual.pop()
        ctx.loops = saved_loops

    def _lambda(self, node: ast.Lambda) -> None:
        saved, self.ctx.loops = self.ctx.loops, []
        self.visit(node.body)
        self.ctx.loops = saved

    def _for(self, node) -> None:
        self.visit(node.target)
        self.visit(node.iter)
        frame = LoopFrame(node, "for", _names(node.target), node.iter, once=_exits_first_pass(node.body),
                          retry=_is_retry(node.body), bounded=bounded_iter(node.iter, self.ctx),
                          few=few_rows(node.iter, self.ctx))
        self.ctx.loops.append(frame)
        saved = self._bind_loop(node.target, node.iter)
        self._loop_body(node.body)
        self._restore(saved)
        self.ctx.loops.pop()
        self._visit_all(node.orelse)

    def _loop_body(self, stmts: List[ast.stmt]) -> None:
        """A loop's body; after a guard that skips the pass until a batch is full (``if len(batch)
        % n != 0: continue``), the rest of the body runs once per batch, not per row."""
        for i, stmt in enumerate(stmts):
            if _skips_until_batch(stmt):
                self.visit(stmt)
                self._block(stmts[i + 1:], batch=True)
                return
            self.visit(stmt)

    def _bind_loop(self, target: ast.AST, it: ast.AST) -> dict:
        """Bind a loop's targets to *this* loop's elements while its body is walked (the
        function-wide binding is unknown when the name is reused by several loops)."""
        scope = self.ctx.scope
        if not isinstance(target, ast.Name):
            return {}
        saved = {target.id: (scope.locals.get(target.id, _MISSING), scope.values.get(target.id, _MISSING))}
        scope.locals[target.id] = loop_element_ref(scope, it)
        scope.values.pop(target.id, None)
        scope.forget()
        return saved

    def _restore(self, saved: dict) -> None:
        scope = self.ctx.scope
        if saved:
            scope.forget()
        for name, (ref, value) in saved.items():
            for table, old in ((scope.locals, ref), (scope.values, value)):
                if old is _MISSING:
                    table.pop(name, None)
                else:
                    table[name] = old

    def _while(self, node: ast.While) -> None:
        poll = _sleeps(node.body)
        bounded = (isinstance(node.test, ast.Constant) and bool(node.test.value)) or poll
        frame = LoopFrame(node, "while", (), None, once=_exits_first_pass(node.body),
                          retry=_is_retry(node.body) or _draws_until_free(node), bounded=bounded, poll=poll)
        self.ctx.loops.append(frame)
        self.visit(node.test)
        self._loop_body(node.body)
        self.ctx.loops.pop()
        self._visit_all(node.orelse)

    def _branching(self, node) -> None:
        """``if``/``try``/``with``/``match`` inside a loop: a block of it that always leaves the
        loop (ends with ``return``/``raise``/``break``, no ``continue``) runs at most once per run
        of the loop - ``if found: obj.save(); return obj`` is not a write per row - so it is
        walked with the innermost loop marked ``once`` (an outer loop still counts)."""
        loops = self.ctx.loops
        if not loops:
            for child in child_nodes(node):
                self.visit(child)
            return
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                self._block(value, batch=name == "body" and isinstance(node, ast.If) and _batch_test(node.test))
            elif isinstance(value, list):
                for v in value:
                    if isinstance(v, (ast.ExceptHandler, ast.match_case)):
                        self._dispatch(self.visitors, v)
                        self._visit_all([v.type if isinstance(v, ast.ExceptHandler) else v.pattern,
                                         None if isinstance(v, ast.ExceptHandler) else v.guard])
                        self._block(v.body)
                        self._dispatch(self.leavers, v)
                    elif isinstance(v, ast.AST):
                        self.visit(v)
            elif isinstance(value, ast.AST):
                self.visit(value)

    def _block(self, stmts: List[ast.stmt], batch: bool = False) -> None:
        """Walk a block; one that leaves the loop, or runs once per batch of rows (``if i %
        500 == 0: session.flush()``), does not run per row of the innermost loop."""
        loops = self.ctx.loops
        top = loops[-1] if loops else None
        if top is None or top.once or not (batch or _exits_first_pass(stmts)):
            self._visit_all(stmts)
            return
        loops[-1] = replace(top, once=True)
        try:
            self._visit_all(stmts)
        finally:
            loops[-1] = top

    def _comp(self, node) -> None:
        first = node.generators[0]
        self.visit(first.iter)
        frame = LoopFrame(node, "comp", _names(first.target), first.iter, bounded=bounded_iter(first.iter, self.ctx),
                          few=few_rows(first.iter, self.ctx))
        self.ctx.loops.append(frame)
        saved = self._bind_loop(first.target, first.iter)
        self.visit(first.target)
        self._visit_all(first.ifs)
        for gen in node.generators[1:]:
            self.visit(gen)
        if isinstance(node, ast.DictComp):
            self._visit_all([node.key, node.value])
        else:
            self.visit(node.elt)
        self._restore(saved)
        self.ctx.loops.pop()


_HOOKS: Dict[type, tuple] = {}


def _hooks(rule_cls: type) -> tuple:
    """(method name, ast node type, is-visit) of a rule class, computed once per class."""
    hit = _HOOKS.get(rule_cls)
    if hit is None:
        found = []
        for attr in dir(rule_cls):
            if attr.startswith(("visit_", "leave_")):
                typ = getattr(ast, attr[6:], None)
                if isinstance(typ, type):
                    found.append((attr, typ, attr[0] == "v"))
        hit = _HOOKS[rule_cls] = tuple(found)
    return hit


_SPECIAL = {
    ast.FunctionDef: Walker._function, ast.AsyncFunctionDef: Walker._function, ast.ClassDef: Walker._class,
    ast.Lambda: Walker._lambda, ast.For: Walker._for, ast.AsyncFor: Walker._for, ast.While: Walker._while,
    ast.ListComp: Walker._comp, ast.SetComp: Walker._comp, ast.GeneratorExp: Walker._comp,
    ast.DictComp: Walker._comp, ast.If: Walker._branching, ast.Try: Walker._branching,
    ast.With: Walker._branching, ast.AsyncWith: Walker._branching, ast.Match: Walker._branching,
}
if hasattr(ast, "TryStar"):
    _SPECIAL[ast.TryStar] = Walker._branching


def _names(target: ast.AST) -> Tuple[str, ...]:
    return tuple(n.id for n in ast.walk(target) if isinstance(n, ast.Name))


def _exits_first_pass(body: List[ast.stmt]) -> bool:
    """The last statement leaves the loop and nothing in the body jumps back (``continue``)."""
    if not body or not isinstance(body[-1], (ast.Return, ast.Break, ast.Raise)):
        return False
    return not any(isinstance(n, ast.Continue) for stmt in body for n in _walk_same_loop(stmt))


def _skips_until_batch(stmt: ast.stmt) -> bool:
    """``if len(batch) % size != 0 and not done: continue`` (or ``if i % n: continue``, ``if
    len(batch) < size: continue``): the statements after it run once per batch."""
    if not (isinstance(stmt, ast.If) and not stmt.orelse and len(stmt.body) == 1
            and isinstance(stmt.body[0], ast.Continue)):
        return False
    return _UNTIL in _batch_sides(stmt.test)


def _batch_test(test: ast.AST) -> bool:
    """A condition that holds once per batch of iterations: ``i % n == 0``, ``not i % n``,
    ``len(batch) >= n``, ``count >= BATCH_SIZE`` (a name or attribute with batch/chunk in it);
    also one operand of an ``and`` (``count > 0 and count % n == 0``)."""
    return _AT in _batch_sides(test)


_AT, _UNTIL = "at", "until"  # a test true at a batch boundary, or true on every pass but those


def _batch_sides(test: ast.AST) -> set:
    """Which side of a batch boundary ``test`` holds on: ``_AT`` for ``i % n == 0``, ``not i %
    n``, ``len(batch) >= n``, ``count >= BATCH_SIZE``; ``_UNTIL`` for their negations (``i % n``,
    ``i % n != 0``, ``len(batch) < n``); the union over the operands of an ``and``."""
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        return set().union(*(_batch_sides(v) for v in test.values))
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return {_AT} if isinstance(test.operand, ast.BinOp) and isinstance(test.operand.op, ast.Mod) else set()
    if isinstance(test, ast.BinOp) and isinstance(test.op, ast.Mod):
        return {_UNTIL}
    if not isinstance(test, ast.Compare) or len(test.ops) != 1:
        return set()
    left, op, right = test.left, test.ops[0], test.comparators[0]
    if isinstance(left, ast.BinOp) and isinstance(left.op, ast.Mod):
        if not (isinstance(right, ast.Constant) and right.value == 0):
            return set()
        return {_AT} if isinstance(op, ast.Eq) else {_UNTIL} if isinstance(op, ast.NotEq) else set()
    side = _AT if isinstance(op, (ast.GtE, ast.Gt, ast.Eq)) else _UNTIL if isinstance(op, ast.Lt) else None
    if side is None:
        return set()
    if isinstance(left, ast.Call) and isinstance(left.func, ast.Name) and left.func.id == "len":
        return {side}
    name = right.attr if isinstance(right, ast.Attribute) else getattr(right, "id", "")
    return {side} if any(w in name.lower() for w in ("batch", "chunk")) else set()


def _walk_same_loop(node: ast.AST):
    """Nodes of ``node`` that belong to the current loop (not to nested loops or functions)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        for child in ast.iter_child_nodes(n):
            if not isinstance(child, (ast.For, ast.AsyncFor, ast.While, ast.FunctionDef,
                                      ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                stack.append(child)


def _is_retry(body: List[ast.stmt]) -> bool:
    """``for attempt in ...: try: ...; break/return except ...: ...`` repeats only on failure."""
    for stmt in body:
        if isinstance(stmt, (ast.Try, getattr(ast, "TryStar", ast.Try))) and stmt.handlers:
            tail = (stmt.orelse or stmt.body)[-1]
            if isinstance(tail, (ast.Break, ast.Return)):
                return True
    return False


def _draws_until_free(node: ast.While) -> bool:
    """``while taken: code = get_random_string(12); taken = X.objects.filter(code=code).exists()``
    (or ``while X.objects.filter(code=code).exists(): code = token_hex()``): draws a random value
    until one is free, so it normally runs once; it repeats only on a collision."""
    fresh = False
    assigned = set()
    for stmt in node.body:
        for n in _walk_same_loop(stmt):
            if isinstance(n, ast.Call):
                f = n.func
                fresh = fresh or bool(FRESH.search(f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")))
            elif isinstance(n, ast.Assign):
                assigned.update(t.id for t in n.targets if isinstance(t, ast.Name))
    if not fresh:
        return False
    test = list(ast.walk(node.test))
    return any(isinstance(n, ast.Call) for n in test) or any(isinstance(n, ast.Name) and n.id in assigned for n in test)


def _sleeps(body: List[ast.stmt]) -> bool:
    for stmt in body:
        for n in _walk_same_loop(stmt):
            if isinstance(n, ast.Call):
                f = n.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                if name == "sleep":
                    return True
    return False


def run_rules(ctx: FileContext, rule_classes: Sequence[type]) -> Tuple[List[Finding], List[Notice]]:
    ctx.enabled = frozenset(cls.code for cls in rule_classes)
    rules = [cls(ctx) for cls in rule_classes]
    walker = Walker(ctx, rules)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 10000))
    notices = []
    unfinished = []
    try:
        walker.run()
    except RecursionError:  # MDB002: the walk did not finish (what it found so far is kept)
        unfinished.append(Finding(NOT_CHECKED_CODE, "file not checked: too deeply nested to analyse", ctx.path,
                                  Span(1, 0, 1, 0), node_text="RecursionError"))
    finally:
        sys.setrecursionlimit(old)
    from . import __version__

    for code, why in sorted(walker.crashed.items()):
        notices.append(Notice(ctx.path, f"rule {code} crashed on this file ({why}); mandu-lint {__version__}",
                              error=True, rule=code))
    findings = [f for r in rules if r.code not in walker.crashed for f in r.findings]
    notices += [n for r in rules if r.code not in walker.crashed for n in getattr(r, "notices", ())]
    return _drop_owned(findings, rule_classes) + unfinished, notices


def _drop_owned(findings: List[Finding], rule_classes) -> List[Finding]:
    """A fallback rule leaves a node to the more specific rule that reported it."""
    yields = {c.code: set(c.yields_to) for c in rule_classes if c.yields_to}
    if not yields:
        return findings
    taken: Dict[Tuple[int, int], set] = {}
    for f in findings:
        taken.setdefault((f.span.line, f.span.col), set()).add(f.code)
    return [f for f in findings if not (yields.get(f.code, set()) & taken[(f.span.line, f.span.col)])]


def apply_noqa(findings: List[Finding], source: str) -> List[Finding]:
    noqa = NoqaMap(source)
    if not noqa.lines:
        return findings
    return [f for f in findings if not noqa.silenced(f.span.line, f.code)]


def fingerprint(findings: List[Finding], relpath: str) -> List[Finding]:
    """Stable across lines shifting: code, path, scope, node text and occurrence index."""
    seen: Dict[tuple, int] = {}
    out = []
    for f in sorted(findings, key=lambda f: f.sort_key):
        key = (f.code, relpath, f.scope, f.node_text)
        n = seen.get(key, 0)
        seen[key] = n + 1
        digest = hashlib.sha256("\x00".join(map(str, key + (n,))).encode()).hexdigest()[:20]
        out.append(replace(f, fingerprint=digest))
    return out


def skipped(source: str) -> bool:
    return file_is_skipped(source)
