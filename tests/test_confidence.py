"""Per-finding confidence: ``high`` findings are reported by default, ``medium`` ones with
``--confidence medium`` / ``confidence: medium`` / flake8's ``--mandu-confidence``; ownership
between rules is decided before the filter; fingerprints ignore confidence."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mandu_lint import config, registry
from mandu_lint.cli import main
from mandu_lint.rules.base import Rule
from mandu_lint.runner import CheckOptions, check_paths

SOURCE = "sure()\nmaybe()\n"


class Graded(Rule):
    """## What it does\nReports `sure()` at high and `maybe()` at medium confidence (test only)."""

    code = "MDB982"
    name = "graded-test"
    summary = "Graded test rule"
    default = False

    def visit_Call(self, node):
        name = getattr(node.func, "id", "")
        if name == "sure":
            self.report(node, "sure call")
        elif name == "maybe":
            self.report(node, "maybe call", confidence="medium")


class Fallback(Rule):
    """## What it does\nReports every call, unless a more specific rule owns it (test only)."""

    code = "MDB983"
    name = "fallback-test"
    summary = "Fallback test rule"
    default = False
    yields_to = ("MDB982",)

    def visit_Call(self, node):
        self.report(node, "some call")


class Weak(Rule):
    """## What it does\nA rule whose measured precision is medium (test only)."""

    code = "MDB984"
    name = "weak-test"
    summary = "Weak test rule"
    default = False
    precision = "medium"

    def visit_Call(self, node):
        self.report(node, "weak call")  # asks for high; the rule's precision caps it


@pytest.fixture(autouse=True)
def default_threshold(monkeypatch):
    """The suite shows medium findings by default (conftest); these tests check the real default."""
    monkeypatch.delenv("MANDU_LINT_CONFIDENCE", raising=False)


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    (root / "app").mkdir()
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "x.py").write_text(SOURCE)
    for rule in (Graded, Fallback, Weak):
        registry.register(rule)
    config.clear_caches()
    yield root
    for rule in (Graded, Fallback, Weak):
        registry.unregister(rule)
    config.clear_caches()


def lines(root: Path, codes, **kw):
    result = check_paths([str(root)], CheckOptions(use_cache=False, jobs=1, extend_select=list(codes), **kw))
    return sorted((f.code, f.span.line, f.confidence) for f in result.findings)


def test_medium_is_hidden_by_default_and_shown_on_request(project):
    assert lines(project, ["MDB982"]) == [("MDB982", 1, "high")]
    assert lines(project, ["MDB982"], confidence="medium") == [("MDB982", 1, "high"), ("MDB982", 2, "medium")]


def test_the_config_key_sets_the_threshold(project):
    (project / "mandu.yaml").write_text("confidence: medium\n")
    config.clear_caches()
    assert ("MDB982", 2, "medium") in lines(project, ["MDB982"])
    (project / "mandu.yaml").write_text("confidence: low\n")
    config.clear_caches()
    with pytest.raises(config.ConfigError):
        lines(project, ["MDB982"])


def test_ownership_is_decided_before_the_filter(project):
    """The hidden medium finding of the owning rule still keeps the fallback quiet."""
    assert lines(project, ["MDB982", "MDB983"]) == [("MDB982", 1, "high")]


def test_a_rule_precision_caps_its_findings(project):
    assert lines(project, ["MDB984"]) == []
    assert lines(project, ["MDB984"], confidence="medium") == [("MDB984", 1, "medium"), ("MDB984", 2, "medium")]


def test_fingerprints_ignore_confidence(project):
    def prints(**kw):
        result = check_paths([str(project)], CheckOptions(use_cache=False, jobs=1, extend_select=["MDB982"], **kw))
        return {f.span.line: f.fingerprint for f in result.findings}
    assert prints()[1] == prints(confidence="medium")[1]


def test_reports_carry_confidence(project, tmp_path, capsys):
    out = tmp_path / "r.json"
    main(["check", str(project), "--no-cache", "--extend-select", "MDB982", "--confidence", "medium",
          "--format", "json", "-o", str(out), "--exit-zero"])
    doc = json.loads(out.read_text())
    assert sorted(f["confidence"] for f in doc["findings"]) == ["high", "medium"]
    sarif = tmp_path / "r.sarif"
    main(["check", str(project), "--no-cache", "--extend-select", "MDB982", "--confidence", "medium",
          "--format", "sarif", "-o", str(sarif), "--exit-zero"])
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    assert sorted(r["properties"]["confidence"] for r in results) == ["high", "medium"]
    capsys.readouterr()
    main(["check", str(project), "--no-cache", "--extend-select", "MDB982", "--confidence", "medium", "--exit-zero"])
    text = capsys.readouterr().out
    assert "MDB982 [medium] maybe call" in text and "MDB982 sure call" in text


def test_the_run_says_how_many_findings_the_threshold_hides(project, tmp_path, capsys):
    """A default run that hides `medium` findings says so (text and JSON), never a bare
    "No findings." when there is more to see; with the lower threshold nothing is hidden."""
    code = main(["check", str(project), "--no-cache", "--extend-select", "MDB982"])
    out_text = capsys.readouterr().out  # the text report's summary follows it on stdout
    assert code == 1 and "1 finding at `medium` confidence not shown (`--confidence medium` shows them)" in out_text
    main(["check", str(project), "--no-cache", "--extend-select", "MDB982", "--confidence", "medium"])
    assert "not shown" not in capsys.readouterr().out
    out = tmp_path / "r.json"
    main(["check", str(project), "--no-cache", "--extend-select", "MDB982", "--format", "json", "-o", str(out)])
    summary = json.loads(out.read_text())["summary"]
    assert summary["total"] == 1 and summary["below_confidence"] == 1
    (project / "app" / "x.py").write_text("maybe()\n")
    code = main(["check", str(project), "--no-cache", "--extend-select", "MDB982"])
    out_text = capsys.readouterr().out
    assert code == 0 and "No findings." in out_text and "1 finding at `medium` confidence not shown" in out_text


def test_flake8_option(tmp_path):
    """flake8's ``--mandu-confidence`` (real subprocess, opt-in rule named through flake8's
    --select): MDB105 is medium, so it shows only with the option."""
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    (root / "mandu.yaml").write_text("tenant:\n  models: [Organization]\n")
    (root / "app").mkdir()
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "models.py").write_text(
        "from django.db import models\n\n\nclass Organization(models.Model):\n    name = models.TextField()\n\n\n"
        "class Invoice(models.Model):\n    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)\n")
    (root / "app" / "views.py").write_text(
        "from app.models import Invoice\n\n\ndef by_org(request):\n"
        "    return list(Invoice.objects.filter(organization_id=request.GET['org']))\n")

    env = {k: v for k, v in os.environ.items() if k != "MANDU_LINT_CONFIDENCE"}

    def run(*extra):
        return subprocess.run([sys.executable, "-m", "flake8", "--select=MDB105", *extra, "app/views.py"],
                              cwd=root, capture_output=True, text=True, timeout=120, env=env).stdout
    assert "MDB105" not in run()
    assert "MDB105" in run("--mandu-confidence=medium")


def test_the_environment_sets_the_default(project, monkeypatch):
    monkeypatch.setenv("MANDU_LINT_CONFIDENCE", "medium")
    assert ("MDB982", 2, "medium") in lines(project, ["MDB982"])
    (project / "mandu.yaml").write_text("confidence: high\n")  # the config wins over the environment
    config.clear_caches()
    assert lines(project, ["MDB982"]) == [("MDB982", 1, "high")]
