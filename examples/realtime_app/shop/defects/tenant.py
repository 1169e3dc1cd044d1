"""Tenant-scope defects: another store's order, by id."""
from typing import Annotated, Iterator

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from ..api import StoreId
from ..models import Order

router = APIRouter(prefix="/defects")


def session(request: Request) -> Iterator[Session]:
    with request.app.state.db.sessions() as s:
        yield s


@router.get("/orders/{order_id}")
def order_detail(order_id: int, store_id: StoreId, db: Annotated[Session, Depends(session)]) -> dict:
    """The store is authenticated, then ignored: any store's order id works."""
    order = db.get(Order, order_id)  # defect: MDB104
    return {"id": order.id, "quantity": order.quantity, "status": order.status}
