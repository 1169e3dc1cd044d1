"""Application services: one use case, one transaction (``sessions.begin()``: commit on success,
rollback on error), retried as a whole on transient errors; events are written to the outbox
inside it, and the relay is kicked after the commit."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

from sqlalchemy.exc import IntegrityError

from . import repository
from .db import Database
from .models import Order, Product
from .outbox import Relay
from .repository import StoreRepository
from .retry import retry_transaction


class NotFound(Exception):
    pass


class OutOfStock(Exception):
    pass


class VersionConflict(Exception):
    def __init__(self, current: int):
        super().__init__(current)
        self.current = current


@dataclass(frozen=True)
class ProductView:
    id: int
    sku: str
    name: str
    stock: int
    version: int

    @classmethod
    def of(cls, p: Product) -> "ProductView":
        return cls(p.id, p.sku, p.name, p.stock, p.version)


@dataclass(frozen=True)
class OrderView:
    id: int
    sku: str
    quantity: int
    status: str

    @classmethod
    def of(cls, o: Order) -> "OrderView":
        return cls(o.id, o.product.sku, o.quantity, o.status)


@dataclass(frozen=True)
class EventView:
    seq: int
    topic: str
    payload: dict


def store_id_for_key(db: Database, api_key: str) -> Optional[int]:
    with db.sessions() as session:
        store = repository.store_for_api_key(session, api_key)
        return store.id if store else None


def place_order(db: Database, relay: Relay, store_id: int, product_id: int, quantity: int,
                key: Optional[str] = None) -> Tuple[OrderView, bool]:
    """Returns (order, created). A repeated idempotency key returns the first order, unchanged."""
    def attempt() -> OrderView:
        with db.sessions.begin() as session:
            repo = StoreRepository(session, store_id)
            if not repo.reserve_stock(product_id, quantity):
                raise NotFound(product_id) if repo.product(product_id) is None else OutOfStock(product_id)
            order = repo.add_order(product_id, quantity, key)
            repo.add_event("order.placed", {"order": order.id, "product": product_id, "quantity": quantity})
            return OrderView.of(repo.order(order.id))
    try:
        view = retry_transaction(attempt)
    except IntegrityError:
        if key is None:
            raise
        with db.sessions() as session:
            first = StoreRepository(session, store_id).order_by_key(key)
        if first is None:
            raise
        return OrderView.of(first), False
    relay.kick()
    return view, True


def cancel_order(db: Database, relay: Relay, store_id: int, order_id: int) -> OrderView:
    """Idempotent: of two concurrent cancels, one releases the stock, the other changes nothing."""
    with db.sessions.begin() as session:
        repo = StoreRepository(session, store_id)
        order = repo.order(order_id)
        if order is None:
            raise NotFound(order_id)
        if repo.mark_cancelled(order_id):
            repo.release_stock(order.product_id, order.quantity)
            repo.add_event("order.cancelled", {"order": order.id})
        view = OrderView(order.id, order.product.sku, order.quantity, "cancelled")
    relay.kick()
    return view


def update_product(db: Database, relay: Relay, store_id: int, product_id: int, expected_version: int,
                   **changes) -> ProductView:
    """Optimistic locking: applies the change only if nobody changed the product since the
    client read ``expected_version``; otherwise VersionConflict carries the current version."""
    with db.sessions.begin() as session:
        repo = StoreRepository(session, store_id)
        if not repo.compare_and_set(product_id, expected_version, **changes):
            current = repo.product(product_id)
            raise NotFound(product_id) if current is None else VersionConflict(current.version)
        view = ProductView.of(repo.product(product_id))
        repo.add_event("product.updated", {"product": product_id, "version": view.version, **changes})
    relay.kick()
    return view


def import_products(db: Database, store_id: int, rows: List[dict]) -> int:
    """All rows or none: one transaction, one batch of INSERTs."""
    with db.sessions.begin() as session:
        StoreRepository(session, store_id).add_products(rows)
    return len(rows)


def products(db: Database, store_id: int) -> List[ProductView]:
    with db.sessions() as session:
        return [ProductView.of(p) for p in StoreRepository(session, store_id).products()]


def product(db: Database, store_id: int, product_id: int) -> ProductView:
    with db.sessions() as session:
        found = StoreRepository(session, store_id).product(product_id)
    if found is None:
        raise NotFound(product_id)
    return ProductView.of(found)


def orders(db: Database, store_id: int) -> List[OrderView]:
    with db.sessions() as session:
        return [OrderView.of(o) for o in StoreRepository(session, store_id).orders()]


def order(db: Database, store_id: int, order_id: int) -> OrderView:
    with db.sessions() as session:
        found = StoreRepository(session, store_id).order(order_id)
    if found is None:
        raise NotFound(order_id)
    return OrderView.of(found)


def events_after(db: Database, store_id: int, seq: int) -> List[EventView]:
    with db.sessions() as session:
        return [EventView(e.seq, e.topic, e.payload) for e in StoreRepository(session, store_id).events_after(seq)]
