"""Layering defects: route handlers (``layers.handler``) that query on their own."""
from typing import Annotated, List

from fastapi import APIRouter, Depends
from sqlalchemy import select  # defect: MDB202
from sqlalchemy.orm import Session

from ..api import StoreId
from ..models import Product
from .lifecycle import session_per_request

router = APIRouter(prefix="/defects")


@router.get("/low-stock")
def low_stock(store_id: StoreId,
              session: Annotated[Session, Depends(session_per_request)]) -> List[str]:  # defect: MDB203
    """Its own query, its own session, its own engine: nothing of the repository's decisions."""
    rows = session.scalars(select(Product).where(Product.store_id == store_id, Product.stock < 5))  # defect: MDB201
    return [p.sku for p in rows]
