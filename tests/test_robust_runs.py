"""Issue 12, item 4: a relocatable cache and runs that end cleanly.

A checkout copied or moved together with a warm ``.mandu_cache/`` (a real ``shutil.copytree``)
reports its own paths, SARIF URIs relative to ``%SRCROOT%``, and ``fix`` works; an unwritable
cache folder gives an in-memory run with one warning; ``| head`` (a real pipe) ends quietly; an
unwritable ``-o`` is a clear exit 2; Ctrl-C exits 130 with a message. Synthetic projects only.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mandu_lint import config

MODELS = """\
from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=50)


class Book(models.Model):
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
    title = models.CharField(max_length=50)
"""
VIEWS = """\
from shop.models import Book


def titles():
    for b in Book.objects.all():
        print(b.author.name)
"""


def make(root: Path, n_extra: int = 0) -> Path:
    (root / ".git").mkdir(parents=True)
    (root / "shop").mkdir()
    (root / "shop/__init__.py").write_text("")
    (root / "shop/models.py").write_text(MODELS)
    (root / "shop/views.py").write_text(VIEWS)
    for i in range(n_extra):
        (root / f"shop/loop{i}.py").write_text(
            "from shop.models import Book\n\n\ndef f(ids):\n" + "".join(
                f"    for i in ids:\n        Book.objects.get(pk=i + {k})\n" for k in range(20)))
    return root


def run(args, cwd: Path, env_extra=None, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **(env_extra or {}))
    if not env_extra or "MANDU_CACHE_DIR" not in env_extra:
        env.pop("MANDU_CACHE_DIR", None)
    return subprocess.run([sys.executable, "-m", "mandu_lint", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=300, **kw)


@pytest.fixture(autouse=True)
def _fresh():
    config.clear_caches()
    yield
    config.clear_caches()


def test_moved_checkout_with_a_warm_cache(tmp_path: Path):
    old = make(tmp_path / "old")
    first = run(["check", ".", "--format", "json"], old)  # warms .mandu_cache/
    assert first.returncode == 1, first.stderr
    assert (old / ".mandu_cache/findings").is_dir() and any((old / ".mandu_cache/findings").iterdir())
    new = tmp_path / "renamed" / "checkout"
    shutil.copytree(old, new)  # the cache travels with it (a CI cache restored elsewhere)
    shutil.rmtree(old)  # ... and the old place is gone (a moved or renamed folder)
    report = json.loads(run(["check", ".", "--format", "json"], new).stdout)
    (f,) = report["findings"]
    assert (f["path"], f["line"], f["code"]) == ("shop/views.py", 6, "MDB302")
    proc = run(["check", str(new), "--format", "sarif"], tmp_path)
    (result,) = json.loads(proc.stdout)["runs"][0]["results"]
    location = result["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": "shop/views.py", "uriBaseId": "%SRCROOT%"}
    fixed = run(["fix", "."], new)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert 'Book.objects.select_related("author")' in (new / "shop/views.py").read_text()
    assert run(["check", "."], new).returncode == 0


def test_cache_entries_hold_no_absolute_paths(tmp_path: Path):
    root = make(tmp_path / "p")
    assert run(["check", "."], root).returncode == 1
    for entry in (root / ".mandu_cache/findings").iterdir():
        assert str(root).encode() not in entry.read_bytes()


def test_unwritable_cache_folder_runs_in_memory_with_one_warning(tmp_path: Path):
    root = make(tmp_path / "p", n_extra=3)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    proc = run(["check", ".", "--jobs", "1"], root, {"MANDU_CACHE_DIR": str(blocker / "cache")})
    assert proc.returncode == 1 and "internal error" not in proc.stderr, proc.stderr
    assert proc.stderr.count("not writable") == 1
    assert proc.stdout.count("MDB301") == 60 and "MDB302" in proc.stdout


def test_existing_read_only_cache_is_read_not_written(tmp_path: Path, monkeypatch, capsys):
    from mandu_lint.cli import main

    root = make(tmp_path / "p")
    monkeypatch.chdir(root)
    monkeypatch.delenv("MANDU_CACHE_DIR", raising=False)
    assert main(["check", "."]) == 1  # warm
    capsys.readouterr()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **k: False if mode & os.W_OK else real(p, mode, **k))
    before = sorted(p.name for p in (root / ".mandu_cache").rglob("*"))
    (root / "shop/views.py").write_text(VIEWS + "\n\ndef more():\n    for b in Book.objects.all():\n"
                                                "        print(b.author.name)\n")
    assert main(["check", "."]) == 1
    out, err = capsys.readouterr()
    assert out.count("MDB302") == 2 and err.count("not writable") == 1
    assert sorted(p.name for p in (root / ".mandu_cache").rglob("*")) == before


def test_pipe_closed_early_ends_quietly(tmp_path: Path):
    root = make(tmp_path / "p", n_extra=30)  # 600+ finding lines: more than a pipe holds
    env = dict(os.environ)
    env.pop("MANDU_CACHE_DIR", None)
    proc = subprocess.Popen([sys.executable, "-m", "mandu_lint", "check", ".", "--no-cache"], cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    first = proc.stdout.readline()  # `| head -1`
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=300)
    assert b"MDB30" in first
    assert proc.returncode == 141 and err == "", err


def test_pipe_to_head_through_a_shell(tmp_path: Path):
    root = make(tmp_path / "p", n_extra=30)
    cmd = f"{sys.executable} -m mandu_lint check . --no-cache 2>err.txt | head -n 2; echo \"rc=${{PIPESTATUS[0]}}\""
    proc = subprocess.run(["bash", "-c", cmd], cwd=root, capture_output=True, text=True, timeout=300)
    assert proc.stdout.count("\n") == 3 and "rc=141" in proc.stdout, proc.stdout
    assert (root / "err.txt").read_text() == ""


def test_unwritable_output_file_is_a_clear_error(tmp_path: Path):
    root = make(tmp_path / "p")
    (tmp_path / "blocker").write_text("")
    proc = run(["check", ".", "--no-cache", "--format", "json", "-o", str(tmp_path / "blocker/report.json")], root)
    assert proc.returncode == 2
    assert "cannot write the report to" in proc.stderr and "internal error" not in proc.stderr


def test_ctrl_c_exits_130_with_a_message(tmp_path: Path):
    root = make(tmp_path / "p")
    code = textwrap.dedent("""
        import sys, time
        import mandu_lint.runner as runner
        def slow(*a, **k):
            print("ready", flush=True)
            time.sleep(60)
        runner.check_paths = slow
        from mandu_lint.cli import entry
        entry()
    """)
    proc = subprocess.Popen([sys.executable, "-c", code, "check", "."], cwd=root, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.strip() == "mandu-lint: interrupted"


def test_worker_processes_give_the_same_findings(tmp_path: Path):
    root = make(tmp_path / "p", n_extra=70)  # enough files for the extraction and check pools
    serial = run(["check", ".", "--no-cache", "--jobs", "1"], root)
    parallel = run(["check", ".", "--no-cache", "--jobs", "2"], root)
    assert serial.returncode == parallel.returncode == 1 and parallel.stderr == ""
    assert serial.stdout == parallel.stdout and serial.stdout.count("MDB301") == 1400
