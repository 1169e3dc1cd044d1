"""The application factory and its lifecycle: the engine is created once at startup and disposed
at shutdown, after the outbox relay task stops."""
from __future__ import annotations

import asyncio
import contextlib
import os

from fastapi import FastAPI

from . import outbox
from .api import router
from .db import Database
from .events import EventBus

RELAY_EVERY_SECONDS = 2.0


def create_app(database_url: str = "", relay_every: float = RELAY_EVERY_SECONDS) -> FastAPI:
    url = database_url or os.environ.get("SHOP_DB", "sqlite:///shop.sqlite3")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.db = Database(url)
        app.state.db.create_schema()
        app.state.bus = EventBus()
        app.state.relay = outbox.Relay(app.state.db.sessions, app.state.bus)
        relay_task = asyncio.create_task(app.state.relay.run(relay_every))
        try:
            yield
        finally:
            app.state.relay.stop()
            try:
                await asyncio.wait_for(asyncio.shield(relay_task), 10)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                relay_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await relay_task
            app.state.db.dispose()

    app = FastAPI(title="realtime shop", lifespan=lifespan)
    app.include_router(router)
    return app
