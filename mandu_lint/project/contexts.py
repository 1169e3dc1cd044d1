"""Execution contexts: in which situations a project function runs.

The same code means different things in a request handler, an admin action, a management
command, a task, a signal receiver, a migration, a test or a dev-data generator: a query per row
of a request's page is a latency bug, the same loop in a one-off command usually is not. Each
function gets the contexts it is an *entry* of (read off decorators, base classes, names and its
module's path), and contexts flow to callees: a helper called from a view and from a command has
both. A function nobody calls and that is no entry has no context (unknown).

Computed once per index (``ProjectIndex.derived``); rules ask through
``FileContext.contexts()``. Globs still win: ``non-app`` files get no application rules, and
``tenant.system`` globs stay cross-tenant, as before.
"""
from __future__ import annotations

import re
from typing import AbstractSet, Dict, FrozenSet, Iterable, List, Optional, Set

from ..core.refs import decorator_name
from ..core.tags import EV, RT, TK

REQUEST, ADMIN, COMMAND, TASK, SIGNAL, STARTUP = "request", "admin", "command", "task", "signal", "startup"
MIGRATION, TEST, DEV_DATA, SEED = "migration", "test", "dev-data", "seed"
ALL = (REQUEST, ADMIN, COMMAND, TASK, SIGNAL, STARTUP, MIGRATION, TEST, DEV_DATA, SEED)
# Code run by hand or once (a management command, start-up, a demo-data or seed script): its cost
# is paid once, not per user request. Test and migration files are ``non-app`` already (rules do
# not run there unless the config says so, and then the user asked for them to be judged).
ONE_OFF = frozenset({COMMAND, DEV_DATA, SEED, STARTUP})
# Code that does not run alongside a copy of itself serving users: a race needs two of them.
NOT_CONCURRENT = ONE_OFF | {MIGRATION, TEST}

ROUTE = frozenset("get post put patch delete head options route api_route websocket api_view action".split())
VIEW_HANDLERS = frozenset("""get post put patch delete head options dispatch form_valid form_invalid
get_queryset get_object get_context_data list retrieve create update partial_update destroy perform_create
perform_update perform_destroy get_serializer_context mutate resolve""".split())
VIEW_BASES = ("django.views", "django.contrib.auth.views", "rest_framework.", "ninja.", "graphene",
              "strawberry", "flask.views", "flask_restful", "flask_restx", "starlette.endpoints")
ADMIN_BASES = ("django.contrib.admin",)
COMMAND_BASES = ("django.core.management",)
COMMAND_DECORATORS = frozenset({"command", "group"})  # click / typer / flask ``cli.command``
TASK_DECORATORS = frozenset({"shared_task", "task", "actor", "periodic_task", "db_task", "db_periodic_task", "job",
                             "cron", "scheduled_job"})
SIGNAL_DECORATORS = frozenset({"receiver", "listens_for"})
MIGRATE_SIGNALS = frozenset({"post_migrate", "pre_migrate"})  # Django sends them from ``migrate``
STARTUP_NAMES = frozenset({"ready", "lifespan", "on_startup", "startup"})
DEV_WORDS = re.compile(r"(^|[_./-])(demo|fake|fakes|faker|sample|samples|dummy|mock|fixtures?|populate|generate_data)"
                       r"([_./-]|$)", re.I)
SEED_WORDS = re.compile(r"(^|[_./-])(seed|seeds|seeding|bootstrap|initial_data|load_initial)([_./-]|$)", re.I)
TEST_PATH = re.compile(r"(^|/)(tests?|testing|test_[^/]*\.py|[^/]*_tests?\.py|conftest\.py)(/|$)")
MIGRATION_PATH = re.compile(r"(^|/)(migrations|versions|alembic)/")


def _signal_name(ref) -> str:
    return ref[1].rsplit(".", 1)[-1] if ref is not None and ref[0] == RT.GLOBAL else ""


def received_signal(deco) -> str:
    """The dotted name of the signal a ``@receiver(signal)`` decorator (a ref, as in
    ``FuncFacts.decorators``) names, or ``""``."""
    if deco is None or deco[0] != RT.CALL or decorator_name(deco) not in SIGNAL_DECORATORS or not deco[2]:
        return ""
    first = deco[2][0]
    return first[1] if first is not None and first[0] == RT.GLOBAL else ""


def _decorator_names(fn) -> List[str]:
    return [decorator_name(d) for d in fn.decorators if d is not None]


class Contexts:
    """Entry contexts per function and their flow to callees, for one project index."""

    def __init__(self, index, max_depth: int = 6):
        self.ix = index
        self.max_depth = max_depth
        self._entry: Dict[str, FrozenSet[str]] = {}
        self._of: Dict[str, FrozenSet[str]] = {}
        self._callers: Optional[Dict[str, Set[str]]] = None
        self._connected: Optional[Dict[str, Set[str]]] = None  # handler -> the signals it is connected to
        self._connected_by: Dict[FrozenSet[str], Set[str]] = {}

    # -- entries ----------------------------------------------------------------------------------
    def entry(self, qual: str) -> FrozenSet[str]:
        hit = self._entry.get(qual)
        if hit is None:
            fn = self.ix.functions.get(qual)
            hit = self._entry[qual] = frozenset(self._entry_of(fn)) if fn is not None else frozenset()
        return hit

    def _entry_of(self, fn) -> Iterable[str]:
        facts = self.ix.owner(fn.qual)
        path = facts.path if facts is not None else ""
        out: Set[str] = set()
        if TEST_PATH.search(path):
            out.add(TEST)
        if MIGRATION_PATH.search(path):
            out.add(MIGRATION)
        names = _decorator_names(fn)
        mro = self.ix.mro(fn.cls) if fn.cls else []
        if any(n in TASK_DECORATORS for n in names):
            out.add(TASK)
        if fn.qual in self.connected(MIGRATE_SIGNALS) or any(
                received_signal(d).rsplit(".", 1)[-1] in MIGRATE_SIGNALS for d in fn.decorators):
            out.add(STARTUP)  # ``@receiver(post_migrate)``: runs once per ``migrate``, at deploy time
        elif any(n in SIGNAL_DECORATORS for n in names) or fn.qual in self.connected():
            out.add(SIGNAL)
        if "/management/commands/" in f"/{path}" or (fn.cls and any(a.startswith(COMMAND_BASES) for a in mro)) \
                or any(n in COMMAND_DECORATORS for n in names):
            out.add(COMMAND)
        if (fn.cls and any(a.startswith(ADMIN_BASES) for a in mro)) or "action" in names and path.endswith("admin.py"):
            out.add(ADMIN)
        elif self._is_request(fn, names, mro, path):
            out.add(REQUEST)
        if fn.name in STARTUP_NAMES and (not fn.cls or any(a.startswith("django.apps") for a in mro)):
            out.add(STARTUP)
        if "on_event" in names:
            out.add(STARTUP)
        where = f"{path}/{fn.qual}"
        if SEED_WORDS.search(where) and out & {COMMAND, STARTUP, SIGNAL, TASK} or SEED_WORDS.search(fn.name):
            out.add(SEED)
            out.discard(TASK)  # a task that seeds (a new workspace's starter data) runs once per seeding
        elif DEV_WORDS.search(where) or self._uses_fakes(facts):
            out.add(DEV_DATA)
        return out

    def _is_request(self, fn, names, mro, path) -> bool:
        if any(n in ROUTE for n in names):
            return True
        params = [p[0] for p in fn.params]
        if fn.cls:
            return fn.name in VIEW_HANDLERS and any(a.startswith(VIEW_BASES) for a in mro[1:])
        return bool(params) and params[0] in ("request", "req") and not path.endswith("admin.py")

    @staticmethod
    def _uses_fakes(facts) -> bool:
        if facts is None:
            return False
        return any(q.split(".")[0] in ("faker", "factory", "mimesis", "model_bakery", "autofixture")
                   for q in facts.names.values())

    def connected(self, signals: FrozenSet[str] = frozenset()) -> AbstractSet[str]:
        """Project functions registered as handlers: ``post_save.connect(handler, sender=X)``,
        at module level or in a function (``AppConfig.ready()``); with ``signals``, those
        connected to one of these signals (by name) only."""
        if self._connected is None:
            out: Dict[str, Set[str]] = {}
            typer = self.ix.typer
            for rel in self.ix.files:
                facts = self.ix.files.get(rel)
                if facts is None:
                    continue
                calls = list(getattr(facts, "module_calls", ()))
                for fn in facts.functions.values():
                    calls += fn.calls
                for ref, _line, _col in calls:
                    if ref and ref[0] == RT.CALL and ref[1] and ref[1][0] == RT.ATTR and ref[1][2] == "connect" \
                            and ref[2]:
                        t = typer.type_of(ref[2][0])
                        if t is not None and t[0] in (TK.FUNC, TK.BOUND):
                            out.setdefault(t[1], set()).add(_signal_name(ref[1][1]))
            self._connected = out
        if not signals:
            return self._connected.keys()
        hit = self._connected_by.get(signals)
        if hit is None:
            hit = self._connected_by[signals] = {q for q, names in self._connected.items() if names <= signals}
        return hit

    # -- flow -----------------------------------------------------------------------------------
    def callers(self) -> Dict[str, Set[str]]:
        """Project function -> the project functions that call it (resolved through the typer)."""
        if self._callers is None:
            out: Dict[str, Set[str]] = {}
            typer = self.ix.typer
            for rel in self.ix.files:
                facts = self.ix.files.get(rel)
                if facts is None:
                    continue
                for fn in facts.functions.values():
                    for ref, _line, _col in fn.calls:
                        ev = typer.event(ref)
                        if ev is not None and ev[0] == EV.CALL and ev[1] != fn.qual:
                            out.setdefault(ev[1], set()).add(fn.qual)
            self._callers = out
        return self._callers

    def of(self, qual: str) -> FrozenSet[str]:
        """The contexts ``qual`` runs in: its own entries, plus those of every caller, calls away."""
        hit = self._of.get(qual)
        if hit is not None:
            return hit
        seen = {qual}
        frontier = [qual]
        out: Set[str] = set(self.entry(qual))
        callers = self.callers()
        for _ in range(self.max_depth):
            nxt = []
            for q in frontier:
                for c in callers.get(q, ()):
                    if c not in seen:
                        seen.add(c)
                        if TEST in self.entry(c):  # tests call everything: not a production context
                            continue
                        nxt.append(c)
                        out |= self.entry(c)
            frontier = nxt
            if not frontier:
                break
        hit = self._of[qual] = frozenset(out)
        return hit


def contexts(index) -> Contexts:
    return index.derived("project.contexts", lambda: Contexts(index))
