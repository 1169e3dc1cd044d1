"""In-process fan-out of relayed events to the SSE streams of one store.

Only the relay publishes, after commit and in ``seq`` order; a stream subscribes *before* it
reads its catch-up from the outbox table, so an event is either in the catch-up or arrives
live (or both: the stream drops what it already sent, by ``seq``). The bus holds no history:
a stream that is not connected reads what it missed from the table when it reconnects."""
from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Dict, Optional, Set


@dataclass(frozen=True)
class Event:
    seq: Optional[int]
    store_id: int
    topic: str
    payload: dict


class Subscription:
    def __init__(self, bus: "EventBus", store_id: int):
        self.bus, self.store_id = bus, store_id
        self.loop = asyncio.get_running_loop()
        self.queue: "asyncio.Queue[Event]" = asyncio.Queue()

    async def get(self, timeout: float) -> Optional[Event]:
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except asyncio.TimeoutError:
            return None

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc) -> None:
        self.bus.unsubscribe(self)


class EventBus:
    def __init__(self):
        self._lock = threading.Lock()
        self._subs: Dict[int, Set[Subscription]] = {}

    def subscribe(self, store_id: int) -> Subscription:
        """Call from the event loop of the stream; the subscription receives from now on."""
        sub = Subscription(self, store_id)
        with self._lock:
            self._subs.setdefault(store_id, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.get(sub.store_id, set()).discard(sub)

    def publish(self, event: Event) -> None:
        """Thread-safe: hands the event to every stream of its store, on the stream's own loop."""
        with self._lock:
            subs = list(self._subs.get(event.store_id, ()))
        for sub in subs:
            sub.loop.call_soon_threadsafe(sub.queue.put_nowait, event)
