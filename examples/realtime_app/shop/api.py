"""Route handlers: authenticate the store, call one service, map its errors to HTTP. No ORM
here; the session-free handlers run in FastAPI's thread pool, the event stream on the loop."""
from __future__ import annotations

import json
from typing import Annotated, AsyncIterator, List, Optional

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from . import services
from .db import Database
from .events import EventBus
from .outbox import Relay

router = APIRouter()
KEEPALIVE_SECONDS = 15.0


def database(request: Request) -> Database:
    return request.app.state.db


def event_bus(request: Request) -> EventBus:
    return request.app.state.bus


def outbox_relay(request: Request) -> Relay:
    return request.app.state.relay


def current_store(db: Annotated[Database, Depends(database)],
                  authorization: Annotated[str, Header()] = "") -> int:
    """The tenant comes from the credentials, never from the request body."""
    store_id = services.store_id_for_key(db, authorization.removeprefix("Bearer "))
    if store_id is None:
        raise HTTPException(401, "unknown API key")
    return store_id


DB = Annotated[Database, Depends(database)]
Bus = Annotated[EventBus, Depends(event_bus)]
Kick = Annotated[Relay, Depends(outbox_relay)]
StoreId = Annotated[int, Depends(current_store)]


class NewOrder(BaseModel):
    product_id: int
    quantity: int


class ProductChange(BaseModel):
    name: Optional[str] = None
    stock: Optional[int] = None


@router.get("/products")
def list_products(db: DB, store_id: StoreId) -> List[dict]:
    return [vars(p) for p in services.products(db, store_id)]


@router.get("/products/{product_id}")
def get_product(product_id: int, db: DB, store_id: StoreId, response: Response) -> dict:
    try:
        found = services.product(db, store_id, product_id)
    except services.NotFound:
        raise HTTPException(404) from None
    response.headers["ETag"] = f'"{found.version}"'
    return vars(found)


@router.patch("/products/{product_id}")
def patch_product(product_id: int, change: ProductChange, db: DB, relay: Kick, store_id: StoreId,
                  response: Response, if_match: Annotated[Optional[str], Header()] = None) -> dict:
    """Optimistic locking over HTTP: the client sends the version it read as ``If-Match``."""
    if if_match is None:
        raise HTTPException(428, "If-Match with the product version is required")
    try:
        updated = services.update_product(db, relay, store_id, product_id, int(if_match.strip('"')),
                                          **change.model_dump(exclude_none=True))
    except services.NotFound:
        raise HTTPException(404) from None
    except services.VersionConflict as conflict:
        raise HTTPException(409, f"changed since you read it; current version {conflict.current}") from None
    response.headers["ETag"] = f'"{updated.version}"'
    return vars(updated)


@router.post("/orders", status_code=201)
def post_order(new: NewOrder, db: DB, relay: Kick, store_id: StoreId, response: Response,
               idempotency_key: Annotated[Optional[str], Header()] = None) -> dict:
    try:
        placed, created = services.place_order(db, relay, store_id, new.product_id, new.quantity, idempotency_key)
    except services.NotFound:
        raise HTTPException(404, "no such product") from None
    except services.OutOfStock:
        raise HTTPException(409, "out of stock") from None
    if not created:
        response.status_code = 200  # a replay: the first request's order, nothing new
    return vars(placed)


@router.get("/orders")
def list_orders(db: DB, store_id: StoreId) -> List[dict]:
    return [vars(o) for o in services.orders(db, store_id)]


@router.get("/orders/{order_id}")
def get_order(order_id: int, db: DB, store_id: StoreId) -> dict:
    try:
        return vars(services.order(db, store_id, order_id))
    except services.NotFound:
        raise HTTPException(404) from None


@router.post("/orders/{order_id}/cancel")
def cancel(order_id: int, db: DB, relay: Kick, store_id: StoreId) -> dict:
    try:
        return vars(services.cancel_order(db, relay, store_id, order_id))
    except services.NotFound:
        raise HTTPException(404) from None


@router.get("/events")
async def events(request: Request, db: DB, bus: Bus, store_id: StoreId,
                 last_event_id: Annotated[int, Header()] = 0) -> StreamingResponse:
    """Server-sent events; a client that reconnects with ``Last-Event-ID`` gets what it missed."""
    return StreamingResponse(stream(request, db, bus, store_id, last_event_id), media_type="text/event-stream")


async def stream(request: Request, db: Database, bus: EventBus, store_id: int, last: int) -> AsyncIterator[str]:
    with bus.subscribe(store_id) as live:  # before the catch-up read: nothing falls in between
        while batch := await run_in_threadpool(services.events_after, db, store_id, last):
            for event in batch:
                last = event.seq
                yield sse(event.seq, event.topic, event.payload)
        while not await request.is_disconnected():
            event = await live.get(timeout=KEEPALIVE_SECONDS)
            if event is None:
                yield ": keep-alive\n\n"
            elif event.seq > last:  # already sent by the catch-up otherwise
                last = event.seq
                yield sse(event.seq, event.topic, event.payload)


def sse(seq: int, topic: str, payload: dict) -> str:
    return f"id: {seq}\nevent: {topic}\ndata: {json.dumps(payload)}\n\n"
