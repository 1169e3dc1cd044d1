"""Runs every fixture project under tests/fixtures/projects and compares findings with the
``# ruleid:`` / ``# ok:`` annotations in its files (see annotations.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from annotations import read_annotations
from mandu_lint.runner import CheckOptions, check_paths

PROJECTS = Path(__file__).parent / "fixtures" / "projects"


def findings_of(project: Path):
    result = check_paths([str(project)], CheckOptions(use_cache=False, jobs=1, confidence="medium"))
    out = set()
    for f in result.findings:
        out.add((Path(f.path).relative_to(project).as_posix(), f.span.line, f.code))
    return out, result


@pytest.mark.parametrize("name", sorted(p.name for p in PROJECTS.iterdir() if p.is_dir()))
def test_fixture_project(name):
    project = PROJECTS / name
    notes = read_annotations(project)
    assert notes["ruleid"], f"{name} has no `# ruleid:` annotation; the test would prove nothing"
    found, result = findings_of(project)
    assert not result.had_error, result.notices
    missing = notes["ruleid"] - found
    assert not missing, f"expected findings not reported: {sorted(missing)}"
    unexpected = found - notes["ruleid"] - notes["todook"]
    assert not unexpected, f"findings not annotated `# ruleid:`: {sorted(unexpected)}"
    assert not (found & notes["ok"]), f"reported where annotated `# ok:`: {sorted(found & notes['ok'])}"
    promoted = found & notes["todoruleid"]
    assert not promoted, f"known gaps now reported; change `todoruleid` to `ruleid`: {sorted(promoted)}"


def test_annotations_cover_silent_cases():
    """Each rule exercised by fixtures also has `# ok:` lines (must-stay-silent cases)."""
    codes_ruleid, codes_ok = set(), set()
    for project in PROJECTS.iterdir():
        if project.is_dir():
            notes = read_annotations(project)
            codes_ruleid |= {c for _, _, c in notes["ruleid"]}
            codes_ok |= {c for _, _, c in notes["ok"]}
    assert codes_ruleid <= codes_ok
