"""Time mandu-lint against real peers on a directory of real code.

    python bench/run.py /path/to/netbox --runs 5 [--peers bench/.peers]

Measures, as medians over ``--runs`` (files are read once first so they sit in the page cache):

- ``mandu-lint check`` cold (empty cache) and warm (nothing changed), every default rule on;
- ``flake8 --isolated --select=F`` and ``ruff check --isolated --no-cache --select=F``, run from a
  virtualenv *without* mandu-lint (flake8 runs every installed plugin); ``--peers`` creates it
  when missing (``pip install flake8 ruff``);
- one file through flake8 with and without the plugin (``--select=F,MDB`` against ``--select=F``
  in the same environment, warm index), and a whole-tree flake8 run with and without it;
- peak RSS of each command's largest process.

Prints a Markdown table; paste it into docs/performance.md with the machine it ran on.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


_WRAPPER = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, "
            "stderr=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def timed(cmd, cwd, env=None):
    """(seconds, peak RSS in MiB of the largest process the command ran), measured through a
    wrapper process so that each command's peak is its own."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _WRAPPER, *cmd], cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    try:
        rss = int(out.stdout.strip().splitlines()[-1]) / 1024
    except (ValueError, IndexError):
        rss = float("nan")
    return elapsed, rss


def median_of(runs, cmd, cwd, env=None, setup=None):
    times, rss = [], 0.0
    for _ in range(runs):
        if setup:
            setup()
        t, r = timed(cmd, cwd, env)
        times.append(t)
        rss = max(rss, r)
    return statistics.median(times), rss


def ensure_peers(venv: Path) -> Path:
    bindir = venv / "bin"
    if not (bindir / "flake8").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(bindir / "pip"), "install", "-q", "flake8", "ruff"], check=True)
    return bindir


def warm_page_cache(root: Path) -> int:
    n = 0
    for p in root.rglob("*.py"):
        try:
            p.read_bytes()
            n += 1
        except OSError:
            pass
    return n


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("code", type=Path)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--peers", type=Path, default=HERE / ".peers")
    ap.add_argument("--one-file", help="path (relative to CODE) for the single-file flake8 timing")
    args = ap.parse_args(argv)
    code = args.code.resolve()
    files = warm_page_cache(code)
    peers = ensure_peers(args.peers.resolve())  # commands run from inside CODE
    cache = Path(tempfile.mkdtemp(prefix="mandu-bench-"))
    env = dict(os.environ, MANDU_CACHE_DIR=str(cache))
    mandu = [sys.executable, "-m", "mandu_lint", "check", str(code), "--exit-zero"]
    rows = []

    def clear():
        shutil.rmtree(cache, ignore_errors=True)

    rows.append(("mandu-lint check, cold", *median_of(args.runs, mandu, code, env, setup=clear)))
    rows.append(("mandu-lint check, warm", *median_of(args.runs, mandu, code, env)))
    rows.append(("flake8 --select=F (no mandu-lint)",
                 *median_of(args.runs, [str(peers / "flake8"), "--isolated", "--select=F", "."], code)))
    rows.append(("ruff check --select=F",
                 *median_of(args.runs, [str(peers / "ruff"), "check", "--isolated", "--no-cache", "--select=F",
                                        "--exit-zero", "."], code)))
    flake8 = [sys.executable, "-m", "flake8", "--isolated"]
    one = args.one_file or next(str(p.relative_to(code)) for p in sorted(code.rglob("views.py")))
    rows.append((f"flake8 one file --select=F ({one})", *median_of(args.runs, flake8 + ["--select=F", one], code,
                                                                   env)))
    rows.append(("flake8 one file --select=F,MDB, warm index", *median_of(
        args.runs, flake8 + ["--select=F,MDB", one], code, env)))
    rows.append(("flake8 whole tree --select=F", *median_of(1, flake8 + ["--select=F", "."], code, env)))
    rows.append(("flake8 whole tree --select=F,MDB", *median_of(1, flake8 + ["--select=F,MDB", "."], code, env)))
    clear()
    print(f"{code.name}: {files} Python files, {os.cpu_count()} cores, runs={args.runs}\n")
    print("| command | median s | peak RSS MiB |\n|---|---:|---:|")
    for name, t, rss in rows:
        print(f"| {name} | {t:.2f} | {rss:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
