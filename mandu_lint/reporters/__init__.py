"""Reporters turn a :class:`~mandu_lint.model.RunResult` into text, JSON, SARIF, or a CI format
(GitHub annotations, GitLab Code Quality, JUnit XML, pylint lines).

They know findings and rule metadata and nothing else (no engine, no config), so every front
end (CLI, pre-commit, tests) renders the same bytes for the same result.
"""
from __future__ import annotations

from mandu_lint.model import RunResult
from mandu_lint.reporters.ci import render_github, render_gitlab, render_junit, render_pylint
from mandu_lint.reporters.json_report import render_json
from mandu_lint.reporters.sarif import render_sarif
from mandu_lint.reporters.text import Progress, render_text, summary_lines

FORMATS = ("text", "json", "sarif", "github", "gitlab", "junit", "pylint")

_CI = {"github": render_github, "gitlab": render_gitlab, "junit": render_junit, "pylint": render_pylint}

__all__ = ["FORMATS", "Progress", "render", "summary_lines"]


def render(result: RunResult, fmt: str, *, color: bool = False, sarif_fixes: bool = False,
           show_fixes: bool = False) -> str:
    """The whole report in ``fmt``. ``color`` and ``show_fixes`` (each fix's description under
    its finding) only affect text; ``sarif_fixes`` adds SARIF ``fixes`` (off by default: some
    consumers show every fix as a suggestion)."""
    if fmt == "text":
        return render_text(result, color=color, show_fixes=show_fixes)
    if fmt in _CI:
        return _CI[fmt](result)
    if fmt == "json":
        return render_json(result)
    if fmt == "sarif":
        return render_sarif(result, fixes=sarif_fixes)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
