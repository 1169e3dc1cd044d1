"""Migrations family (issue 13): a static replay of Django migrations and Alembic revisions —
no database, no app import — that the MDB6xx rules query for the schema **before** each
operation.

Map of the family (data flows down):

- ``discover.py``: Django migration files (``migrations/`` + ``class Migration``) and their app
  labels (``apps.py`` ``label``); Alembic revisions and the environments ``alembic.ini`` names.
- ``graph.py``: the Django graph as ``MigrationLoader`` builds it (dependencies,
  ``__first__``/``__latest__``, swappable, ``run_before``, squashed ``replaces``); leaves,
  missing nodes, cycles; ``migrate``'s order. ``alembic_graph.py``: ``down_revision``,
  ``depends_on``, ``branch_labels``; heads (declared branches tolerated), duplicates, cycles.
- ``records.py``: ``Problem``, ``Operation`` (file, line, index, kind, args, track),
  ``Migration`` (atomic, unknown effects). ``pyast.py``: literals, dotted names, bound calls.
- ``state.py``: the **State** track (``FieldState``, ``ModelState``, ``ProjectState``).
  ``schema.py``: the **Database** track (``ColumnState``, ``TableState``, ``Schema``, ``UNKNOWN``).
- ``fields.py``: Django field/index/constraint calls -> specs; a field's column.
- ``django_ops.py``: a ``Migration``'s operations -> ``Operation`` records (nested ones
  flattened). ``django_state.py``: their ``state_forwards``. ``django_db.py``,
  ``django_db_fields.py``, ``django_tables.py``: their ``database_forwards``.
- ``alembic_ops.py``, ``sa_columns.py``: an ``upgrade()`` -> ``Operation`` records
  (``batch_alter_table``, ``autocommit_block``). ``alembic_db.py``: their effect.
- ``ddl.py``, ``ddl_columns.py``: raw SQL (``RunSQL``, ``op.execute``) via sqlglot (postgres).
- ``replay.py``: ``Replay(project).run()`` -> ``ReplayResult`` with ``before(op)``,
  ``state_before(op)``, ``app_state(app)``, ``problems``, ``coverage()``.
- ``released.py``: unreleased migrations (absent at the merge base with the base branch).
- ``settings_detect.py``: engine and version (Django ``DATABASES``, ``alembic.ini``, compose
  image tags) and ``AUTH_USER_MODEL``.

Unknown means silent: an operation or SQL the replay cannot model makes only what it touches
unknown (``Schema.column`` -> ``UNKNOWN``, ``table_exists`` -> None), never a guess.
"""
from ...model import FamilySpec

# No rule is catalogued yet: the MDB6xx rules of issue 13 build on this engine (see the issue
# note). The family is declared so that its layering is held like the others'.
FAMILY = FamilySpec(name="migrations", package=__name__, rules=())
