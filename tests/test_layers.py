"""The layers section: the layer model, `init`'s proposal for each fixture project, and the
layering rules (MDB201, MDB202) staying silent until layers are configured."""
from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
import yaml

from mandu_lint.rules.layers.analysis import LayerMap, layer_map
from mandu_lint.rules.layers.propose import found_layers, propose_layers
from mandu_lint.config import CONFIG_NAME, clear_caches, load_settings
from mandu_lint.globs import GlobSet
from mandu_lint.init import run_init
from mandu_lint.project.build import Project
from mandu_lint.runner import CheckOptions, check_paths

PROJECTS = Path(__file__).parent / "fixtures" / "projects"

# What `mandu-lint init` proposes for `layers`, per fixture project (None: the section stays
# commented out, since the tree shows no repository layer).
PROPOSED = {
    "layers_fastapi": {"handler": ["**/api/**"], "service": ["**/services/**"],
                       "repository": ["**/repositories/**"], "adapter": ["**/db.py"], "allow-skip": True},
    "layers_django": {"handler": ["**/api/**", "**/views.py"], "service": ["**/services.py"],
                      "repository": ["**/repositories.py"], "allow-skip": True},
    "layers_none": {"handler": ["**/views.py"], "repository": ["**/repositories/**"], "allow-skip": True},
    "sqla_app": {"handler": ["**/api.py"], "repository": ["**/repo.py"], "adapter": ["**/db.py"],
                 "allow-skip": True},
    "django_shop": None,  # views and services, no repositories: a plain Django app
    "dbapi_app": None,
}


def project(name: str) -> Project:
    root = PROJECTS / name
    clear_caches()
    return Project(root, load_settings(root / CONFIG_NAME, root), use_cache=False)


@pytest.mark.parametrize("name", sorted(PROPOSED))
def test_init_proposal_is_pinned(name):
    text = propose_layers(project(name))
    assert (yaml.safe_load(text) if text else None) == PROPOSED[name]


@pytest.mark.parametrize("name", ["layers_fastapi", "layers_django"])
def test_proposal_is_the_hand_written_config(name):
    """The fixture's own `layers` (written by hand) assigns every file as the proposal does;
    layers_django differs only in `allow-skip`, a policy init cannot read off the tree."""
    hand = project(name).settings.section("layers")
    proposed = PROPOSED[name]
    for layer in ("handler", "service", "repository", "adapter"):
        assert sorted(getattr(hand, layer) or []) == sorted(proposed.get(layer, []))
    assert hand.allow_skip == (name != "layers_django")


def test_init_writes_the_proposal_commented_out(tmp_path):
    """Layering is a policy: init proposes it, commented out; uncommented, it loads."""
    root = tmp_path / "app"
    shutil.copytree(PROJECTS / "layers_fastapi", root)
    (root / CONFIG_NAME).unlink()
    (root / ".git").mkdir()
    assert run_init(root, out=io.StringIO()) == 0
    text = (root / CONFIG_NAME).read_text()
    assert "\n# layers:\n" in text and "\nlayers:\n" not in text and "repositories/**" in text
    clear_caches()
    assert not load_settings(root / CONFIG_NAME, root).section("layers").repository
    start = text.index("\n# layers:\n") + 1
    end = text.find("\n\n", start)
    block = text[start:end if end > 0 else len(text)]
    uncommented = "\n".join(line[2:] if line.startswith("# ") else line for line in block.splitlines()
                            if not line.startswith("# Proposed") and line != "#")
    (root / CONFIG_NAME).write_text(text.replace(block, uncommented))
    clear_caches()
    assert load_settings(root / CONFIG_NAME, root).section("layers").repository == ["**/repositories/**"]


def test_module_named_like_a_layer_that_never_queries_is_not_proposed(tmp_path):
    """fief's `dependencies/repositories.py` only wires repositories up: a module glob for the
    repository layer needs a module that reads or writes the database itself."""
    files = {
        "app/__init__.py": "",
        "app/views.py": "def index(request):\n    return 1\n",
        "app/dependencies/__init__.py": "",
        "app/dependencies/repositories.py": "def get_repo(session):\n    return object()\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    (tmp_path / ".git").mkdir()
    clear_caches()
    proj = Project(tmp_path, load_settings(None, tmp_path), use_cache=False)
    assert found_layers(proj.relfiles)["repository"] == ["**/repositories.py"]
    assert propose_layers(proj) is None


def test_layer_map_first_match_and_depth():
    lmap = LayerMap((("handler", GlobSet(["**/api/**"])), ("service", GlobSet(["**/services/**"])),
                     ("repository", GlobSet(["**/repositories/**", "**/crud.py"]))), allow_skip=False)
    assert lmap.layer_of("app/api/crud.py") == "handler"  # the first (outermost) layer wins
    assert lmap.layer_of("app/crud.py") == "repository"
    assert lmap.layer_of("app/models.py") is None
    assert lmap.below("handler", "repository") == 2 and lmap.below("repository", "service") == -1
    # an empty layer does not count: without services, handler -> repository skips nothing
    no_services = LayerMap((("handler", GlobSet(["**/api/**"])), ("repository", GlobSet(["**/crud.py"]))), False)
    assert no_services.below("handler", "repository") == 1


def test_layer_map_is_off_without_globs():
    assert not layer_map(project("dbapi_app").settings).configured
    assert layer_map(project("layers_fastapi").settings).configured


@pytest.mark.parametrize("name", sorted(p.name for p in PROJECTS.iterdir() if p.is_dir()))
def test_no_layers_no_layer_findings(name, tmp_path):
    """With a config that has no `layers` section, MDB201/MDB202 report nothing anywhere —
    including the layered fixtures, whose files are full of bypasses."""
    config = tmp_path / CONFIG_NAME
    config.write_text("exclude: []\n")
    result = check_paths([str(PROJECTS / name)], CheckOptions(use_cache=False, jobs=1, config=config,
                                                              select=["MDB201", "MDB202"]))
    assert not result.had_error, result.notices
    assert result.findings == []


def test_layered_fixture_reports_with_its_config():
    """The converse of the test above (so that it can fail): the same rules do report there."""
    result = check_paths([str(PROJECTS / "layers_fastapi")],
                         CheckOptions(use_cache=False, jobs=1, select=["MDB201", "MDB202"]))
    # the fixture's own config opts in to MDB204 (``extend-select``), which adds to any selection
    assert {f.code for f in result.findings} - {"MDB204"} == {"MDB201", "MDB202"}


def test_bypass_message_names_the_repository_method():
    result = check_paths([str(PROJECTS / "layers_fastapi")], CheckOptions(use_cache=False, jobs=1, select=["MDB201"]))
    by_line = {(Path(f.path).name, f.span.line): f.message for f in result.findings}
    handler = by_line[("orders.py", 35)]
    assert "handler module" in handler
    assert "the repository already reads `Order` in `OrderRepository.for_user`" in handler
    service = next(m for (name, _), m in by_line.items() if "`session.delete(…)`" in m)
    assert "service module" in service and "`OrderRepository.add`" not in service  # add writes, delete is no add
    add = next(m for m in by_line.values() if "`session.add(…)`" in m)
    assert "writes to `Order`" in add and "does `session.add()` on `Order` in `OrderRepository.add`" in add
    unknown = next(m for m in by_line.values() if "`session.scalar(…)`" in m)
    assert "move it into a repository method" in unknown
