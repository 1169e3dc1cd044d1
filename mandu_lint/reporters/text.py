"""Human output: one ``path:line:col: CODE message`` line per finding, as flake8 prints them.

Editors and terminals already know how to jump to ``path:line:col`` with a 1-based column, so
the text format copies flake8 exactly. Paths are shown relative to the directory the user ran
from. The summary is a separate function so that the CLI decides when to print it (never into
a file meant for another tool). :class:`Progress` lives here because it is the only other
thing the terminal sees.
"""
from __future__ import annotations

import os
import sys
from collections import Counter
from typing import List, Optional, TextIO

from mandu_lint.model import Finding, FixSafety, Notice, RunResult

_BOLD, _RED, _RESET = "\x1b[1m", "\x1b[31m", "\x1b[0m"


def display_path(path: str, cwd: str, *, posix: bool = True) -> str:
    """``path`` relative to ``cwd``; absolute when it cannot be relative (another drive on
    Windows). ``posix`` gives ``/`` separators (machine formats); the terminal keeps the native
    ones, as flake8 does, so that paths can be pasted back into the shell."""
    if not path:
        return ""
    try:
        rel = os.path.relpath(path, cwd)
    except ValueError:
        rel = path
    return rel.replace(os.sep, "/") if posix else rel


FIXABLE = "[*]"  # ruff's marker: `mandu-lint fix` applies this finding's fix


def safe_fix(finding: Finding) -> bool:
    return finding.fix is not None and bool(finding.fix.edits) and finding.fix.safety == FixSafety.SAFE


def format_finding(finding: Finding, cwd: str, *, color: bool = False) -> str:
    """``path:line:col: CODE message`` as flake8 prints it; ``CODE [*] message`` when
    ``mandu-lint fix`` would fix it (ruff's marker)."""
    path = display_path(finding.path, cwd, posix=False)
    code = finding.code
    if color:
        path, code = f"{_BOLD}{path}{_RESET}", f"{_RED}{code}{_RESET}"
    marker = f" {FIXABLE}" if safe_fix(finding) else ""
    if finding.confidence != "high":
        marker += f" [{finding.confidence}]"
    return f"{path}:{finding.span.line}:{finding.span.col + 1}: {code}{marker} {finding.message}"


def fix_line(finding: Finding) -> str:
    """``--show-fixes``: the fix under its finding (display-only fixes are never applied)."""
    fix = finding.fix
    how = {FixSafety.SAFE: "fix", FixSafety.UNSAFE: "unsafe fix (--unsafe-fixes)",
           FixSafety.DISPLAY: "suggestion (never applied)"}[fix.safety]
    extra = ""
    if fix.imports:
        extra = "; adds " + ", ".join(f"from {m} import {n}" if n else f"import {m}" for m, n in fix.imports)
    return f"    {how}: {fix.description}{extra}"


def render_text(result: RunResult, *, color: bool = False, show_fixes: bool = False) -> str:
    """Finding lines only (the summary comes from :func:`summary_lines`)."""
    findings = sorted(result.findings, key=lambda f: f.sort_key)
    out = []
    for f in findings:
        out.append(format_finding(f, result.cwd, color=color) + "\n")
        if show_fixes and f.fix is not None and f.fix.edits:
            out.append(fix_line(f) + "\n")
    return "".join(out)


def format_notice(notice: Notice, cwd: str) -> str:
    label = "error: " if notice.error else ""
    rule = f" [{notice.rule}]" if notice.rule else ""
    path = display_path(notice.path, cwd, posix=False)
    return f"{path}: {label}{notice.message}{rule}" if path else f"{label}{notice.message}{rule}"


def fix_counts(findings) -> tuple:
    """(safe, unsafe) fix counts: ``display`` fixes are never applied, so they are not "fixable"."""
    safety = [f.fix.safety for f in findings if f.fix is not None and f.fix.edits]
    return safety.count(FixSafety.SAFE), safety.count(FixSafety.UNSAFE)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def statistics_lines(result: RunResult) -> List[str]:
    """flake8 ``--statistics``: count, code, and the rule summary (or the first message)."""
    counts = Counter(f.code for f in result.findings)
    first = {}
    for f in sorted(result.findings, key=lambda f: f.sort_key):
        first.setdefault(f.code, f.message)
    lines = []
    for code in sorted(counts):
        meta = result.rules.get(code)
        text = meta.summary if meta is not None and meta.summary else first[code]
        lines.append(f"{counts[code]:<5} {code} {text}")
    return lines


def summary_lines(result: RunResult, statistics: bool = False, notices: bool = True) -> List[str]:
    """Notices (unless ``notices=False``: the CLI sends them to stderr), optional statistics,
    the totals line and baseline news, in that order."""
    lines = notice_lines(result) if notices else []
    if statistics:
        lines += statistics_lines(result)
    total = len(result.findings)
    if total:
        safe, unsafe = fix_counts(result.findings)
        extra = []
        if safe:
            extra.append(f"{safe} fixable with `mandu-lint fix`")
        if unsafe:
            extra.append(f"{unsafe} more with `mandu-lint fix --unsafe-fixes`")
        tail = f" ({'; '.join(extra)})" if extra else ""
        lines.append(f"Found {_plural(total, 'finding')}{tail}")
    else:
        lines.append("No findings.")
    lines += _baseline_lines(result)
    below = sum(p.below_confidence for p in result.projects)
    if below:
        lines.append(f"{_plural(below, 'finding')} at `medium` confidence not shown "
                     "(`--confidence medium` shows them)")
    return lines


def notice_lines(result: RunResult) -> List[str]:
    notices = sorted(result.notices, key=lambda n: (n.path, n.rule, n.message))
    return [format_notice(n, result.cwd) for n in notices]


def _baseline_lines(result: RunResult) -> List[str]:
    hidden = sum(p.baselined for p in result.projects)
    gone = sum(p.baseline_gone for p in result.projects)
    parts = []
    if hidden:
        parts.append(f"{_plural(hidden, 'baselined finding')} hidden")
    if gone:
        entries = "baseline entry" if gone == 1 else "baseline entries"
        parts.append(f"{gone} {entries} no longer found")
    return ["; ".join(parts)] if parts else []


class Progress:
    """A one-line progress bar on stderr, drawn only when that stream is a terminal: in CI logs
    and pipes a bar is noise (carriage returns pile up), so there it does nothing."""

    WIDTH = 30

    def __init__(self, total: int, stream: Optional[TextIO] = None):
        self.total = max(int(total), 0)
        self.done = 0
        self.stream = sys.stderr if stream is None else stream
        self.enabled = self.total > 0 and _isatty(self.stream)
        self._last = ""

    def advance(self, n: int = 1) -> None:
        self.done = min(self.done + n, self.total)
        if self.enabled:
            self._draw()

    def _draw(self) -> None:
        filled = self.WIDTH * self.done // self.total
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        line = f"[{bar}] {self.done}/{self.total}"
        if line != self._last:  # redraw only on change: cheap when called per file
            self.stream.write("\r" + line)
            self.stream.flush()
            self._last = line

    def close(self) -> None:
        """Erase the bar so the report that follows starts on a clean line."""
        if self.enabled and self._last:
            self.stream.write("\r" + " " * len(self._last) + "\r")
            self.stream.flush()
        self.enabled = False

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
