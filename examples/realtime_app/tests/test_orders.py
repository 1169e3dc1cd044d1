"""Idempotency keys, optimistic locking, atomic order + event, tenant scope and query counts:
the recommended code next to the defect it avoids, on the real app and a real SQLite file."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from conftest import auth, concurrently_after, count_selects, product_id
from shop import services
from shop.defects import queries as query_defects
from shop.defects import tenant as tenant_defects
from shop.defects import transactions as defects
from shop.models import Order, OutboxEvent, Product


def rows(db, model, **where):
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(model).filter_by(**where))


def stock(db, pid):
    with db.sessions() as session:
        return session.get(Product, pid).stock


def test_duplicate_post_creates_one_order(client, db):
    pid = product_id(db, 1)
    headers = {**auth(1), "Idempotency-Key": "k1"}
    first = client.post("/orders", json={"product_id": pid, "quantity": 2}, headers=headers)
    again = client.post("/orders", json={"product_id": pid, "quantity": 2}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    assert rows(db, Order, idempotency_key="k1") == 1 and stock(db, pid) == 8


def test_concurrent_duplicates_create_one_order(client, db, app):
    pid, barrier, results = product_id(db, 1), threading.Barrier(4), []

    def post():
        barrier.wait()
        results.append(services.place_order(db, app.state.relay, 1, pid, 1, "same-key"))

    threads = [threading.Thread(target=post) for _ in range(4)]
    [t.start() for t in threads]
    [t.join(10) for t in threads]
    assert len(results) == 4 and len({view.id for view, _ in results}) == 1
    assert sorted(created for _, created in results) == [False, False, False, True]
    assert rows(db, Order, idempotency_key="same-key") == 1 and stock(db, pid) == 9


def test_check_then_insert_defect_fails_the_duplicate(client, db, app):  # MDB406
    pid = product_id(db, 1)
    racer = lambda: services.place_order(db, app.state.relay, 1, pid, 1, "k2")  # noqa: E731
    with db.sessions() as session, concurrently_after(db.engine, "orders", racer):
        with pytest.raises(IntegrityError):
            defects.place_order(session, 1, pid, 1, "k2")


def test_stock_decrement_defect_loses_an_update(client, db, app):  # MDB407
    pid = product_id(db, 1)
    racer = lambda: services.place_order(db, app.state.relay, 1, pid, 3, "racer")  # noqa: E731
    with db.sessions() as session, concurrently_after(db.engine, "products", racer):
        defects.place_order(session, 1, pid, 2, "mine")
    assert rows(db, Order, store_id=1) == 2
    assert stock(db, pid) == 8, "5 were ordered, the stock says 2"


def test_concurrent_orders_never_lose_stock(client, db, app):
    pid, barrier, outcomes = product_id(db, 1), threading.Barrier(6), []

    def order(i):
        barrier.wait()
        try:
            services.place_order(db, app.state.relay, 1, pid, 2, f"key-{i}")
            outcomes.append("placed")
        except services.OutOfStock:
            outcomes.append("out of stock")

    threads = [threading.Thread(target=order, args=(i,)) for i in range(6)]
    [t.start() for t in threads]
    [t.join(10) for t in threads]
    assert sorted(outcomes) == ["out of stock"] + ["placed"] * 5
    assert stock(db, pid) == 0 and rows(db, Order, store_id=1) == 5


def test_stale_version_conflicts(client, db):
    pid = product_id(db, 1)
    read = client.get(f"/products/{pid}", headers=auth(1))
    etag = read.headers["ETag"]
    alice = client.patch(f"/products/{pid}", json={"stock": 50}, headers={**auth(1), "If-Match": etag})
    bob = client.patch(f"/products/{pid}", json={"stock": 70}, headers={**auth(1), "If-Match": etag})
    assert (alice.status_code, bob.status_code) == (200, 409)
    assert stock(db, pid) == 50 and alice.headers["ETag"] == '"2"'
    assert client.patch(f"/products/{pid}", json={"stock": 1}, headers=auth(1)).status_code == 428


def test_concurrent_stale_versions_one_wins(client, db, app):
    pid, barrier, outcomes = product_id(db, 1), threading.Barrier(2), []

    def update(value):
        barrier.wait()
        try:
            services.update_product(db, app.state.relay, 1, pid, 1, stock=value)
            outcomes.append("won")
        except services.VersionConflict as conflict:
            outcomes.append(f"conflict at v{conflict.current}")

    threads = [threading.Thread(target=update, args=(v,)) for v in (30, 40)]
    [t.start() for t in threads]
    [t.join(10) for t in threads]
    assert sorted(outcomes) == ["conflict at v2", "won"]


def test_no_partial_write_when_the_event_fails(client, db):  # MDB401
    pid = product_id(db, 1)

    def fail_on_outbox(session, flush_context, instances):
        if any(isinstance(obj, OutboxEvent) for obj in session.new):
            raise RuntimeError("outbox insert failed")

    event.listen(db.sessions, "before_flush", fail_on_outbox)
    try:
        with pytest.raises(RuntimeError):
            client.post("/orders", json={"product_id": pid, "quantity": 1}, headers=auth(1))
        assert (rows(db, Order), stock(db, pid)) == (0, 10), "all or nothing"
        with db.sessions() as session, pytest.raises(RuntimeError):
            defects.place_order_then_event(session, 1, pid, 1)
    finally:
        event.remove(db.sessions, "before_flush", fail_on_outbox)
    assert (rows(db, Order), rows(db, OutboxEvent)) == (1, 0), "the defect's order, with no event"


def test_cross_store_order_blocked_vs_leaked(client, db, app):  # MDB104
    app.include_router(tenant_defects.router)
    theirs = client.post("/orders", json={"product_id": product_id(db, 2), "quantity": 1}, headers=auth(2)).json()
    assert client.get(f"/orders/{theirs['id']}", headers=auth(1)).status_code == 404
    leaked = client.get(f"/defects/orders/{theirs['id']}", headers=auth(1))
    assert leaked.status_code == 200 and leaked.json()["id"] == theirs["id"]


def test_order_list_query_count(client, db):  # MDB302
    def place(n):
        for i in range(n):
            client.post("/orders", json={"product_id": product_id(db, 1, i % 3), "quantity": 1}, headers=auth(1))

    def measure(fn):
        with count_selects(db.engine) as seen:
            fn()
        return len(seen)

    place(2)
    good_small = measure(lambda: client.get("/orders", headers=auth(1)))
    with db.sessions() as session:
        bad_small = measure(lambda: query_defects.order_lines(session, 1))
    place(4)
    assert measure(lambda: client.get("/orders", headers=auth(1))) == good_small
    assert len(client.get("/orders", headers=auth(1)).json()) == 6
    with db.sessions() as session:
        assert measure(lambda: query_defects.order_lines(session, 1)) > bad_small
