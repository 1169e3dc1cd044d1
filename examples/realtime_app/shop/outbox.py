"""The outbox relay: numbers committed events and publishes them, after their commit.

Services write an outbox row in the transaction of the change, so an event exists exactly when
its change committed, and ``kick()`` the relay after the commit. The relay task gives each
pending row the next ``seq`` (the SSE event id) in a transaction of its own, commits, and only
then publishes; it also runs every few seconds, so an event whose kick was lost (a crash after
the commit) is still published. One relay task per process keeps the publish order equal to the
``seq`` order; the ``relay_cursor`` row lock serializes the relays of several processes.
Cross-tenant by design (``tenant.system`` in mandu.yaml)."""
from __future__ import annotations

import asyncio
import threading
from typing import List, Optional

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from .events import Event, EventBus
from .models import OutboxEvent, RelayCursor

_RELAY_LOCK = threading.Lock()


class OutboxRepository:
    def __init__(self, session: Session):
        self.session = session

    def lock_cursor(self) -> None:
        """Taken first, so a second relay waits here instead of reading the same pending rows."""
        self.session.execute(update(RelayCursor).where(RelayCursor.id == 1).values(last_seq=RelayCursor.last_seq))

    def pending(self, limit: int) -> List[OutboxEvent]:
        return list(self.session.scalars(select(OutboxEvent).where(OutboxEvent.seq.is_(None))
                                         .order_by(OutboxEvent.id).limit(limit)))

    def take_seqs(self, n: int) -> int:
        """Reserve ``n`` numbers; returns the first. The UPDATE locks the cursor row until commit."""
        last = self.session.execute(update(RelayCursor).where(RelayCursor.id == 1)
                                    .values(last_seq=RelayCursor.last_seq + n)
                                    .returning(RelayCursor.last_seq)).scalar_one()
        return last - n + 1

    def assign(self, events: List[OutboxEvent], first: int) -> None:
        """One executemany UPDATE by primary key for the whole batch."""
        self.session.execute(update(OutboxEvent), [{"id": e.id, "seq": first + i} for i, e in enumerate(events)])


class Relay:
    def __init__(self, sessions: sessionmaker, bus: EventBus):
        self.sessions, self.bus = sessions, bus
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._wake: Optional[asyncio.Event] = None
        self._stopping = False

    def kick(self) -> None:
        """Thread-safe and cheap: ask the relay task to run now. Call it after the commit."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def stop(self) -> None:
        """Ask the relay task to finish its current pass and return."""
        self._stopping = True
        self.kick()

    async def run(self, every: float) -> None:
        """The relay task: relay when kicked, and at least every ``every`` seconds, until
        :meth:`stop`. (``asyncio.wait`` rather than ``wait_for``: on Python < 3.12 ``wait_for``
        can swallow a cancellation that races the event, and the task would never end.)"""
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        while not self._stopping:
            self._wake.clear()
            await asyncio.to_thread(relay_pending, self.sessions, self.bus)
            if self._stopping:
                break
            waiter = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({waiter}, timeout=every)
            finally:
                waiter.cancel()


def relay_pending(sessions: sessionmaker, bus: EventBus, batch: int = 200) -> int:
    """Number, commit, then publish every pending event; returns how many were published."""
    with _RELAY_LOCK:
        with sessions.begin() as session:
            repo = OutboxRepository(session)
            repo.lock_cursor()
            events = repo.pending(batch)
            first = repo.take_seqs(len(events)) if events else 0
            if events:
                repo.assign(events, first)
            published = [Event(first + i, e.store_id, e.topic, e.payload) for i, e in enumerate(events)]
        for event in published:
            bus.publish(event)
        return len(published)
