"""N+1: the order list loads each order's product with a query of its own."""
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Order


def order_lines(session: Session, store_id: int) -> list:
    orders = session.scalars(select(Order).where(Order.store_id == store_id).order_by(Order.id))
    return [f"{order.quantity} x {order.product.sku}" for order in orders]  # defect: MDB302
