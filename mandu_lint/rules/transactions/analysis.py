"""Is a function entered inside a transaction? Project-wide, three states.

A function is *inside* when every project caller calls it inside a transaction (a covering
``with transaction.atomic()``/helper block or decorator, or a caller that is itself inside),
*outside* when some caller does not, and *unknown* when it has no project callers — except
what the framework is known to do: a Celery task, a management command and an ``on_commit``
callback run in autocommit; a sync view runs in a transaction exactly when ``ATOMIC_REQUESTS``
is on; the admin's ``save_model``/``delete_model`` run inside one; a ``post_save`` receiver and
a model's ``save()`` override run wherever the model is saved (:mod:`.txframework`). Rules act
on *inside* or *outside* only; *unknown* keeps them silent.

Callers are found through a name index of every call in the project's application files
(tests and migrations do not count: they are not production paths), typed on demand.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from .calls import ON_COMMIT, PARTIAL, opener, origin, strip_call
from .framework import (INSIDE, OUTSIDE, SAVE_CALLS, SAVED_IN, UNKNOWN, Entry,  # noqa: F401 - re-exported
                        FrameworkEntries)
from .summary import Summaries
from ...core.tags import EV, RT, TK


def tx_index(ctx) -> "TxIndex":
    """The project's transaction facts, built once per index (shared by every file's rules)."""
    return ctx.derived("transactions.tx_index", lambda: TxIndex(ctx.project))


class TxIndex(FrameworkEntries):
    def __init__(self, project):
        self.project = project
        self.ix = project.index
        self.typer = self.ix.typer
        sec = project.settings.section("transactions")
        self.helpers = frozenset(sec.helpers or ())
        self.extra = frozenset(sec.side_effects or ())
        self._sites: Optional[Dict[str, list]] = None
        self._entry: Dict[str, Entry] = {}
        self._openers: Dict[object, Optional[str]] = {}
        self._atomic: Dict[str, Optional[bool]] = {}  # ATOMIC_REQUESTS / ATOMIC_MUTATIONS, computed on first use
        self._commit_cbs: Optional[Dict[str, list]] = None
        self._recv: Optional[Dict[str, list]] = None
        self._conn: Optional[Dict[str, list]] = None
        self.summaries = Summaries(self)

    # -- local cover ----------------------------------------------------------------------------
    def opener(self, ref) -> Optional[str]:
        if ref not in self._openers:
            self._openers[ref] = None  # recursion guard
            self._openers[ref] = opener(self.ix, self.typer, ref, self.helpers) or self._project_cm(ref)
        return self._openers[ref]

    def _project_cm(self, ref) -> Optional[str]:
        """A project ``@contextmanager`` whose generator runs inside ``with atomic()``."""
        if ref is None or ref[0] != RT.CALL:
            return None
        t = self.typer.type_of(ref[1])
        fn = self.ix.functions.get(t[1]) if t and t[0] in (TK.FUNC, TK.BOUND) else None
        if fn is None or not fn.is_generator or not any(
                (origin(self.ix, strip_call(d)) or "").endswith("contextmanager") for d in fn.decorators):
            return None
        return "django" if any(self.opener(w[0]) == "django" for w in getattr(fn, "withs", ())) else None

    def decorated(self, fn) -> bool:
        """Decorated with ``atomic`` (or a helper), or a method of a class decorated with
        ``method_decorator(atomic, ...)``: the whole body runs in a transaction."""
        if any(self.opener(d) == "django" for d in fn.decorators):
            return True
        cf = self.ix.classes.get(fn.cls) if fn.cls else None
        return cf is not None and any(self.opener(d) == "django" for d in getattr(cf, "decorators", ()))

    def covered(self, fn, line: int, col: int) -> bool:
        if self.decorated(fn):
            return True
        for ref, l1, c1, l2, c2 in getattr(fn, "withs", ()):
            if (l1, c1) <= (line, col) <= (l2, c2) and self.opener(ref) == "django":
                return True
        return False

    # -- callers --------------------------------------------------------------------------------
    def _non_app(self, rel: str) -> bool:
        check = getattr(self.project, "is_non_app", None)
        return bool(check and check(rel))

    def sites(self) -> Dict[str, list]:
        """Last name of the callee → [(caller qual, call ref, line, col)] over application files."""
        if self._sites is None:
            digest = self.project.settings.digest[:12]
            build = getattr(self.project, "derived_table", None)
            self._sites = build(f"tx-sites-{digest}", self._build_sites) if build else self._build_sites()
        return self._sites

    def _build_sites(self) -> Dict[str, list]:
        out: Dict[str, list] = {}
        for rel in self.ix.files:
            if self._non_app(rel):
                continue
            facts = self.ix.files[rel]
            for fn in facts.functions.values():
                for ref, line, col in fn.calls:
                    name = _last_name(ref)
                    if name:
                        out.setdefault(name, []).append((fn.qual, ref, line, col))
            for ref, line, col in getattr(facts, "module_calls", ()):  # ``post_save.connect(f)`` at module level
                name = _last_name(ref)
                if name:
                    out.setdefault(name, []).append((facts.module, ref, line, col))
        return out

    def callers(self, qual: str) -> List[Tuple[str, int, int, str]]:
        """(caller, line, col, how): direct calls, and ``on_commit`` registrations (how=on_commit)."""
        fn = self.ix.functions.get(qual)
        if fn is None:
            return []
        out = [(c, line, col, "call") for c, ref, line, col in self.sites().get(fn.name, ())
               if self.typer.event(ref) == (EV.CALL, qual)]
        out += [(c, line, col, "on_commit") for c, line, col in self._on_commit().get(qual, ())]
        return out

    def _on_commit(self) -> Dict[str, list]:
        if self._commit_cbs is None:
            self._commit_cbs = {}
            for caller, ref, line, col in self.sites().get("on_commit", ()):
                if origin(self.ix, ref[1]) in ON_COMMIT and ref[2]:
                    target = self.func_of(ref[2][0])
                    if target:
                        self._commit_cbs.setdefault(target, []).append((caller, line, col))
        return self._commit_cbs

    def func_of(self, ref) -> Optional[str]:
        """The project function a callable value names (``f``, ``self.m``, ``partial(f, ...)``)."""
        if ref is not None and ref[0] == RT.CALL and origin(self.ix, ref[1]) in PARTIAL and ref[2]:
            ref = ref[2][0]
        t = self.typer.type_of(ref)
        return t[1] if t and t[0] in (TK.FUNC, TK.BOUND) else None

    # -- entry state ----------------------------------------------------------------------------
    def site_state(self, caller: str, line: int, col: int) -> str:
        fn = self.ix.functions.get(caller)
        if fn is None:
            return UNKNOWN
        if self.covered(fn, line, col):
            return INSIDE
        return self.entry(caller).state

    def entry(self, qual: str) -> Entry:
        hit = self._entry.get(qual)
        if hit is not None:
            return hit
        self._entry[qual] = Entry(UNKNOWN, "reached through a call cycle")
        fn = self.ix.functions.get(qual)
        if fn is None:
            out = Entry(UNKNOWN, "not a project function")
        elif self.decorated(fn):
            out = Entry(INSIDE, "decorated with `transaction.atomic`")
        else:
            sites = self.callers(qual)
            out = self._meet(sites) if sites else self.framework(fn)
        self._entry[qual] = out
        return out

    def _meet(self, sites) -> Entry:
        """Inside when every site is inside, outside when one is outside, else unknown. Sites are
        read in a fixed order (caller, line, column): the caller the message names must not
        depend on the order in which worker processes indexed the files."""
        unknown = None
        for caller, line, col, how in sorted(sites):
            state = OUTSIDE if how == "on_commit" else INSIDE if how == "atomic" else \
                self.site_state(caller, line, col)
            if state == OUTSIDE:
                path = self.ix.func_path.get(caller, "")
                why = (f"registered with `on_commit` in `{caller}`" if how == "on_commit"
                       else f"called outside a transaction by `{caller}`")
                return Entry(OUTSIDE, why, (path, line))
            if state == UNKNOWN and unknown is None:
                unknown = caller
        if unknown is not None:
            return Entry(UNKNOWN, f"called by `{unknown}`, whose transaction state is unknown")
        return Entry(INSIDE, "every caller runs it inside a transaction")

    def reports_own(self, qual: str) -> bool:
        """A function that MDB403 reports itself: entered inside a transaction, after a write."""
        e = self.entry(qual)
        return e.state == INSIDE and (self.summaries.writes_before_effect(qual) or e.why.startswith(SAVED_IN))


def _last_name(ref) -> Optional[str]:
    if ref is None or ref[0] != RT.CALL or ref[1] is None:
        return None
    callee = ref[1]
    if callee[0] == RT.ATTR:
        return callee[2]
    if callee[0] == RT.GLOBAL:
        return callee[1].rsplit(".", 1)[-1]
    return None
