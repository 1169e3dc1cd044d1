"""The flake8 plugin, run as users run it: ``python -m flake8`` in a subprocess.

The plugin's contract is parity with ``mandu-lint check`` (same findings, flake8 doing the
reporting), plus what only flake8 has: editor buffers on stdin and ``--jobs`` workers.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mandu_lint.config import load_settings
from mandu_lint.integrations import flake8_plugin
from mandu_lint.integrations.flake8_plugin import ManduPlugin, choose_rules
from mandu_lint.registry import register, unregister
from mandu_lint.rules.base import Rule

FILES = {
    "shop/__init__.py": "",
    "shop/models.py": '''\
from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=50)


class Book(models.Model):
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
    title = models.CharField(max_length=50)
''',
    "shop/helpers.py": '''\
from shop.models import Book


def first_book(author_id):
    return Book.objects.filter(author_id=author_id).first()
''',
    "shop/views.py": '''\
from shop.helpers import first_book
from shop.models import Author, Book


def counts(ids):
    out = []
    for i in ids:
        out.append(Book.objects.filter(author_id=i).count())
    return out


def firsts(ids):
    return [first_book(i) for i in ids]


def silenced(ids):
    for i in ids:
        Book.objects.filter(author_id=i).exists()  # noqa: MDB301


def titles():
    for a in Author.objects.all():
        for b in a.books.all():
            print(b.title)
''',
    "shop/reports.py": '''\
from shop.models import Author


def names(ids):
    return {i: Author.objects.get(pk=i).name for i in ids}
''',
    "tests/test_views.py": '''\
from shop.models import Book


def test_counts():
    for i in range(10 ** 3):
        Book.objects.filter(author_id=i).count()
''',
}
EXPECTED = {("shop/views.py", 8, "MDB301"), ("shop/views.py", 13, "MDB301"), ("shop/views.py", 23, "MDB302"),
            ("shop/reports.py", 5, "MDB301")}
FMT = "--format=%(path)s|%(row)d|%(col)d|%(code)s"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def run(args, cwd: Path, stdin: str = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("MANDU_CACHE_DIR", None)
    return subprocess.run([sys.executable, *args], cwd=cwd, input=stdin, capture_output=True, text=True,
                          env=env, timeout=300)


def flake8(cwd: Path, *args: str, stdin: str = None):
    """(set of (path, line, code), process); ``--isolated``: no stray flake8 config applies."""
    proc = run(["-m", "flake8", "--isolated", "--select=MDB", FMT, *args], cwd, stdin)
    assert "Traceback" not in proc.stderr, proc.stderr
    found = set()
    for line in proc.stdout.splitlines():
        path, row, _col, code = line.split("|")
        found.add((os.path.normpath(path).replace(os.sep, "/"), int(row), code))
    return found, proc


def cli(cwd: Path):
    proc = run(["-m", "mandu_lint", "check", ".", "--format", "json", "--no-cache"], cwd)
    assert proc.returncode in (0, 1), proc.stderr
    return {(f["path"], f["line"], f["code"]) for f in json.loads(proc.stdout)["findings"] if f["code"] != "MDB000"}


def test_parity_with_cli(project: Path):
    expected = cli(project)
    assert expected == EXPECTED  # noqa line and the non-app tests/ file are silent
    found, proc = flake8(project, ".")
    assert found == expected
    assert proc.returncode == 1


def test_non_app_is_the_configs(project: Path):
    (project / "mandu.yaml").write_text("non-app: []\n")
    expected = cli(project)
    assert ("tests/test_views.py", 6, "MDB301") in expected
    assert flake8(project, ".")[0] == expected


def test_stdin_buffer_overrides_disk(project: Path):
    views = FILES["shop/views.py"]
    added = views + "\n\ndef more(ids):\n    return [Author.objects.get(pk=i) for i in ids]\n"
    found, _ = flake8(project, "--stdin-display-name", "shop/views.py", "-", stdin=added)
    assert found == {("shop/views.py", n, "MDB301") for n in (8, 13, 28)} | {("shop/views.py", 23, "MDB302")}
    removed = views.replace("Book.objects.filter(author_id=i).count()", "i")
    found, proc = flake8(project, "--stdin-display-name", "shop/views.py", "-", stdin=removed)
    assert found == {("shop/views.py", 13, "MDB301"), ("shop/views.py", 23, "MDB302")}
    clean = "def counts(ids):\n    return list(ids)\n"
    found, proc = flake8(project, "--stdin-display-name", "shop/views.py", "-", stdin=clean)
    assert found == set() and proc.returncode == 0
    # the unsaved buffers never reached the shared cache: disk content is checked again
    assert flake8(project, ".")[0] == EXPECTED


def test_stdin_new_file(project: Path):
    text = "from shop.models import Book\n\n\ndef f(ids):\n    return [Book.objects.get(pk=i) for i in ids]\n"
    found, _ = flake8(project, "--stdin-display-name", "shop/new.py", "-", stdin=text)
    assert found == {("shop/new.py", 5, "MDB301")}


def test_jobs(project: Path):
    for n in range(4):
        (project / f"shop/extra{n}.py").write_text(
            f"from shop.models import Book\n\n\ndef f{n}(ids):\n    for i in ids:\n        Book.objects.get(pk=i)\n")
    expected = cli(project)
    assert len(expected) == len(EXPECTED) + 4
    parallel, _ = flake8(project, "--jobs", "2", ".")  # cold cache: two workers race for the index
    serial, _ = flake8(project, "--jobs", "1", ".")
    assert parallel == serial == expected


def test_forced_config_from_flake8_config(project: Path):
    (project / "strict.yaml").write_text("non-app: [tests/, shop/views.py]\n")
    (project / ".flake8").write_text("[flake8]\nselect = MDB\nmandu-config = strict.yaml\n")
    proc = run(["-m", "flake8", FMT, "."], project)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stdout.splitlines() == ["./shop/reports.py|5|16|MDB301"]


def test_broken_config_fails_flake8_without_crashing(project: Path):
    """Issue 12 (3): an invalid mandu.yaml used to exit 0; now MDB001 at line 1 of every file."""
    (project / "mandu.yaml").write_text("select: [MDB301\n")
    found, proc = flake8(project, "--jobs", "1", ".")
    assert found and {code for _, _, code in found} == {"MDB001"} and {line for _, line, _ in found} == {1}
    assert ("shop/views.py", 1, "MDB001") in found
    assert proc.returncode == 1
    assert proc.stderr.count("invalid configuration") == 1  # once, not once per file
    assert "mandu.yaml:" in proc.stderr and "invalid YAML" in proc.stderr
    # flake8's own checks still run
    (project / "shop/style.py").write_text("import os\n")
    proc = run(["-m", "flake8", "--isolated", "--select=F,MDB", "."], project)
    assert "F401" in proc.stdout and proc.returncode == 1 and "Traceback" not in proc.stderr


def test_syntax_error_is_flake8s(project: Path):
    (project / "shop/broken.py").write_text("def f(:\n")
    proc = run(["-m", "flake8", "--isolated", "--select=E999,MDB", "shop/broken.py"], project)
    assert "E999" in proc.stdout and "MDB000" not in proc.stdout and "Traceback" not in proc.stderr


# -- in process --------------------------------------------------------------------------------
class OptIn(Rule):
    code = "MDB999"
    name = "test-opt-in"
    summary = "an opt-in rule for tests"
    default = False


@pytest.fixture
def opt_in():
    register(OptIn)
    yield OptIn
    unregister(OptIn)


def test_opt_in_rules_run_only_when_named(tmp_path: Path, opt_in):
    defaults = load_settings(None, tmp_path)
    codes = lambda settings, named=(): {r.code for r in choose_rules(settings, named)}  # noqa: E731
    assert "MDB301" in codes(defaults) and "MDB999" not in codes(defaults)
    assert "MDB999" not in codes(defaults, ["MDB", "MDB9"])  # a prefix never enables an opt-in rule
    assert "MDB999" in codes(defaults, ["MDB999"])  # flake8 --select / --extend-select
    assert "MDB999" in codes(defaults, ["mdb999"])
    for key in ("select", "extend-select"):
        (tmp_path / "mandu.yaml").write_text(f"{key}: [MDB999]\n")
        named = load_settings(tmp_path / "mandu.yaml", tmp_path)
        assert {"MDB301", "MDB999"} <= codes(named)  # flake8, not mandu.yaml, filters the defaults


def test_parse_options(monkeypatch, tmp_path: Path):
    for attr in ("config", "named", "active"):
        monkeypatch.setattr(ManduPlugin, attr, getattr(ManduPlugin, attr))
    ManduPlugin.parse_options(argparse.Namespace(mandu_config=str(tmp_path / "m.yaml"), select=["MDB"],
                                                 extend_select=["MDB999"]))
    assert ManduPlugin.config == tmp_path / "m.yaml"
    assert ManduPlugin.named == ("MDB", "MDB999")
    ManduPlugin.parse_options(argparse.Namespace(mandu_config=None, select=None, extend_select=None))
    assert ManduPlugin.config is None and ManduPlugin.named == () and ManduPlugin.active
    for select, extend, active in ((["E", "F"], None, False), (["E"], ["MDB301"], True), (["M"], None, True),
                                   (None, ["E"], True)):
        ManduPlugin.parse_options(argparse.Namespace(select=select, extend_select=extend))
        assert ManduPlugin.active is active, (select, extend)


def test_nothing_runs_when_flake8_cannot_report_it(project: Path, monkeypatch):
    calls = []
    monkeypatch.setattr("mandu_lint.runner.check_file", lambda *a, **k: calls.append(a) or ([], []))
    monkeypatch.setattr(flake8_plugin, "_PROJECTS", {})
    path = project / "shop/views.py"
    plugin = ManduPlugin(None, str(path), path.read_text().splitlines(True))
    monkeypatch.setattr(ManduPlugin, "active", False)
    assert list(plugin.run()) == [] and calls == []
    monkeypatch.setattr(ManduPlugin, "active", True)
    assert list(plugin.run()) == [] and len(calls) == 1


def test_internal_error_is_mdb002_and_one_stderr_line(project: Path, monkeypatch, capsys):
    def boom(*args, **kwargs):
        raise RuntimeError("kaput")

    monkeypatch.setattr("mandu_lint.runner.check_file", boom)
    monkeypatch.setattr(flake8_plugin, "_PROJECTS", {})
    path = project / "shop/views.py"
    lines = path.read_text().splitlines(keepends=True)
    (found,) = ManduPlugin(ast.parse("".join(lines)), str(path), lines).run()
    assert found[:2] == (1, 0) and found[2].startswith("MDB002 file not checked: internal error")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error" in err and "kaput" in err


def test_outside_project_or_excluded(project: Path, monkeypatch, tmp_path: Path):
    monkeypatch.setattr(flake8_plugin, "_PROJECTS", {})
    (project / "mandu.yaml").write_text("exclude: [shop/reports.py]\n")
    path = project / "shop/reports.py"
    lines = path.read_text().splitlines(keepends=True)
    assert list(ManduPlugin(None, str(path), lines).run()) == []
    path = project / "shop/views.py"
    lines = path.read_text().splitlines(keepends=True)
    found = list(ManduPlugin(None, str(path), lines).run())
    # flake8 applies ``# noqa`` (line 18) itself
    assert [(r[0], r[2][:6]) for r in found] == [(8, "MDB301"), (13, "MDB301"), (18, "MDB301"), (23, "MDB302")]
    assert all(r[3] is ManduPlugin for r in found)
    outside = tmp_path / "elsewhere.py"
    outside.write_text(FILES["shop/reports.py"])
    monkeypatch.chdir(project)  # no VCS root above ``outside``: its project root is the cwd
    assert list(ManduPlugin(None, str(outside), outside.read_text().splitlines(True)).run()) == []
