"""The migration graphs of the migrations family (issue 13): Django as ``MigrationLoader``
builds it, Alembic per environment, and the problems MDB602 will report."""
from __future__ import annotations

from pathlib import Path

import pytest

from mandu_lint.rules.migrations.alembic_graph import build_alembic_graph
from mandu_lint.rules.migrations.discover import discover
from mandu_lint.rules.migrations.graph import build_django_graph
from mandu_lint.rules.migrations.replay import Replay

FIXTURES = Path(__file__).parent / "fixtures" / "migrations"


@pytest.fixture(scope="module")
def djbad():
    found = discover(FIXTURES / "djbad")
    return build_django_graph(found.django)


@pytest.fixture(scope="module")
def djproj():
    return Replay(FIXTURES / "djproj").run()


def by_kind(problems, kind):
    return [p for p in problems if p.kind == kind]


def test_discovery_labels_and_files(djproj):
    found = djproj.discovery
    assert found.app_dirs == {"catalog": "library", "shop": "shop"}  # apps.py label wins over the folder
    names = {(m.app_label, m.name) for m in found.django}
    assert ("catalog", "0001_initial") in names and ("shop", "0002_squashed_0003") in names
    assert not any(m.name == "__init__" for m in found.django)
    assert found.alembic == []


def test_two_leaves(djbad):
    [problem] = by_kind(djbad.problems, "multiple-leaves")
    assert problem.file == "twoleaves/migrations/0002_item_b.py"
    assert problem.related == (("twoleaves/migrations/0002_item_a.py", 4),)
    assert djbad.leaves("twoleaves") == [("twoleaves", "0002_item_a"), ("twoleaves", "0002_item_b")]


def test_missing_dependency_but_external_app_is_not_missing(djbad):
    missing = by_kind(djbad.problems, "missing-dependency")
    assert sorted(p.message.split(" depends on ")[1].split(",")[0] for p in missing) == [
        "missingdep.0000_nowhere", "twoleaves.0099_gone"]
    assert all(p.file == "missingdep/migrations/0001_initial.py" and p.line == 5 for p in missing)
    assert ("auth", "0012_alter_user_first_name_max_length") in djbad.external


def test_cycle_reported_once_and_order_still_complete(djbad):
    [cycle] = by_kind(djbad.problems, "cycle")
    assert "cyca.0001_initial" in cycle.message and "cycb.0001_initial" in cycle.message
    assert set(djbad.order) == set(djbad.nodes)
    assert len(djbad.order) == len(set(djbad.order))


def test_run_before_orders_without_dependency(djbad):
    assert djbad.parents[("late", "0001_initial")] == {("early", "0001_initial"): (
        "early/migrations/0001_initial.py", 6)}
    assert djbad.order.index(("early", "0001_initial")) < djbad.order.index(("late", "0001_initial"))


def test_squashed_migration_replaces_its_nodes(djproj):
    graph = djproj.django_graph
    assert graph.replaced == {("shop", "0002_order_note"): ("shop", "0002_squashed_0003"),
                              ("shop", "0003_order_total"): ("shop", "0002_squashed_0003")}
    # 0004 depends on a replaced node: the edge moved to the squashed migration
    assert ("shop", "0002_squashed_0003") in graph.parents[("shop", "0004_order_unique")]
    assert graph.leaves("shop") == [("shop", "0005_rename_note")]
    assert graph.problems == []
    assert djproj.migrations[("django", "shop", "0002_order_note")].replaced_by == (
        "django", "shop", "0002_squashed_0003")


def test_swappable_dependency_is_external_unless_an_app_provides_it(djproj, tmp_path):
    graph = djproj.django_graph
    shop = graph.nodes[("shop", "0001_initial")]
    assert [d.swappable for d in shop.dependencies] == [None, "AUTH_USER_MODEL"]
    assert ("auth", "__first__") in graph.external
    # with AUTH_USER_MODEL = "catalog.Writer" the dependency is catalog's first migration
    found = discover(FIXTURES / "djproj")
    provided = build_django_graph(found.django, {"AUTH_USER_MODEL": "catalog.Writer"})
    assert ("catalog", "0001_initial") in provided.parents[("shop", "0001_initial")]
    assert ("auth", "__first__") not in provided.external


def test_django_order_is_migrates(djproj):
    assert djproj.django_graph.order == [
        ("catalog", "0001_initial"), ("catalog", "0002_book_isbn"), ("catalog", "0003_rename_and_index"),
        ("catalog", "0004_rename_author"), ("catalog", "0005_drop_legacy_from_state"),
        ("catalog", "0006_book_pages"), ("shop", "0001_initial"), ("shop", "0002_squashed_0003"),
        ("shop", "0004_order_unique"), ("shop", "0005_rename_note")]


def test_first_and_latest_resolve(tmp_path):
    for app, deps in (("a", ""), ("b", '("a", "__latest__")'), ("c", '("a", "__first__"), ("c", "__first__")')):
        folder = tmp_path / app / "migrations"
        folder.mkdir(parents=True)
        (folder / "0001_initial.py").write_text(
            f"from django.db import migrations\nclass Migration(migrations.Migration):\n"
            f"    dependencies = [{deps}]\n    operations = []\n")
    (tmp_path / "a" / "migrations" / "0002_more.py").write_text(
        "from django.db import migrations\nclass Migration(migrations.Migration):\n"
        "    dependencies = [('a', '0001_initial')]\n    operations = []\n")
    graph = build_django_graph(discover(tmp_path).django)
    assert set(graph.parents[("b", "0001_initial")]) == {("a", "0002_more")}
    assert set(graph.parents[("c", "0001_initial")]) == {("a", "0001_initial")}  # own __first__ ignored
    assert graph.problems == []


# -- Alembic ------------------------------------------------------------------------------

def test_alembic_ini_script_location_and_labelled_branch():
    found = discover(FIXTURES / "alembic_proj")
    [env] = found.alembic_envs.values()
    assert env.ini == "alembic.ini" and env.script_location == "db/schema_migrations"
    assert env.version_dirs == ["db/schema_migrations/versions"]
    assert env.url.startswith("postgresql+psycopg://")
    graph = build_alembic_graph(env.name, found.alembic)
    assert graph.heads == ["d4", "e5"]
    assert graph.problems == []  # d4's head sits on the declared "audit" branch
    assert graph.parents["e5"] == ("c3", "d4")  # depends_on is an edge too
    assert graph.order.index("d4") < graph.order.index("e5")
    assert graph.bases == ["a1"]


def test_alembic_problems():
    found = discover(FIXTURES / "alembic_bad")
    assert [f.env for f in found.alembic] == ["migrations/versions"] * 10
    graph = build_alembic_graph("migrations/versions", found.alembic)
    kinds = sorted(p.kind for p in graph.problems)
    assert kinds == ["cycle", "duplicate-revision", "missing-depends-on", "missing-down-revision", "multiple-heads"]
    [dup] = by_kind(graph.problems, "duplicate-revision")
    assert dup.file == "migrations/versions/r4_copy.py" and dup.related[0][0] == "migrations/versions/r2_left.py"
    [heads] = by_kind(graph.problems, "multiple-heads")
    assert "(r10, r5, r9)" in heads.message
    assert graph.heads == ["r10", "r5", "r9"]  # r2 and r3 were merged by r8
    [missing] = by_kind(graph.problems, "missing-down-revision")
    assert (missing.file, missing.line) == ("migrations/versions/r5_orphan.py", 5)


def test_alembic_heads_sharing_a_label_are_a_problem(tmp_path):
    versions = tmp_path / "alembic" / "versions"
    versions.mkdir(parents=True)
    for rev, down, labels in (("x1", None, ("main",)), ("x2", "x1", None), ("x3", "x1", None)):
        (versions / f"{rev}.py").write_text(
            f"revision = {rev!r}\ndown_revision = {down!r}\nbranch_labels = {labels!r}\n"
            "def upgrade():\n    pass\n")
    found = discover(tmp_path)
    graph = build_alembic_graph(found.alembic[0].env, found.alembic)
    [problem] = graph.problems
    assert problem.kind == "multiple-heads" and "on branch 'main'" in problem.message


def test_non_revision_files_are_ignored(tmp_path):
    (tmp_path / "settings.py").write_text("revision = 'x'\ndown_revision = None\n")  # no upgrade()
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "helpers.py").write_text("class Migration:\n    pass\n")  # no operations
    found = discover(tmp_path)
    assert found.alembic == [] and found.django == []
