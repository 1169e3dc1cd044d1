"""Issue 12, item 6: ignoring MDB303 never resurfaces its finding as MDB301.

MDB301 (query in a loop) yields a node to the more specific rule that owns it (MDB303 for a
write in a loop). Ownership is decided before select/ignore, so ignoring the owner - CLI,
config or per-file - hides the finding, exactly as ``# noqa: MDB303`` does. Synthetic projects."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mandu_lint import config
from mandu_lint.runner import CheckOptions, check_paths

MODELS = """\
from django.db import models


class Book(models.Model):
    title = models.CharField(max_length=50)
    published = models.BooleanField(default=False)
"""
JOBS = """\
from shop.models import Book


def publish(ids):
    for book in Book.objects.filter(pk__in=ids):
        book.published = True
        book.save(){noqa}
    for i in ids:
        Book.objects.get(pk=i)
"""


@pytest.fixture
def shop(tmp_path: Path):
    def make(config_text: str = "", noqa: str = "") -> Path:
        root = tmp_path / "p"
        (root / ".git").mkdir(parents=True, exist_ok=True)
        (root / "shop").mkdir(exist_ok=True)
        (root / "shop/models.py").write_text(MODELS)
        (root / "shop/jobs.py").write_text(JOBS.format(noqa=noqa))
        (root / "mandu.yaml").write_text(config_text or "exclude: []\n")
        config.clear_caches()
        return root
    yield make
    config.clear_caches()


def codes(root: Path, **kw):
    opts = CheckOptions(use_cache=False, jobs=1, **kw)
    return sorted((f.span.line, f.code) for f in check_paths([str(root)], opts).findings)


def test_owner_reports_by_default(shop):
    assert codes(shop()) == [(7, "MDB303"), (9, "MDB301")]


@pytest.mark.parametrize("how", ["cli-ignore", "cli-select", "config-ignore", "config-select", "per-file", "noqa"])
def test_ignoring_the_owner_hides_the_finding(shop, how):
    kw = {}
    if how == "cli-ignore":
        root, kw = shop(), {"ignore": ["MDB303"]}
    elif how == "cli-select":
        root, kw = shop(), {"select": ["MDB301"]}
    elif how == "config-ignore":
        root = shop("ignore: [MDB303]\n")
    elif how == "config-select":
        root = shop("select: [MDB301]\n")
    elif how == "per-file":
        root = shop('per-file-ignores:\n  "shop/jobs.py": [MDB303]\n')
    else:
        root = shop(noqa="  # noqa: MDB303")
    assert codes(root, **kw) == [(9, "MDB301")]  # never (7, "MDB301")


def test_cli_and_flake8_agree(shop):
    root = shop()
    cli = subprocess.run([sys.executable, "-m", "mandu_lint", "check", ".", "--no-cache", "--ignore", "MDB303"],
                         cwd=root, capture_output=True, text=True, timeout=300)
    flake8 = subprocess.run([sys.executable, "-m", "flake8", "--isolated", "--select=MDB", "--extend-ignore=MDB303",
                             "."], cwd=root, capture_output=True, text=True, timeout=300)
    assert "jobs.py:9:" in cli.stdout and "jobs.py:7:" not in cli.stdout, cli.stdout + cli.stderr
    assert "jobs.py:9:" in flake8.stdout and "jobs.py:7:" not in flake8.stdout, flake8.stdout + flake8.stderr
