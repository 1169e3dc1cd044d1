"""The ORM-agnostic unit-of-work interface of the guide (docs/guide/layers.md).

Services depend on these two shapes, not on Django or SQLAlchemy; tests/test_docs_guide.py checks
that the real Django and SQLAlchemy objects the example apps use satisfy them."""
from __future__ import annotations

from typing import Callable, ContextManager, Optional, Protocol, runtime_checkable


@runtime_checkable
class UnitOfWork(Protocol):
    """One business transaction: the block commits as a whole on success, rolls back on error.

    Django: ``transaction.atomic()``. SQLAlchemy: ``sessionmaker.begin()`` (yields the session).
    """

    def __enter__(self) -> object: ...

    def __exit__(self, exc_type, exc, tb) -> Optional[bool]: ...


class UnitOfWorkFactory(Protocol):
    """What a service receives: a way to start a unit of work, and to run code after it commits."""

    def begin(self) -> ContextManager[object]: ...

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Django: ``transaction.on_commit(fn)``. SQLAlchemy: write an outbox row inside the
        transaction and kick the relay after the ``with`` block (the realtime example)."""
        ...
