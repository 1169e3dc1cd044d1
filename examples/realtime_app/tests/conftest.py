"""Fixtures: the real app on a fresh SQLite file per test, two stores with the same products,
and tools to count queries and to run a "concurrent request" between a read and a write."""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shop.app import create_app  # noqa: E402
from shop.models import Product, Store  # noqa: E402

KEYS = {1: "key-north", 2: "key-south"}


def auth(store_id: int) -> dict:
    return {"Authorization": f"Bearer {KEYS[store_id]}"}


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'shop.sqlite3'}"


@pytest.fixture
def app(db_url):
    return create_app(db_url, relay_every=0.05)


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        seed(app.state.db)
        yield c


@pytest.fixture
def db(app, client):
    return app.state.db


def seed(db) -> None:
    with db.sessions.begin() as session:
        for store_id, key in KEYS.items():
            session.add(Store(id=store_id, name=f"store {store_id}", api_key=key))
        session.flush()
        for store_id in KEYS:
            session.add_all([Product(store_id=store_id, sku=f"S{store_id}-{i}", name=f"item {i}", stock=10)
                             for i in range(3)])


def product_id(db, store_id: int, n: int = 0) -> int:
    with db.sessions() as session:
        return session.query(Product.id).filter_by(store_id=store_id).order_by(Product.id).offset(n).limit(1).scalar()


@contextlib.contextmanager
def count_selects(engine):
    """SELECTs of the code under test (the relay task's own queries, on the outbox, are not)."""
    seen = []

    def on_execute(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT") and "FROM outbox" not in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)


@contextlib.contextmanager
def concurrently_after(engine, table: str, action):
    """Run ``action`` once (on its own connection) right after the first SELECT from ``table``:
    another request that commits between this code's read and its write."""
    state = {"fired": False}

    def after(conn, cursor, statement, *args):
        if not state["fired"] and statement.lstrip().upper().startswith("SELECT") and f"FROM {table}" in statement:
            state["fired"] = True
            action()

    event.listen(engine, "after_cursor_execute", after)
    try:
        yield state
    finally:
        event.remove(engine, "after_cursor_execute", after)
    assert state["fired"], f"no SELECT from {table} ran"
