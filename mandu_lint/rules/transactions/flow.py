"""One function body, seen by the transaction rules: its database events in execution order,
which transaction block covers each node, and whether one node may run after another on the
same path (``if``/``else`` arms, ``except`` clauses and early ``return``s are told apart).

Built lazily, once per function, while the engine's walk is inside the function (so refs use
the function's scope), and shared by the rules through ``ctx.memo``.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Dict, List, Optional, Tuple

from ...core.refs import child_nodes, iter_local_nodes
from ...core.messages import callee
from .analysis import UNKNOWN, Entry, tx_index
from .calls import stack_of
from .paths import may_follow
from .summary import Atom, call_atoms
from ...core.tags import EV, TK

SQL_WRITE = re.compile(r"^\s*(insert|update|delete|replace|merge|upsert)\b", re.I)
SQL_LOCK = re.compile(r"\bfor\s+(no\s+key\s+)?update\b|\bfor\s+share\b", re.I)
BARRIERS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


@dataclass
class Event:
    node: ast.AST  # the call (or the ``with`` whose end commits)
    letter: str  # W write, C commit, S side effect, L row lock
    stack: str  # django | sa | dbapi ("" for side effects)
    what: str
    helper: Optional[str] = None  # the project function the event comes from
    atoms: Tuple[Atom, ...] = ()
    end: Tuple[int, int] = (0, 0)
    trigger: str = ""  # "save": a side effect of the save() override or receivers this write runs


@dataclass
class FlowView:
    ctx: object
    fnode: ast.AST
    qual: str
    cls: Optional[str]
    parents: Dict[int, ast.AST] = field(default_factory=dict)
    events: List[Event] = field(default_factory=list)
    scope: object = None  # the function's scope, kept for questions asked after the walk left it

    @property
    def tx(self):
        return tx_index(self.ctx)

    def entry(self):
        if self._aware():
            return Entry(UNKNOWN, "the function checks whether a transaction is open")
        return self.tx.entry(self.qual)

    def _aware(self) -> bool:
        """``if not connection.in_atomic_block: return`` — the code adapts to its caller."""
        return any(isinstance(n, ast.Attribute) and n.attr in ("in_atomic_block", "get_autocommit")
                   for n in iter_local_nodes(self.fnode.body))

    # -- building -------------------------------------------------------------------------------
    def ref(self, node: ast.AST):
        return self.scope.ref_of(node)

    def type_of(self, node: ast.AST):
        return self.ctx.typer.type_of(self.scope.ref_of(node))

    def build(self) -> "FlowView":
        """One walk of the body: parent links, calls and ``with`` blocks (not nested defs)."""
        self.scope = self.ctx.scope
        calls, withs = [], []
        parents = self.parents
        stack = list(self.fnode.body)
        for stmt in stack:
            parents[id(stmt)] = self.fnode
        while stack:
            node = stack.pop()
            if isinstance(node, ast.Call):
                calls.append(node)
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                withs.append(node)
            elif isinstance(node, BARRIERS):
                continue
            for child in child_nodes(node):
                parents[id(child)] = node
                stack.append(child)
        me = SimpleNamespace(qual=self.qual, cls=self.cls)
        for call in calls:
            self.events.extend(self._events_of(call, me))
        for node in withs:
            kind = self.with_kind(node)
            if kind in ("sa", "dbapi"):
                self.events.append(Event(node, "C", kind, "the end of the transaction block",
                                         end=(node.end_lineno, node.end_col_offset)))
        self.events.sort(key=lambda e: e.end)
        return self

    def _events_of(self, call: ast.Call, me) -> List[Event]:
        ctx, tx = self.ctx, self.tx
        ref = self.ref(call)
        end = (call.end_lineno, call.end_col_offset)
        lock = self._lock(call)
        if lock:
            return [Event(call, "L", lock[0], lock[1], end=end)]
        atoms = call_atoms(tx, ref, me, call.lineno)
        if atoms == ():
            sql = _sql_literal(call)
            stack = _stack_of_query(self, call)
            if sql and stack and SQL_WRITE.match(sql):
                return [Event(call, "W", stack, f"`{callee(call)}`", end=end)]
            if sql and stack and SQL_LOCK.search(sql):
                return [Event(call, "L", stack, "`SELECT … FOR UPDATE`", end=end)]
            return []
        if atoms:
            return [Event(call, a.letter, a.stack, a.what, end=end) for a in atoms]
        ev = ctx.typer.event(ref)
        if ev and ev[0] == EV.CALL and ev[1] != self.qual:
            sub = tx.summaries.of_call(ev[1], ref, call)
            return [Event(call, a.letter, a.stack, a.what, ev[1], sub, end) for a in sub]
        return []

    def _lock(self, call: ast.Call) -> Optional[Tuple[str, str]]:
        f = call.func
        if not isinstance(f, ast.Attribute):
            return None
        if f.attr in ("select_for_update", "with_for_update"):
            t = self.type_of(f.value)
            if t and f.attr == "select_for_update" and t[0] in (TK.QS, TK.MANAGER, TK.RELMGR):
                return "django", "`select_for_update()`"
            if t and f.attr == "with_for_update" and t[0] in (TK.SASELECT, TK.SAQUERY):
                return "sa", "`with_for_update()`"
        if f.attr in ("get", "get_one") and any(k.arg == "with_for_update" and not _false(k.value)
                                                for k in call.keywords):
            t = self.type_of(f.value)
            if t and t[0] == TK.SASESSION:
                return "sa", "`session.get(..., with_for_update=...)`"
        return None

    # -- structure ------------------------------------------------------------------------------
    def parent(self, node: ast.AST) -> Optional[ast.AST]:
        return self.parents.get(id(node))

    def ancestors(self, node: ast.AST) -> List[ast.AST]:
        out = []
        cur = self.parent(node)
        while cur is not None:
            out.append(cur)
            if cur is self.fnode:
                break
            cur = self.parent(cur)
        return out

    def with_kind(self, node) -> Optional[str]:
        kinds = [self.tx.opener(self.ref(i.context_expr)) for i in node.items]
        return next((k for k in kinds if k), None)

    def decorated(self) -> bool:
        fn = self.ctx.index.functions.get(self.qual)
        if fn is not None:
            return self.tx.decorated(fn)
        return any(self.tx.opener(self.ref(d)) == "django" for d in self.fnode.decorator_list)

    def django_block(self, node: ast.AST) -> Optional[ast.AST]:
        """The outermost ``with atomic()`` around ``node`` in this function (the function itself
        when it is decorated); None when no Django transaction covers it locally."""
        found = None
        for anc in self.ancestors(node):
            if isinstance(anc, (ast.With, ast.AsyncWith)) and _in_body(anc, node, self) and \
                    self.with_kind(anc) == "django":
                found = anc
        if found is None and self.decorated():
            return self.fnode
        return found

    def block_of(self, node: ast.AST, kinds) -> Optional[ast.AST]:
        """The innermost ``with`` around ``node`` opening one of ``kinds``."""
        for anc in self.ancestors(node):
            if isinstance(anc, (ast.With, ast.AsyncWith)) and _in_body(anc, node, self) and \
                    self.with_kind(anc) in kinds:
                return anc
        return None

    def may_follow(self, a: ast.AST, b: ast.AST) -> bool:
        """Can ``b`` run after ``a`` in one execution of the function (see txpaths)?"""
        return may_follow(self, a, b)

    def statement(self, node: ast.AST) -> ast.AST:
        cur = node
        while cur is not None and not isinstance(cur, ast.stmt):
            cur = self.parent(cur)
        return cur


def _in_body(with_node, node, view) -> bool:
    """``node`` is in the ``with`` block's body, not in its header."""
    chain = [node] + view.ancestors(node)
    for k, n in enumerate(chain):
        if n is with_node:
            return k > 0 and chain[k - 1] in with_node.body
    return False


def _false(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value in (False, None)


def _sql_literal(call: ast.Call) -> Optional[str]:
    if not call.args:
        return None
    arg = call.args[0]
    if isinstance(arg, ast.Call) and arg.args and getattr(arg.func, "id", getattr(arg.func, "attr", "")) == "text":
        arg = arg.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
        return str(arg.values[0].value)
    return None


def _stack_of_query(view, call: ast.Call) -> Optional[str]:
    if not isinstance(call.func, ast.Attribute) or call.func.attr not in ("execute", "executemany", "exec_driver_sql"):
        return None
    return stack_of(view.type_of(call.func.value))


def view_key(fnode) -> tuple:
    """The file memo's key of a function's view."""
    return ("txflow", id(fnode))


def view_for(ctx, fnode, qual: str, cls: Optional[str]) -> FlowView:
    """The shared view of ``fnode``; call it while the walk is inside that function."""
    key = view_key(fnode)
    hit = ctx.memo.get(key)
    if hit is None:
        hit = ctx.memo[key] = FlowView(ctx, fnode, qual, cls).build()
    return hit


def before(view: FlowView, x: Event, y: Event) -> bool:
    """Can event ``y`` happen after event ``x`` on one path? Events of one call keep the order
    of its summary; the end of a transaction block follows everything inside it."""
    if x.node is y.node:
        return view.events.index(x) < view.events.index(y)
    if isinstance(y.node, (ast.With, ast.AsyncWith)) and _in_body(y.node, x.node, view):
        return True
    if isinstance(x.node, (ast.With, ast.AsyncWith)) and _in_body(x.node, y.node, view):
        return False
    return view.may_follow(x.node, y.node)


BATCHY = re.compile(r"batch|chunk|page|slice|size", re.I)


def batch_guarded(view: FlowView, node: ast.AST, stop: Optional[ast.AST] = None) -> bool:
    """Under an ``if`` that tests a modulo, a ``len()`` or a batch size (``if len(batch) >= N``),
    or a counter the same branch resets (``if done >= 500: commit(); done = 0``): a batch flush,
    written on purpose once per batch."""
    for anc in view.ancestors(node):
        if anc is stop:
            return False
        if isinstance(anc, ast.If) and (any(
                isinstance(n, ast.Mod) or (isinstance(n, ast.Name) and BATCHY.search(n.id))
                or (isinstance(n, ast.Call) and getattr(n.func, "id", "") == "len") for n in ast.walk(anc.test))
                or _resets_its_counter(anc)):
            return True
    return False


def _resets_its_counter(branch: ast.If) -> bool:
    """``if count >= N: …; count = 0``: the branch runs once every N passes."""
    test = branch.test
    if not (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and len(test.ops) == 1
            and isinstance(test.ops[0], (ast.GtE, ast.Gt, ast.Eq))):
        return False
    name = test.left.id
    return any(isinstance(s, ast.Assign) and isinstance(s.value, ast.Constant) and s.value.value == 0
               and any(isinstance(t, ast.Name) and t.id == name for t in s.targets) for s in branch.body)
