"""Issue 12, item 1: every failure to check something is a finding and fails the gate.

MDB001 (configuration not loaded), MDB002 (file not checked), always on; the flake8 plugin exits
non-zero through a real ``flake8`` subprocess, the CLI exits 2. Synthetic projects only.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mandu_lint.cli import main
from mandu_lint.runner import CheckOptions, check_paths

MODELS = """\
from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=50)


class Book(models.Model):
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
"""
VIEWS = "from shop.models import Book\n\n\ndef f(ids):\n    for i in ids:\n        Book.objects.get(pk=i)\n"


def make(root: Path, files: dict, config=None) -> Path:
    (root / ".git").mkdir(parents=True, exist_ok=True)
    if config is not None:
        (root / "mandu.yaml").write_text(config)
    for rel, src in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(src, encoding="utf-8")
    return root


def run(args, cwd: Path, stdin=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("MANDU_CACHE_DIR", None)
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, env=env,
                          input=stdin, timeout=300)


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return make(tmp_path / "proj", {"shop/__init__.py": "", "shop/models.py": MODELS, "shop/views.py": VIEWS})


# -- flake8, through a real subprocess -----------------------------------------------------------
def test_flake8_invalid_config_exits_non_zero(shop: Path):
    (shop / "mandu.yaml").write_text("tenant:\n  depth: lots\n")
    proc = run(["-m", "flake8", "--isolated", "--select=MDB", "."], shop)
    assert proc.returncode == 1, proc
    assert "./shop/views.py:1:1: MDB001 configuration not loaded" in proc.stdout
    assert "mandu.yaml:2: tenant.depth" in proc.stdout and "Traceback" not in proc.stderr


def test_flake8_missing_mandu_config_exits_non_zero(shop: Path):
    proc = run(["-m", "flake8", "--isolated", "--select=MDB", "--mandu-config", "nowhere/mandu.yaml", "."], shop)
    assert proc.returncode == 1, proc
    assert "MDB001" in proc.stdout and "cannot read" in proc.stdout


def test_flake8_internal_error_exits_non_zero(shop: Path):
    code = textwrap.dedent("""
        import sys
        import mandu_lint.runner as runner
        def boom(*a, **k):
            raise RuntimeError("kaput")
        runner.check_file = boom
        from flake8.main.cli import main
        sys.exit(main(["--isolated", "--select=MDB", "--jobs=1", "shop/views.py"]))
    """)
    proc = run(["-c", code], shop)
    assert proc.returncode == 1, proc
    assert "shop/views.py:1:1: MDB002 file not checked: internal error (RuntimeError: kaput)" in proc.stdout


def test_flake8_clean_project_still_exits_zero(shop: Path):
    (shop / "shop/views.py").write_text("x = 1\n")
    proc = run(["-m", "flake8", "--isolated", "--select=MDB", "."], shop)
    assert (proc.returncode, proc.stdout) == (0, ""), proc


# -- the CLI -------------------------------------------------------------------------------------
def test_cli_invalid_config_is_mdb001_at_line_1_and_exit_2(shop: Path, capsys, monkeypatch):
    (shop / "mandu.yaml").write_text("exclude: []\ntenant:\n  depth: lots\n")
    monkeypatch.chdir(shop)
    assert main(["check", ".", "--no-cache", "--format", "json"]) == 2
    out, err = capsys.readouterr()
    (f,) = json.loads(out)["findings"]
    assert (f["code"], f["path"], f["line"]) == ("MDB001", "mandu.yaml", 1)
    assert "invalid configuration" in err and "mandu.yaml:3: tenant.depth" in err
    assert main(["check", ".", "--no-cache", "--exit-zero"]) == 2
    assert "mandu.yaml:1:1: MDB001" in capsys.readouterr().out


def test_unreadable_file_is_mdb002_with_the_reason(shop: Path, capsys):
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    bad = shop / "shop/secret.py"
    bad.write_text("x = 1\n")
    bad.chmod(0)
    try:
        assert main(["check", str(shop), "--no-cache"]) == 2
    finally:
        bad.chmod(0o644)
    out = capsys.readouterr().out
    assert "secret.py:1:1: MDB002 file not checked: cannot read: Permission denied" in out


def test_unreadable_file_reason_when_reading_fails(shop: Path, monkeypatch):
    """The same path without relying on file modes (the tests may run as root)."""
    from mandu_lint.project import build

    real = build.read_bytes
    monkeypatch.setattr(build.Project, "data", lambda self, rel: None if rel.endswith("views.py")
                        else real(self.root / rel))
    monkeypatch.setattr("mandu_lint.runner._read_error", lambda path: "cannot read: Permission denied")
    result = check_paths([str(shop)], CheckOptions(use_cache=False, jobs=1))
    (f,) = [f for f in result.findings if f.code == "MDB002"]
    assert f.path.endswith("views.py") and f.message == "file not checked: cannot read: Permission denied"


@pytest.mark.parametrize("source", ["x = " + "(" * 5000 + "1" + ")" * 5000 + "\n",  # the parser's limit
                                    "x = " + "+".join(["1"] * 20000) + "\n"])  # RecursionError
def test_too_deeply_nested_is_mdb002_not_a_crash(shop: Path, capsys, source):
    (shop / "shop/deep.py").write_text(source)
    code = main(["check", str(shop), "--no-cache"])
    out, err = capsys.readouterr()
    assert "internal error" not in err and "Traceback" not in err
    assert code == 2 and "deep.py:1:" in out and "MDB002 file not checked: too deeply nested" in out, (out, err)
    assert "views.py:6:" in out  # the run went on


def test_tool_codes_are_always_on(shop: Path):
    (shop / "shop/bad.py").write_text("def f(:\n")
    for opts in (CheckOptions(select=["MDB3"]), CheckOptions(ignore=["MDB3"]), CheckOptions(select=["MDB4"])):
        opts.use_cache, opts.jobs = False, 1
        result = check_paths([str(shop)], opts)
        assert "MDB000" in {f.code for f in result.findings}
    (shop / "mandu.yaml").write_text('per-file-ignores:\n  "shop/*": [MDB0]\n')
    result = check_paths([str(shop)], CheckOptions(use_cache=False, jobs=1))
    assert "MDB000" in {f.code for f in result.findings}


def test_rules_lists_the_tool_codes(capsys):
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    for code, name in (("MDB000", "syntax-error"), ("MDB001", "configuration-not-loaded"),
                       ("MDB002", "file-not-checked"), ("MDB003", "unused-or-unknown-noqa")):
        assert code in out and name in out
    assert main(["rules", "--format", "json"]) == 0
    rows = {r["code"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["MDB001"]["always_on"] and not rows["MDB003"]["always_on"] and rows["MDB003"]["default"]
    assert main(["explain", "MDB002"]) == 0 and "always on" in capsys.readouterr().out


def test_baseline_never_records_files_not_checked(shop: Path, capsys, monkeypatch):
    if sys.version_info >= (3, 12):
        pytest.skip("needs grammar this Python cannot parse")
    (shop / "shop/new.py").write_text('xs = []\nx = f"{\'\\\\n\'.join(xs)}"\n')  # a backslash in a field: 3.12
    target = shop / "base.json"
    assert main(["baseline", str(target), "--paths", str(shop), "--no-cache"]) == 2
    assert "MDB002" not in target.read_text()
    assert main(["check", str(shop), "--no-cache", "--baseline", str(target)]) == 2


def test_noqa_with_an_unknown_or_unused_mdb_code_is_mdb003(shop: Path):
    (shop / "shop/views.py").write_text(
        "from shop.models import Book\n\n\ndef f(ids):\n    for i in ids:\n"
        "        Book.objects.get(pk=i)  # noqa: MDB301\n"
        "    Book.objects.get(pk=1)  # noqa: MDB301\n"
        "    Book.objects.get(pk=2)  # noqa: MDB999, E501\n"
        "    Book.objects.get(pk=3)  # noqa: E501,B008\n"
        "    Book.objects.get(pk=4)  # noqa\n")
    result = check_paths([str(shop)], CheckOptions(use_cache=False, jobs=1))
    found = sorted((f.span.line, f.code, f.message) for f in result.findings)
    assert [(line, code) for line, code, _ in found] == [(7, "MDB003"), (8, "MDB003")]
    assert "unused `# noqa: MDB301`" in found[0][2] and "unknown code MDB999" in found[1][2]
    # a code whose rule did not run cannot be judged unused
    result = check_paths([str(shop)], CheckOptions(use_cache=False, jobs=1, select=["MDB003", "MDB4"]))
    assert sorted(f.span.line for f in result.findings) == [8]
    # ignoring MDB003 silences it
    assert check_paths([str(shop)], CheckOptions(use_cache=False, jobs=1, ignore=["MDB003"])).findings == []
