"""Issue 12, item 9: the command-line conventions ruff and flake8 users expect.

``--output-format`` (github, gitlab, junit, pylint), ``--stdin-filename``, ``--show-fixes`` and the
``[*]`` marker, ``--quiet``, ``--color``/NO_COLOR/FORCE_COLOR, ``--extend-exclude``, CLI
``--per-file-ignores``, ``--exit-non-zero-on-fix``, ``[tool.mandu-lint]`` in pyproject.toml, and
noqa reasons with ``require-noqa-reason``. Synthetic projects only."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mandu_lint import config
from mandu_lint.cli import main

MODELS = """\
from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=50)


class Book(models.Model):
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
"""
VIEWS = """\
from shop.models import Book


def titles():
    for b in Book.objects.all():
        print(b.author.name)


def counts(ids):
    for i in ids:
        Book.objects.get(pk=i)
"""


@pytest.fixture
def shop(tmp_path: Path, monkeypatch) -> Path:
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    for rel, text in {"shop/__init__.py": "", "shop/models.py": MODELS, "shop/views.py": VIEWS,
                      "scripts/once.py": VIEWS.replace("titles", "once")}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    monkeypatch.chdir(root)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    config.clear_caches()
    yield root
    config.clear_caches()


def cli(capsys, *args):
    config.clear_caches()  # each run is a fresh process in real life
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# -- output formats ------------------------------------------------------------------------------
def test_output_format_alias_and_github(shop, capsys):
    code, out, _ = cli(capsys, "check", ".", "--no-cache", "--output-format", "github")
    assert code == 1
    lines = out.splitlines()
    assert "::warning file=scripts/once.py,line=6,col=15,endLine=6,endColumn=23,title=mandu-lint MDB302::MDB302 " \
           in lines[0]
    assert len([ln for ln in lines if ln.startswith("::warning ")]) == 4
    assert cli(capsys, "check", ".", "--no-cache", "--format", "github")[1] == out


def test_gitlab_code_quality(shop, capsys):
    code, out, _ = cli(capsys, "check", ".", "--no-cache", "--output-format", "gitlab")
    issues = json.loads(out)
    assert code == 1 and len(issues) == 4
    first = issues[0]
    assert set(first) == {"description", "check_name", "fingerprint", "severity", "location"}
    assert first["location"] == {"path": "scripts/once.py", "lines": {"begin": 6, "end": 6}}
    assert first["severity"] == "minor" and len({i["fingerprint"] for i in issues}) == 4


def test_junit_and_pylint(shop, capsys):
    code, out, _ = cli(capsys, "check", ".", "--no-cache", "--output-format", "junit")
    suites = ET.fromstring(out)
    assert code == 1 and suites.get("failures") == "4"
    assert sorted(s.get("name") for s in suites) == ["scripts/once.py", "shop/views.py"]
    code, out, _ = cli(capsys, "check", ".", "--no-cache", "--output-format", "pylint")
    assert out.splitlines()[0].startswith("scripts/once.py:6: [MDB302] ")
    (root_clean := shop / "clean").mkdir()
    (root_clean / "x.py").write_text("x = 1\n")
    code, out, _ = cli(capsys, "check", "clean", "--no-cache", "--output-format", "junit")
    assert code == 0 and ET.fromstring(out).get("failures") == "0"


# -- stdin ---------------------------------------------------------------------------------------
def test_stdin_filename(shop, monkeypatch, capsys):
    buffer = "from shop.models import Book\n\n\ndef f(ids):\n    return [Book.objects.get(pk=i) for i in ids]\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(buffer.encode())))
    code, out, _ = cli(capsys, "check", "--no-cache", "--stdin-filename", "shop/new.py")
    assert code == 1 and out.splitlines()[0].startswith("shop/new.py:5:13: MDB301")
    assert not (shop / "shop/new.py").exists()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"def counts(ids):\n    return ids\n")))
    code, out, _ = cli(capsys, "check", "--no-cache", "--stdin-filename", "shop/views.py")
    assert code == 0 and "No findings." in out  # the buffer, not the file on disk


def test_fix_stdin_prints_the_fixed_source(shop, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(VIEWS.encode())))
    code, out, _ = cli(capsys, "check", "--fix", "--no-cache", "--stdin-filename", "shop/views.py")
    assert 'for b in Book.objects.select_related("author"):' in out
    assert code == 1  # the loop query has no fix and remains
    assert (shop / "shop/views.py").read_text() == VIEWS  # nothing written


# -- fixes, quiet, colour ------------------------------------------------------------------------
def test_fixable_marker_and_show_fixes(shop, capsys):
    code, out, _ = cli(capsys, "check", "shop", "--no-cache")
    assert "shop/views.py:6:15: MDB302 [*] " in out and "shop/views.py:11:9: MDB301 [medium] `" in out
    code, out, _ = cli(capsys, "check", "shop", "--no-cache", "--show-fixes")
    lines = out.splitlines()
    assert lines[1] == "    fix: load author with the query"
    code, out, _ = cli(capsys, "fix", "shop", "--no-cache", "--show-fixes")
    assert "fixed shop/views.py:6:15: MDB302 load author with the query" in out.replace(os.sep, "/")


def test_exit_non_zero_on_fix(shop, capsys):
    (shop / "shop/views.py").write_text(VIEWS.split("\n\n\ndef counts")[0] + "\n")
    assert cli(capsys, "fix", "shop", "--no-cache", "--exit-non-zero-on-fix")[0] == 1  # fixed, nothing left
    assert cli(capsys, "fix", "shop", "--no-cache", "--exit-non-zero-on-fix")[0] == 0  # nothing to fix
    assert cli(capsys, "check", "shop", "--no-cache", "--exit-non-zero-on-fix")[0] == 2  # needs --fix


def test_quiet(shop, capsys):
    code, out, err = cli(capsys, "check", ".", "--no-cache", "--quiet")
    assert code == 1 and out.count("\n") == 4 and "Found" not in out and err == ""
    (shop / "mandu.yaml").write_text("non-app: []\n")  # a warning: hidden by --quiet
    code, out, err = cli(capsys, "check", ".", "--no-cache", "-q")
    assert err == "" and "Found" not in out


def test_color(shop, capsys, monkeypatch):
    assert "\x1b[" not in cli(capsys, "check", ".", "--no-cache")[1]  # auto, not a terminal
    assert "\x1b[31mMDB30" in cli(capsys, "check", ".", "--no-cache", "--color", "always")[1]
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert "\x1b[" in cli(capsys, "check", ".", "--no-cache")[1]
    assert "\x1b[" not in cli(capsys, "check", ".", "--no-cache", "--color", "never")[1]
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in cli(capsys, "check", ".", "--no-cache")[1]
    assert "\x1b[" in cli(capsys, "check", ".", "--no-cache", "--color", "always")[1]


# -- selection from the command line -------------------------------------------------------------
def test_extend_exclude_and_per_file_ignores(shop, capsys):
    (shop / "mandu.yaml").write_text("exclude: [nothing/]\n")
    out = cli(capsys, "check", ".", "--no-cache", "--extend-exclude", "scripts/,other/")[1]
    assert "scripts/" not in out and "shop/views.py" in out
    out = cli(capsys, "check", ".", "--no-cache", "--per-file-ignores", "scripts/*.py:MDB302,MDB301 shop/*:MDB301")[1]
    assert "scripts/" not in out and out.count("shop/views.py") == 1 and "MDB302" in out
    code, _, err = cli(capsys, "check", ".", "--no-cache", "--per-file-ignores", "scripts/*.py:MDB399")
    assert code == 2 and "did you mean" in err
    assert cli(capsys, "check", ".", "--no-cache", "--per-file-ignores", "nonsense")[0] == 2


# -- pyproject.toml ------------------------------------------------------------------------------
def test_pyproject_table_is_a_config(shop, capsys):
    (shop / "pyproject.toml").write_text('[project]\nname = "shop"\n\n[tool.mandu-lint]\nselect = ["MDB301"]\n'
                                         'exclude = ["scripts/"]\n\n[tool.mandu-lint.tenant]\ndepth = 2\n')
    code, out, err = cli(capsys, "check", ".", "--no-cache")
    assert code == 1 and out.count("MDB301") == 1 and "MDB302" not in out and "scripts" not in out
    assert cli(capsys, "check", "--show-settings", ".")[1].count("pyproject.toml") == 1


def test_pyproject_without_the_table_does_not_count(shop, tmp_path, capsys):
    (shop / "shop/pyproject.toml").write_text('[project]\nname = "inner"\n[tool.black]\nline-length = 99\n')
    code, out, _ = cli(capsys, "check", "--show-settings", "shop")
    assert f"Project root: {shop}\n" in out and "config: none" in out


def test_mandu_yaml_wins_over_the_table_with_a_warning(shop, capsys):
    (shop / "pyproject.toml").write_text('[tool.mandu-lint]\nselect = ["MDB301"]\n')
    (shop / "mandu.yaml").write_text("select: [MDB302]\n")
    code, out, err = cli(capsys, "check", ".", "--no-cache")
    assert "MDB302" in out and "MDB301" not in out
    assert err.count("[tool.mandu-lint] is ignored: mandu.yaml in the same folder wins") == 1


@pytest.mark.parametrize("text,fragment", [
    ('[tool.mandu-lint]\nselect = [MDB301]\n', "pyproject.toml:2: invalid TOML: Invalid value (at line 2"),
    ('[tool.mandu-lint]\nselect = ["MDB301"]\n\n[tool.mandu-lint.tenant]\ndepth = "lots"\n',
     "pyproject.toml:5: tool.mandu-lint.tenant.depth: expected a non-negative integer"),
    ('[tool.mandu-lint]\nexclude = []\nselct = ["MDB3"]\n', "pyproject.toml:3: tool.mandu-lint.selct: unknown key, "
                                                            "did you mean 'select'?"),
    ('[tool.mandu-lint]\ntenant.depth = -1\n', "pyproject.toml:2: tool.mandu-lint.tenant.depth"),
    ('[tool.mandu-lint]\nselect = [\n  "MDB301",\n  "MDB31",\n]\n', "tool.mandu-lint.select: no rule code"),
])
def test_pyproject_errors_name_key_path_and_line(shop, capsys, text, fragment):
    (shop / "pyproject.toml").write_text(text)
    code, out, err = cli(capsys, "check", ".", "--no-cache")
    assert code == 2 and fragment in err, err
    assert "pyproject.toml:1:1: MDB001" in out


def test_pyproject_through_flake8(shop):
    (shop / "pyproject.toml").write_text('[tool.mandu-lint]\nexclude = ["scripts/"]\nselect = ["MDB301"]\n')
    proc = subprocess.run([sys.executable, "-m", "flake8", "--isolated", "--select=MDB", "."], cwd=shop,
                          capture_output=True, text=True, timeout=300)
    assert "scripts" not in proc.stdout and "shop/views.py" in proc.stdout and proc.returncode == 1


# -- noqa reasons --------------------------------------------------------------------------------
def test_noqa_reason_and_require_noqa_reason(shop, capsys):
    quiet = VIEWS.replace("Book.objects.get(pk=i)", "Book.objects.get(pk=i)  # noqa: MDB301 -- ids are few")
    quiet = quiet.replace("print(b.author.name)", "print(b.author.name)  # noqa: MDB302")
    (shop / "shop/views.py").write_text(quiet)
    code, out, _ = cli(capsys, "check", "shop", "--no-cache")
    assert code == 0, out
    (shop / "mandu.yaml").write_text("require-noqa-reason: true\n")
    code, out, _ = cli(capsys, "check", "shop", "--no-cache")
    assert code == 1 and out.count("MDB003") == 1
    assert "shop/views.py:6:31: MDB003 `# noqa: MDB302` needs a reason" in out
