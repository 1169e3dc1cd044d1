"""Issue 12, item 10: fix output that looks written by hand.

Imports a fix adds land in their isort section and order, lines a fix pushes past the project's
line length are re-wrapped (without black), and the fix summary counts only unsafe fixes that a
trial run could apply. Test-only rules from ``tests/fixrule.py``; synthetic projects only."""
from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mandu_lint import config
from mandu_lint.fixes.apply import fix_paths
from mandu_lint.fixes.layout import line_length, place_imports, rewrap
from mandu_lint.model import FixSafety
from mandu_lint.registry import register, unregister
from mandu_lint.runner import CheckOptions
from tests.fixrule import CODES, _CallRule, registered


class UnsafeBackfire(_CallRule):
    """An unsafe fix the re-check always rejects: its result is an MDB990 finding."""

    code, name, summary = "MDB995", "dodgy-call", "dodgy is dodgy"
    FUNC, NEW, SAFETY = "dodgy", "legacy_call", FixSafety.UNSAFE


class LongChain(_CallRule):
    code, name, summary = "MDB996", "short-call", "short needs its options"
    FUNC, NEW = "short", "short_with_many_options(timeout=30, retries=5, backoff=2.0, jitter=True).call"


@pytest.fixture
def proj(tmp_path, monkeypatch):
    root = tmp_path / "proj"
    root.mkdir()
    (root / "mandu.yaml").write_text("")
    monkeypatch.chdir(root)
    config.clear_caches()
    register(UnsafeBackfire)
    register(LongChain)
    with registered():
        yield root
    unregister(UnsafeBackfire)
    unregister(LongChain)
    config.clear_caches()


def run_fix(unsafe=False):
    out = io.StringIO()
    code = fix_paths(["."], CheckOptions(select=CODES + ["MDB995", "MDB996"], use_cache=False, jobs=1),
                     unsafe=unsafe, diff=False, out=out)
    return code, out.getvalue()


def test_added_import_goes_to_its_isort_section(proj):
    (proj / "mylib").mkdir()
    (proj / "mylib/__init__.py").write_text("def modern_call(x):\n    return x\n")
    app = proj / "app.py"
    app.write_text(textwrap.dedent('''\
        """Module doc."""
        from __future__ import annotations

        import os
        import sys

        import requests
        from zeta import z

        from alpha import a
        from .local import thing


        def f(x):
            return legacy_call(x)
        '''))
    (proj / "alpha.py").write_text("a = 1\n")
    run_fix()
    assert app.read_text().startswith(textwrap.dedent('''\
        """Module doc."""
        from __future__ import annotations

        import os
        import sys

        import requests
        from zeta import z

        from alpha import a
        from mylib import modern_call
        from .local import thing
        '''))


def test_place_imports_sections_and_order():
    old = "import os\n\nimport requests\n\nX = 1\n"
    new = "import os\n\nimport requests\nimport json\nfrom aaa import b\n\nX = 1\n"
    assert place_imports(old, new) == "import json\nimport os\n\nimport requests\nfrom aaa import b\n\nX = 1\n"
    new = "import os\n\nimport requests\nfrom myproj.models import Book\n\nX = 1\n"
    assert place_imports(old, new, frozenset({"myproj"})) == \
        "import os\n\nimport requests\n\nfrom myproj.models import Book\n\nX = 1\n"
    # an import merged into an existing statement stays where that statement is
    old = "from sqlalchemy.orm import Session\n\nX = 1\n"
    new = "from sqlalchemy.orm import Session, joinedload\n\nX = 1\n"
    assert place_imports(old, new) == new


def test_long_line_after_a_fix_is_rewrapped_at_the_project_length(proj):
    (proj / "pyproject.toml").write_text("[tool.ruff]\nline-length = 79\n")
    app = proj / "app.py"
    already = "    data = " + "+".join(["value"] * 14) + "  # was long before\n"
    app.write_text("def f(x):\n    return short(x)\n\n\ndef g(value):\n" + already + "    return data\n")
    run_fix()
    text = app.read_text()
    assert "    return short_with_many_options(\n" \
           "        timeout=30, retries=5, backoff=2.0, jitter=True\n" \
           "    ).call(x)\n" in text
    assert already in text  # a line no fix touched is left as it was
    assert all(len(line) <= 79 for line in text.splitlines() if "was long before" not in line)


def test_line_length_sources(tmp_path):
    assert line_length(tmp_path) == 88
    (tmp_path / "setup.cfg").write_text("[flake8]\nmax-line-length = 120\n")
    assert line_length(tmp_path) == 120
    (tmp_path / "pyproject.toml").write_text("[tool.black]\nline-length = 100\n")
    assert line_length(tmp_path) == 100


def test_rewrap_keeps_the_code_the_same():
    old = "x = f(a)\n"
    new = "x = some_function_name(argument_one, argument_two, argument_three, argument_four)\n"
    wrapped = rewrap(old, new, 40)
    assert wrapped == ("x = some_function_name(\n    argument_one,\n    argument_two,\n    argument_three,\n"
                       "    argument_four,\n)\n")
    assert rewrap(old, "s = 'a (very) long string that has no place to split at all, none'\n", 40) == \
        "s = 'a (very) long string that has no place to split at all, none'\n"


def test_summary_counts_only_unsafe_fixes_that_apply(proj):
    app = proj / "app.py"
    app.write_text("a = dodgy(1)\nb = risky(2)\n")
    code, out = run_fix()
    assert "(1 fixable with --unsafe-fixes)" in out  # risky -> safe_version; dodgy is rejected
    run_fix(unsafe=True)
    assert app.read_text() == "a = dodgy(1)\nb = safe_version(2)\n"
    code, out = run_fix()
    assert "--unsafe-fixes" not in out, out  # it goes away once everything that can apply did


def test_codemod_command_without_black(tmp_path):
    """The README's codemod command: ``--no-format`` keeps libcst from piping through black."""
    root = tmp_path / "p"
    (root / ".git").mkdir(parents=True)
    (root / "shop").mkdir()
    (root / "shop/models.py").write_text(
        "from django.db import models\n\n\nclass Author(models.Model):\n    name = models.CharField(max_length=9)\n\n\n"
        "class Book(models.Model):\n    author = models.ForeignKey(Author, on_delete=models.CASCADE)\n")
    (root / "shop/views.py").write_text(
        "from shop.models import Book\n\n\ndef report():\n    return [b.author.name for b in Book.objects.all()]\n")
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    command = next(line for line in readme.splitlines() if "libcst.tool codemod" in line).strip()
    assert "--no-format" in command
    args = command.split()[1:]  # drop "python"
    args = [a for a in args if a not in ("PATH...", "[--unsafe-fixes]")]
    proc = subprocess.run([sys.executable, *args, "shop/views.py"], cwd=root, capture_output=True, text=True,
                          timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert 'Book.objects.select_related("author")' in (root / "shop/views.py").read_text()
