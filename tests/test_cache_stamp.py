"""The cache stamp changes with the analyser's own source, not only with its version number: an
edited checkout must never read findings that older rules cached."""
from __future__ import annotations

import shutil
from pathlib import Path

from mandu_lint.project import cache


def test_the_stamp_follows_the_source(tmp_path):
    pkg = tmp_path / "mandu_lint"
    shutil.copytree(Path(cache.__file__).resolve().parent.parent, pkg,
                    ignore=shutil.ignore_patterns("__pycache__"))
    before = cache._code_digest(pkg)
    assert before == cache._code_digest(pkg)  # stable while nothing changes
    rule = pkg / "rules" / "loops" / "mdb301_query_in_loop.py"
    rule.write_text(rule.read_text() + "\n# edited\n")
    assert cache._code_digest(pkg) != before
    assert cache.stamp().endswith("/" + cache._code_digest())
