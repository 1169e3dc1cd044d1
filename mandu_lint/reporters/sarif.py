"""SARIF 2.1.0 for GitHub code scanning (and any other SARIF consumer).

GitHub's upload rules drive the shape, and each line below exists because breaking it loses
alerts or makes them unstable:

* one run per project, each with its own ``automationDetails.id``: GitHub keys alerts by tool
  *and category*, and refuses two runs of one tool with the same category in a file;
* URIs relative to the VCS root with ``uriBaseId`` ``%SRCROOT%``: GitHub matches them against
  the checkout, so absolute paths of the CI machine would never resolve;
* 1-based columns counted in code points (``columnKind`` ``unicodeCodePoints``), which is what
  ``Span`` holds after the engine's byte-to-character conversion;
* ``partialFingerprints`` carries our own fingerprint so GitHub does not compute a line hash
  that moves when unrelated lines are edited;
* rule metadata with help text, tags and (security rules only) ``security-severity`` as a
  numeric *string*, which is what GitHub reads to rank security alerts.
"""
from __future__ import annotations

import json
import os
import pathlib
from typing import Dict, List, Optional
from urllib.parse import quote, urlparse

from mandu_lint import __version__
from mandu_lint.model import (
    TOOL_NAME,
    Finding,
    Fix,
    FixSafety,
    Notice,
    ProjectResult,
    RuleMeta,
    RunResult,
    Span,
)

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/mandu-lint/mandu-lint"
FINGERPRINT_KEY = "manduLint/v1"
SRCROOT = "%SRCROOT%"
_LEVELS = ("none", "note", "warning", "error")


def first_paragraph(doc: str) -> str:
    """The first prose paragraph of a rule doc, skipping Markdown headings ("## What it does")."""
    para: List[str] = []
    for line in doc.strip().splitlines():
        text = line.strip()
        if text.startswith("#") and not para:
            continue
        if not text:
            if para:
                break
            continue
        para.append(text)
    return " ".join(para)


def _level(meta: Optional[RuleMeta]) -> str:
    return meta.level if meta is not None and meta.level in _LEVELS else "warning"


def _help_uri(meta: RuleMeta) -> Optional[str]:
    uri = meta.extra.get("help_uri") if isinstance(meta.extra, dict) else None
    if isinstance(uri, str):
        parsed = urlparse(uri)
        if parsed.scheme in ("http", "https") and parsed.netloc:
            return uri
    return None


def rule_descriptor(meta: RuleMeta) -> dict:
    doc = meta.doc.strip() or meta.summary
    tags = list(dict.fromkeys(meta.tags))
    if meta.security and "security" not in tags:
        tags.append("security")
    props: dict = {"tags": tags, "precision": meta.precision}
    if meta.security and meta.security_severity is not None:
        props["security-severity"] = f"{float(meta.security_severity):.1f}"
    desc = {
        "id": meta.code,
        "name": meta.name,
        "shortDescription": {"text": meta.summary or meta.code},
        "fullDescription": {"text": first_paragraph(doc) or meta.summary or meta.code},
        "help": {"text": doc or meta.code, "markdown": doc or meta.code},
        "defaultConfiguration": {"level": _level(meta)},
        "properties": props,
    }
    uri = _help_uri(meta)
    if uri:
        desc["helpUri"] = uri
    return desc


def artifact_location(path: str, vcs_root: str) -> dict:
    """Relative to ``%SRCROOT%`` when the file is inside the VCS root, else an absolute file URI
    (such a result cannot be shown by GitHub, but it is still valid SARIF)."""
    try:
        rel = os.path.relpath(path, vcs_root)
    except ValueError:  # another drive
        rel = None
    if rel is None or rel == ".." or rel.startswith(".." + os.sep):
        return {"uri": pathlib.Path(path).absolute().as_uri()}
    return {"uri": quote(rel.replace(os.sep, "/"), safe="/"), "uriBaseId": SRCROOT}


def root_uri(vcs_root: str) -> str:
    uri = pathlib.Path(vcs_root).absolute().as_uri()
    return uri if uri.endswith("/") else uri + "/"


def region(span: Span) -> dict:
    out = {"startLine": max(span.line, 1), "startColumn": span.col + 1}
    if (span.end_line, span.end_col) >= (span.line, span.col):  # a well-formed end only
        out.update(endLine=span.end_line, endColumn=span.end_col + 1)
    return out


def _physical(path: str, span: Optional[Span], vcs_root: str) -> dict:
    phys: dict = {"artifactLocation": artifact_location(path, vcs_root)}
    if span is not None:
        phys["region"] = region(span)
    return {"physicalLocation": phys}


def sarif_fix(finding: Finding, fix: Fix, vcs_root: str) -> dict:
    """A SARIF fix; imports cannot be written as region edits, so the description names them."""
    text = fix.description
    if fix.imports:
        names = ", ".join(f"from {m} import {n}" if n else f"import {m}" for m, n in fix.imports)
        text = f"{text} (also adds: {names})"
    replacements = [
        {"deletedRegion": region(e.span), "insertedContent": {"text": e.text}} for e in fix.edits
    ]
    return {
        "description": {"text": text},
        "artifactChanges": [
            {
                "artifactLocation": artifact_location(finding.path, vcs_root),
                "replacements": replacements,
            }
        ],
        "properties": {"safety": fix.safety.value},
    }


def _result(f: Finding, rules: Dict[str, RuleMeta], index: Dict[str, int], vcs_root: str,
            fixes: bool) -> dict:
    res: dict = {"ruleId": f.code}
    if f.code in index:
        res["ruleIndex"] = index[f.code]
    res["level"] = _level(rules.get(f.code))
    res["message"] = {"text": f.message or f.code}
    res["locations"] = [_physical(f.path, f.span, vcs_root)]
    if f.fingerprint:
        res["partialFingerprints"] = {FINGERPRINT_KEY: f.fingerprint}
    res["properties"] = {"confidence": f.confidence}
    if f.related:
        res["relatedLocations"] = [_related(i, loc, vcs_root) for i, loc in enumerate(f.related, 1)]
    if fixes and f.fix is not None and f.fix.edits and f.fix.safety != FixSafety.DISPLAY:
        res["fixes"] = [sarif_fix(f, f.fix, vcs_root)]
    return res


def _related(i: int, loc, vcs_root: str) -> dict:
    out = {"id": i, **_physical(loc.path, loc.span, vcs_root)}
    if loc.message:
        out["message"] = {"text": loc.message}
    return out


def _notification(n: Notice, index: Dict[str, int], vcs_root: str) -> dict:
    out: dict = {"level": "error" if n.error else "note", "message": {"text": n.message}}
    if n.rule:
        out["associatedRule"] = {"id": n.rule}
        if n.rule in index:
            out["associatedRule"]["index"] = index[n.rule]
    if n.path:
        out["locations"] = [_physical(n.path, None, vcs_root)]
    return out


def automation_id(project: ProjectResult) -> str:
    """The project's id as given; when empty, one derived from its place in the repository, so
    that several projects in one file never share a category."""
    if project.automation_id:
        return project.automation_id
    rel = os.path.relpath(project.root, project.vcs_root).replace(os.sep, "/")
    return f"{TOOL_NAME}/" if rel == "." else f"{TOOL_NAME}/{rel}/"


def _run(project: ProjectResult, result: RunResult, descriptors: List[dict], fixes: bool) -> dict:
    index = {d["id"]: i for i, d in enumerate(descriptors)}
    version = result.version or __version__
    findings = sorted(project.findings, key=lambda f: f.sort_key)
    notices = sorted(project.notices, key=lambda n: (n.path, n.rule, n.message))
    vcs = project.vcs_root
    return {
        "tool": {
            "driver": {
                "name": TOOL_NAME,
                "informationUri": INFORMATION_URI,
                "version": version,
                "semanticVersion": version,
                "rules": descriptors,
            }
        },
        "automationDetails": {"id": automation_id(project)},
        "originalUriBaseIds": {SRCROOT: {"uri": root_uri(vcs)}},
        "columnKind": "unicodeCodePoints",
        "invocations": [
            {
                "executionSuccessful": not any(n.error for n in notices),
                "toolExecutionNotifications": [_notification(n, index, vcs) for n in notices],
            }
        ],
        "results": [_result(f, result.rules, index, vcs, fixes) for f in findings],
    }


def sarif_log(result: RunResult, *, fixes: bool = False) -> dict:
    descriptors = [rule_descriptor(result.rules[c]) for c in sorted(result.rules)]
    # With no project at all, still emit one empty run: code scanning closes open alerts only
    # when it sees a run of the tool.
    projects = result.projects or [ProjectResult(root=result.cwd, vcs_root=result.cwd)]
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [_run(p, result, descriptors, fixes) for p in projects],
    }


def render_sarif(result: RunResult, *, fixes: bool = False) -> str:
    return json.dumps(sarif_log(result, fixes=fixes), indent=2) + "\n"
