"""Client lifecycle defects: a connection pool built per request, a connection left open."""
import os
import sqlite3
from typing import Iterator

from sqlalchemy import create_engine
from sqlalchemy.orm import Session


def session_per_request() -> Iterator[Session]:
    """A FastAPI dependency that builds a new engine, so a new pool and connection, per request."""
    engine = create_engine(os.environ.get("SHOP_DB", "sqlite:///shop.sqlite3"))  # reported where a route depends on it
    with Session(engine) as session:
        yield session


def export_orders(db_path: str, store_id: int) -> list:
    """Returns early without closing the connection: each empty export leaks one."""
    conn = sqlite3.connect(db_path)  # defect: MDB204
    rows = conn.execute("SELECT id, quantity, status FROM orders WHERE store_id = ?", (store_id,)).fetchall()
    if not rows:
        return []
    conn.close()
    return rows
