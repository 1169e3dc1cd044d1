"""Does a half-done multi-write do harm? The evidence MDB401 needs to report at ``high``.

Two writes without a transaction are a defect only when the state between them breaks
something. Read off the function body around the writes:

- an **invariant field** changed (``balance``, ``amount``, ``total``, ``stock``, ``quantity``,
  ``count``, ``credits``… and ``transactions.invariant-fields``): a transfer or a stock move that
  stops half-way loses or creates value;
- a **replacement**: a delete followed by the insert that replaces it — a failure in between
  leaves nothing;
- a **status change** followed by the row that records it (an event, audit or child row): the
  status says it happened, nothing shows how.

Anything else (a parent written before optional children, per-item commits with per-item error
handling, idempotent steps) is ``medium``: valid or repaired by the next run.

A **reconciliation** — a function whose name or module says it syncs, reconciles, cleans up,
prunes or purges (``sync_versions``, ``sync/core.py``, ``cleanup_sessions``) — is run again and
again by design: a run that stops half-way is completed by the next one, so without one of the
harms above its writes are not reported (on the tune apps this removes 5 judged findings, all
wrong claims, and no true one).
"""
from __future__ import annotations

import ast
import re
from typing import Iterable, Optional

INVARIANT = re.compile(r"(^|_)(balance|balances|amount|amounts|total|totals|stock|stocks|quantity|quantities|qty|"
                       r"count|counter|credits?|debits?|points|inventory|seats|available|remaining)($|_)", re.I)
STATUS = re.compile(r"(^|_)(status|state)$", re.I)
DELETES = re.compile(r"\bdelete\b|\.delete\(|\bDELETE\b|remove|clear\(")
INSERTS = re.compile(r"create|insert|\.add\(|\.add_all\(|bulk_create|INSERT", re.I)


RECONCILE = re.compile(r"(^|[_./-])(re)?(sync|syncs|syncing|synchroni[sz]e[sd]?|synchroni[sz]ing|reconcile[sd]?|"
                       r"reconciliation|cleanup|clean_up|prune|purge|housekeeping)([_./-]|$)", re.I)


def reconciles(relpath: str, fnode: ast.AST, cls: Optional[str] = None) -> bool:
    """Is the function a reconciliation job (see the module docstring), by its name, its class's
    name or its module's path?"""
    where = f"{relpath.rsplit('.', 1)[0]}/{cls or ''}/{getattr(fnode, 'name', '')}"
    return bool(RECONCILE.search(where))


def harm_of(view, events: Iterable, settings=None) -> Optional[str]:
    """A short description of the harm a failure between ``events`` does, or None."""
    events = list(events)
    extra = _extra_fields(settings)
    field = _invariant_field(view.fnode, extra)
    if field:
        return f"`{field}` would be left half-updated"
    whats = [str(getattr(e, "what", "")) for e in events]
    if any(DELETES.search(w) for w in whats[:-1]) and any(INSERTS.search(w) for w in whats[1:]):
        return "the deleted rows would not be replaced"
    if _status_assigned(view.fnode) and any(INSERTS.search(w) for w in whats):
        return "the status would change with no record of it"
    return None


def _extra_fields(settings) -> frozenset:
    try:
        return frozenset(settings.section("transactions").invariant_fields or ())
    except (AttributeError, KeyError):
        return frozenset()


def _invariant_field(fnode: ast.AST, extra: frozenset) -> Optional[str]:
    """An attribute assigned or augmented (``acct.balance -= x``), a keyword of a write
    (``update(stock=F("stock") - 1)``) or an ``F("...")`` expression naming an invariant field."""
    for node in ast.walk(fnode):
        names = []
        if isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.attr for t in targets if isinstance(t, ast.Attribute)]
        elif isinstance(node, ast.Call):
            names = [k.arg for k in node.keywords if k.arg and isinstance(node.func, ast.Attribute)
                     and node.func.attr in ("update", "update_or_create", "values", "filter_update")]
            if isinstance(node.func, ast.Name) and node.func.id == "F" and node.args \
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                names.append(node.args[0].value)
        for name in names:
            if name in extra or INVARIANT.search(name):
                return name
    return None


def _status_assigned(fnode: ast.AST) -> bool:
    for node in ast.walk(fnode):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Attribute) and STATUS.search(t.attr)
                                                for t in node.targets):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "update" \
                and any(k.arg and STATUS.search(k.arg) for k in node.keywords):
            return True
    return False
