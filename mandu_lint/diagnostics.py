"""Tool codes: findings about the run itself rather than about the code under analysis.

=======  ===========================  ==============================================================
MDB000   syntax-error                 Python cannot parse the file (flake8 reports E999 instead)
MDB001   configuration-not-loaded     ``mandu.yaml`` / ``[tool.mandu-lint]`` is invalid or unreadable
MDB002   file-not-checked             unreadable, grammar newer than the running Python, too deep
MDB003   unused-or-unknown-noqa       a ``# noqa: MDBxxx`` that names no rule or silences nothing
=======  ===========================  ==============================================================

MDB000-MDB002 are *always on*, like ruff's syntax errors: ``select``/``ignore``/
``per-file-ignores`` and ``# noqa`` never hide them (naming one in an ignore list is a config
error), and a baseline never records MDB001/MDB002. They are findings, not stderr notes, so that
the flake8 plugin - flake8 fails only on findings - fails the gate too. MDB001 and MDB002 make the
CLI exit 2 (``--exit-zero`` never hides them); MDB000 is an ordinary finding (exit 1), as E999 is.
MDB003 is an ordinary default rule. To leave a file out, ``exclude`` it.

Selector validation (``--select``/``--ignore``, ``select``/``ignore``/``per-file-ignores``) lives
here as well: it needs every known code, rules and tool codes alike.
"""
from __future__ import annotations

import difflib
from typing import Dict, Iterable, List, Optional

from .model import Finding, RuleMeta, Span

SYNTAX_CODE = "MDB000"
CONFIG_CODE = "MDB001"
NOT_CHECKED_CODE = "MDB002"
NOQA_CODE = "MDB003"
ALWAYS_ON = frozenset({SYNTAX_CODE, CONFIG_CODE, NOT_CHECKED_CODE})
FAILURE_CODES = frozenset({CONFIG_CODE, NOT_CHECKED_CODE})  # the CLI exits 2

_ALWAYS = "\n\nThis code is always on: `select`, `ignore`, `per-file-ignores` and `# noqa` do not hide it."

TOOL_METAS: Dict[str, RuleMeta] = {
    CONFIG_CODE: RuleMeta(
        code=CONFIG_CODE, name="configuration-not-loaded", summary="Configuration could not be loaded",
        doc="## What it does\nReports a `mandu.yaml` (or `[tool.mandu-lint]` table) that is invalid or "
            "unreadable, or a `--config`/`--mandu-config` file that does not exist. Nothing governed by it "
            "is checked.\n\n## Why is this bad?\nA gate that silently checks nothing passes every change.\n\n"
            "Primary location: line 1 of the configuration file (the CLI lists every problem, with its line, "
            "on stderr and exits 2). Under flake8, which reports only against the file it checks, the finding "
            "is at line 1 of every file the configuration governs." + _ALWAYS,
        precision="very-high", level="error", extra={"always_on": True}),
    NOT_CHECKED_CODE: RuleMeta(
        code=NOT_CHECKED_CODE, name="file-not-checked", summary="File could not be checked",
        doc="## What it does\nReports a file that was not analysed: it cannot be read, it uses grammar newer "
            "than the running Python can parse (e.g. PEP 701 f-strings under Python 3.11: run mandu-lint "
            "under the Python version the project targets), it is nested too deeply for the analysis, or "
            "the analyser failed on it.\n\n## Why is this bad?\nA file that is skipped with a note on stderr "
            "passes the gate unchecked. The CLI exits 2.\n\nPrimary location: line 1, or the line the parser "
            "stopped at." + _ALWAYS,
        precision="very-high", level="error", extra={"always_on": True}),
    NOQA_CODE: RuleMeta(
        code=NOQA_CODE, name="unused-or-unknown-noqa", summary="`# noqa` names an unknown code or silences nothing",
        doc="## What it does\nReports an `MDB` code in a `# noqa` comment that is not a mandu-lint code "
            "(a typo silences nothing) or that silences no finding on its line, and — with "
            "`require-noqa-reason: true` — a `# noqa: MDB...` without a reason (`# noqa: MDB401 -- why`).\n\n"
            "Codes of other flake8 plugins (`E501`, `B008`) and a bare `# noqa` are left alone. A code is "
            "reported as unused only when every rule it names ran on the file.\n\n## Example\n```python\n"
            "for i in ids:\n    Book.objects.get(pk=i)  # noqa: MDB310\n```\nUse instead:\n```python\n"
            "for i in ids:\n    Book.objects.get(pk=i)  # noqa: MDB301 -- at most 3 ids, see caller\n```",
        precision="very-high", level="warning"),
}


SYNTAX_META = RuleMeta(
    code="MDB000", name="syntax-error", summary="File could not be parsed",
    doc="## What it does\nReports a file that Python cannot parse. The file is not analysed; the run "
        "goes on with the other files.\n\nPrimary location: where the parser stopped." + _ALWAYS,
    precision="very-high", level="error", extra={"always_on": True})


def tool_metas() -> Dict[str, RuleMeta]:
    return {SYNTAX_CODE: SYNTAX_META, **TOOL_METAS}


def known_codes() -> List[str]:
    """Every code — tool codes, catalogued rules, registered rules — without importing a rule."""
    from .rules import catalogued_codes

    return sorted(set(tool_metas()) | set(catalogued_codes()))


def is_always_on(code: str) -> bool:
    return code in ALWAYS_ON


def selector_problem(entry: str, *, ignore: bool = False, known: Optional[Iterable[str]] = None) -> Optional[str]:
    """Why ``entry`` is not a usable selector (None when it is): not a code, a code or prefix
    that matches no rule (with a "did you mean"), or - in an ignore list - one that could only
    ever hide the always-on codes."""
    codes = list(known) if known is not None else known_codes()
    matched = [c for c in codes if c.startswith(entry)]
    if not matched:
        prefixes = sorted({c[:n] for c in codes for n in range(3, len(c) + 1)})
        close = difflib.get_close_matches(entry, codes, n=1, cutoff=0.6) or \
            difflib.get_close_matches(entry, prefixes, n=1, cutoff=0.6)
        what = "no rule code starts with" if entry.startswith("MDB") else "not a mandu-lint code (they start with MDB):"
        hint = f"; did you mean {close[0]}?" if close else "; see `mandu-lint rules`"
        return f"{what} {entry}{hint}"
    if ignore and all(c in ALWAYS_ON for c in matched):
        return (f"{entry} cannot be ignored: {', '.join(matched)} always report (a file that was not checked "
                f"must fail the run); use `exclude` to leave files out")
    return None


def finding(code: str, path: str, message: str, line: int = 1, col: int = 0) -> Finding:
    return Finding(code, message, path, Span(line, col, line, col), node_text=message[:200])


def not_checked(path: str, reason: str, line: int = 1, col: int = 0) -> Finding:
    return finding(NOT_CHECKED_CODE, path, f"file not checked: {reason}", line, col)


def config_not_loaded(path: str, error) -> Finding:
    """MDB001 at line 1 of ``path`` for a ConfigError (its first problem, and how many more)."""
    problems = list(getattr(error, "problems", []) or [])
    first = str(problems[0]) if problems else str(error)
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return finding(CONFIG_CODE, path, f"configuration not loaded, nothing it governs was checked: {first}{more}")
