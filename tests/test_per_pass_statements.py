"""Statements that are not a round trip per row, from a blind triage of new tune apps (a raw
sqlite3 app's findings were mostly false for these reasons): schema statements (``CREATE``/
``DROP``/``ALTER``) in a start-up loop, ``executemany`` per group (one batch per pass, directly
or in a helper), and one statement per table when the loop names the table. A row lookup by
key stays a finding."""
from __future__ import annotations

from pathlib import Path

from synthetic import check_files

DB = """\
import sqlite3


def upgrade(conn: sqlite3.Connection, names):
    cur = conn.cursor()
    for name in names:
        cur.execute(f"DROP INDEX IF EXISTS {name}")


def create_trigger(conn: sqlite3.Connection, table):
    query = f'''
        CREATE TRIGGER IF NOT EXISTS trg_{table} AFTER INSERT ON {table}
        BEGIN INSERT INTO events (name) VALUES ("{table}"); END;
    '''
    conn.execute(query)


def triggers(conn: sqlite3.Connection, tables):
    for table in tables:
        create_trigger(conn, table)


def wipe(conn: sqlite3.Connection, tables):
    cur = conn.cursor()
    for (table,) in tables:
        cur.execute(f"DELETE FROM {table}")


def copy_tables(conn: sqlite3.Connection, tables):
    cur = conn.cursor()
    for table in tables:
        table_name = table[0]
        cur.execute(f"SELECT * FROM {table_name}").fetchall()


def save_strings(conn: sqlite3.Connection, plugin):
    conn.executemany("INSERT INTO strings VALUES (?, ?)", plugin.strings)


def per_plugin(conn: sqlite3.Connection, plugins):
    cur = conn.cursor()
    for p in plugins:
        cur.executemany("INSERT INTO strings VALUES (?, ?)", p.strings)
        save_strings(conn, p)


def per_row(conn: sqlite3.Connection, ids):
    cur = conn.cursor()
    for i in ids:
        cur.execute("DELETE FROM devices WHERE id = ?", (i,))
        cur.execute("SELECT * FROM devices WHERE id = ?", (i,))
"""


def _lines(tmp_path: Path):
    found = check_files(tmp_path, {"app/__init__.py": "", "app/db.py": DB}, "MDB301", "MDB303")
    return {(line, code) for _name, line, code in found}


def _at(needle: str) -> int:
    return next(i for i, line in enumerate(DB.splitlines(), 1) if needle in line)


def test_statements_that_are_not_a_round_trip_per_row(tmp_path):
    found = {line for line, _code in _lines(tmp_path)}
    assert _at("DROP INDEX") not in found  # schema work in a start-up loop
    assert _at("create_trigger(conn, table)") not in found  # a helper whose statement is DDL
    assert _at('DELETE FROM {table}') not in found  # one statement per table
    assert _at("SELECT * FROM {table_name}") not in found  # the table named through a local of the loop's
    assert _at("cur.executemany") not in found  # one batch per plugin
    assert _at("save_strings(conn, p)") not in found  # a helper that sends one batch


def test_a_row_lookup_and_a_row_delete_per_pass_stay_findings(tmp_path):
    found = _lines(tmp_path)
    assert (_at("DELETE FROM devices WHERE id"), "MDB303") in found
    assert (_at("SELECT * FROM devices WHERE id"), "MDB301") in found


SA = """\
from sqlalchemy import Column, Integer, String, delete, select, update
from sqlalchemy.orm import Session, declarative_base

Base = declarative_base()


class Order(Base):
    __tablename__ = "orders"
    id = Column(Integer, primary_key=True)
    org_id = Column(Integer)
    note = Column(String)


class Invoice(Base):
    __tablename__ = "invoices"
    id = Column(Integer, primary_key=True)
    org_id = Column(Integer)
    note = Column(String)


NOTED: set = set()  # filled as models register: not a display the code carries


def noted(cls):
    NOTED.add(cls)
    return cls


def rename_note(session: Session, org_id: int, old: str, new: str):
    for model in NOTED:
        stmt = update(model).where(model.org_id == org_id, model.note == old).values(note=new)
        session.execute(stmt)


def purge(session: Session):
    for model in NOTED:
        session.execute(model.__table__.delete())


def flag_missing(session: Session, groups: list):
    for ids in groups:
        for i in range(0, len(ids), 1000):
            session.execute(update(Order).where(Order.id.in_(ids[i : i + 1000])).values(note="missing"))


def flip(session: Session, rows: list):
    flips: dict[bool, list[int]] = {True: [], False: []}
    for row in rows:
        flips[row.missing].append(row.id)
    for desired, ids in flips.items():
        for start in range(0, len(ids), 500):
            session.execute(update(Order).where(Order.id.in_(ids[start : start + 500])).values(note=str(desired)))


def sizes(session: Session, groups: list):
    for model in NOTED:
        session.execute(select(model.id).where(model.org_id == 1)).all()
    for ids in groups:
        for i in range(0, len(ids), 500):
            session.execute(select(Order).where(Order.id.in_(ids[i : i + 500]))).all()


def flag_each(session: Session, ids: list):
    for i in ids:
        session.execute(update(Order).where(Order.id == i).values(note="missing"))


def drop_each(session: Session, ids: list):
    for i in ids:
        session.execute(delete(Order).where(Order.id == i))
"""


def _sa_lines(tmp_path: Path):
    found = check_files(tmp_path, {"app/__init__.py": "", "app/db.py": SA}, "MDB301", "MDB303")
    return {line for _name, line, _code in found}


def _sa_at(needle: str) -> int:
    return next(i for i, line in enumerate(SA.splitlines(), 1) if needle in line)


def test_a_statement_on_the_loops_model_or_a_chunk_of_ids_is_not_per_row(tmp_path):
    found = _sa_lines(tmp_path)
    assert _sa_at("session.execute(stmt)") not in found  # update(model) for each model of a tuple
    assert _sa_at("model.__table__.delete()") not in found  # the model's table
    assert _sa_at("ids[i : i + 1000]") not in found  # a chunk of 1000 ids per pass
    assert _sa_at("ids[start : start + 500]") not in found  # two passes (an annotated dict display), then chunks
    assert _sa_at("select(model.id)") not in found  # MDB301: one read per model
    assert _sa_at("ids[i : i + 500]") not in found  # MDB301: one read per chunk
    assert _sa_at("where(Order.id == i).values") in found  # one row per pass stays a finding
    assert _sa_at("delete(Order).where(Order.id == i)") in found
