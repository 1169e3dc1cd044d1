"""The JSON report, format version 1: a stable, documented contract for scripts and dashboards.

Named ``json_report`` so that ``import json`` inside the package never means this module.

Conventions: paths are relative to the directory mandu-lint ran in, with ``/`` separators;
lines are 1-based; columns are 1-based *character* (code point) columns; ``end_column`` points
just past the last character (exclusive). Keys are never removed or renamed within a version;
new keys may be added. The whole document::

    {
      "version": 1,
      "tool": {"name": "mandu-lint", "version": "0.1.0"},
      "findings": [
        {
          "code": "MDB301",
          "path": "app/views.py",
          "line": 12, "column": 9, "end_line": 12, "end_column": 30,
          "message": "query in a loop ...",
          "fingerprint": "stable id, survives unrelated edits (baselines, code scanning)",
          "confidence": "high" | "medium",     # how sure the finding is (--confidence medium shows medium)
          "scope": "views.BookList.get",      # enclosing function/class, "" at module level
          "project_root": "." ,               # project the file belongs to, relative like path
          "fix": null | {
            "safety": "safe" | "unsafe" | "display",
            "description": "...",
            "edits": [{"line", "column", "end_line", "end_column", "text"}],
            "imports": [{"module": "sqlalchemy.orm", "name": "joinedload" | null}]
          },
          "related": [{"path", "line", "column", "end_line", "end_column", "message"}]
        }
      ],
      "notices": [{"path": "...", "message": "...", "error": false, "rule": "MDB301" | ""}],
      "summary": {
        "total": 3,                 # findings reported (baselined ones excluded)
        "by_code": {"MDB301": 3},   # sorted by code
        "fixable": 2,               # findings with a safe fix (applied by `mandu-lint fix`)
        "unsafe_fixable": 1,        # findings with an unsafe fix (need --unsafe-fixes)
        "baselined": 0,             # findings hidden by the baseline
        "baseline_gone": 0,         # baseline entries no longer found
        "below_confidence": 0,      # findings below the confidence threshold (not listed)
        "errors": 0                 # error notices (the run exits 2 when > 0)
      }
    }

Findings are sorted by (path, line, column, code, message); the output is byte-for-byte
deterministic (fixed key order, ASCII-escaped, two-space indent, trailing newline).
"""
from __future__ import annotations

import json
from collections import Counter

from mandu_lint import __version__
from mandu_lint.model import TOOL_NAME, Finding, Fix, Notice, RunResult, Span
from mandu_lint.reporters.text import display_path, fix_counts

FORMAT_VERSION = 1


def _span(span: Span) -> dict:
    return {
        "line": span.line,
        "column": span.col + 1,
        "end_line": span.end_line,
        "end_column": span.end_col + 1,
    }


def _fix(fix: Fix) -> dict:
    return {
        "safety": fix.safety.value,
        "description": fix.description,
        "edits": [{**_span(e.span), "text": e.text} for e in fix.edits],
        "imports": [{"module": m, "name": n} for m, n in fix.imports],
    }


def _finding(f: Finding, root: str, cwd: str) -> dict:
    return {
        "code": f.code,
        "path": display_path(f.path, cwd),
        **_span(f.span),
        "message": f.message,
        "fingerprint": f.fingerprint,
        "confidence": f.confidence,
        "scope": f.scope,
        "project_root": display_path(root, cwd),
        "fix": None if f.fix is None else _fix(f.fix),
        "related": [
            {"path": display_path(r.path, cwd), **_span(r.span), "message": r.message}
            for r in f.related
        ],
    }


def _notice(n: Notice, cwd: str) -> dict:
    path = display_path(n.path, cwd)
    return {"path": path, "message": n.message, "error": n.error, "rule": n.rule}


def report(result: RunResult) -> dict:
    """The report as a plain dict (what :func:`render_json` serialises)."""
    cwd = result.cwd
    pairs = sorted(
        ((f, p.root) for p in result.projects for f in p.findings), key=lambda fr: fr[0].sort_key
    )
    notices = sorted(result.notices, key=lambda n: (n.path, n.rule, n.message))
    safe, unsafe = fix_counts(result.findings)
    counts = Counter(f.code for f in result.findings)
    return {
        "version": FORMAT_VERSION,
        "tool": {"name": TOOL_NAME, "version": result.version or __version__},
        "findings": [_finding(f, root, cwd) for f, root in pairs],
        "notices": [_notice(n, cwd) for n in notices],
        "summary": {
            "total": len(pairs),
            "by_code": {code: counts[code] for code in sorted(counts)},
            "fixable": safe,
            "unsafe_fixable": unsafe,
            "baselined": sum(p.baselined for p in result.projects),
            "baseline_gone": sum(p.baseline_gone for p in result.projects),
            "below_confidence": sum(p.below_confidence for p in result.projects),
            "errors": sum(1 for n in result.notices if n.error),
        },
    }


def render_json(result: RunResult) -> str:
    return json.dumps(report(result), indent=2) + "\n"
