"""Baselines: record today's findings, then report only new ones.

A baseline is a versioned JSON file. Entries are matched by fingerprint as a multiset: two
identical findings in a function need two entries. Fingerprints do not contain line numbers,
so code moving up or down does not resurface baselined findings.
"""
from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Optional

from . import __version__
from .diagnostics import FAILURE_CODES
from .model import ProjectResult, RunResult

FORMAT_VERSION = 1


class BaselineError(Exception):
    """A baseline that cannot be read: exit 2 with this message."""


def _project_key(root: str, vcs_root: str) -> str:
    rel = os.path.relpath(root, vcs_root).replace(os.sep, "/")
    return "." if rel == "." else rel


def build(result: RunResult) -> dict:
    entries = []
    for p in result.projects:
        key = _project_key(p.root, p.vcs_root)
        for f in p.findings:
            if f.code in FAILURE_CODES:
                continue  # a file that was not checked is never accepted
            entries.append({"project": key, "path": os.path.relpath(f.path, p.root).replace(os.sep, "/"),
                            "code": f.code, "fingerprint": f.fingerprint, "line": f.span.line,
                            "message": f.message})
    entries.sort(key=lambda e: (e["project"], e["path"], e["line"], e["code"], e["fingerprint"]))
    return {"version": FORMAT_VERSION, "tool": {"name": "mandu-lint", "version": __version__},
            "findings": entries}


def write(result: RunResult, path: Path) -> int:
    data = build(result)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return len(data["findings"])


def load(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BaselineError(f"{path}: baseline file not found (create it with `mandu-lint baseline {path}`)")
    except (OSError, ValueError) as exc:
        raise BaselineError(f"{path}: not a readable baseline: {exc}")
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION or \
            not isinstance(data.get("findings"), list):
        raise BaselineError(f"{path}: not a mandu-lint baseline of format version {FORMAT_VERSION}")
    return data


def apply_baseline(result: ProjectResult, project, cli_path: Optional[Path]) -> None:
    """Hide baselined findings of one project and count the entries no longer found
    (only among the files this run checked)."""
    path = cli_path or project.settings.baseline
    if path is None:
        return
    data = load(Path(path))
    key = _project_key(result.root, result.vcs_root)
    checked = set(getattr(project, "checked", ()) or ())
    mine = [e for e in data["findings"] if isinstance(e, dict) and e.get("project", ".") == key]
    remaining = Counter(e.get("fingerprint") for e in mine)
    kept = []
    for f in result.findings:
        if f.code not in FAILURE_CODES and remaining[f.fingerprint] > 0:
            remaining[f.fingerprint] -= 1
            result.baselined += 1
        else:
            kept.append(f)
    result.findings = kept
    gone = 0
    for e in mine:
        fp = e.get("fingerprint")
        if remaining[fp] > 0:
            remaining[fp] -= 1
            gone += e.get("path") in checked
    result.baseline_gone = gone
