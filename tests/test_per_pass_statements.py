"""Statements that are not a round trip per row, from a blind triage of new tune apps (a raw
sqlite3 app's findings were mostly false for these reasons): schema statements (``CREATE``/
``DROP``/``ALTER``) in a start-up loop, ``executemany`` per group (one batch per pass, directly
or in a helper), and one statement per table when the loop names the table. A row lookup by
key stays a finding. The SQLAlchemy cases (a statement built on the loop's model, a chunk of
ids per pass) are annotated lines of the ``loops_per_pass`` fixture (``shop/sadb.py``)."""
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
