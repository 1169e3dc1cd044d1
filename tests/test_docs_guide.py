"""The DB standard guides (docs/guide/): snippets match the example apps, links resolve, every
guide names the rules that enforce it and every rule has a guide, the interface module holds for
the real ORMs, and the CI workflow is complete."""
from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path

import pytest
import yaml

from mandu_lint import docs_check
from mandu_lint.registry import all_rules

REPO = Path(__file__).resolve().parent.parent
GUIDE = REPO / "docs" / "guide"
GUIDES = sorted(p for p in GUIDE.glob("*.md") if p.name != "README.md")
RULE_LINK = re.compile(r"\[(MDB\d{3})\]\(((?:\.\./)+rules/(MDB\d{3})\.md)\)")


def enforced_by(guide: Path) -> str:
    """The "**Enforced by:**" paragraph at the top of a guide."""
    text = guide.read_text()
    start = text.find("**Enforced by:**")
    assert start >= 0, f"{guide.name} does not say which rules enforce it"
    end = text.find("\n\n", start)
    return text[start:end]


def test_snippets_and_links_match_the_code():
    assert docs_check.main(["--root", str(REPO), "docs", "examples", "README.md"]) == 0, \
        "run `python -m mandu_lint.docs_check --write` (or fix the broken link)"


def test_drift_is_detected_and_repaired(tmp_path, capsys):
    root = tmp_path / "repo"
    shutil.copytree(REPO / "examples" / "crud_app" / "tasks", root / "app", ignore=shutil.ignore_patterns("tests"))
    doc = root / "doc.md"
    doc.write_text("# x\n\n<!-- snippet: app/services.py#close_tasks -->\n```python\n```\n\n[ok](app/models.py)\n")
    assert docs_check.main(["--root", str(root), "--write", "doc.md"]) == 0
    assert "def close_tasks(" in doc.read_text() and "@transaction.atomic" in doc.read_text()
    source = root / "app" / "services.py"
    source.write_text(source.read_text().replace("return closed", "return closed or 0"))
    assert docs_check.main(["--root", str(root), "doc.md"]) == 1
    assert "snippet differs from app/services.py#close_tasks" in capsys.readouterr().out
    assert docs_check.main(["--root", str(root), "--write", "doc.md"]) == 0
    assert "return closed or 0" in doc.read_text()
    doc.write_text(doc.read_text() + "\n<!-- snippet: app/services.py#gone -->\n```python\n```\n[x](nowhere.md)\n")
    assert docs_check.main(["--root", str(root), "doc.md"]) == 1
    out = capsys.readouterr().out
    assert "no function or class `gone`" in out and "broken link `nowhere.md`" in out


@pytest.mark.parametrize("guide", GUIDES, ids=[g.stem for g in GUIDES])
def test_guide_names_its_rules(guide):
    paragraph = enforced_by(guide)
    registered = {r.code for r in all_rules()}
    for code, target, page_code in RULE_LINK.findall(paragraph):
        assert code == page_code, f"{guide.name}: [{code}] links to {target}"
        assert code in registered, f"{guide.name} links {code}, which is not a rule: write it as planned, unlinked"
        assert (guide.parent / target).is_file(), f"{target} missing: run `python -m mandu_lint.docs_gen`"
    linked = {c for c, _, _ in RULE_LINK.findall(paragraph)}
    assert linked or "no static rule" in paragraph or "every rule" in paragraph, \
        f"{guide.name}: link the enforcing rules, or say why no rule can"


def test_every_rule_has_a_guide():
    named = set()
    for guide in GUIDES:
        named |= {c for c, _, _ in RULE_LINK.findall(enforced_by(guide))}
    missing = sorted({r.code for r in all_rules()} - named)
    assert not missing, f"rules that no guide names as enforcing its standard: {missing}"


def test_index_lists_every_guide():
    index = (GUIDE / "README.md").read_text()
    assert all(f"]({g.name})" in index for g in GUIDES), "docs/guide/README.md must list every guide"


def test_interface_fits_the_real_orms():
    django_tx = pytest.importorskip("django.db.transaction")
    sqlalchemy = pytest.importorskip("sqlalchemy")
    from sqlalchemy.orm import sessionmaker

    spec = importlib.util.spec_from_file_location("guide_interface", GUIDE / "interface.py")
    interface = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(interface)
    engine = sqlalchemy.create_engine("sqlite://")
    try:
        assert isinstance(django_tx.atomic(), interface.UnitOfWork)
        assert isinstance(sessionmaker(engine).begin(), interface.UnitOfWork)
        assert not isinstance(object(), interface.UnitOfWork)
    finally:
        engine.dispose()


def test_ci_workflow_uploads_sarif():
    workflow = yaml.safe_load((REPO / "docs" / "ci" / "mandu-lint.yml").read_text())
    job = workflow["jobs"]["db-check"]
    assert job["permissions"]["security-events"] == "write"
    runs = [s.get("run", "") for s in job["steps"]]
    assert any("mandu db:check --format sarif -o mandu.sarif" in r for r in runs)
    upload = next(s for s in job["steps"] if s.get("uses", "").startswith("github/codeql-action/upload-sarif"))
    assert upload["with"]["sarif_file"] == "mandu.sarif" and upload["if"].startswith("always()")
