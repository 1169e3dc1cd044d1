"""The repository layer: every query of one store's rows, always with ``store_id`` in it.

The SQLAlchemy implementation of the repository interface of docs/guide/layers.md. It never
commits: the service that owns the session decides the transaction (the unit of work)."""
from __future__ import annotations

from typing import List, Optional

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from .models import Order, OutboxEvent, Product, Store


def store_for_api_key(session: Session, api_key: str) -> Optional[Store]:
    return session.scalar(select(Store).where(Store.api_key == api_key))


class StoreRepository:
    def __init__(self, session: Session, store_id: int):
        self.session = session
        self.store_id = store_id

    def products(self) -> List[Product]:
        return list(self.session.scalars(select(Product).where(Product.store_id == self.store_id).order_by(Product.id)))

    def product(self, product_id: int) -> Optional[Product]:
        return self.session.scalar(select(Product).where(Product.store_id == self.store_id, Product.id == product_id))

    def reserve_stock(self, product_id: int, quantity: int) -> bool:
        """Decrement in the database, only if enough is left: no read-modify-write race."""
        result = self.session.execute(
            update(Product)
            .where(Product.store_id == self.store_id, Product.id == product_id, Product.stock >= quantity)
            .values(stock=Product.stock - quantity, version=Product.version + 1))
        return result.rowcount == 1

    def release_stock(self, product_id: int, quantity: int) -> None:
        self.session.execute(update(Product).where(Product.store_id == self.store_id, Product.id == product_id)
                             .values(stock=Product.stock + quantity, version=Product.version + 1))

    def compare_and_set(self, product_id: int, expected_version: int, **changes) -> bool:
        """Optimistic locking: the UPDATE matches only the version the client read."""
        result = self.session.execute(
            update(Product)
            .where(Product.store_id == self.store_id, Product.id == product_id, Product.version == expected_version)
            .values(version=Product.version + 1, **changes))
        return result.rowcount == 1

    def add_products(self, rows: List[dict]) -> None:
        self.session.add_all([Product(store_id=self.store_id, **row) for row in rows])
        self.session.flush()

    def add_order(self, product_id: int, quantity: int, idempotency_key: Optional[str]) -> Order:
        """Flushes at once: a repeated idempotency key fails here, with IntegrityError."""
        order = Order(store_id=self.store_id, product_id=product_id, quantity=quantity,
                      idempotency_key=idempotency_key)
        self.session.add(order)
        self.session.flush()
        return order

    def mark_cancelled(self, order_id: int) -> bool:
        """Compare-and-set on the status: true for the one caller that cancelled it."""
        result = self.session.execute(update(Order).where(Order.store_id == self.store_id, Order.id == order_id,
                                                          Order.status == "placed").values(status="cancelled"))
        return result.rowcount == 1

    def order(self, order_id: int) -> Optional[Order]:
        return self.session.scalar(select(Order).where(Order.store_id == self.store_id, Order.id == order_id)
                                   .options(joinedload(Order.product)))

    def order_by_key(self, idempotency_key: str) -> Optional[Order]:
        return self.session.scalar(select(Order).options(joinedload(Order.product))
                                   .where(Order.store_id == self.store_id, Order.idempotency_key == idempotency_key))

    def orders(self) -> List[Order]:
        """One query with the products joined in, however many orders."""
        stmt = (select(Order).where(Order.store_id == self.store_id)
                .options(joinedload(Order.product)).order_by(Order.id))
        return list(self.session.scalars(stmt))

    def add_event(self, topic: str, payload: dict) -> None:
        """The event row commits (or rolls back) with the change it describes."""
        self.session.add(OutboxEvent(store_id=self.store_id, topic=topic, payload=payload))

    def events_after(self, seq: int, limit: int = 500) -> List[OutboxEvent]:
        stmt = (select(OutboxEvent)
                .where(OutboxEvent.store_id == self.store_id, OutboxEvent.seq.is_not(None), OutboxEvent.seq > seq)
                .order_by(OutboxEvent.seq).limit(limit))
        return list(self.session.scalars(stmt))
