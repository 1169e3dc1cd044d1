"""What a rule sees of the file being checked: :class:`FileContext`, kept current by the
engine's walk (scope, enclosing functions and classes, per-row loop frames), and the
per-project memo every rule family uses for what it derives from the index.

The rule API layer: above the project index and the shared core, below the rule families.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple, TypeVar

from ..core.bounded import chunk_counters
from ..core.refs import ModuleNames, Scope
from ..model import Finding, Span
from ..project.contexts import contexts as _contexts
from ..project.extract import module_scope
from ..project.remote import remote as _remote
from ..core.tags import RT

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
T = TypeVar("T")


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
    poll: bool = False  # a ``while`` that sleeps: its queries wait for something, they read no row
    # the rows of a query cut to a few (``qs[:10]``, ``.limit(5)``): a query or a write per pass
    # costs at most that many round trips, while a lazy load there is still worth its free fix
    few: bool = False
    _assigned: Optional[frozenset] = field(default=None, repr=False)
    _chunk_counters: Optional[frozenset] = field(default=None, repr=False)

    @property
    def chunk_counters(self) -> frozenset:
        """Counters of the chunk loops inside this one (``for i in range(0, n, 1000)``)."""
        if self._chunk_counters is None:
            self._chunk_counters = chunk_counters(self.node)
        return self._chunk_counters

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
        # Enclosing definitions, outermost first: every ``def``/``async def`` (lambdas excluded)
        # and ``class`` the walk is inside, pushed before their bodies are walked (a rule's
        # ``visit_FunctionDef`` runs just before its node is pushed, ``leave_FunctionDef`` just
        # after it is popped). Rules read these instead of keeping stacks of their own.
        self.defs: List[ast.AST] = []
        self._function_key: tuple = (-1, 0)  # ``function`` is cached per (depth, innermost def)
        self._function: Optional[ast.AST] = None
        self.loops: List[LoopFrame] = []
        self.enabled: frozenset = frozenset()  # codes of the rules running on this file
        self.memo: Dict[object, object] = {}  # per-file analyses that several rules share
        self._lines: Optional[List[str]] = None

    # -- helpers for rules ----------------------------------------------------------------------
    @property
    def scope_name(self) -> str:
        return ".".join(self.qual)

    @property
    def functions(self) -> List[ast.AST]:
        """Enclosing function nodes, outermost first."""
        return [d for d in self.defs if not isinstance(d, ast.ClassDef)]

    @property
    def classes(self) -> List[ast.ClassDef]:
        """Enclosing class nodes, outermost first."""
        return [d for d in self.defs if isinstance(d, ast.ClassDef)]

    @property
    def function(self) -> Optional[ast.AST]:
        """The innermost enclosing function node, or None outside functions (asked for at every
        call by several rules: kept until the engine enters or leaves a definition)."""
        d = self.defs
        key = (len(d), id(d[-1]) if d else 0)
        if self._function_key != key:
            self._function_key = key
            self._function = next((x for x in reversed(d) if not isinstance(x, ast.ClassDef)), None)
        return self._function

    @property
    def method_of(self) -> Optional[ast.ClassDef]:
        """The class whose body directly holds the innermost definition, when that definition
        is a function (a method); None otherwise."""
        d = self.defs
        if len(d) >= 2 and isinstance(d[-2], ast.ClassDef) and not isinstance(d[-1], ast.ClassDef):
            return d[-2]
        return None

    def contexts(self) -> frozenset:
        """The execution contexts (``project/contexts.py``) of the function the walk is in —
        its own entries and its callers' — or an empty set at module level or when unknown."""
        qual = self.function_qual()
        return _contexts(self.index).of(qual) if qual else frozenset()

    def unreached(self, node: ast.AST) -> bool:
        """Is ``node`` inside a module-level class or function nothing in the project uses
        (``ProjectIndex.unreferenced``)? Findings there are dropped: no production path runs them."""
        dead = getattr(self.index, "unreferenced", None)
        if not dead or not self.facts or not self.facts.module:
            return False
        spans = self.memo.get("unreached")
        if spans is None:
            prefix = self.facts.module + "."
            spans = self.memo["unreached"] = [
                (d.lineno, d.end_lineno or d.lineno) for d in self.tree.body
                if isinstance(d, _DEFS) and prefix + d.name in dead]
            spans += [(m.lineno, m.end_lineno or m.lineno) for d in self.tree.body if isinstance(d, ast.ClassDef)
                      for m in d.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))
                      and f"{prefix}{d.name}.{m.name}" in dead]
        line = getattr(node, "lineno", 0)
        return any(a <= line <= b for a, b in spans)

    def function_qual(self) -> str:
        """Qualified name of the innermost enclosing function the index knows ('' if none)."""
        if self.function is None:
            return ""
        functions = self.index.functions
        for n in range(len(self.qual), 0, -1):
            qual = ".".join(self.qual[:n])
            if qual in functions:
                return qual
        return ""

    def own_method(self, name: str) -> Optional[str]:
        """The project method ``self.<name>`` reaches from the method being walked: defined on its
        class or inherited from a project base (``get_queryset`` of a mixin). None outside a
        method, or when no project class in the chain defines it."""
        if self.method_of is None:
            return None
        cls = self.function_qual().rpartition(".")[0]
        return self.index.find_method(cls, name) if cls in self.index.classes else None

    def derived(self, key: object, build: Callable[[], T]) -> T:
        """What a rule family derives from the project index once and reuses for every file of
        the run (``key`` names it; ``build()`` computes it). The memo lives on the index, so it
        goes away with it and is never pickled into the cache."""
        return self.index.derived(key, build)

    def reporting_frame(self, few: bool = False) -> Optional[LoopFrame]:
        """The innermost loop whose body runs once per row (not a loop that runs once, a retry
        loop or a fixed/chunked loop), or None: the per-row context loop rules report against.
        Code in a polling loop (a ``while`` that sleeps) reports against no loop: it waits for a
        row to appear or change, and an outer loop cannot fetch that before it starts. A loop over
        the rows of a query cut to a few counts only with ``few`` (MDB302's eager-load fix is
        free; restructuring a query or a write per pass for ten rows is not worth it)."""
        for frame in reversed(self.loops):
            if frame.reports and (few or not frame.few):
                return frame
            if frame.poll:  # ``while q.get(id) is None: sleep(1)`` waits; no outer row is read here
                return None
        return None

    def waits_on_network(self, frame: LoopFrame) -> bool:
        """Does each pass of ``frame`` make a network call (``project/remote.py``), directly or
        through a project function? Its per-row queries and writes are then not the cost that
        matters, and the loop rules leave the loop alone."""
        key = ("remote", id(frame.node))
        hit = self.memo.get(key)
        if hit is None:
            remote = _remote(self.index)
            hit = self.memo[key] = any(remote.waits(self.scope.ref_of(n)) for part in _per_iteration(frame.node)
                                       for n in ast.walk(part) if isinstance(n, ast.Call))
        return hit

    def ref(self, node: ast.AST):
        return self.scope.ref_of(node)

    def type_of(self, node: ast.AST):
        return self.typer.type_of(self.scope.ref_of(node))

    def call_info(self, node: ast.Call):
        ref = self.scope.ref_of(node)
        if ref is None or ref[0] != RT.CALL:
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


def function_node(project, index, qual: str) -> Optional[ast.AST]:
    """The ``def`` of project function ``qual``, read from its file (through ``project.data``:
    the unsaved text flake8 hands over, newer syntax). None when it cannot be read."""
    from ..core.source import decode, parse_tree

    facts = index.owner(qual)
    fn = index.functions.get(qual)
    data = project.data(facts.path) if facts is not None and fn is not None else None
    if data is None:
        return None
    try:
        tree = parse_tree(decode(data), facts.path)
    except (SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.lineno == fn.line \
                and node.name == fn.name:
            return node
    return None
