"""Migrations family (issue 13): a static replay of Django migrations and Alembic revisions —
no database, no app import — that the MDB6xx rules query for the schema **before** each
operation.

Map of the family (data flows down):

| module | role |
|---|---|
| ``discover.py`` | find Django migration files (``migrations/`` + ``class Migration``), their app labels (``apps.py`` ``label``), Alembic revisions and the environments ``alembic.ini`` names |
| ``graph.py`` | Django graph as ``MigrationLoader`` builds it: dependencies, ``__first__``/``__latest__``, swappable, ``run_before``, squashed ``replaces``; leaves, missing nodes, cycles; ``migrate``'s order |
| ``alembic_graph.py`` | Alembic graph: ``down_revision``/``depends_on``/``branch_labels``; heads (declared branches tolerated), duplicates, missing revisions, cycles |
| ``records.py`` | ``Problem``, ``Operation`` (file, line, index, kind, args, track), ``Migration`` (atomic, unknown effects) |
| ``pyast.py`` | static reading: literals, dotted names, calls bound to parameter names |
| ``state.py`` | the **State** track: ``FieldState``/``ModelState``/``ProjectState``, default table names |
| ``schema.py`` | the **Database** track: ``ColumnState``/``TableState``/``Schema``, ``UNKNOWN`` |
| ``fields.py`` | Django field/index/constraint calls -> specs; field -> column (PostgreSQL types) |
| ``django_ops.py`` | a ``Migration`` class's operations -> ``Operation`` records (nested ones flattened) |
| ``django_state.py`` | operations on the State track (``state_forwards``) |
| ``django_db.py``, ``django_db_fields.py``, ``django_tables.py`` | operations on the Database track (``database_forwards``) |
| ``alembic_ops.py``, ``sa_columns.py`` | an Alembic ``upgrade()`` -> ``Operation`` records (``batch_alter_table``, ``autocommit_block``) |
| ``alembic_db.py`` | Alembic operations on the Database track |
| ``ddl.py``, ``ddl_columns.py`` | raw SQL (``RunSQL``, ``op.execute``) via sqlglot's postgres dialect |
| ``replay.py`` | ``Replay(project).run()`` -> ``ReplayResult``: ``before(op)``, ``state_before(op)``, ``app_state(app)``, ``problems``, ``coverage()`` |
| ``released.py`` | unreleased migrations: files absent at the merge base with the base branch (git) |
| ``settings_detect.py`` | engine/version: Django ``DATABASES`` literals, ``alembic.ini`` URL, compose image tags; ``AUTH_USER_MODEL`` |

Unknown means silent: an operation or SQL the replay cannot model makes only what it touches
unknown (``Schema.column`` -> ``UNKNOWN``, ``table_exists`` -> None), never a guess.
"""
from .records import Migration, Operation, Problem
from .replay import Replay, ReplayResult
from .schema import UNKNOWN, ColumnState, Schema

__all__ = ["Migration", "Operation", "Problem", "Replay", "ReplayResult", "UNKNOWN", "ColumnState", "Schema"]
