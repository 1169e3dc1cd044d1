"""Events only after commit, all-or-nothing imports, retries with backoff and jitter, one pool per
process: the recommended code next to the defect it avoids."""
from __future__ import annotations

import asyncio
import sqlite3

import pytest
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.pool import Pool

from conftest import auth, product_id
from shop import outbox, retry, services
from shop.db import Database
from shop.defects import handlers as handler_defects
from shop.defects import lifecycle as lifecycle_defects
from shop.defects import transactions as defects
from shop.events import EventBus
from shop.models import Order, Product, Store
from test_orders import rows


def failing_restock(engine):
    def before(conn, cursor, statement, *args):
        if statement.startswith("UPDATE products SET stock=(products.stock +"):
            raise OperationalError(statement, (), Exception("disk I/O error"))
    event.listen(engine, "before_cursor_execute", before)
    return lambda: event.remove(engine, "before_cursor_execute", before)


def test_no_event_for_a_rolled_back_cancel(client, db, app):  # MDB403
    placed = client.post("/orders", json={"product_id": product_id(db, 1), "quantity": 1}, headers=auth(1)).json()
    outbox.relay_pending(db.sessions, app.state.bus)

    async def cancel_with_failing_restock(cancel):
        bus = EventBus()
        with bus.subscribe(1) as stream:
            undo = failing_restock(db.engine)
            try:
                with pytest.raises(OperationalError):
                    await asyncio.to_thread(cancel, bus)
            finally:
                undo()
            outbox.relay_pending(db.sessions, bus)
            return await stream.get(timeout=0.3)

    good = asyncio.run(cancel_with_failing_restock(
        lambda bus: services.cancel_order(db, outbox.Relay(db.sessions, bus), 1, placed["id"])))
    assert good is None
    with db.sessions() as session:
        bad = asyncio.run(cancel_with_failing_restock(lambda bus: defects.cancel_order(session, bus, 1, placed["id"])))
    assert bad is not None and bad.topic == "order.cancelled", "the streams were told"
    assert client.get(f"/orders/{placed['id']}", headers=auth(1)).json()["status"] == "placed", "it never happened"


def test_import_is_all_or_nothing(client, db):  # MDB404
    batch = [{"sku": "N1", "name": "a"}, {"sku": "N2", "name": "b"}, {"sku": "N1", "name": "dup"}]
    with pytest.raises(IntegrityError):
        services.import_products(db, 1, batch)
    assert rows(db, Product, store_id=1) == 3
    with db.sessions() as session, pytest.raises(IntegrityError):
        defects.import_products(session, 1, batch)
    assert rows(db, Product, store_id=1) == 5, "half the file went in"


class LockedDatabase:
    """Another writer holds the SQLite write lock until the retrying code has slept ``times`` times."""

    def __init__(self, path, times):
        self.holder = sqlite3.connect(path, isolation_level=None)
        self.holder.execute("BEGIN IMMEDIATE")
        self.times, self.delays = times, []

    def sleep(self, seconds):
        self.delays.append(seconds)
        if len(self.delays) == self.times:
            self.holder.execute("COMMIT")


@pytest.mark.parametrize("attempt", ["recommended", "defect"])
def test_retry_backs_off_with_jitter(client, db_url, monkeypatch, attempt):  # MDB405
    fast = Database(db_url, busy_timeout=0.01)  # a locked database fails at once instead of waiting
    pid, locked = product_id(fast, 1), LockedDatabase(db_url.removeprefix("sqlite:///"), times=4)
    monkeypatch.setattr("time.sleep", locked.sleep)
    if attempt == "recommended":
        services.place_order(fast, outbox.Relay(fast.sessions, EventBus()), 1, pid, 1)
        caps = [min(retry.CAP, retry.BASE * 2 ** n) for n in range(4)]
        assert all(0 <= d <= cap for d, cap in zip(locked.delays, caps)) and len(set(locked.delays)) == 4
    else:
        defects.place_order_retrying(fast, 1, pid, 1)
        assert locked.delays == [0.05] * 4, "every client wakes at the same moments"
    assert rows(fast, Order) == 1
    fast.dispose()


def test_one_pool_per_process(client, db, app, db_url, monkeypatch):  # MDB203
    monkeypatch.setenv("SHOP_DB", db_url)
    app.include_router(handler_defects.router)
    every, mine = [], []

    def on_connect(*args):
        every.append(args)

    def on_app_connect(*args):
        mine.append(args)

    event.listen(Pool, "connect", on_connect)  # every pool of the process
    event.listen(db.engine.pool, "connect", on_app_connect)  # the app's own pool
    try:
        for _ in range(5):
            assert client.get("/products", headers=auth(1)).status_code == 200
        for _ in range(5):
            assert client.get("/defects/low-stock", headers=auth(1)).status_code == 200
    finally:
        event.remove(Pool, "connect", on_connect)
        event.remove(db.engine.pool, "connect", on_app_connect)
    # the outbox relay (every 50 ms) may hold one connection while a request takes another
    assert len(mine) <= 2, "the app's pool reuses its connections"
    assert len(every) - len(mine) == 5, "the defect opens a new pool and connection per request"


def test_export_leaves_the_connection_open(client, db, db_url, monkeypatch):  # MDB204
    opened = []
    real_connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: opened.append(real_connect(*a, **k)) or opened[-1])
    assert lifecycle_defects.export_orders(db_url.removeprefix("sqlite:///"), 1) == []
    assert opened[0].execute("SELECT 1").fetchone() == (1,), "returned with its connection still open"
    opened[0].close()


def test_seed_is_idempotent(db_url):
    from shop.seed import seed as demo_seed

    fresh = Database(db_url)
    fresh.create_schema()
    demo_seed(fresh)
    counts = (rows(fresh, Store), rows(fresh, Product))
    demo_seed(fresh)
    fresh.create_schema()
    assert (rows(fresh, Store), rows(fresh, Product)) == counts == (2, 4)
    fresh.dispose()
