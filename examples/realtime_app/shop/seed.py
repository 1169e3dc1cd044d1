"""Idempotent demo data: ``python -m shop.seed [DATABASE_URL]``. Every row is inserted with
``ON CONFLICT DO NOTHING`` on its natural key, in one transaction: a second run changes nothing."""
from __future__ import annotations

import os
import sys

from sqlalchemy.dialects.sqlite import insert

from .db import Database
from .models import Product, Store

STORES = [{"id": 1, "name": "North", "api_key": "demo-north"}, {"id": 2, "name": "South", "api_key": "demo-south"}]
PRODUCTS = [{"store_id": s["id"], "sku": f"SKU-{n}", "name": f"Item {n}", "stock": 100} for s in STORES for n in (1, 2)]


def seed(db: Database) -> None:
    with db.sessions.begin() as session:
        session.execute(insert(Store).values(STORES).on_conflict_do_nothing())
        session.execute(insert(Product).values(PRODUCTS).on_conflict_do_nothing())


if __name__ == "__main__":
    database = Database(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SHOP_DB", "sqlite:///shop.sqlite3"))
    database.create_schema()
    seed(database)
    database.dispose()
    print(f"seeded {len(STORES)} stores, {len(PRODUCTS)} products")
