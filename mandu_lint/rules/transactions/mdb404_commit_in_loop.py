"""MDB404: a commit on every iteration of a loop."""
from __future__ import annotations

import ast
from typing import Optional

from .calls import db_event, origin
from .analysis import tx_index
from .flow import BATCHY, batch_guarded
from ...core.messages import brief
from ...core.refs import sql_literal
from .base import TxRule
from ...project.contexts import ONE_OFF
from ...core.tags import EV, RT

BLOCK_END = "the end of a transaction block"


class CommitInLoop(TxRule):
    """
    ## What it does
    Finds `commit()` (SQLAlchemy session or connection, DB-API connection, Django
    `transaction.commit()`) that runs on every iteration of a loop, directly or through a project
    function that commits.

    Primary location: the `commit()` call (or the call of the function that commits) in the loop.

    ## Why is this bad?
    Each commit is a round trip and a durable flush of the write-ahead log: committing per row
    makes a bulk job orders of magnitude slower. It also splits one logical operation into many
    transactions, so a failure half-way leaves half the rows written and the rest not, with no
    easy way to resume.

    ## Known problems
    Loops that commit once per *batch* are fine and not reported: a commit guarded by a modulo
    test (`if i % 500 == 0`), a batch size or `len()` (`if len(pending) >= size`), or a counter
    the same branch resets (`if done >= 500: …; done = 0`), loops over
    `batches`/`chunks`/`pages`, `while True` worker loops
    and retry loops. A transaction per item opened with `with atomic()`/`with session.begin()` is
    a deliberate choice (each item succeeds or fails alone) and is not reported either, nor is a
    commit per pass when the pass rolls back its own failure (`except …: session.rollback()`) or
    sends something a rollback cannot take back (an email, a queued task), which the commit keeps
    in step with the database, or waits on another service (an HTTP or storage client, directly or
    through project functions), whose result the commit records as it goes. A project
    helper counts as a commit only when it writes before committing (a helper that commits after
    reads only ends a read transaction) or the call hands it an `INSERT`/`UPDATE`/`DELETE`, and
    only when the flags the call passes let its commit run (`save(obj, commit=False)` does not
    commit; see `project/flags.py`).

    ## Example
    ```python
    for row in rows:
        session.add(Item(**row))
        session.commit()
    ```

    ## Use instead
    ```python
    for row in rows:
        session.add(Item(**row))
    session.commit()
    ```

    ## Fix safety
    No automatic fix: moving the commit after the loop changes what survives a failure, and the
    loop may read its own writes.
    """

    code = "MDB404"
    name = "commit-in-loop"
    summary = "Transaction committed on every iteration of a loop"
    precision = "medium"  # blind triage of real apps: too many findings immaterial or wrong for a default
    quiet_in = ONE_OFF  # one-off code pays its per-row cost once (tune verdicts in commands: 1 of 32 true)
    tags = ("transactions", "performance")

    BAD = [
        """
from sqlalchemy.orm import Session

def load(session: Session, rows):
    for row in rows:
        session.execute(row)
        session.commit()  # error

def save_all(session: Session, items):
    for item in items:
        store(session, item)  # error

def store(session: Session, item):
    session.add(item)
    session.commit()
""",
    ]
    GOOD = [
        """
from sqlalchemy.orm import Session

def load(session: Session, rows):
    for row in rows:
        session.execute(row)
    session.commit()

def batched(session: Session, rows):
    for i, row in enumerate(rows):
        session.execute(row)
        if i % 500 == 0:
            session.commit()

def per_chunk(session: Session, chunks):
    for chunk in chunks:
        session.execute(chunk)
        session.commit()

def retry(session: Session):
    for attempt in range(3):
        try:
            session.commit()
            break
        except Exception:
            session.rollback()

def isolated(session: Session, rows):
    for row in rows:
        try:
            session.execute(row)
        except Exception:
            session.rollback()
            continue
        session.commit()

def notify_each(session: Session, rows):
    from django.core.mail import send_mail
    for row in rows:
        session.execute(row)
        session.commit()
        send_mail("done", str(row), "a@example.com", ["b@example.com"])
""",
    ]

    def __init__(self, ctx):
        super().__init__(ctx)
        self._loops = set()  # loops already reported: one finding per loop

    def visit_Call(self, node: ast.Call) -> None:
        view = self.view()
        frame = self.ctx.reporting_frame()
        if frame is None or view is None or id(frame.node) in self._loops or _batchy(frame) \
                or self.ctx.waits_on_network(frame):
            return
        what = self._commit(node)
        if what is None or batch_guarded(view, node, frame.node) or _own_session(view, node, frame.node) \
                or _per_item(view, frame.node):
            return
        self._loops.add(id(frame.node))
        self.report(node, f"{what} on every iteration of the loop on line {frame.node.lineno}: one transaction "
                          "and one durable flush per row, and a failure half-way leaves half the rows "
                          "committed; commit once after the loop (or once per batch)")

    def _commit(self, node: ast.Call) -> Optional[str]:
        tx = tx_index(self.ctx)
        ref = self.ctx.ref(node)
        ev = db_event(tx.ix, tx.typer, ref)
        if ev is not None:
            return f"`{brief(node)}` commits" if ev[0] == EV.COMMIT else None
        if ref and ref[0] == RT.CALL and origin(tx.ix, ref[1]) == "django.db.transaction.commit":
            return "`transaction.commit()` commits"
        call = self.ctx.typer.event(ref)
        if not call or call[0] != EV.CALL or BATCHY.search(call[1].rsplit(".", 1)[-1]):
            return None
        atoms = tx.summaries.of_call(call[1], ref, node)
        atom = next((a for a in atoms if a.letter == "C" and a.what != BLOCK_END), None)
        sends_write = bool(ref[2]) and sql_literal(ref[2][0]) == "write"  # ``db.execute("UPDATE …")``
        if atom is None or not (sends_write or any(a.letter == "W" for a in atoms[:atoms.index(atom)])):
            return None  # a helper that commits without writing first only ends a read (``rebuild()``)
        return f"`{brief(node)}` commits ({atom.what} in `{atom.qual.rsplit('.', 1)[-1]}`)"


def _per_item(view, loop: ast.AST) -> bool:
    """Per-item commits on purpose: each pass rolls back its own failure (a ``try`` whose
    handler calls ``rollback()``), or sends something a rollback cannot take back (an email, a
    task, a file removed from storage), which its commit keeps in step with the database."""
    end = getattr(loop, "end_lineno", loop.lineno)
    for n in ast.walk(loop):
        if isinstance(n, ast.Try) and any(isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute)
                                          and c.func.attr == "rollback"
                                          for h in n.handlers for c in ast.walk(h)):
            return True
    return any(e.letter == "S" and loop.lineno <= getattr(e.node, "lineno", 0) <= end for e in view.events)


def _batchy(frame) -> bool:
    """A loop over batches, chunks or pages commits once per batch on purpose."""
    names = list(frame.targets)
    it = frame.iter_node
    if it is not None:
        names += [n.id if isinstance(n, ast.Name) else n.attr for n in ast.walk(it)
                  if isinstance(n, (ast.Name, ast.Attribute))]
    return any(BATCHY.search(n) for n in names)


def _own_session(view, node: ast.Call, loop: ast.AST) -> bool:
    """``for x in xs: with Session() as s: ...; s.commit()``: a unit of work per element."""
    f = node.func
    if not (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name)):
        return False
    name = f.value.id
    for anc in view.ancestors(node):
        if anc is loop:
            return False
        if isinstance(anc, (ast.With, ast.AsyncWith)) and any(
                isinstance(i.optional_vars, ast.Name) and i.optional_vars.id == name for i in anc.items):
            return True
    return any(isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in n.targets)
               for s in getattr(loop, "body", []) for n in ast.walk(s))
