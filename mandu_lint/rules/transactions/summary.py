"""What calling a project function does, transaction-wise, however many calls deep: the ordered
writes (W), commits (C) and side effects (S) it may perform, consecutive repeats merged.

A helper's writes count toward its caller's writes (MDB401), a helper that commits is a commit
in its caller's loop (MDB404), and a helper that sends an email is a side effect at its call
site (MDB403). Branches are not told apart here: the summary is an over-approximation of one
call, used only to decide whether a call *may* write, commit or send — except the branches a
flag parameter guards, which the flag values of the call being summarised rule out
(``repo.create(obj)`` with ``flush=False`` by default sends nothing; ``project/flags.py``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from .calls import db_event, origin, side_effect
from ...core.tags import EV, RT
from ...project.flags import at_site, from_node as flags_from_node, key as flag_key, ruled_out

MAX_ATOMS = 12
SUPER_WRITES = frozenset({"save", "delete", "asave", "adelete"})


@dataclass(frozen=True)
class Atom:
    letter: str  # W | C | S
    stack: str  # django | sa | dbapi ("" for a side effect)
    what: str  # `session.commit()`, "`send_mail()` sends an email"
    qual: str  # the function where it happens
    line: int


class Summaries:
    def __init__(self, tx):
        self.tx = tx
        self._memo: Dict[tuple, Tuple[Atom, ...]] = {}

    def of(self, qual: str, flags: Optional[Dict[str, bool]] = None) -> Tuple[Atom, ...]:
        """What ``qual`` does, in order; ``flags``: the values of its flag parameters at the call
        being summarised (``project/flags.py``), which rule out the calls they guard."""
        memo_key = (qual, flag_key(flags))
        hit = self._memo.get(memo_key)
        if hit is not None:
            return hit
        self._memo[memo_key] = ()  # a cycle contributes nothing
        fn = self.tx.ix.functions.get(qual)
        out = _compress(self._atoms(fn, flags)) if fn is not None else ()
        self._memo[memo_key] = out
        return out

    def of_call(self, qual: str, ref, call) -> Tuple[Atom, ...]:
        """:meth:`of` for a call the rule holds as a node: with the flags that call passes."""
        return self.of(qual, flags_from_node(self.tx.ix, qual, ref, call))

    def _atoms(self, fn, flags=None):
        tx, typer = self.tx, self.tx.typer
        found = []
        handlers = getattr(fn, "handlers", ())
        for ref, line, col in fn.calls:
            if ruled_out(fn, line, col, flags):
                continue  # ``if flush: session.flush()`` under ``flush=False``
            atoms = call_atoms(tx, ref, fn, line)
            if atoms is None:
                ev = typer.event(ref)
                atoms = ()
                if ev and ev[0] == EV.CALL and ev[1] != fn.qual:
                    atoms = self.of(ev[1], at_site(tx.ix, fn, ev[1], ref, line, col, flags))
            if atoms and any((l1, c1) <= (line, col) <= (l2, c2) for l1, c1, l2, c2 in handlers):
                # a fallback in an ``except`` (create the missing row, report the failure) is not
                # what the function does when it works: ``get()`` that creates a default is a read
                atoms = tuple(a for a in atoms if a.letter == "C")
            found.extend(((line, col), a) for a in atoms)
        for ref, _l1, _c1, l2, c2 in getattr(fn, "withs", ()):
            kind = tx.opener(ref)
            if kind in ("sa", "dbapi"):
                found.append(((l2, c2), Atom("C", kind, "the end of a transaction block", fn.qual, l2)))
        found.sort(key=lambda p: p[0])
        return [a for _, a in found]

    def first(self, qual: str, letter: str, stack: Optional[str] = None) -> Optional[Atom]:
        for a in self.of(qual):
            if a.letter == letter and (stack is None or a.stack == stack):
                return a
        return None

    def writes_before_effect(self, qual: str) -> bool:
        seen_write = False
        for a in self.of(qual):
            if a.letter == "W":
                seen_write = True
            elif a.letter == "S" and seen_write:
                return True
        return False


def call_atoms(tx, ref, fn, line: int):
    """The atoms of one call that is itself a database call or a side effect; None when it is
    neither (it may then be a project call, summarised by the caller)."""
    ev = db_event(tx.ix, tx.typer, ref)
    if ev is not None:
        kind, stack, what = ev
        if kind == "write":
            return (Atom("W", stack, f"`{what}`", fn.qual, line),)
        if kind == "commit":
            return (Atom("C", stack, f"`{what}`", fn.qual, line),)
        return ()
    if super_write(tx.ix, ref, fn.cls):
        return (Atom("W", "django", f"`super().{ref[1][2]}()`", fn.qual, line),)
    effect = side_effect(tx.ix, tx.typer, ref, tx.extra)
    if effect:
        return (Atom("S", "", effect, fn.qual, line),)
    return None


def super_write(ix, ref, cls: Optional[str]) -> bool:
    """``super().save()`` inside a Django model's method writes that model."""
    if not cls or ref is None or ref[0] != RT.CALL or ref[1] is None or ref[1][0] != RT.ATTR:
        return False
    inner = ref[1][1]
    if ref[1][2] not in SUPER_WRITES or inner is None or inner[0] != RT.CALL:
        return False
    if origin(ix, inner[1]) != "builtins.super":
        return False
    model = ix.models.get(cls)
    return model is not None and model.orm == "django"


def _compress(atoms) -> Tuple[Atom, ...]:
    out = []
    for a in atoms:
        if out and (out[-1].letter, out[-1].stack, out[-1].what) == (a.letter, a.stack, a.what):
            continue
        out.append(a)
        if len(out) >= MAX_ATOMS:
            break
    return tuple(out)
