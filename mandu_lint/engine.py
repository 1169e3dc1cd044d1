"""Parse a file once, walk it once, and let every enabled rule see each node.

The walker keeps the context rules need — the scope that names things (``refs.Scope``), the
enclosing qualified name, and the stack of per-row contexts (loops and comprehensions) — so a
rule is just a few ``visit_*`` methods. A rule that raises is switched off for the rest of the
file and reported as an error notice; the run goes on.
"""
from __future__ import annotations

import ast
import hashlib
import io
import re
import sys
import tokenize
from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Sequence, Tuple

from .analysis.bounded import bounded_iter
from .analysis.refs import ModuleNames, Scope, child_nodes, loop_element_ref
from .model import Finding, Notice, Span
from .noqa import NoqaMap, file_is_skipped
from .project.extract import function_scope, module_scope

SYNTAX_CODE = "MDB000"
NOT_CHECKED_CODE = "MDB002"  # see diagnostics.py
_MISSING = object()
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_NEWER_SYNTAX = [  # (pattern on the failing line, Python version that parses it)
    (re.compile(r"^\s*type\s+\w+\s*(\[.*\])?\s*="), "3.12"),
    (re.compile(r"^\s*(async\s+)?def\s+\w+\s*\["), "3.12"),
    (re.compile(r"^\s*class\s+\w+\s*\["), "3.12"),
    (re.compile(r"^\s*except\s*\*"), "3.11"),
    (re.compile(r"^\s*match\s+.+:\s*$"), "3.10"),
    (re.compile(r"^\s*except\s+[^\s(:][^:(]*,[^:]*:"), "3.14"),  # PEP 758: ``except A, B:``
]


@dataclass
class LoopFrame:
    """A per-row context: code inside it runs once per element (or per pass)."""

    node: ast.AST
    kind: str  # for | while | comp
    targets: Tuple[str, ...]  # names bound per element
    iter_node: Optional[ast.AST]
    once: bool = False  # the body always leaves on its first pass
    retry: bool = False  # repeats only after a failure
    bounded: bool = False  # iterates a small literal collection or a worker/poll loop
    _assigned: Optional[frozenset] = field(default=None, repr=False)

    @property
    def assigned(self) -> frozenset:
        """Names assigned inside the per-iteration region."""
        if self._assigned is None:
            body = _per_iteration(self.node)
            names = set()
            for stmt in body:
                for n in ast.walk(stmt):
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                        names.add(n.id)
            self._assigned = frozenset(names)
        return self._assigned

    @property
    def reports(self) -> bool:
        return not (self.once or self.retry or self.bounded)


def _per_iteration(node: ast.AST) -> List[ast.AST]:
    if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
        return list(node.body)
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp)):
        return [node.elt] + [g for g in node.generators]
    if isinstance(node, ast.DictComp):
        return [node.key, node.value] + [g for g in node.generators]
    return []


class FileContext:
    """What a rule can ask about the file being checked."""

    def __init__(self, path: str, relpath: str, source: str, tree: ast.Module, project, facts):
        self.path = path
        self.relpath = relpath
        self.source = source
        self.tree = tree
        self.project = project  # engine-facing project (index, settings)
        self.index = project.index
        self.typer = project.index.typer
        self.facts = facts
        names = ModuleNames(facts.module, facts.is_package)
        names.names = dict(facts.names)
        self.names = names
        if facts.module_locals is not None:
            self.scope = Scope(names, func=None)
            self.scope.locals = dict(facts.module_locals)
            self.scope.lazy_body = [n for n in tree.body if not isinstance(n, _DEFS)]
            self.scope.freeze()
        else:
            self.scope = module_scope(names, tree)
        self.qual: List[str] = [facts.module] if facts.module else []
        self.class_stack: List[Optional[str]] = [None]
        self.loops: List[LoopFrame] = []
        self.enabled: frozenset = frozenset()  # codes of the rules running on this file
        self.memo: Dict[object, object] = {}  # per-file analyses that several rules share
        self._lines: Optional[List[str]] = None

    # -- helpers for rules ----------------------------------------------------------------------
    @property
    def scope_name(self) -> str:
        return ".".join(self.qual)

    def reporting_frame(self) -> Optional[LoopFrame]:
        """The innermost loop whose body runs once per row (not a loop that runs once, a retry
        loop or a fixed/chunked loop), or None: the per-row context loop rules report against."""
        for frame in reversed(self.loops):
            if frame.reports:
                return frame
        return None

    def ref(self, node: ast.AST):
        return self.scope.ref_of(node)

    def type_of(self, node: ast.AST):
        return self.typer.type_of(self.scope.ref_of(node))

    def call_info(self, node: ast.Call):
        ref = self.scope.ref_of(node)
        if ref is None or ref[0] != "c":
            return ref, None, None
        t, ev = self.typer.call(ref)
        return ref, t, ev

    def line_text(self, line: int) -> str:
        if self._lines is None:
            self._lines = self.source.splitlines()
        return self._lines[line - 1] if 0 < line <= len(self._lines) else ""

    def char_col(self, line: int, byte_col: int) -> int:
        text = self.line_text(line)
        if text.isascii():
            return byte_col
        return len(text.encode("utf-8")[:byte_col].decode("utf-8", errors="replace"))

    def span(self, node: ast.AST) -> Span:
        end_line = getattr(node, "end_lineno", None) or node.lineno
        end_col = getattr(node, "end_col_offset", None)
        end_col = node.col_offset if end_col is None else end_col
        return Span(node.lineno, self.char_col(node.lineno, node.col_offset), end_line,
                    self.char_col(end_line, end_col))

    def make_finding(self, code: str, node: ast.AST, message: str, related=(), fix=None) -> Finding:
        return Finding(code=code, message=message, path=self.path, span=self.span(node),
                       scope=self.scope_name, node_text=node_text(node), related=related, fix=fix)


def node_text(node: ast.AST) -> str:
    try:
        text = ast.unparse(node)
    except Exception:  # pragma: no cover - unparse handles every node ast produces
        text = type(node).__name__
    return " ".join(text.split())[:200]


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
        self._visit_all(node.body)
        ctx.class_stack.pop()
        ctx.qual.pop()
        ctx.scope, ctx.loops = saved

    def _class(self, node: ast.ClassDef) -> None:
        ctx = self.ctx
        self._visit_all(node.decorator_list + node.bases + [k.value for k in node.keywords])
        saved_loops, ctx.loops = ctx.loops, []
        ctx.qual.append(node.name)
        ctx.class_stack.append(".".join(ctx.qual))
        saved_scope = ctx.scope
        if saved_scope.func is not None:  # a class in a function sees module names only
            ctx.scope = module_scope(ctx.names, ast.Module(body=[], type_ignores=[]))
        self._visit_all(node.body)
        ctx.scope = saved_scope
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
                          retry=_is_retry(node.body), bounded=bounded_iter(node.iter, self.ctx))
        self.ctx.loops.append(frame)
        saved = self._bind_loop(node.target, node.iter)
        self._visit_all(node.body)
        self._restore(saved)
        self.ctx.loops.pop()
        self._visit_all(node.orelse)

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
        bounded = (isinstance(node.test, ast.Constant) and bool(node.test.value)) or _sleeps(node.body)
        frame = LoopFrame(node, "while", (), None, once=_exits_first_pass(node.body), retry=_is_retry(node.body),
                          bounded=bounded)
        self.ctx.loops.append(frame)
        self.visit(node.test)
        self._visit_all(node.body)
        self.ctx.loops.pop()
        self._visit_all(node.orelse)

    def _comp(self, node) -> None:
        first = node.generators[0]
        self.visit(first.iter)
        frame = LoopFrame(node, "comp", _names(first.target), first.iter, bounded=bounded_iter(first.iter, self.ctx))
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
    ast.DictComp: Walker._comp,
}


def _names(target: ast.AST) -> Tuple[str, ...]:
    return tuple(n.id for n in ast.walk(target) if isinstance(n, ast.Name))


def _exits_first_pass(body: List[ast.stmt]) -> bool:
    """The last statement leaves the loop and nothing in the body jumps back (``continue``)."""
    if not body or not isinstance(body[-1], (ast.Return, ast.Break, ast.Raise)):
        return False
    return not any(isinstance(n, ast.Continue) for stmt in body for n in _walk_same_loop(stmt))


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


def _sleeps(body: List[ast.stmt]) -> bool:
    for stmt in body:
        for n in _walk_same_loop(stmt):
            if isinstance(n, ast.Call):
                f = n.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                if name == "sleep":
                    return True
    return False


# -- checking one file ------------------------------------------------------------------------
def decode(data: bytes) -> str:
    """Decode per PEP 263 (a coding cookie or BOM), as Python itself does."""
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    text = data.decode(encoding)
    return text[1:] if text.startswith("\ufeff") else text


_FSTRING = re.compile(r"(?<![\w])[rRbB]?[fF][rR]?['\"]")
_PEP758 = re.compile(r"^(\s*except\*?\s+)([^\s(:][^:(]*,[^:]*?)(\s*(?:as\s+\w+)?\s*:)")
_PEP695_DEF = re.compile(r"^(\s*(?:async\s+)?(?:def|class)\s+\w+)\s*\[")
_PEP695_TYPE = re.compile(r"^(\s*)type\s+(\w+)\s*(\[[^=]*\])?\s*=")


def _drop_type_params(lines: List[str], row: int, col: int) -> Optional[List[str]]:
    """Remove the balanced ``[...]`` opening at (row, col), which may span lines; the line
    breaks it held move into the parameter/base parentheses, so no later line moves."""
    text = "\n".join(lines)
    start = sum(len(x) + 1 for x in lines[:row]) + col
    depth = 0
    for end in range(start, len(text)):
        depth += {"[": 1, "]": -1}.get(text[end], 0)
        if depth == 0:
            break
    else:
        return None
    breaks = "\n" * text.count("\n", start, end)
    rest = text[end + 1:]
    if rest.lstrip(" ").startswith("("):
        rest = rest.lstrip(" ")[1:]
        new = text[:start] + "(" + breaks + rest
    else:
        new = text[:start] + "(" + breaks + ")" + rest
    return new.split("\n")


def _downgrade(lines: List[str], row: int) -> Optional[List[str]]:
    """Rewrite newer syntax at ``row`` into an older equivalent for analysis:
    ``except A, B:`` (3.14) → ``except (A, B):``; ``class C[T]:``/``def f[T](...)`` (3.12) →
    without type parameters; ``type X = Y`` (3.12) → ``X = Y``. None when nothing applies."""
    line = lines[row]
    fixed = _PEP758.sub(r"\1(\2)\3", line, count=1)
    if fixed == line:
        m = _PEP695_DEF.match(line)
        if m:
            return _drop_type_params(lines, row, m.end() - 1)
        m = _PEP695_TYPE.match(line)
        fixed = f"{m.group(1)}{m.group(2)} ={line[m.end():]}" if m else None
    if not fixed or fixed == line:
        return None
    return lines[:row] + [fixed] + lines[row + 1:]


def parse_tree(source: str, path: str) -> ast.Module:
    """``ast.parse``, tolerant of syntax newer than the running Python where an older spelling
    means the same to this analysis (see ``_downgrade``); no line moves. Other syntax errors
    propagate."""
    try:
        return ast.parse(source, filename=path)
    except SyntaxError as exc:
        error = exc
    lines = source.split("\n")
    for _ in range(1000):
        row = (error.lineno or 0) - 1
        fixed = _downgrade(lines, row) if 0 <= row < len(lines) else None
        if fixed is None:
            raise error
        lines = fixed
        try:
            return ast.parse("\n".join(lines), filename=path)
        except SyntaxError as again:
            error = again
    raise error


def parse(source: str, path: str):
    """(tree, None) or (None, a Finding): MDB000 for a syntax error, MDB002 (with the remedy) for
    grammar newer than the running Python that ``parse_tree`` cannot read as an older spelling."""
    try:
        return parse_tree(source, path), None
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None) or 1
        col = max((getattr(exc, "offset", None) or 1) - 1, 0)
        lines = source.splitlines()
        text = lines[line - 1] if 0 < line <= len(lines) else ""
        msg = getattr(exc, "msg", str(exc))
        checks = list(_NEWER_SYNTAX)
        if msg.startswith("f-string") or (msg.startswith("unterminated string") and _FSTRING.search(text)):
            # PEP 701 (3.12) lifted the f-string quoting limits
            checks.append((re.compile(""), "3.12"))
        for pattern, version in checks:
            if pattern.match(text) and sys.version_info < tuple(int(p) for p in version.split(".")):
                running = ".".join(map(str, sys.version_info[:2]))
                return None, Finding(NOT_CHECKED_CODE, f"file not checked: line {line} needs Python {version} or "
                                     f"newer to parse (running {running}); run mandu-lint under Python "
                                     f"≥ {version}", path, Span(line, col, line, col), node_text=msg)
        msg = getattr(exc, "msg", str(exc))
        if msg.startswith("too many "):  # the parser's own limits (nested parentheses, blocks)
            return None, Finding(NOT_CHECKED_CODE, f"file not checked: too deeply nested for Python's parser "
                                 f"({msg})", path, Span(line, col, line, col), node_text=msg)
        return None, Finding(SYNTAX_CODE, f"syntax error: {msg}", path, Span(line, col, line, col),
                             node_text=msg)


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
