"""Retry a whole transaction on a transient database error, with capped exponential backoff and
full jitter: attempt n waits a random time in [0, min(cap, base * 2**n)], so clients that
failed together do not come back together.

Retry the unit of work, never one statement: after a deadlock or a serialization failure the
transaction is gone, and only re-running it from the start is correct."""
from __future__ import annotations

import random
import time
from typing import Callable, TypeVar

from sqlalchemy.exc import OperationalError

T = TypeVar("T")
TRANSIENT_SQLSTATES = {"40001", "40P01"}  # PostgreSQL: serialization failure, deadlock
ATTEMPTS, BASE, CAP = 5, 0.02, 1.0  # seconds: 0-20 ms, 0-40 ms, 0-80 ms, 0-160 ms between attempts


def is_transient(exc: OperationalError) -> bool:
    orig = exc.orig
    return getattr(orig, "sqlstate", None) in TRANSIENT_SQLSTATES or "database is locked" in str(orig)


def retry_transaction(fn: Callable[[], T], attempts: int = ATTEMPTS, base: float = BASE, cap: float = CAP) -> T:
    for attempt in range(attempts):
        try:
            return fn()
        except OperationalError as exc:
            if attempt == attempts - 1 or not is_transient(exc):
                raise
            time.sleep(random.uniform(0, min(cap, base * 2 ** attempt)))
    raise AssertionError("unreachable")
