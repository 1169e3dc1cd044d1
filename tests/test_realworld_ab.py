"""``bench/realworld/ab.py``: the tune A/B that rule commits cite. It refuses holdout apps, and its
diff pairs each finding one run has and the other has not with the verdicts stored for it."""
from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "realworld"
sys.path.insert(0, str(BENCH))

import ab  # noqa: E402
from triage import ProtocolError  # noqa: E402


def _base(tmp_path: Path) -> Path:
    base = tmp_path / "realworld"
    base.mkdir()
    shutil.copy(BENCH / "apps.yaml", base / "apps.yaml")
    (base / "verdicts").mkdir()
    (base / "ab").mkdir()
    return base


def _finding(code, path, line, message="m"):
    return {"code": code, "path": path, "line": line, "column": 4, "confidence": "medium", "message": message}


def test_holdout_apps_are_refused(tmp_path):
    base = _base(tmp_path)
    assert "wger" in ab.tune_apps(base)
    assert "janeway" not in ab.tune_apps(base)  # a holdout app (round 20)
    with pytest.raises(ProtocolError):
        ab._wanted("wger,janeway", base)


def test_the_diff_carries_the_stored_verdicts(tmp_path):
    base = _base(tmp_path)
    before = [_finding("MDB301", "a.py", 10), _finding("MDB303", "b.py", 5), _finding("MDB302", "c.py", 7)]
    after = [_finding("MDB302", "c.py", 7), _finding("MDB403", "d.py", 3)]
    for tag, findings in (("x", before), ("y", after)):
        (base / "ab" / f"wger.{tag}.json").write_text(json.dumps({"app": "wger", "tag": tag, "findings": findings}))
    (base / "verdicts" / "wger.medium.csv").write_text(
        "app,path,line,rule,verdict,reason,judge\n"
        "wger,a.py,10,MDB301,NEG,few rows,j1\n"
        "wger,c.py,7,MDB302,TP,grows,j1\n")
    (base / "verdicts" / "wger.medium.rejudge.csv").write_text(
        "app,path,line,rule,verdict,reason,judge\nwger,b.py,5,MDB303,TP,second judge only,s1\n")
    out = io.StringIO()
    totals = ab.diff("x", "y", ["wger"], base, out)
    assert totals["-"] == {"NEG": 1, "-": 1}  # a.py judged NEG; b.py has only a second judge's verdict
    assert totals["+"] == {"-": 1}
    lines = out.getvalue().splitlines()
    assert "wger - MDB301 a.py:10 [NEG] m" in lines
    assert lines[-1] == "added: 1 (judged TP 0, FP 0, NEG 0; unjudged 1)"
