"""The workers of a cold run (``mandu_lint/project/workers.py``): a file indexed by a worker is
checked from the tree that worker kept, only for the same bytes, and a failing or dying worker
is an error in the main process (never a hang, never a silent pass)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mandu_lint.project import workers
from mandu_lint.project.build import extract_file
from mandu_lint.project.workers import ShardPool, WorkerFailed


def _index_then_reuse(arg):
    """In a worker: index a file, then ask for its kept tree with the same bytes, with other
    bytes, and a second time."""
    root, rel, changed = arg
    data = (Path(root) / rel).read_bytes()
    extract_file(root, rel, "m", False, data)
    other = workers.kept_tree(rel, changed) if changed else None
    extract_file(root, rel, "m", False, data) if changed else None
    same = workers.kept_tree(rel, data)
    again = workers.kept_tree(rel, data)
    return other is None, type(same).__name__, again is None, os.getpid()


def _fail(arg):
    raise ValueError(f"bad input {arg}")


def _die(arg):
    os._exit(3)


def _pid(arg):
    return os.getpid()


def test_a_worker_reuses_the_tree_it_parsed_only_for_the_same_bytes(tmp_path: Path):
    (tmp_path / "a.py").write_text("x = 1\n")
    pool = ShardPool(2)
    try:
        out = [r for _w, r in pool.run(_index_then_reuse, [(0, (str(tmp_path), "a.py", b"x = 2\n"))])]
    finally:
        pool.close()
    assert out[0][:3] == (True, "Module", True)
    assert out[0][3] != os.getpid()


def test_nothing_is_kept_outside_a_shard_worker(tmp_path: Path):
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "empty.py").write_text("")
    for rel in ("a.py", "empty.py"):
        data = (tmp_path / rel).read_bytes()
        extract_file(str(tmp_path), rel, "m", False, data)
        assert workers.kept_tree(rel, data) is None
    assert workers._KEPT == {}


def test_batches_go_to_the_worker_that_holds_them_and_idle_workers_take_the_rest():
    pool = ShardPool(2)
    try:
        pids = dict(pool.run(_pid, [(None, 0), (None, 1)]))
        assert len(set(pids.values())) == 2  # two live processes
        # every batch prefers worker 0; worker 1 is never idle while work is queued
        done = list(pool.run(_pid, [(0, i) for i in range(40)]))
    finally:
        pool.close()
    assert len(done) == 40
    assert {w for w, _ in done} == {0, 1}
    assert all(pid == pids[w] for w, pid in done)


def test_an_exception_in_a_worker_is_raised_in_the_main_process_with_its_traceback():
    pool = ShardPool(2)
    try:
        with pytest.raises(WorkerFailed) as info:
            list(pool.run(_fail, [(0, "x"), (1, "y")]))
        assert "ValueError: bad input" in str(info.value)
    finally:
        pool.close(wait=False)
    assert pool.procs == []


def test_a_worker_that_dies_is_an_error_not_a_hang():
    pool = ShardPool(1)
    try:
        with pytest.raises(WorkerFailed, match="died"):
            list(pool.run(_die, [(0, None)]))
    finally:
        pool.close(wait=False)


def test_a_cold_parallel_run_with_the_cache_matches_a_serial_run(tmp_path: Path):
    """With the cache on, the index is built by the shard workers and the check phase reuses
    their trees; the findings are those of a one-process run."""
    root = tmp_path / "p"
    (root / "shop").mkdir(parents=True)
    (root / "manage.py").write_text("")
    (root / "shop" / "__init__.py").write_text("")
    (root / "shop" / "models.py").write_text(textwrap.dedent("""
        from django.db import models

        class Book(models.Model):
            title = models.CharField(max_length=10)
    """))
    for i in range(120):
        (root / "shop" / f"views_{i}.py").write_text(textwrap.dedent(f"""
            from shop.models import Book

            def view_{i}(request, ids):
                for pk in ids:
                    Book.objects.get(pk=pk)
        """))
    env = dict(os.environ, MANDU_CACHE_DIR=str(tmp_path / "cache1"))
    args = [sys.executable, "-m", "mandu_lint", "check", ".", "--confidence", "medium", "--format", "json"]
    parallel = subprocess.run(args + ["--jobs", "2"], cwd=root, capture_output=True, text=True, env=env)
    env["MANDU_CACHE_DIR"] = str(tmp_path / "cache2")
    serial = subprocess.run(args + ["--jobs", "1"], cwd=root, capture_output=True, text=True, env=env)
    assert parallel.returncode == serial.returncode == 1, parallel.stderr
    assert parallel.stderr == serial.stderr and "Traceback" not in parallel.stderr
    assert parallel.stdout == serial.stdout
    assert [f["code"] for f in json.loads(parallel.stdout)["findings"]] == ["MDB301"] * 120
    # the workers stored every file's facts (one entry per file), and a warm run reads them
    assert len(list((tmp_path / "cache1").glob("*/facts/*.pkl"))) == 123
    env["MANDU_CACHE_DIR"] = str(tmp_path / "cache1")
    warm = subprocess.run(args + ["--jobs", "2"], cwd=root, capture_output=True, text=True, env=env)
    assert warm.stdout == parallel.stdout and warm.stderr == parallel.stderr


def test_the_command_line_and_its_workers_collect_garbage_less_often_but_flake8_is_left_alone():
    code = textwrap.dedent("""
        import gc, sys
        import mandu_lint.cli as cli
        from mandu_lint.project.workers import ShardPool
        import mandu_lint.integrations.flake8_plugin  # noqa: F401 - importing the plugin changes nothing
        print(gc.get_threshold())
        def fake_main():
            pool = ShardPool(1)
            print(gc.get_threshold(), list(pool.run(gc.get_threshold, [(0, None)]))[0][1])
            pool.close()
            return 0
        cli.main = fake_main
        cli.entry()
    """).replace("gc.get_threshold, [(0, None)]", "_threshold, [(0, None)]")
    code = code.replace("def fake_main", "def _threshold(_):\n    return gc.get_threshold()\ndef fake_main")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    before, after = proc.stdout.splitlines()
    assert before == str(gc_default())
    assert after == f"{workers.GC_THRESHOLD} {workers.GC_THRESHOLD}"


def gc_default():
    import gc

    return gc.get_threshold()


def _keep_two(arg):
    """In a worker: index two files and say which trees were kept."""
    root = arg
    for rel in ("a.py", "b.py"):
        extract_file(root, rel, "m", False, (Path(root) / rel).read_bytes())
    return sorted(workers._KEPT), workers._KEEP_LIMIT[0]


def test_the_kept_trees_share_one_budget_however_many_workers(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text("x = 1\n" * 10)  # 60 bytes
    (tmp_path / "b.py").write_text("y = 2\n" * 10)
    monkeypatch.setattr(workers, "KEEP_TOTAL", 200)
    pool = ShardPool(2)  # 100 bytes each: one file fits, not two
    try:
        ((_w, (kept, limit)),) = list(pool.run(_keep_two, [(0, str(tmp_path))]))
    finally:
        pool.close()
    assert limit == 100 and kept == ["a.py"]
