"""Text and JSON reporters: relative paths, 1-based columns, summaries, statistics, progress."""
from __future__ import annotations

import io
import json

import pytest

from mandu_lint import __version__
from mandu_lint.model import (
    Edit,
    Finding,
    Fix,
    FixSafety,
    Location,
    Notice,
    ProjectResult,
    RuleMeta,
    RunResult,
    Span,
)
from mandu_lint.reporters import FORMATS, Progress, render, summary_lines

RULES = {
    "MDB301": RuleMeta("MDB301", "QueryInLoop", "query in a loop", "doc", fixable=True),
    "MDB201": RuleMeta("MDB201", "WriteOutsideTransaction", "write outside a transaction", "doc"),
}


def make_result(tmp_path, *, baselined=0, gone=0) -> RunResult:
    root = tmp_path / "proj"
    views = str(root / "app" / "views.py")
    jobs = str(root / "jobs.py")
    safe = Fix(
        FixSafety.SAFE, "prefetch", (Edit(Span(4, 8, 4, 12), "qs2"),), (("django.db", None),)
    )
    unsafe = Fix(FixSafety.UNSAFE, "wrap", (Edit(Span(2, 0, 2, 5), "with atomic(): x"),))
    findings = [
        Finding("MDB301", "query in a loop over `rows`", views, Span(4, 8, 4, 12), fix=safe,
                scope="views.index", fingerprint="f1",
                related=(Location(jobs, Span(1, 0, 1, 3), "loop starts here"),)),
        Finding("MDB301", "query in a loop over `xs`", views, Span(9, 0, 9, 2), fingerprint="f2"),
        Finding("MDB201", "two writes", jobs, Span(2, 0, 2, 5), fix=unsafe, fingerprint="f3"),
        Finding("MDB301", "query in a loop", jobs, Span(7, 3, 7, 4), fingerprint="f4",
                fix=Fix(FixSafety.DISPLAY, "look", (Edit(Span(7, 3, 7, 4), "y"),))),
    ]
    project = ProjectResult(
        root=str(root),
        vcs_root=str(tmp_path),
        findings=findings,
        notices=[Notice(jobs, "rule MDB201 crashed", error=True, rule="MDB201"),
                 Notice(views, "uses match statements")],
        baselined=baselined,
        baseline_gone=gone,
    )
    return RunResult([project], RULES, cwd=str(root), version=__version__)


def test_text_relative_paths_one_based_columns_and_no_ansi(tmp_path):
    out = render(make_result(tmp_path), "text")
    assert out.splitlines() == [
        "app/views.py:4:9: MDB301 [*] query in a loop over `rows`",
        "app/views.py:9:1: MDB301 query in a loop over `xs`",
        "jobs.py:2:1: MDB201 two writes",
        "jobs.py:7:4: MDB301 query in a loop",
    ]
    assert "\x1b" not in out and str(tmp_path) not in out


def test_text_relative_to_cwd_outside_project(tmp_path):
    result = make_result(tmp_path)
    result.cwd = str(tmp_path / "elsewhere")
    assert render(result, "text").startswith("../proj/app/views.py:4:9: MDB301")


def test_text_color(tmp_path):
    line = render(make_result(tmp_path), "text", color=True).splitlines()[0]
    assert line == "\x1b[1mapp/views.py\x1b[0m:4:9: \x1b[31mMDB301\x1b[0m [*] query in a loop over `rows`"


def test_summary_lines(tmp_path):
    lines = summary_lines(make_result(tmp_path, baselined=3, gone=1), statistics=False)
    assert lines == [
        "app/views.py: uses match statements",
        "jobs.py: error: rule MDB201 crashed [MDB201]",
        "Found 4 findings (1 fixable with `mandu-lint fix`; "
        "1 more with `mandu-lint fix --unsafe-fixes`)",
        "3 baselined findings hidden; 1 baseline entry no longer found",
    ]


def test_summary_without_findings(tmp_path):
    result = RunResult([ProjectResult(str(tmp_path), str(tmp_path))], RULES, str(tmp_path), "0")
    assert summary_lines(result, statistics=True) == ["No findings."]
    assert render(result, "text") == ""


def test_statistics(tmp_path):
    lines = summary_lines(make_result(tmp_path), statistics=True)
    assert lines[2:4] == [
        "1     MDB201 write outside a transaction",
        "3     MDB301 query in a loop",
    ]


def test_json_document(tmp_path):
    doc = json.loads(render(make_result(tmp_path, baselined=2), "json"))
    assert doc["version"] == 1
    assert doc["tool"] == {"name": "mandu-lint", "version": __version__}
    first = doc["findings"][0]
    assert first == {
        "code": "MDB301",
        "path": "app/views.py",
        "line": 4,
        "column": 9,
        "end_line": 4,
        "end_column": 13,
        "message": "query in a loop over `rows`",
        "fingerprint": "f1",
        "confidence": "high",
        "scope": "views.index",
        "project_root": ".",
        "fix": {
            "safety": "safe",
            "description": "prefetch",
            "edits": [{"line": 4, "column": 9, "end_line": 4, "end_column": 13, "text": "qs2"}],
            "imports": [{"module": "django.db", "name": None}],
        },
        "related": [{"path": "jobs.py", "line": 1, "column": 1, "end_line": 1,
                     "end_column": 4, "message": "loop starts here"}],
    }
    assert [f["path"] for f in doc["findings"]] == ["app/views.py"] * 2 + ["jobs.py"] * 2
    assert doc["findings"][1]["fix"] is None
    assert doc["notices"][1] == {
        "path": "jobs.py", "message": "rule MDB201 crashed", "error": True, "rule": "MDB201"
    }
    assert doc["summary"] == {
        "total": 4,
        "by_code": {"MDB201": 1, "MDB301": 3},
        "fixable": 1,
        "unsafe_fixable": 1,
        "baselined": 2,
        "baseline_gone": 0,
        "below_confidence": 0,
        "errors": 1,
    }


def test_json_deterministic(tmp_path):
    result = make_result(tmp_path)
    once = render(result, "json")
    result.projects[0].findings.reverse()
    result.projects[0].notices.reverse()
    assert render(result, "json") == once
    assert once.endswith("}\n")


def test_unknown_format(tmp_path):
    assert FORMATS == ("text", "json", "sarif", "github", "gitlab", "junit", "pylint")
    with pytest.raises(ValueError, match="unknown format"):
        render(make_result(tmp_path), "xml")


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_is_silent_off_a_terminal():
    stream = io.StringIO()
    bar = Progress(10, stream)
    bar.advance(3)
    bar.close()
    assert stream.getvalue() == ""


def test_progress_draws_and_clears_on_a_terminal():
    stream = _Tty()
    with Progress(4, stream) as bar:
        bar.advance()
        bar.advance(10)  # clamped to the total
    out = stream.getvalue()
    assert "1/4" in out and "4/4" in out
    assert out.endswith("\r") and bar.done == 4
