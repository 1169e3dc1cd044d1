"""The DB adapter: one engine (a connection pool) per process, created at startup and disposed
at shutdown; requests borrow sessions from it. SQLite is set up for a web server: foreign keys
on, WAL so the event stream reads while orders are written, and a short busy timeout so a
locked database surfaces as an error the retry policy handles instead of a stalled request."""
from __future__ import annotations

from sqlalchemy import create_engine, event
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.orm import sessionmaker

from .models import Base, RelayCursor


class Database:
    def __init__(self, url: str, busy_timeout: float = 2.0):
        self.engine = create_engine(url, connect_args={"timeout": busy_timeout, "check_same_thread": False})
        event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def create_schema(self) -> None:
        Base.metadata.create_all(self.engine)
        with self.sessions.begin() as session:  # idempotent: a second start changes nothing
            session.execute(insert(RelayCursor).values(id=1, last_seq=0).on_conflict_do_nothing())

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()
