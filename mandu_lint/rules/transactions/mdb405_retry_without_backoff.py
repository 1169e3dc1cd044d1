"""MDB405: a retry loop around a database operation without exponential backoff and jitter."""
from __future__ import annotations

import ast
from typing import List, Optional, Set

from ...core.refs import iter_local_nodes
from .calls import catches, origin
from .analysis import tx_index
from .base import TxRule
from ...core.tags import EV

RANDOM_NAMES = ("random", "uniform", "randint", "randrange", "jitter", "choice", "triangular", "gauss",
                "expovariate", "betavariate")
PROBE_CALLS = ("execute", "exec", "scalar", "scalars", "exec_driver_sql", "fetchval", "fetch")
NOT_TRANSIENT = ("IntegrityError", "UniqueViolation", "UniqueViolationError")
TENACITY_JITTER = {"wait_random_exponential", "wait_full_jitter", "wait_exponential_jitter", "wait_random"}
TENACITY_GROW = {"wait_exponential", "wait_incrementing", "wait_chain", "wait_fibonacci"}


class RetryWithoutBackoff(TxRule):
    """
    ## What it does
    Finds loops that retry a database operation after an exception (`try: …; break except
    OperationalError: …`) and wait between attempts with no sleep at all, a constant sleep, or a
    growing sleep with no randomness; and `tenacity.retry`/`backoff.on_exception` decorators on
    functions that query, configured the same way.

    Primary location: the `except` clause that retries (or the retry decorator).

    ## Why is this bad?
    Database errors worth retrying (deadlocks, serialization failures, a failover, too many
    connections) come from contention. Retrying at once, or every N seconds in lockstep, sends
    every client back at the same moment and recreates the contention — a retry storm that can
    keep a recovering database down. Exponential backoff spreads the attempts out; jitter keeps
    the clients from synchronising.

    ## Known problems
    Opt-in (select it by code: `--select MDB405`): over the ten blind holdout rounds, 0 of 21
    judged `medium` findings were true, too few to show it even in the `medium` audit output.
    A loop that catches only `IntegrityError` is taken to try a *different* value each time (a
    unique slug or code), not to retry, and is not reported. Only sleeps in the loop itself are
    seen; a delay computed in a helper function counts as constant.

    ## Example
    ```python
    for attempt in range(5):
        try:
            with transaction.atomic():
                transfer(a, b, amount)
            break
        except OperationalError:
            time.sleep(1)
    ```

    ## Use instead
    ```python
    for attempt in range(5):
        try:
            with transaction.atomic():
                transfer(a, b, amount)
            break
        except OperationalError:
            time.sleep(random.uniform(0, 0.1 * 2 ** attempt))
    ```

    ## Fix safety
    No automatic fix: the right base delay and cap depend on the workload.
    """

    code = "MDB405"
    name = "retry-without-backoff"
    summary = "Database retry loop without exponential backoff and jitter"
    precision = "medium"  # blind triage of real apps: too many findings immaterial or wrong for a default
    default = False  # opt-in: 0 of 21 judged findings true over holdout rounds 1-10 (`medium`, blind)
    tags = ("transactions", "resilience")

    BAD = [
        """
import time
from django.db import OperationalError, connection

def run(sql):
    for attempt in range(5):
        try:
            connection.cursor().execute(sql)
            break
        except OperationalError:  # error
            time.sleep(1)

def spin(sql):
    while True:
        try:
            connection.cursor().execute(sql)
            return
        except Exception:  # error
            continue
""",
    ]
    GOOD = [
        """
import random
import time
from django.db import IntegrityError, OperationalError, connection

def run(sql):
    for attempt in range(5):
        try:
            connection.cursor().execute(sql)
            break
        except OperationalError:
            time.sleep(random.uniform(0, 0.1 * 2 ** attempt))

def unique_code(sql, codes):
    for code in codes:
        try:
            connection.cursor().execute(sql, [code])
            break
        except IntegrityError:
            continue

def per_item(sql, items):
    for item in items:
        try:
            connection.cursor().execute(sql, [item])
        except OperationalError:
            pass
""",
    ]

    def visit_For(self, node) -> None:
        view = self.view()
        if view is None:
            return
        for t in _tries(node):
            if not _success_exits(t) or not self._db_op(t.body) or _probe(t.body):
                continue
            for h in t.handlers:
                if _leaves(h) or not self._transient(h):
                    continue
                problem = _verdict(node, self.view().scope)
                if problem:
                    self.report(h, f"retries the database operation on line {t.body[0].lineno} {problem}; "
                                   "wait `random.uniform(0, base * 2 ** attempt)` (capped) between attempts")
                break

    visit_AsyncFor = visit_While = visit_For

    def visit_FunctionDef(self, node) -> None:
        qual = ".".join(self.ctx.qual + [node.name])
        if _probe(node.body):
            return
        for d in node.decorator_list:
            problem = self._decorator(d)
            if problem and self._queries(qual):
                self.report(d, f"retries a function that queries {problem}; use a randomised exponential wait "
                               "(tenacity `wait_random_exponential`, backoff's default jitter)")

    visit_AsyncFunctionDef = visit_FunctionDef

    # -- what the loop retries ------------------------------------------------------------------
    def _transient(self, h: ast.ExceptHandler) -> bool:
        types = h.type.elts if isinstance(h.type, ast.Tuple) else ([h.type] if h.type is not None else [])
        kind = catches(self.ctx.index, [self.ctx.ref(t) for t in types], h.type is None)
        if kind is None:
            return False
        names = [(t.attr if isinstance(t, ast.Attribute) else getattr(t, "id", "")) for t in types]
        return not names or not all(n in NOT_TRANSIENT for n in names)

    def _db_op(self, body: List[ast.stmt]) -> bool:
        for node in iter_local_nodes(body):
            if isinstance(node, ast.Call):
                ref, _t, ev = self.ctx.call_info(node)
                if ev and ev[0] in (EV.QUERY, EV.WRITE, EV.STAGE, EV.COMMIT):
                    return True
                if ev and ev[0] == EV.CALL and self._queries(ev[1]):
                    return True
        return False

    def _queries(self, qual: str) -> bool:
        tx = tx_index(self.ctx)
        return self.ctx.typer.queries(qual) is not None or any(a.letter in "WC" for a in tx.summaries.of(qual))

    def _decorator(self, d: ast.AST) -> Optional[str]:
        call = d if isinstance(d, ast.Call) else None
        name = origin(self.ctx.index, self.ctx.ref(call.func if call else d)) or ""
        kws = {k.arg: k.value for k in call.keywords} if call else {}
        if name in ("tenacity.retry", "tenacity.Retrying"):
            wait = kws.get("wait")
            if wait is None:
                return "with no wait between attempts"
            used = {n.id if isinstance(n, ast.Name) else n.attr for n in ast.walk(wait)
                    if isinstance(n, (ast.Name, ast.Attribute))}
            if used & TENACITY_JITTER:
                return None
            return "with a growing wait but no jitter" if used & TENACITY_GROW else "with a constant wait"
        if name in ("backoff.on_exception", "backoff.on_predicate") and call is not None:
            jitter = kws.get("jitter")
            if isinstance(jitter, ast.Constant) and jitter.value is None:
                gen = call.args[0] if call.args else None
                grows = gen is not None and (getattr(gen, "attr", "") or getattr(gen, "id", "")) in ("expo", "fibo")
                return "with a growing wait but no jitter" if grows else "with a constant wait"
        return None


def _probe(body: List[ast.stmt]) -> bool:
    """Waiting for the database to come up (``SELECT 1``, ``select(1)``): polling at a fixed
    pace is fine there — there is no contention to spread out."""
    probes = 0
    for n in iter_local_nodes(body):
        if isinstance(n, ast.Call) and n.args and getattr(n.func, "attr", "") in PROBE_CALLS:
            arg = n.args[0]
            if isinstance(arg, ast.Call) and arg.args:  # select(1), text("SELECT 1")
                arg = arg.args[0]
            if isinstance(arg, ast.Constant) and (arg.value == 1 or (isinstance(arg.value, str) and
                                                                     arg.value.strip().upper() == "SELECT 1")):
                probes += 1
    return probes > 0


def _tries(loop) -> List[ast.Try]:
    """``try`` statements of this loop's body (not of nested loops or functions)."""
    out, stack = [], list(loop.body)
    while stack:
        s = stack.pop()
        if isinstance(s, ast.Try):
            out.append(s)
        if isinstance(s, (ast.For, ast.AsyncFor, ast.While, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for name in ("body", "orelse"):
            stack.extend(x for x in getattr(s, name, []) if isinstance(x, ast.stmt))
    return out


def _success_exits(t: ast.Try) -> bool:
    tail = (t.orelse or t.body)[-1]
    return isinstance(tail, (ast.Break, ast.Return))


def _leaves(h: ast.ExceptHandler) -> bool:
    return bool(h.body) and isinstance(h.body[-1], (ast.Raise, ast.Return, ast.Break))


def _verdict(loop, scope) -> Optional[str]:
    sleeps = [n for s in loop.body for n in iter_local_nodes([s]) if isinstance(n, ast.Call)
              and (getattr(n.func, "attr", None) or getattr(n.func, "id", None)) == "sleep"]
    if not sleeps:
        return "at once, with no wait between attempts"
    varying = _varying(loop)
    for call in sleeps:
        arg = call.args[0] if call.args else next((k.value for k in call.keywords), None)
        exprs = _expand(arg, scope, loop) if arg is not None else []
        if any(_random(e) for e in exprs):
            return None
        if any(_grows(e, varying) for e in exprs):
            return "with a growing wait but no jitter (every client retries in lockstep)"
    return "after a constant wait (every client retries in lockstep)"


def _varying(loop) -> Set[str]:
    names = set()
    if isinstance(loop, (ast.For, ast.AsyncFor)):
        names = {n.id for n in ast.walk(loop.target) if isinstance(n, ast.Name)}
    for n in ast.walk(loop):
        if isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name):
            names.add(n.target.id)
    return names


def _expand(expr: ast.AST, scope, loop) -> List[ast.AST]:
    """The sleep argument, plus what the names in it were assigned (in the loop or once)."""
    out = [expr]
    for n in ast.walk(expr):
        if isinstance(n, ast.Name):
            for s in ast.walk(loop):
                if isinstance(s, ast.Assign) and any(isinstance(t, ast.Name) and t.id == n.id for t in s.targets):
                    out.append(s.value)
            value = scope.value_of(n.id) if scope is not None else None
            if value is not None:
                out.append(value)
    return out


def _random(expr: ast.AST) -> bool:
    for n in ast.walk(expr):
        name = n.id if isinstance(n, ast.Name) else n.attr if isinstance(n, ast.Attribute) else ""
        if name and any(r in name.lower() for r in RANDOM_NAMES):
            return True
    return False


def _grows(expr: ast.AST, varying: Set[str]) -> bool:
    for n in ast.walk(expr):
        if isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Pow, ast.LShift)):
            return True
        if isinstance(n, ast.Name) and n.id in varying:
            return True
    return False
