"""The event stream over a real socket (uvicorn on 127.0.0.1): a client that disconnects and
reconnects with ``Last-Event-ID`` receives every committed event exactly once, in order, and
never an event of another store or of a rolled-back order. Bounded: every wait has a timeout."""
from __future__ import annotations

import threading
import time

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from conftest import auth, product_id, seed
from shop import api
from shop.models import OutboxEvent

TIMEOUT = 10.0


@pytest.fixture
def server(app, monkeypatch):
    monkeypatch.setattr(api, "KEEPALIVE_SECONDS", 0.2)  # streams notice a disconnect quickly
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", timeout_graceful_shutdown=2)
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + TIMEOUT
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.02)
    seed(app.state.db)
    port = srv.servers[0].sockets[0].getsockname()[1]
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT) as http:
        yield http
    srv.should_exit = True
    thread.join(TIMEOUT)
    assert not thread.is_alive(), "server did not stop"


def read_events(http, store_id, count, last_event_id=None, events=None):
    """Open the stream, read ``count`` events into ``events``, disconnect. [(id, topic, data)]."""
    headers = auth(store_id) | ({"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {})
    events, current = [] if events is None else events, {}
    with http.stream("GET", "/events", headers=headers) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith(("id:", "event:", "data:")):
                key, _, value = line.partition(": ")
                current[key] = value
            elif line == "" and "id" in current:
                events.append((int(current["id"]), current["event"], current["data"]))
                current = {}
                if len(events) == count:
                    break
    return events


def order(http, store_id, app, n=0, quantity=1):
    return http.post("/orders", json={"product_id": product_id(app.state.db, store_id, n), "quantity": quantity},
                     headers=auth(store_id))


def committed_ids(app, store_id):
    with app.state.db.sessions() as session:
        return list(session.scalars(select(OutboxEvent.seq).where(OutboxEvent.store_id == store_id)
                                    .order_by(OutboxEvent.seq)))


def test_reconnect_with_last_event_id_gets_every_event_once(server, app):
    for _ in range(3):
        assert order(server, 1, app).status_code == 201
    first = read_events(server, 1, 3)
    assert [topic for _, topic, _ in first] == ["order.placed"] * 3

    # while the client is away: two orders, a product change, a rejected order, another store's order
    assert order(server, 1, app, n=1).status_code == 201
    assert order(server, 1, app, n=2).status_code == 201
    pid = product_id(app.state.db, 1)
    assert server.patch(f"/products/{pid}", json={"name": "renamed"},
                        headers=auth(1) | {"If-Match": '"4"'}).status_code == 200
    assert order(server, 1, app, quantity=999).status_code == 409  # out of stock: rolled back, no event
    assert order(server, 2, app).status_code == 201

    later = []
    reader = threading.Thread(target=read_events, args=(server, 1, 5, first[-1][0], later))
    reader.start()
    wait_for(lambda: len(later) == 3)  # the catch-up: what was missed while disconnected
    assert order(server, 1, app).status_code == 201  # live, through the relay kicked after commit
    with app.state.db.sessions.begin() as session:  # committed without a kick: the periodic relay finds it
        session.add(OutboxEvent(store_id=1, topic="note", payload={"kick": "lost"}))
    reader.join(TIMEOUT)
    assert not reader.is_alive(), "the reconnected stream did not deliver every event"

    ids = [seq for seq, _, _ in first + later]
    assert ids == sorted(set(ids)), "in order, no duplicates"
    assert ids == committed_ids(app, 1), "every committed event of this store, none of another"
    assert [topic for _, topic, _ in later] == ["order.placed", "order.placed", "product.updated",
                                                "order.placed", "note"]


def wait_for(condition):
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
