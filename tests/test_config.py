"""mandu.yaml discovery, validation (every problem at once, with lines) and typed settings."""
from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from mandu_lint import config
from mandu_lint.config import (
    DEFAULT_NON_APP,
    ConfigError,
    ConfigProblem,
    find_project,
    load_settings,
    vcs_root,
)
from mandu_lint.globs import GlobSet

FULL = """\
src: [src, lib]
exclude: ["vendor/", "*.gen.py"]
non-app: ["qa/"]
select: [MDB1, MDB3]
extend-select: [MDB404]
ignore: [MDB105]
per-file-ignores:
  "scripts/*.py": [MDB2]
  "legacy/**": [MDB, MDB301]
baseline: .mandu-baseline.json
tenant:
  models: [Organization]
  fields: [org_id]
  scoped: [Project, accounts.Invoice]
  depth: 5
  exempt: [Country]
  helpers: [for_org, TenantManager]
  system: ["admin/", "tasks/*.py"]
layers:
  handler: ["app/views/"]
  service: ["app/services/"]
  repository: ["app/repos/"]
  adapter: ["app/db/"]
  allow-skip: false
transactions:
  helpers: [atomic_job]
  side-effects: [send_mail, celery.send_task]
"""


def write(tmp_path: Path, text: str, name: str = "mandu.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(path: Path) -> list:
    with pytest.raises(ConfigError) as info:
        load_settings(path, path.parent)
    return info.value.problems


@pytest.fixture(autouse=True)
def _fresh_caches():
    config.clear_caches()
    yield
    config.clear_caches()


# --- valid configs -------------------------------------------------------------------------


def test_full_config_loads_typed_values(tmp_path):
    path = write(tmp_path, FULL)
    s = load_settings(path, tmp_path)
    assert s.root == tmp_path and s.config_path == path
    assert s.src == ["src", "lib"]
    assert s.exclude == ["vendor/", "*.gen.py"]
    assert s.non_app == ["qa/"]
    assert s.select == ["MDB1", "MDB3"]
    assert s.extend_select == ["MDB404"]
    assert s.ignore == ["MDB105"]
    assert s.per_file_ignores == {"scripts/*.py": ["MDB2"], "legacy/**": ["MDB", "MDB301"]}
    assert s.baseline == tmp_path / ".mandu-baseline.json"
    tenant = s.section("tenant")
    assert tenant.models == ["Organization"]
    assert tenant.fields == ["org_id"]
    assert tenant.scoped == ["Project", "accounts.Invoice"]
    assert tenant.depth == 5 and isinstance(tenant.depth, int)
    assert tenant.exempt == ["Country"] and tenant.system == ["admin/", "tasks/*.py"]
    assert tenant.helpers == ["for_org", "TenantManager"]
    layers = s.section("layers")
    assert layers.handler == ["app/views/"] and layers.adapter == ["app/db/"]
    assert layers.allow_skip is False
    assert s.section("transactions").side_effects == ["send_mail", "celery.send_task"]
    assert s.get("side-effects", "transactions") == s.get("side_effects", "transactions")
    assert s.lines[("tenant", "depth")] == 15
    assert s.lines[("", "baseline")] == 10


def test_defaults_without_config(tmp_path):
    s = load_settings(None, tmp_path)
    assert s.config_path is None
    assert s.non_app == list(DEFAULT_NON_APP)
    assert s.select is None and s.src is None and s.baseline is None
    assert s.exclude == [] and s.per_file_ignores == {}
    assert s.section("tenant").scoped == "auto" and s.section("tenant").depth == 3
    assert s.section("layers").allow_skip is True


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n", "~\n"])
def test_empty_file_gives_defaults(tmp_path, text):
    s = load_settings(write(tmp_path, text), tmp_path)
    assert s.digest == load_settings(None, tmp_path).digest


def test_null_value_keeps_default(tmp_path):
    s = load_settings(write(tmp_path, "non-app:\ntenant:\n"), tmp_path)
    assert s.non_app == list(DEFAULT_NON_APP)
    assert s.section("tenant").depth == 3


def test_defaults_are_not_shared_between_settings(tmp_path):
    first = load_settings(None, tmp_path)
    first.exclude.append("mutated/")
    assert load_settings(None, tmp_path).exclude == []


def test_globset_helper_compiles_once(tmp_path):
    s = load_settings(write(tmp_path, FULL), tmp_path)
    globs = s.globset("system", "tenant")
    assert isinstance(globs, GlobSet) and globs is s.globset("system", "tenant")
    assert globs.match("admin/site.py") and globs.match("tasks/nightly.py")
    assert not globs.match("app/views.py")


@pytest.mark.parametrize(
    "path,expected",
    [
        ("tests/test_views.py", True),
        ("pkg/sub/tests/helpers.py", True),
        ("test/x.py", True),
        ("pkg/test_models.py", True),
        ("pkg/models_test.py", True),
        ("conftest.py", True),
        ("pkg/conftest.py", True),
        ("shop/tests.py", True),
        ("shop/migrations/0001_initial.py", True),
        ("alembic/versions/abc123_add.py", True),
        ("services/api/alembic/versions/abc123_add.py", True),
        ("shop/fixtures/books.json", True),
        ("shop/models.py", False),
        ("shop/testing.py", False),
        ("shop/contest.py", False),
        ("shop/versions/x.py", False),
        ("latest/x.py", False),
    ],
)
def test_default_non_app(path, expected):
    assert GlobSet(DEFAULT_NON_APP).match(path) is expected


# --- problems ------------------------------------------------------------------------------


def test_broken_config_reports_every_problem_with_lines(tmp_path):
    path = write(
        tmp_path,
        """\
        src: app
        select: [MDB1, MDBX]
        tenant:
          depth: x
          scoped: everything
        layers:
          allow-skip: "yes"
        per-file-ignores:
          "tests/*": [MDB1, bad]
        baseline: 3
        """,
    )
    found = {(p.line, p.key) for p in problems_of(path)}
    assert found == {
        (1, "src"),
        (2, "select"),
        (4, "tenant.depth"),
        (5, "tenant.scoped"),
        (7, "layers.allow-skip"),
        (9, "per-file-ignores.tests/*"),
        (10, "baseline"),
    }


def test_problem_messages(tmp_path):
    path = write(tmp_path, "tenant:\n  depth: x\nselect: [MDBX]\nsrc: app\n")
    text = str(pytest.raises(ConfigError, load_settings, path, tmp_path).value)
    assert text.splitlines() == [
        f"{path}:2: tenant.depth: expected a non-negative integer, got 'x'",
        f"{path}:3: select: 'MDBX' is not a rule code (MDB and up to 3 digits, e.g. MDB301)",
        f"{path}:4: src: expected a list of strings, got 'app' (write [\"app\"])",
    ]


@pytest.mark.parametrize(
    "text,key,message",
    [
        ("tenant:\n  depth: -1\n", "tenant.depth", "got -1"),
        ("tenant:\n  depth: true\n", "tenant.depth", "got true"),
        ("tenant:\n  depth: 2.5\n", "tenant.depth", "got 2.5"),
        ("layers:\n  allow-skip: 1\n", "layers.allow-skip", "expected true or false"),
        ("exclude: '*.py'\n", "exclude", "expected a list of globs"),
        ("exclude: ['bad\\']\n", "exclude", "invalid glob"),
        ("exclude: ['']\n", "exclude", "empty string"),
        ("ignore: [mdb1]\n", "ignore", "not a rule code"),
        ("ignore: [MDB1234]\n", "ignore", "not a rule code"),
        ("tenant:\n  models: Org\n", "tenant.models", "expected a list of model names"),
        ("tenant:\n  models: [1]\n", "tenant.models", "expected a model name, got 1"),
        ("per-file-ignores: [x]\n", "per-file-ignores", "expected a mapping"),
        ("tenant: [a]\n", "tenant", "expected a mapping of tenant settings"),
        ("baseline: [a]\n", "baseline", "expected a path, got a list"),
        ("1: x\n", "", "keys must be strings"),
    ],
)
def test_wrong_kinds(tmp_path, text, key, message):
    [problem] = problems_of(write(tmp_path, text))
    assert problem.key == key and message in problem.message


def test_choices_are_enforced(tmp_path, monkeypatch):
    from mandu_lint import options

    monkeypatch.setitem(
        options._REGISTRY,
        ("", "style"),
        options.Option("", "style", "str", "a", "test only", ("a", "b")),
    )
    assert load_settings(write(tmp_path, "style: b\n"), tmp_path).get("style") == "b"
    [problem] = problems_of(write(tmp_path, "style: c\n"))
    assert problem.message == "expected one of 'a', 'b', got 'c'"


@pytest.mark.parametrize(
    "text,key,suggestion",
    [
        ("non_app: []\n", "non_app", "did you mean 'non-app'?"),
        ("extend_select: []\n", "extend_select", "did you mean 'extend-select'?"),
        ("exlude: []\n", "exlude", "did you mean 'exclude'?"),
        ("tenant:\n  depht: 2\n", "tenant.depht", "did you mean 'depth'?"),
        ("layers:\n  allow_skip: true\n", "layers.allow_skip", "did you mean 'allow-skip'?"),
        ("depth: 2\n", "depth", "did you mean 'tenant.depth'?"),
        ("tenant:\n  exclude: []\n", "tenant.exclude", "did you mean 'top-level exclude'?"),
        ("tennant: {}\n", "tennant", "did you mean 'tenant'?"),
    ],
)
def test_unknown_key_did_you_mean(tmp_path, text, key, suggestion):
    [problem] = problems_of(write(tmp_path, text))
    assert problem.key == key
    assert problem.message == "unknown key, " + suggestion


def test_unknown_key_without_suggestion_lists_valid_keys(tmp_path):
    [problem] = problems_of(write(tmp_path, "layers:\n  zzzzzz: 1\n"))
    assert problem.line == 2
    assert "valid keys: adapter, allow-skip, handler, repository, service" in problem.message


def test_duplicate_keys_at_every_level(tmp_path):
    path = write(
        tmp_path,
        """\
        ignore: [MDB1]
        tenant:
          depth: 2
          depth: 3
        ignore: [MDB2]
        per-file-ignores:
          "a/*": [MDB1]
          "a/*": [MDB2]
        """,
    )
    found = sorted((p.line, p.key, p.message) for p in problems_of(path))
    assert found == [
        (4, "tenant.depth", "duplicate key (first defined on line 3)"),
        (5, "ignore", "duplicate key (first defined on line 1)"),
        (8, "per-file-ignores.a/*", "duplicate key (first defined on line 7)"),
    ]


@pytest.mark.parametrize(
    "text,line",
    [
        ("exclude: [a, b\nselect: []\n", 2),
        ("tenant:\n  depth: 3\n bad: indent\n", 3),
        ("a: b: c\n", 1),
        ("exclude: []\n---\nexclude: []\n", 2),
        ("select: [MDB1]\nignore: \"oops\n", 3),
        ("select: *nowhere\n", 1),
    ],
)
def test_yaml_syntax_error_line(tmp_path, text, line):
    [problem] = problems_of(write(tmp_path, text))
    assert problem.line == line and problem.key == ""
    assert problem.message.startswith("invalid YAML: ")


def test_non_mapping_document(tmp_path):
    [problem] = problems_of(write(tmp_path, "- exclude\n- select\n"))
    assert (problem.line, problem.message) == (1, "expected a mapping of settings, got a list")


def test_unsafe_tags_are_rejected_never_constructed(tmp_path):
    marker = tmp_path / "pwned"
    path = write(
        tmp_path,
        f"""\
        baseline: !!python/object/apply:os.system ["touch {marker}"]
        src: !!python/object/new:list [[a]]
        exclude: [!!python/name:os.system ]
        tenant: !!python/object:types.SimpleNamespace {{depth: 1}}
        """,
    )
    found = problems_of(path)
    assert [(p.line, p.key) for p in found] == [
        (1, "baseline"), (2, "src"), (3, "exclude"), (4, "tenant")
    ]
    assert all("only plain YAML values are allowed" in p.message for p in found)
    assert not marker.exists()


def test_unreadable_and_undecodable_files(tmp_path):
    [problem] = problems_of(tmp_path / "missing.yaml")
    assert problem.line == 0 and problem.message.startswith("cannot read")
    assert str(problem).startswith(f"{tmp_path / 'missing.yaml'}: cannot read")
    path = tmp_path / "mandu.yaml"
    path.write_bytes(b"exclude: []\nsrc: [\xff]\n")
    [problem] = problems_of(path)
    assert (problem.line, problem.message) == (2, "not valid UTF-8")


def test_problem_str_and_error_str():
    first = ConfigProblem("mandu.yaml", 12, "tenant.depth", "expected a non-negative integer")
    second = ConfigProblem("mandu.yaml", 0, "", "cannot read: denied")
    assert str(first) == "mandu.yaml:12: tenant.depth: expected a non-negative integer"
    assert str(second) == "mandu.yaml: cannot read: denied"
    error = ConfigError([first, second])
    assert error.problems == [first, second]
    assert str(error) == f"{first}\n{second}"


def test_settings_problem_points_at_recorded_lines(tmp_path):
    path = write(tmp_path, "exclude: []\ntenant:\n  models:\n    - Org\n    - Team\n")
    s = load_settings(path, tmp_path)
    assert s.problem("tenant", "models", "ambiguous model 'Team'", item=1) == ConfigProblem(
        str(path), 5, "tenant.models", "ambiguous model 'Team'"
    )
    assert s.problem("tenant", "models", "x").line == 3
    assert s.problem("tenant", "depth", "x").line == 2  # falls back to the section
    assert s.problem("", "select", "x").line == 0


# --- digest --------------------------------------------------------------------------------


def test_digest_changes_with_values_only(tmp_path):
    base = load_settings(write(tmp_path, FULL), tmp_path).digest
    reformatted = FULL.replace("src: [src, lib]", "src:\n  - src\n  - lib\n# comment")
    assert load_settings(write(tmp_path, reformatted), tmp_path).digest == base
    changed = FULL.replace("depth: 5", "depth: 6")
    assert load_settings(write(tmp_path, changed), tmp_path).digest != base
    assert len(base) == 64 and int(base, 16) >= 0


# --- discovery -----------------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path):
    """outer/mandu.yaml  (above the VCS root: must never be used)
    outer/repo/.git/
    outer/repo/mandu.yaml
    outer/repo/svc/mandu.yaml
    outer/repo/svc/app/views.py
    outer/repo/lib/pkg/mod.py"""
    outer = tmp_path / "outer"
    root = outer / "repo"
    for folder in (root / ".git", root / "svc" / "app", root / "lib" / "pkg"):
        folder.mkdir(parents=True)
    for config_file in (outer / "mandu.yaml", root / "mandu.yaml", root / "svc" / "mandu.yaml"):
        config_file.write_text("")
    (root / "svc" / "app" / "views.py").write_text("")
    (root / "lib" / "pkg" / "mod.py").write_text("")
    return root


def test_find_project_picks_nearest_config(repo):
    views = repo / "svc" / "app" / "views.py"
    assert find_project(views) == (repo / "svc", repo / "svc" / "mandu.yaml")
    assert find_project(repo / "svc") == (repo / "svc", repo / "svc" / "mandu.yaml")
    assert find_project(repo / "lib" / "pkg" / "mod.py") == (repo, repo / "mandu.yaml")


def test_find_project_stops_at_vcs_root(repo):
    (repo / "mandu.yaml").unlink()
    assert find_project(repo / "lib" / "pkg" / "mod.py") == (repo, None)
    assert vcs_root(repo / "lib" / "pkg" / "mod.py") == repo
    assert vcs_root(repo / "svc") == repo


def test_git_file_marks_a_vcs_root(tmp_path):
    (tmp_path / "wt" / "a").mkdir(parents=True)
    (tmp_path / "wt" / ".git").write_text("gitdir: /elsewhere\n")
    (tmp_path / "mandu.yaml").write_text("")
    assert find_project(tmp_path / "wt" / "a") == (tmp_path / "wt", None)


def test_mercurial_root(tmp_path):
    (tmp_path / ".hg").mkdir()
    (tmp_path / "x").mkdir()
    assert vcs_root(tmp_path / "x") == tmp_path


def test_no_vcs_no_config_falls_back_to_cwd(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    if vcs_root(tmp_path) is not None:  # pragma: no cover - tmp inside a checkout
        pytest.skip("the temporary folder lies inside a VCS checkout")
    assert find_project(tmp_path / "a" / "f.py") == (Path(os.getcwd()), None)


def test_find_project_is_cached(repo, monkeypatch):
    views = repo / "svc" / "app" / "views.py"
    find_project(views)
    calls = []
    real = os.path.isfile
    monkeypatch.setattr(config.os.path, "isfile", lambda p: calls.append(p) or real(p))
    for _ in range(100):
        find_project(views)
    assert calls == []


def test_config_error_pickles_for_worker_processes():
    import pickle

    error = ConfigError([ConfigProblem("mandu.yaml", 3, "src", "bad")])
    clone = pickle.loads(pickle.dumps(error))
    assert clone.problems == error.problems and str(clone) == str(error)


def test_control_character_is_a_yaml_error_with_line(tmp_path):
    [problem] = problems_of(write(tmp_path, "exclude: []\nsrc: [a\x07]\n"))
    assert problem.line == 2 and problem.message.startswith("invalid YAML")
