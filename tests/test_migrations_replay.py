"""The static migration replay (issue 13): the schema **before** each operation on the Database
track, the State track, unknowns, Alembic, and raw SQL through sqlglot."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mandu_lint.rules.migrations.replay import Replay
from mandu_lint.rules.migrations.schema import UNKNOWN
from mandu_lint.rules.migrations.ddl import apply_sql, split_statements
from mandu_lint.rules.migrations.schema import ColumnState, Schema

FIXTURES = Path(__file__).parent / "fixtures" / "migrations"
CATALOG = "library/migrations/"
SHOP = "shop/migrations/"
VERSIONS = "db/schema_migrations/versions/"


@pytest.fixture(scope="module")
def dj():
    return Replay(FIXTURES / "djproj").run()


@pytest.fixture(scope="module")
def bad():
    return Replay(FIXTURES / "djbad").run()


@pytest.fixture(scope="module")
def alembic():
    return Replay(FIXTURES / "alembic_proj").run()


def op_of(result, file, kind, nth=0):
    return [op for op in result.operations(file) if op.kind == kind][nth]


# -- Django: Database track ---------------------------------------------------------------

def test_not_null_column_added_to_an_existing_table(dj):
    add = op_of(dj, CATALOG + "0002_book_isbn.py", "AddField")
    before = dj.before(add)
    assert before.table_exists("catalog_book") is True
    assert before.column("catalog_book", "isbn") is None
    assert before.created_in("catalog_book") == ("django", "catalog", "0001_initial")
    field = add.args["field"]
    assert (field.cls, field.null, field.max_length, field.has_default) == ("CharField", False, 13, True)
    assert add.args["preserve_default"] is False
    after = dj.before(op_of(dj, CATALOG + "0003_rename_and_index.py", "RenameField"))
    isbn = after.column("catalog_book", "isbn")
    assert (isbn.type, isbn.nullable, isbn.max_length, isbn.has_default) == ("varchar", False, 13, False)


def test_rename_alter_and_index(dj):
    file = CATALOG + "0003_rename_and_index.py"
    before_rename = dj.before(op_of(dj, file, "RenameField"))
    assert before_rename.column("catalog_book", "title").max_length == 200
    assert before_rename.column("catalog_book", "headline") is None
    before_alter = dj.before(op_of(dj, file, "AlterField"))
    assert before_alter.column("catalog_book", "headline").max_length == 200
    assert before_alter.column("catalog_author", "name").max_length == 100
    before_index = dj.before(op_of(dj, file, "AddIndex"))
    assert before_index.column("catalog_author", "name").max_length == 150
    assert before_index.find_index("book_isbn_idx") is None
    table, index = dj.schema.find_index("book_isbn_idx")
    assert (table, index.columns, index.concurrently) == ("catalog_book", ("isbn",), False)


def test_rename_model_moves_the_table_and_the_foreign_key(dj):
    op = op_of(dj, CATALOG + "0004_rename_author.py", "RenameModel")
    assert dj.before(op).table_exists("catalog_author") and not dj.before(op).table_exists("catalog_writer")
    assert dj.schema.table_exists("catalog_author") is False
    assert dj.schema.column("catalog_book", "author_id").fk == "catalog_writer"
    assert dj.schema.column("catalog_book", "author_id").type == "bigint"
    assert dj.state.get("shop", "order").fields["book"].to == "catalog.book"
    assert dj.state.get("catalog", "book").fields["author"].to == "catalog.writer"


def test_state_only_removal_keeps_the_column(dj):
    ops = dj.operations(CATALOG + "0005_drop_legacy_from_state.py")
    assert [(o.kind, o.track, o.parent) for o in ops] == [
        ("SeparateDatabaseAndState", "both", None), ("RemoveField", "state", 0)]
    assert "legacy_code" in dj.state_before(ops[1]).get("catalog", "book").fields
    assert "legacy_code" not in dj.app_state("catalog")["book"].fields
    assert dj.schema.column("catalog_book", "legacy_code").nullable is True  # still in the database


def test_run_sql_with_state_operations(dj):
    ops = dj.operations(CATALOG + "0006_book_pages.py")
    assert [(o.kind, o.track, o.parent) for o in ops] == [
        ("RunSQL", "both", None), ("AddField", "state", 0), ("RunPython", "both", None),
        ("AlterModelOptions", "both", None)]
    assert dj.before(ops[0]).column("catalog_book", "pages") is None
    assert dj.before(ops[1]).column("catalog_book", "pages").type == "integer"  # the SQL ran first
    assert [s.kind for s in ops[0].args["statements"]] == ["alter_table"]
    pages = dj.app_state("catalog")["book"].fields["pages"]
    assert (pages.cls, pages.null) == ("IntegerField", True)
    assert dj.app_state("catalog")["book"].options["ordering"] == ["headline"]
    assert ops[2].args["code"] == "migrations.RunPython.noop"


def test_squashed_migration_is_replayed_not_the_replaced_ones(dj):
    replaced = dj.operations(SHOP + "0002_order_note.py")
    assert replaced and dj.before(replaced[0]) is None
    squashed = dj.operations(SHOP + "0002_squashed_0003.py")
    assert dj.before(squashed[0]).column("shop_order", "note") is None
    assert dj.before(squashed[1]).column("shop_order", "note").nullable is True
    total = dj.schema.column("shop_order", "total")
    assert (total.type, total.type_params, total.has_default, total.nullable) == ("numeric", (10, 2), True, False)


def test_constraint_model_table_and_m2m(dj):
    constraint = dj.schema.table("shop_order").constraints["order_book_number_uniq"]
    assert (constraint.kind, constraint.columns) == ("unique", ("book_id", "number"))
    alter = op_of(dj, SHOP + "0004_order_unique.py", "AlterModelTable")
    assert dj.before(alter).table_exists("shop_tag") and dj.schema.table_exists("shop_tag") is False
    assert list(dj.schema.table("shop_order_tags").columns) == ["id", "order_id", "tag_id"]
    assert dj.schema.column("shop_order_tags", "tag_id").fk == "shop_label"
    customer = dj.schema.column("shop_order", "customer_id")
    assert (customer.type, customer.fk, customer.nullable) == (None, None, True)  # auth.User is external


def test_database_only_rename_through_sql(dj):
    ops = dj.operations(SHOP + "0005_rename_note.py")
    assert [(o.kind, o.track) for o in ops] == [
        ("SeparateDatabaseAndState", "both"), ("RunSQL", "database"), ("RenameField", "state")]
    assert dj.before(ops[1]).column("shop_order", "note") is not None
    assert dj.schema.column("shop_order", "note") is None
    assert dj.schema.column("shop_order", "remark").nullable is True
    assert "remark" in dj.app_state("shop")["order"].fields


def test_final_tables_and_coverage(dj):
    assert sorted(dj.schema.tables) == ["catalog_book", "catalog_writer", "shop_label", "shop_order",
                                        "shop_order_tags"]
    assert dj.coverage() == (10, 10)
    assert all(m.atomic for m in dj.migrations.values())


# -- unknowns -----------------------------------------------------------------------------

def test_custom_operation_makes_only_its_model_unknown(bad):
    file = "custom/migrations/0002_backfill.py"
    custom, add = bad.operations(file)
    assert (custom.kind, custom.known, custom.args["model"]) == ("BackfillThing", False, "thing")
    before_custom = bad.before(custom)
    assert before_custom.column("custom_thing", "name").max_length == 30
    after = bad.before(add)
    assert after.is_unknown("custom_thing") and after.table_exists("custom_thing") is None
    assert after.column("custom_thing", "name") is UNKNOWN and not after.column("custom_thing", "name")
    assert after.column("custom_other", "id").primary_key is True
    assert bad.state_before(add).get("custom", "thing").unknown
    assert not bad.state_before(add).is_unknown("custom", "other")


def test_custom_operation_without_a_model_makes_the_app_unknown(bad):
    mig = bad.migration("custom/migrations/0003_magic.py")
    assert not mig.fully_modelled
    assert any("Magic" in reason for reason in mig.unknown_effects)
    assert any("RunSQL at line 13" in reason for reason in mig.unknown_effects)
    assert bad.schema.is_unknown("custom_other")
    assert "custom" in bad.state.unknown_apps
    assert not bad.schema.is_unknown("twoleaves_item")


# -- Django operations written in a temporary project -------------------------------------

def django_project(tmp_path, app, *migrations):
    folder = tmp_path / app / "migrations"
    folder.mkdir(parents=True)
    previous = None
    for number, body in enumerate(migrations, 1):
        name = f"{number:04d}_step"
        deps = f"[({app!r}, {previous!r})]" if previous else "[]"
        source = textwrap.dedent(body).strip("\n")
        header = "from django.db import migrations, models\nfrom django.contrib.postgres.operations import *\n"
        (folder / f"{name}.py").write_text(
            header + source.replace("DEPENDENCIES", deps) if "class Migration" in source else
            header + f"class Migration(migrations.Migration):\n    dependencies = {deps}\n"
            f"    operations = [\n{textwrap.indent(source, '        ')}\n    ]\n")
        previous = name
    return Replay(tmp_path).run()


ID = '("id", models.BigAutoField(primary_key=True, serialize=False))'


def test_postgres_operations_and_non_atomic_migration(tmp_path):
    result = django_project(
        tmp_path, "pg",
        f'migrations.CreateModel(name="Doc", fields=[{ID}, ("slug", models.SlugField()), '
        '("n", models.IntegerField())]),',
        """
        class Migration(migrations.Migration):
            atomic = False
            dependencies = DEPENDENCIES
            operations = [
                AddIndexConcurrently(model_name="doc", index=models.Index(fields=["slug"], name="doc_slug_idx")),
                AddConstraintNotValid(model_name="doc", constraint=models.CheckConstraint(
                    condition=models.Q(n__gte=0), name="doc_n_gte_0")),
                ValidateConstraint(model_name="doc", name="doc_n_gte_0"),
                RemoveIndexConcurrently(model_name="doc", name="doc_slug_idx"),
                TrigramExtension(),
            ]
        """)
    mig = result.migration("pg/migrations/0002_step.py")
    assert mig.atomic is False and all(not op.atomic for op in mig.operations) and mig.fully_modelled
    add_index, add_check, validate, remove_index, _ = mig.operations
    assert result.before(add_check).find_index("doc_slug_idx")[1].concurrently is True
    assert result.before(validate).table("pg_doc").constraints["doc_n_gte_0"].validated is False
    assert result.before(remove_index).table("pg_doc").constraints["doc_n_gte_0"].validated is True
    assert result.schema.find_index("doc_slug_idx") is None
    assert result.schema.column("pg_doc", "slug").max_length == 50
    assert [c.name for c in result.state.get("pg", "doc").constraints] == ["doc_n_gte_0"]


def test_proxy_unmanaged_db_table_and_together(tmp_path):
    result = django_project(
        tmp_path, "opts",
        f"""
        migrations.CreateModel(name="Base", fields=[{ID}, ("a", models.IntegerField()), ("b", models.IntegerField())],
                               options={{"db_table": "legacy_base"}}),
        migrations.CreateModel(name="View", fields=[{ID}], options={{"managed": False}}),
        migrations.CreateModel(name="Alias", fields=[], options={{"proxy": True}}, bases=("opts.base",)),
        """,
        """
        migrations.AlterUniqueTogether(name="base", unique_together={("a", "b")}),
        migrations.AddField(model_name="view", name="x", field=models.IntegerField(default=0)),
        migrations.RunPython(forwards, atomic=False),
        """)
    assert sorted(result.schema.tables) == ["legacy_base"]
    assert result.schema.table("legacy_base").constraints["legacy_base_a_b_uniq"].columns == ("a", "b")
    assert result.state.get("opts", "base").options["unique_together"] == (("a", "b"),)
    run_python = result.operations("opts/migrations/0002_step.py")[2]
    assert run_python.atomic is False and run_python.args["atomic"] is False
    assert result.coverage() == (2, 2)


def test_alter_field_to_not_null_and_db_default(tmp_path):
    result = django_project(
        tmp_path, "nn",
        f'migrations.CreateModel(name="Row", fields=[{ID}, ("v", models.CharField(max_length=10, null=True))]),',
        'migrations.AlterField(model_name="row", name="v", field=models.CharField(max_length=20, db_default="x")),',
        'migrations.RemoveField(model_name="row", name="v"),')
    alter = result.operations("nn/migrations/0002_step.py")[0]
    assert result.before(alter).column("nn_row", "v").nullable is True
    remove = result.operations("nn/migrations/0003_step.py")[0]
    v = result.before(remove).column("nn_row", "v")
    assert (v.nullable, v.max_length, v.db_default, v.has_default) == (False, 20, "'x'", False)
    assert result.schema.column("nn_row", "v") is None


def test_altering_a_table_the_replay_never_saw_makes_it_unknown(tmp_path):
    result = django_project(tmp_path, "orphan", 'migrations.AddField(model_name="ghost", name="x", '
                                                'field=models.IntegerField(null=True)),')
    assert result.schema.is_unknown("orphan_ghost")
    assert result.state.get("orphan", "ghost").unknown


# -- Alembic ------------------------------------------------------------------------------

def test_alembic_create_add_and_batch(alembic):
    create = op_of(alembic, VERSIONS + "a1_create_users.py", "create_table")
    assert alembic.before(create).table_exists("users") is False
    users = alembic.before(op_of(alembic, VERSIONS + "a1_create_users.py", "create_index")).table("users")
    assert [(c.name, c.type, c.nullable) for c in users.columns.values()] == [
        ("id", "integer", False), ("email", "varchar", False), ("name", "varchar", True),
        ("created_at", "timestamptz", False)]
    assert users.columns["created_at"].db_default == "now()"
    ops = alembic.operations(VERSIONS + "b2_status_and_batch.py")
    assert [(o.kind, o.parent) for o in ops] == [
        ("add_column", None), ("batch_alter_table", None), ("alter_column", 1), ("create_unique_constraint", 1)]
    assert alembic.before(ops[0]).column("users", "status") is None
    status = alembic.before(ops[1]).column("users", "status")
    assert (status.max_length, status.nullable, status.db_default) == (20, False, "'active'")
    assert ops[2].args["table_name"] == "users" and ops[2].args["batch"] is True
    full_name = alembic.before(ops[3]).column("users", "full_name")
    assert (full_name.nullable, full_name.max_length) == (False, 50)
    assert alembic.before(ops[3]).column("users", "name") is None


def test_alembic_execute_autocommit_and_helpers(alembic):
    mig = alembic.migration(VERSIONS + "c3_raw_sql.py")
    kinds = [(o.kind, o.atomic) for o in mig.operations]
    assert kinds == [("execute", True), ("execute", True), ("execute", True), ("create_index", False),
                     ("create_table", True)]
    assert mig.atomic is False
    assert alembic.before(mig.operations[1]).column("users", "age").type == "integer"
    assert mig.operations[2].args["sqltext"] == ("expression", "update")
    assert mig.operations[3].args["postgresql_concurrently"] is True
    assert alembic.before(mig.operations[4]).find_index("ix_users_age")[0] == "users"
    assert mig.unknown_effects == []


def test_alembic_alter_drop_rename(alembic):
    mig = alembic.migration(VERSIONS + "e5_alter.py")
    first = alembic.before(mig.operations[0])
    assert first.column("users", "email").max_length == 120
    assert first.column("users", "status").db_default == "'active'"
    schema = alembic.alembic_schemas["alembic.ini"]
    assert schema.column("users", "email").max_length == 255
    assert schema.column("users", "status").db_default is None
    assert schema.column("users", "status").nullable is False  # alter_column changes only what it is given
    assert schema.column("users", "age") is None and schema.find_index("ix_users_age") is None
    assert schema.table_exists("orders") is False
    assert schema.created_in("purchases") == ("alembic", "alembic.ini", "c3")
    assert schema.table("purchases").constraints["ck_purchases_total"].definition == "total >= 0"
    assert schema.column("purchases", "user_id").fk == "users"
    assert schema.column("purchases", "id").primary_key is True
    assert not mig.operations[-1].known and mig.unknown_effects == ["op.my_custom_operation at line 22 not modelled"]
    assert schema.created_in("audit_log") == ("alembic", "alembic.ini", "d4")
    assert alembic.coverage() == (4, 5)


def test_before_at_file_and_line(alembic):
    schema = alembic.before_at(VERSIONS + "e5_alter.py", 22)
    assert schema.table_exists("purchases") and schema.find_index("ix_users_age") is None
    assert alembic.before_at(VERSIONS + "e5_alter.py", 999) is None


# -- raw SQL ------------------------------------------------------------------------------

def schema_with_book():
    schema = Schema()
    apply_sql(schema, "CREATE TABLE book (id bigserial PRIMARY KEY, title varchar(20) NOT NULL, n int)")
    return schema


def test_sql_alter_table_actions():
    schema = schema_with_book()
    effects = apply_sql(schema, """
        ALTER TABLE book ADD COLUMN isbn varchar(13) NOT NULL DEFAULT '';
        ALTER TABLE book ALTER COLUMN title TYPE text, ALTER COLUMN n SET NOT NULL;
        ALTER TABLE book ALTER COLUMN n SET DEFAULT 0;
        ALTER TABLE book RENAME COLUMN isbn TO code;
        CREATE UNIQUE INDEX CONCURRENTLY book_code_uniq ON book (code);
    """)
    assert [s.kind for s in effects.statements] == ["alter_table"] * 4 + ["create_index"]
    assert effects.statements[-1].flags == ("unique", "concurrently")
    code = schema.column("book", "code")
    assert (code.type, code.max_length, code.nullable, code.db_default) == ("varchar", 13, False, "''")
    assert schema.column("book", "title").type == "text" and schema.column("book", "n").nullable is False
    assert schema.column("book", "n").db_default == "0"
    assert schema.find_index("book_code_uniq")[1].columns == ("code",)
    assert schema.column("book", "id").type == "bigint" and schema.column("book", "id").primary_key


def test_sql_constraints_not_valid_validate_and_using_index():
    schema = schema_with_book()
    apply_sql(schema, "ALTER TABLE book ADD CONSTRAINT n_pos CHECK (n > 0) NOT VALID")
    assert schema.table("book").constraints["n_pos"].validated is False
    apply_sql(schema, "ALTER TABLE book VALIDATE CONSTRAINT n_pos")
    assert schema.table("book").constraints["n_pos"].validated is True
    apply_sql(schema, "CREATE UNIQUE INDEX CONCURRENTLY book_title_idx ON book (title); "
                      "ALTER TABLE book ADD CONSTRAINT book_title_key UNIQUE USING INDEX book_title_idx")
    assert schema.table("book").constraints["book_title_key"].columns == ("title",)
    apply_sql(schema, "ALTER TABLE book DROP CONSTRAINT n_pos")
    assert "n_pos" not in schema.table("book").constraints


def test_sql_without_table_effect_and_dml():
    schema = schema_with_book()
    effects = apply_sql(schema, """
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
        CREATE OR REPLACE FUNCTION touch() RETURNS trigger AS $$ BEGIN NEW.n := 1; RETURN NEW; END; $$ LANGUAGE plpgsql;
        UPDATE book SET n = 1 WHERE n IS NULL;
        COMMENT ON TABLE book IS 'books; all of them';
    """)
    assert [s.kind for s in effects.statements] == ["no_effect", "no_effect", "dml", "no_effect"]
    assert effects.statements[2].tables == ("book",)
    assert not schema.is_unknown("book") and effects.unknown_effects == []


def test_sql_it_cannot_model_makes_tables_or_the_migration_unknown():
    schema = schema_with_book()
    effects = apply_sql(schema, "ALTER TABLE book ATTACH PARTITION book_2024 FOR VALUES IN (2024)")
    assert schema.is_unknown("book") and effects.unknown_tables
    other = schema_with_book()
    effects = apply_sql(other, "DO $$ BEGIN PERFORM 1; END $$")
    assert effects.unknown_effects and not other.is_unknown("book")
    third = schema_with_book()
    apply_sql(third, "DO $$ BEGIN EXECUTE 'x'; UPDATE book SET n = 2; END $$")
    assert third.is_unknown("book")


def test_split_statements_respects_quotes_and_dollar_quotes():
    sql = "SELECT ';'; CREATE FUNCTION f() AS $body$ a; b $body$; -- c; d\nSELECT 2"
    assert split_statements(sql) == ["SELECT ';'", "CREATE FUNCTION f() AS $body$ a; b $body$",
                                     "-- c; d\nSELECT 2"]


def test_schema_contradiction_and_snapshots_are_independent():
    schema = Schema()
    schema.add_column("ghost", ColumnState("x"))
    assert schema.is_unknown("ghost") and schema.table_exists("ghost") is None
    book = schema_with_book()
    snapshot = book.copy()
    book.drop_column("book", "n")
    assert snapshot.column("book", "n") is not None and book.column("book", "n") is None
    book.drop_column("book", "nope")  # a column the replay never saw
    assert book.is_unknown("book") and not snapshot.is_unknown("book")


def test_sql_seen_in_real_histories():
    """Renamed constraints and sequences, ``IF EXISTS`` on a relation that is not there, and
    catalog tables in a DO block leave the schema known."""
    schema = schema_with_book()
    apply_sql(schema, "ALTER TABLE book ADD CONSTRAINT n_pos CHECK (n > 0)")
    effects = apply_sql(schema, """
        ALTER TABLE book RENAME CONSTRAINT n_pos TO book_n_pos;
        ALTER TABLE IF EXISTS old_book_id_seq RENAME TO book_id_seq;
        ALTER TABLE ipam_thing_id_seq RENAME TO vpn_thing_id_seq;
        ALTER TABLE IF EXISTS gone RENAME TO still_gone;
    """)
    assert [s.kind for s in effects.statements] == ["alter_table", "no_effect", "no_effect", "no_effect"]
    assert list(schema.table("book").constraints) == ["book_n_pos"]
    assert sorted(schema.tables) == ["book"]
    effects = apply_sql(schema, "DO $$ BEGIN FOR r IN SELECT indexname FROM pg_indexes LOOP END LOOP; END $$")
    assert effects.unknown_tables == [] and effects.unknown_effects and "pg_indexes" not in schema.tables
