"""Issue 12, items 3 and 8: which project a path belongs to.

``--config FILE`` (flake8: ``--mandu-config``) applies that file to the paths given wherever it
lives: the project root is the checked path's VCS root, else the current folder, never the
config's folder. ``--show-settings`` says which root was chosen and why, ``--show-files`` lists
what would be checked. Synthetic projects only."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mandu_lint import config
from mandu_lint.cli import main

MODELS = "from django.db import models\n\n\nclass Book(models.Model):\n    title = models.CharField(max_length=9)\n"
VIEWS = "from app.models import Book\n\n\ndef f(ids):\n    for i in ids:\n        Book.objects.get(pk=i)\n"


@pytest.fixture(autouse=True)
def _fresh():
    config.clear_caches()
    yield
    config.clear_caches()


@pytest.fixture
def layout(tmp_path: Path):
    """tmp/repo (a git checkout without config) and tmp/config/mandu.yaml outside it."""
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "app").mkdir()
    (repo / "app/__init__.py").write_text("")
    (repo / "app/models.py").write_text(MODELS)
    (repo / "app/views.py").write_text(VIEWS)
    (repo / "app/legacy.py").write_text(VIEWS)
    (tmp_path / "config").mkdir()
    cfg = tmp_path / "config/mandu.yaml"
    cfg.write_text("exclude: [app/legacy.py]\n")
    return repo, cfg


def test_config_outside_the_checked_folder_applies_to_it(layout, monkeypatch, capsys):
    repo, cfg = layout
    monkeypatch.chdir(repo)
    assert main(["check", "--config", str(Path("..") / "config/mandu.yaml"), ".", "--no-cache"]) == 1
    out = capsys.readouterr().out
    assert "app/views.py:6:9: MDB301" in out.replace(os.sep, "/")
    assert "legacy.py" not in out  # the config's globs are relative to the project root
    assert "no Python files" not in out
    monkeypatch.chdir(cfg.parent.parent)  # from above both: the root is the repo (its VCS root)
    assert main(["check", "--config", str(cfg), "repo", "--no-cache"]) == 1
    assert "repo/app/views.py:6:9: MDB301" in capsys.readouterr().out.replace(os.sep, "/")


def test_forced_config_takes_in_nested_config_folders(layout, monkeypatch, capsys):
    repo, cfg = layout
    (repo / "app/mandu.yaml").write_text("select: [MDB4]\n")
    monkeypatch.chdir(repo)
    assert main(["check", ".", "--no-cache"]) == 0  # app/ is its own project, selecting MDB4 only
    capsys.readouterr()
    assert main(["check", "--config", str(cfg), ".", "--no-cache"]) == 1
    assert "MDB301" in capsys.readouterr().out


def test_missing_config_file_is_mdb001_exit_2(layout, monkeypatch, capsys):
    repo, _ = layout
    monkeypatch.chdir(repo)
    assert main(["check", "--config", "nowhere.yaml", ".", "--no-cache"]) == 2
    out, err = capsys.readouterr()
    assert "nowhere.yaml:1:1: MDB001" in out and "cannot read" in err


def test_flake8_mandu_config_outside_the_checkout(layout):
    repo, cfg = layout
    env = dict(os.environ)
    env.pop("MANDU_CACHE_DIR", None)
    proc = subprocess.run([sys.executable, "-m", "flake8", "--isolated", "--select=MDB", "--mandu-config",
                           str(Path("..") / "config/mandu.yaml"), "."], cwd=repo, capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 1, proc
    lines = [ln.replace(os.sep, "/") for ln in proc.stdout.splitlines()]
    assert any(ln.startswith("./app/views.py:6:9: MDB301") for ln in lines), proc
    assert not any("legacy.py" in ln for ln in lines)


def test_show_settings_and_show_files(layout, monkeypatch, capsys):
    repo, cfg = layout
    monkeypatch.chdir(repo)
    assert main(["check", "--show-settings", "--config", str(cfg), "."]) == 0
    out = capsys.readouterr().out
    assert f"Project root: {repo}" in out
    assert "root chosen as: the VCS root of the checked path" in out and str(cfg) in out
    assert 'exclude = ["app/legacy.py"]' in out and "non-app = [" in out and "# the defaults" in out
    assert main(["check", "--show-files", "."]) == 0
    files = capsys.readouterr().out.split()
    assert [f.replace(os.sep, "/") for f in files] == ["app/__init__.py", "app/legacy.py", "app/models.py",
                                                       "app/views.py"]


# -- item 8: a file outside the current folder with nothing above it is checked alone ------------
ONE_FILE = """\
from django.db import models


class Book(models.Model):
    title = models.CharField(max_length=9)


def f(ids):
    for i in ids:
        Book.objects.get(pk=i)
"""


@pytest.fixture
def loose(tmp_path: Path, monkeypatch):
    """tmp/downloads/script.py beside many unrelated files; no VCS or config anywhere above."""
    folder = tmp_path / "downloads"
    for i in range(40):
        (folder / f"junk{i}").mkdir(parents=True)
        (folder / f"junk{i}/mod.py").write_text("x = 1\n")
    (folder / "script.py").write_text(ONE_FILE)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(config, "_vcs_dir", lambda d: None)  # whatever the test machine has above tmp
    return folder


def test_file_outside_cwd_is_checked_alone(loose, capsys):
    assert main(["check", "--show-settings", str(loose / "script.py")]) == 0
    out = capsys.readouterr().out
    assert "root chosen as: none: a file outside the current folder" in out
    assert "files: 1 to check (0 non-app), 1 indexed" in out
    assert main(["check", str(loose / "script.py")]) == 1
    out = capsys.readouterr().out
    assert "script.py:10:9: MDB301" in out
    assert not (loose / ".mandu_cache").exists()  # nothing written beside a loose file


def test_folder_outside_cwd_is_its_own_root(loose, capsys):
    assert main(["check", "--show-settings", str(loose)]) == 0
    out = capsys.readouterr().out
    assert "root chosen as: the checked folder" in out and "41 indexed" in out


def test_inside_cwd_the_cwd_stays_the_root(loose, monkeypatch, capsys):
    monkeypatch.chdir(loose.parent)
    assert main(["check", "--show-settings", "downloads/script.py"]) == 0
    out = capsys.readouterr().out
    assert f"Project root: {loose.parent}" in out and "root chosen as: the current folder" in out
    assert "41 indexed" in out


def test_flake8_plugin_checks_a_loose_file_alone(loose, monkeypatch):
    from mandu_lint.integrations import flake8_plugin
    from mandu_lint.integrations.flake8_plugin import ManduPlugin

    monkeypatch.setattr(flake8_plugin, "_PROJECTS", {})
    path = loose / "script.py"
    found = list(ManduPlugin(None, str(path), path.read_text().splitlines(True)).run())
    assert [(line, msg[:6]) for line, _, msg, _ in found] == [(10, "MDB301")]
    (project,) = flake8_plugin._PROJECTS.values()
    assert project.relfiles == ["script.py"] and project.cache is None
