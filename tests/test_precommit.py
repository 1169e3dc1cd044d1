"""The pre-commit hooks, run by the real ``pre-commit`` against throw-away git repositories.

pre-commit builds a virtualenv and pip-installs this checkout into it (network access to PyPI;
tens of seconds per environment).  Two things shape the fixtures:

* ``try-repo`` copies only *tracked* changes of a local repo (``git add -u``) into its shadow
  commit, so a hooks file or module not yet committed would be missing.  The checkout under
  test (tracked and untracked, not ignored, files) is therefore snapshotted into a fresh
  committed repo, and hooks are installed from that.
* ``try-repo`` always uses a private temporary store (pre-commit's ``try_repo.py``: ``Store(tempdir)``),
  so PRE_COMMIT_HOME cannot share its environment.  The ``try-repo`` tests build their own; the
  ``pre-commit run`` tests use a ``.pre-commit-config.yaml`` pinned to the snapshot commit and a
  module-wide PRE_COMMIT_HOME, so their environment is built once.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("pre_commit", reason="pre-commit is a test extra: pip install -e .[test]")
if shutil.which("git") is None:  # pragma: no cover - git is everywhere pre-commit is
    pytest.skip("git is not installed", allow_module_level=True)

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 600  # a cold environment build downloads flake8, libcst, sqlglot...

MODELS = """\
    from django.db import models


    class Book(models.Model):
        author_id = models.IntegerField()
    """
BAD_VIEWS = """\
    from shop.models import Book


    def totals(ids):
        out = {}
        for i in ids:
            out[i] = Book.objects.filter(author_id=i).count()
        return out
    """
CLEAN_VIEWS = """\
    from django.db.models import Count

    from shop.models import Book


    def totals(ids):
        rows = Book.objects.filter(author_id__in=ids).values("author_id").annotate(n=Count("id"))
        return {row["author_id"]: row["n"] for row in rows}
    """


def _git(cwd: Path, *args: str, env: dict) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"git {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict:
    """A clean environment: no GIT_* leaking in from an enclosing hook (GIT_INDEX_FILE would
    point git at the wrong repo), a fixed identity, and a module-wide pre-commit store."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT"))}
    ident = {"GIT_AUTHOR_NAME": "mandu test", "GIT_AUTHOR_EMAIL": "test@example.com",
             "GIT_COMMITTER_NAME": "mandu test", "GIT_COMMITTER_EMAIL": "test@example.com",
             "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(tmp_path_factory.mktemp("home"))}
    return dict(base, **ident, PRE_COMMIT_HOME=str(tmp_path_factory.mktemp("pre-commit-home")),
                PRE_COMMIT_COLOR="never", PIP_DISABLE_PIP_VERSION_CHECK="1",
                PIP_CACHE_DIR=os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip")))


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory, env) -> tuple:
    """(path, commit) of a committed snapshot of the checkout under test."""
    dest = tmp_path_factory.mktemp("mandu-lint-checkout")
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    if listed.returncode == 0:
        for rel in filter(None, listed.stdout.split("\0")):
            src = REPO / rel
            if src.is_file():
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / rel)
    else:  # not a git checkout (an unpacked sdist): copy it, minus build leftovers
        shutil.copytree(REPO, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns(
            ".git", "__pycache__", "*.egg-info", "build", "dist", ".mandu_cache", ".pytest_cache"))
    assert (dest / ".pre-commit-hooks.yaml").is_file()
    _git(dest, "init", "-q", env=env)
    _git(dest, "add", "-A", env=env)
    _git(dest, "commit", "-q", "--no-verify", "-m", "snapshot", env=env)
    return dest, _git(dest, "rev-parse", "HEAD", env=env).strip()


def make_repo(root: Path, env: dict, files: dict) -> Path:
    root.mkdir(parents=True)
    _git(root, "init", "-q", env=env)
    files = dict({"manage.py": "", "shop/__init__.py": "", "shop/models.py": MODELS}, **files)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    _git(root, "add", "-A", env=env)
    return root


def pre_commit(cwd: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "pre_commit", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)
    proc.output = proc.stdout + proc.stderr
    return proc


def try_repo(cwd: Path, env: dict, hook_repo: tuple, hook: str = "mandu-lint"):
    return pre_commit(cwd, env, "try-repo", str(hook_repo[0]), hook, "--all-files")


def install_hooks(project: Path, env: dict, hook_repo: tuple) -> None:
    """A .pre-commit-config.yaml as users write it, pinned to the snapshot commit."""
    path, rev = hook_repo
    (project / ".pre-commit-config.yaml").write_text(
        f"repos:\n- repo: {path}\n  rev: {rev}\n  hooks:\n  - id: mandu-lint\n  - id: mandu-lint-fix\n")
    _git(project, "add", ".pre-commit-config.yaml", env=env)


def test_hooks_file_declares_both_hooks():
    from pre_commit.clientlib import load_manifest

    hooks = {h["id"]: h for h in load_manifest(str(REPO / ".pre-commit-hooks.yaml"))}
    assert set(hooks) == {"mandu-lint", "mandu-lint-fix"}
    for hook_id, entry in (("mandu-lint", "mandu-lint check"), ("mandu-lint-fix", "mandu-lint fix")):
        hook = hooks[hook_id]
        assert (hook["entry"], hook["language"], hook["types"], hook["require_serial"]) == \
            (entry, "python", ["python"], True)


def test_try_repo_fails_on_a_query_in_a_loop(tmp_path, env, hook_repo):
    project = make_repo(tmp_path / "bad", env, {"shop/views.py": BAD_VIEWS})
    proc = try_repo(project, env, hook_repo)
    assert proc.returncode == 1, proc.output
    assert "mandu-lint" in proc.output and "Failed" in proc.output
    assert "shop/views.py:7:" in proc.output and "MDB301" in proc.output


def test_try_repo_passes_a_clean_project(tmp_path, env, hook_repo):
    project = make_repo(tmp_path / "clean", env, {"shop/views.py": CLEAN_VIEWS})
    proc = try_repo(project, env, hook_repo)
    assert proc.returncode == 0, proc.output
    assert "Passed" in proc.output and "MDB301" not in proc.output


def test_config_baseline_is_honoured_without_flags(tmp_path, env, hook_repo):
    project = make_repo(tmp_path / "baselined", env, {"shop/views.py": BAD_VIEWS})
    # Record the baseline before the config names it: `baseline` checks with the config's
    # baseline applied, which cannot be read before it exists.
    made = subprocess.run([sys.executable, "-m", "mandu_lint", "baseline", ".mandu-baseline.json", "--no-cache"],
                          cwd=project, env=dict(env, PYTHONPATH=str(REPO)), capture_output=True, text=True,
                          timeout=120)
    assert made.returncode == 0 and "wrote 1 findings" in made.stdout, made.stdout + made.stderr
    (project / "mandu.yaml").write_text("baseline: .mandu-baseline.json\n")
    _git(project, "add", "-A", env=env)
    install_hooks(project, env, hook_repo)

    proc = pre_commit(project, env, "run", "mandu-lint", "--all-files")
    assert proc.returncode == 0, proc.output  # the one finding is in the baseline

    (project / "shop" / "report.py").write_text(textwrap.dedent(BAD_VIEWS))
    _git(project, "add", "-A", env=env)
    proc = pre_commit(project, env, "run", "mandu-lint", "--all-files")
    assert proc.returncode == 1, proc.output  # a new finding is not
    assert "shop/report.py:7:" in proc.output and "shop/views.py" not in proc.output


def test_fix_hook_passes_a_clean_project(tmp_path, env, hook_repo):
    pytest.importorskip("mandu_lint.fixes.apply", reason="`mandu-lint fix` is not implemented yet")
    project = make_repo(tmp_path / "fixclean", env, {"shop/views.py": CLEAN_VIEWS})
    install_hooks(project, env, hook_repo)
    proc = pre_commit(project, env, "run", "mandu-lint-fix", "--all-files")
    assert proc.returncode == 0, proc.output
    assert "Passed" in proc.output
