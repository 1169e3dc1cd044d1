"""Run by tests/test_migrations_django.py in a subprocess, inside a synthetic Django project:
what Django itself thinks of the project's migrations, as JSON on stdout.

- ``makemigrations``: exit status of ``makemigrations --check --dry-run`` (0 = the models
  match the migration state);
- ``state``: Django's migration state (``MigrationLoader.project_state()``), per model the
  DDL-relevant attributes of each field, the table, the index and constraint names;
- ``tables``: the columns and their nullability after a real ``migrate`` on SQLite.

Usage: python django_state_probe.py <project dir> <settings module> <app label>...
"""
import json
import os
import sys


def field_facts(field):
    remote = getattr(field, "remote_field", None)
    to = getattr(remote, "model", None) if remote is not None else None
    return {"cls": type(field).__name__, "null": field.null, "max_length": field.max_length,
            "unique": field.unique, "db_index": field.db_index, "primary_key": field.primary_key,
            "db_column": field.db_column, "has_default": field.has_default(),
            "to": str(to).lower() if to is not None else None}


def main():
    project, settings, apps = sys.argv[1], sys.argv[2], set(sys.argv[3:])
    sys.path.insert(0, project)
    os.environ["DJANGO_SETTINGS_MODULE"] = settings
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    try:
        call_command("makemigrations", "--check", "--dry-run", verbosity=0)
        status = 0
    except SystemExit as exit_:
        status = exit_.code
    state = MigrationLoader(None, ignore_no_migrations=True).project_state()
    rendered = state.apps
    models = {}
    for (app, name), model_state in sorted(state.models.items()):
        if app in apps:
            models[f"{app}.{name}"] = {
                "db_table": rendered.get_model(app, name)._meta.db_table,
                "fields": {n: field_facts(f) for n, f in model_state.fields.items()},
                "indexes": sorted(i.name for i in model_state.options.get("indexes", [])),
                "constraints": sorted(c.name for c in model_state.options.get("constraints", [])),
            }
    call_command("migrate", verbosity=0)
    tables = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            if table.split("_", 1)[0] in apps:
                description = connection.introspection.get_table_description(cursor, table)
                tables[table] = {d.name: bool(d.null_ok) for d in description}
    json.dump({"makemigrations": status, "state": models, "tables": tables}, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
