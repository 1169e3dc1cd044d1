"""Transaction and concurrency defects: the naive versions of the services."""
import time
from typing import Callable, List, Optional

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ..db import Database
from ..events import Event, EventBus
from ..models import Order, OutboxEvent, Product


def place_order(session: Session, store_id: int, product_id: int, quantity: int, key: Optional[str]) -> Order:
    """Looks for the idempotency key first, and decrements the stock in Python: two concurrent
    requests both find no order, and both read the same stock."""
    existing = session.scalar(select(Order).where(Order.store_id == store_id,  # defect: MDB406
                                                  Order.idempotency_key == key))
    if existing is not None:
        return existing
    product = session.scalar(select(Product).where(Product.store_id == store_id, Product.id == product_id))
    product.stock -= quantity  # defect: MDB407
    order = Order(store_id=store_id, product_id=product_id, quantity=quantity, idempotency_key=key)
    session.add(order)
    session.commit()
    return order


def place_order_then_event(session: Session, store_id: int, product_id: int, quantity: int) -> int:
    """The order commits before its event is written: a failure in between, and no stream ever
    hears of the order."""
    order = Order(store_id=store_id, product_id=product_id, quantity=quantity)
    session.add(order)  # defect: MDB401
    session.commit()
    session.add(OutboxEvent(store_id=store_id, topic="order.placed", payload={"order": order.id}))
    session.commit()
    return order.id


def restock(session: Session, store_id: int, product_id: int, confirm: Callable[[str], int]) -> int:
    """Locks the row, then commits "to release the lock while the supplier answers": the write
    that follows is unprotected."""
    product = session.scalars(select(Product).where(Product.store_id == store_id,  # defect: MDB402
                                                    Product.id == product_id).with_for_update()).one()
    session.commit()
    product.stock = product.stock + confirm(product.sku)
    session.commit()
    return product.stock


def cancel_order(session: Session, bus: EventBus, store_id: int, order_id: int) -> None:
    """Publishes straight to the streams, inside the transaction: if the restock fails, the
    cancellation rolls back but every client has already been told."""
    with session.begin():
        order = session.scalar(select(Order).where(Order.store_id == store_id, Order.id == order_id))
        order.status = "cancelled"
        session.flush()
        bus.publish(Event(None, store_id, "order.cancelled", {"order": order.id}))  # defect: MDB403
        session.execute(update(Product).where(Product.store_id == store_id, Product.id == order.product_id)
                        .values(stock=Product.stock + order.quantity))


def import_products(session: Session, store_id: int, rows: List[dict]) -> int:
    """One transaction per row: slow, and a bad row in the middle leaves half the file imported."""
    for row in rows:
        session.add(Product(store_id=store_id, **row))  # defect: MDB303
        session.commit()  # defect: MDB404
    return len(rows)


def place_order_retrying(db: Database, store_id: int, product_id: int, quantity: int) -> None:
    """Retries a locked database every 50 ms, in lockstep with every other client that failed."""
    for attempt in range(5):
        try:
            with db.sessions.begin() as session:
                session.execute(update(Product).where(Product.store_id == store_id, Product.id == product_id)
                                .values(stock=Product.stock - quantity))
                session.add(Order(store_id=store_id, product_id=product_id, quantity=quantity))
            return
        except OperationalError:  # defect: MDB405
            if attempt == 4:
                raise
            time.sleep(0.05)
