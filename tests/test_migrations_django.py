"""The replay checked against Django itself, on a synthetic project whose migrations exercise
renames, a squash, ``SeparateDatabaseAndState`` both ways, ``RunSQL`` with state operations, a
swappable dependency and a many-to-many table:

- ``makemigrations --check --dry-run`` finds nothing to do (the fixture is honest);
- the **State** track equals Django's own migration state, field by field;
- the **Database** track equals the tables and columns a real ``migrate`` leaves (on SQLite:
  names and nullability; the fixture avoids the table rebuilds SQLite does where PostgreSQL
  would not).

Django runs in a subprocess (``tests/django_state_probe.py``): it is configured once per
process and the rest of the suite must not see these settings.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mandu_lint.rules.migrations.replay import Replay
from mandu_lint.rules.migrations.state import table_name

pytest.importorskip("django")

HERE = Path(__file__).parent
PROJECT = HERE / "fixtures" / "migrations" / "djproj"
APPS = ("catalog", "shop")


@pytest.fixture(scope="module")
def django_view():
    done = subprocess.run([sys.executable, str(HERE / "django_state_probe.py"), str(PROJECT), "djproj_settings", *APPS],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def replay():
    return Replay(PROJECT).run()


def our_facts(field, state):
    to = field.to
    if to and to.startswith("settings."):
        to = (state.swappable.get(to.split(".", 1)[1]) or "auth.User").lower()
    return {"cls": field.cls, "null": field.null, "max_length": field.max_length, "unique": field.unique,
            "db_index": field.db_index, "primary_key": field.primary_key, "db_column": field.db_column,
            "has_default": field.has_default, "to": to}


def test_makemigrations_finds_no_changes(django_view):
    assert django_view["makemigrations"] == 0


def test_state_track_equals_djangos_migration_state(django_view, replay):
    ours = {f"{app}.{name}": model for app in APPS for name, model in replay.app_state(app).items()}
    assert sorted(ours) == sorted(django_view["state"])
    for key, theirs in django_view["state"].items():
        model = ours[key]
        assert not model.unknown
        assert table_name(model) == theirs["db_table"], key
        assert sorted(model.fields) == sorted(theirs["fields"]), key
        for name, facts in theirs["fields"].items():
            assert our_facts(model.fields[name], replay.state) == facts, f"{key}.{name}"
        assert sorted(i.name for i in model.indexes) == theirs["indexes"], key
        assert sorted(c.name for c in model.constraints) == theirs["constraints"], key


def test_database_track_equals_the_migrated_database(django_view, replay):
    ours = {name: {c.name: c.nullable for c in table.columns.values()}
            for name, table in replay.schema.tables.items() if name.split("_", 1)[0] in APPS}
    assert ours == django_view["tables"]
    # the state-only removal left its column behind, in Django's database as in the replay
    assert "legacy_code" in django_view["tables"]["catalog_book"]
