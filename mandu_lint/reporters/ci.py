"""Reports for CI systems and older tools, named as ruff names them (``--output-format``):

- ``github``: GitHub Actions workflow commands (``::error file=...,line=...::message``), shown as
  annotations on the pull request without code scanning (no GitHub Advanced Security licence);
- ``gitlab``: GitLab Code Quality JSON (``artifacts: reports: codequality``);
- ``junit``: JUnit XML, one test suite per file and one failed test case per finding;
- ``pylint``: ``path:line: [CODE] message`` lines.

Paths are relative to the directory mandu-lint ran in, with ``/`` separators (CI jobs run at the
checkout's root). Notices that are errors (a crashed rule) are reported as well, so a report never
looks clean when the run was not.
"""
from __future__ import annotations

import json
from collections import OrderedDict
from typing import Dict, List

from mandu_lint.model import Finding, RunResult
from mandu_lint.reporters.text import display_path


def _level(result: RunResult, code: str) -> str:
    meta = result.rules.get(code)
    return meta.level if meta is not None else "warning"


# -- GitHub Actions ------------------------------------------------------------------------------
def _gh_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_prop(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(result: RunResult) -> str:
    lines = []
    for f in sorted(result.findings, key=lambda f: f.sort_key):
        kind = "error" if _level(result, f.code) == "error" else "warning"
        props = [f"file={_gh_prop(display_path(f.path, result.cwd))}", f"line={f.span.line}",
                 f"col={f.span.col + 1}"]
        if (f.span.end_line, f.span.end_col) >= (f.span.line, f.span.col):
            props += [f"endLine={f.span.end_line}", f"endColumn={f.span.end_col + 1}"]
        props.append(f"title={_gh_prop(f'mandu-lint {f.code}')}")
        lines.append(f"::{kind} {','.join(props)}::{_gh_data(f'{f.code} {f.message}')}")
    for n in sorted(result.notices, key=lambda n: (n.path, n.rule, n.message)):
        if n.error:
            where = f" file={_gh_prop(display_path(n.path, result.cwd))}" if n.path else ""
            lines.append(f"::error{where}::{_gh_data(n.message)}")
    return "".join(line + "\n" for line in lines)


# -- GitLab Code Quality -------------------------------------------------------------------------
_GITLAB_SEVERITY = {"error": "major", "warning": "minor", "note": "info", "none": "info"}


def render_gitlab(result: RunResult) -> str:
    issues = []
    seen: Dict[str, int] = {}
    for f in sorted(result.findings, key=lambda f: f.sort_key):
        fingerprint = f.fingerprint or f"{f.code}:{f.path}:{f.span.line}:{f.span.col}"
        n = seen.get(fingerprint, 0)
        seen[fingerprint] = n + 1
        issues.append(OrderedDict([
            ("description", f"{f.code} {f.message}"),
            ("check_name", f.code),
            ("fingerprint", fingerprint if n == 0 else f"{fingerprint}-{n}"),
            ("severity", _GITLAB_SEVERITY.get(_level(result, f.code), "minor")),
            ("location", OrderedDict([("path", display_path(f.path, result.cwd)),
                                      ("lines", OrderedDict([("begin", f.span.line),
                                                             ("end", max(f.span.end_line, f.span.line))]))])),
        ]))
    return json.dumps(issues, indent=2) + "\n"


# -- JUnit XML -----------------------------------------------------------------------------------
def render_junit(result: RunResult) -> str:
    import xml.etree.ElementTree as ET

    by_file: Dict[str, List[Finding]] = {}
    for f in sorted(result.findings, key=lambda f: f.sort_key):
        by_file.setdefault(display_path(f.path, result.cwd), []).append(f)
    errors = [n for n in result.notices if n.error]
    total = sum(map(len, by_file.values())) + len(errors)
    suites = ET.Element("testsuites", name="mandu-lint", tests=str(max(total, 1)), failures=str(total))
    if not total:
        suite = ET.SubElement(suites, "testsuite", name="mandu-lint", tests="1", failures="0")
        ET.SubElement(suite, "testcase", name="No findings", classname="mandu-lint")
    for path, findings in by_file.items():
        suite = ET.SubElement(suites, "testsuite", name=path, tests=str(len(findings)), failures=str(len(findings)))
        for f in findings:
            case = ET.SubElement(suite, "testcase", name=f"{f.code} at line {f.span.line}, column {f.span.col + 1}",
                                 classname=path, file=path, line=str(f.span.line))
            failure = ET.SubElement(case, "failure", message=f.message, type=f.code)
            failure.text = f"{path}:{f.span.line}:{f.span.col + 1}: {f.code} {f.message}"
    if errors:
        suite = ET.SubElement(suites, "testsuite", name="mandu-lint errors", tests=str(len(errors)),
                              failures=str(len(errors)))
        for n in errors:
            case = ET.SubElement(suite, "testcase", name=n.message[:80], classname="mandu-lint")
            ET.SubElement(case, "failure", message=n.message, type=n.rule or "error")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


# -- pylint --------------------------------------------------------------------------------------
def render_pylint(result: RunResult) -> str:
    return "".join(f"{display_path(f.path, result.cwd)}:{f.span.line}: [{f.code}] {f.message}\n"
                   for f in sorted(result.findings, key=lambda f: f.sort_key))
