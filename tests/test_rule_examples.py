"""Every rule's own examples (``BAD``/``GOOD`` in its class) run as tests, and its doc has the
sections users rely on; the generated pages in rules/ match the classes."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mandu_lint import docs_gen
from mandu_lint.registry import all_rules
from mandu_lint.runner import CheckOptions, check_paths

RULES = all_rules()

SECTIONS = ["## What it does", "## Why is this bad?", "## Known problems", "## Example", "## Use instead",
            "## Fix safety"]


def _write(root: Path, example) -> Path:
    (root / ".git").mkdir(parents=True, exist_ok=True)
    (root / "mandu.yaml").write_text("exclude: []\n")
    files = example if isinstance(example, dict) else {"app/module.py": example}
    for rel, src in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(src).lstrip("\n"))
        init = path.parent / "__init__.py"
        if not init.exists():
            init.write_text("")
    return root


def _run(root: Path, code: str):
    result = check_paths([str(root)], CheckOptions(use_cache=False, jobs=1, select=[code], confidence="medium"))
    assert not result.had_error, result.notices
    return {(Path(f.path).relative_to(root).as_posix(), f.span.line) for f in result.findings if f.code == code}


def _marked(root: Path):
    out = set()
    for path in sorted(root.rglob("*")):  # YAML too: fixture files (MDB610) hold findings
        if path.suffix not in (".py", ".yaml", ".yml") or path.name == "mandu.yaml":
            continue
        for i, line in enumerate(path.read_text().splitlines(), start=1):
            if line.rstrip().endswith("# error"):
                out.add((path.relative_to(root).as_posix(), i))
    return out


CASES = [(r, "BAD", i) for r in RULES for i in range(len(r.BAD))] + \
        [(r, "GOOD", i) for r in RULES for i in range(len(r.GOOD))]


@pytest.mark.parametrize("rule,kind,i", CASES, ids=[f"{r.code}-{k}-{i}" for r, k, i in CASES])
def test_rule_example(tmp_path, rule, kind, i):
    root = _write(tmp_path / "proj", getattr(rule, kind)[i])
    found = _run(root, rule.code)
    if kind == "BAD":
        expected = _marked(root)
        assert expected, "a BAD example must mark its lines with `# error`"
        assert found == expected
    else:
        assert found == set()


FIX_CASES = [(r, i) for r in RULES for i in range(len(r.FIXED))]


@pytest.mark.parametrize("rule,i", FIX_CASES, ids=[f"{r.code}-FIXED-{i}" for r, i in FIX_CASES])
def test_rule_fix_example(tmp_path, rule, i):
    """A rule's ``FIXED`` example: the fix gives exactly that text, removes the findings and
    is idempotent."""
    import io

    from mandu_lint.fixes.apply import fix_paths

    bad = rule.BAD[i]
    root = _write(tmp_path / "proj", bad)
    opts = CheckOptions(use_cache=False, jobs=1, select=[rule.code])
    fix_paths([str(root)], opts, unsafe=True, diff=False, out=io.StringIO())
    expected = rule.FIXED[i] if isinstance(rule.FIXED[i], dict) else {"app/module.py": rule.FIXED[i]}
    for rel, src in expected.items():
        assert (root / rel).read_text() == textwrap.dedent(src).lstrip("\n"), rel
    assert _run(root, rule.code) == set()
    before = {p: p.read_text() for p in root.rglob("*.py")}
    fix_paths([str(root)], opts, unsafe=True, diff=False, out=io.StringIO())
    assert {p: p.read_text() for p in root.rglob("*.py")} == before


@pytest.mark.parametrize("rule", RULES, ids=[r.code for r in RULES])
def test_rule_doc_sections(rule):
    doc = rule.doc()
    for section in SECTIONS:
        assert section in doc, f"{rule.code} doc lacks {section!r}"
    assert "Primary location" in doc
    assert rule.BAD and rule.GOOD


def test_generated_pages_are_current():
    assert docs_gen.main(["--check"]) == 0, "run `python -m mandu_lint.docs_gen`"


def test_the_catalogue_and_the_rule_classes_agree_on_opt_in_rules():
    """A rule is opt-in in two places — its ``RuleSpec`` in the family catalogue (what selection
    reads) and its class (what the rule pages read); they must say the same."""
    from mandu_lint.rules import FAMILIES
    from mandu_lint.registry import load

    for family in FAMILIES:
        for spec in family.rules:
            cls = load(spec, family.package)
            assert cls.default == spec.default, f"{spec.code}: catalogue default={spec.default}, class {cls.default}"
