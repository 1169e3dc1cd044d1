"""The engine's user-facing behaviour, end to end through the CLI: noqa, non-app, MDB000, the
newer-syntax notice, a crashing rule, opt-in selection, caching, baselines, fingerprints."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mandu_lint import registry as rules
from mandu_lint.cli import main
from mandu_lint.rules.base import ProjectRule, Rule
from mandu_lint.runner import CheckOptions, check_paths

MODELS = """
from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=50)


class Book(models.Model):
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
"""


def make(root: Path, files: dict, config: str = "exclude: []\n") -> Path:
    (root / ".git").mkdir(parents=True, exist_ok=True)
    if config is not None:
        (root / "mandu.yaml").write_text(config)
    for rel, src in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(src).lstrip("\n"), encoding="utf-8")
    return root


def lines_of(root: Path, **kw):
    """Findings as (path, line, code); only MDB301 and the rules a test names run, so that
    other rule families landing later do not change what these engine tests see."""
    if "select" not in kw:
        kw["select"] = ["MDB301"]
    opts = CheckOptions(use_cache=kw.pop("use_cache", False), jobs=1, **kw)
    result = check_paths([str(root)], opts)
    return sorted((Path(f.path).relative_to(root).as_posix(), f.span.line, f.code) for f in result.findings), result


def run_cli(*args, cwd=None):
    if args and args[0] in ("check", "db:check", "baseline") and "--select" not in args:
        args = args + ("--select", "MDB000,MDB301")
    proc = subprocess.run([sys.executable, "-m", "mandu_lint", *args], cwd=cwd, capture_output=True, text=True)
    return proc.returncode, proc.stdout, proc.stderr


LOOP = "from shop.models import Book\n\n\ndef f(ids):\n    for i in ids:\n        Book.objects.get(pk=i){}\n"


@pytest.mark.parametrize("comment,silenced", [
    ("  # noqa", True), ("  # noqa: MDB301", True), ("  # noqa:MDB301", True), ("  # NOQA: MDB3", True),
    ("  # noqa: E501,MDB301", True), ("  # noqa: E501", False), ("  # noqa: MDB302", False), ("", False),
])
def test_noqa_forms(tmp_path, comment, silenced):
    root = make(tmp_path, {"shop/models.py": MODELS, "shop/views.py": LOOP.format(comment)})
    found, _ = lines_of(root)
    assert (found == []) is silenced


def test_noqa_on_multiline_string_and_continuation(tmp_path):
    src = '''
    from shop.models import Book


    def f(ids):
        for i in ids:
            Book.objects.filter(title="""a
            b""").count()  # noqa: MDB301
            Book.objects.filter(title="x") \\
                .count()  # noqa: MDB301
            Book.objects.filter(
                title="y").count()
    '''
    root = make(tmp_path, {"shop/models.py": MODELS, "shop/views.py": src})
    found, _ = lines_of(root)
    assert found == [("shop/views.py", 10, "MDB301")]  # parentheses do not join lines (as flake8)


def test_file_level_noqa(tmp_path):
    root = make(tmp_path, {"shop/models.py": MODELS,
                           "shop/a.py": "# flake8: noqa\n" + LOOP.format(""),
                           "shop/b.py": "# flake8: noqa: MDB301\n" + LOOP.format("")})
    found, _ = lines_of(root)
    assert [f[0] for f in found] == ["shop/b.py"]


def test_non_app_default_and_override(tmp_path):
    files = {"shop/models.py": MODELS, "shop/tests/test_x.py": LOOP.format(""),
             "shop/migrations/0002_data.py": LOOP.format(""), "conftest.py": LOOP.format("")}
    root = make(tmp_path / "a", files)
    assert lines_of(root)[0] == []
    root = make(tmp_path / "b", files, config="non-app: []\n")
    assert len(lines_of(root)[0]) == 3


def test_syntax_error_is_a_finding_and_the_run_goes_on(tmp_path):
    root = make(tmp_path, {"shop/models.py": MODELS, "shop/bad.py": "def f(:\n    pass\n",
                           "shop/views.py": LOOP.format("")})
    code, out, err = run_cli("check", str(root), "--no-cache")
    assert code == 1 and "Traceback" not in err
    assert "bad.py:1:" in out and "MDB000" in out and "views.py:6:" in out


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="PEP 701 f-strings parse on 3.12+")
def test_newer_syntax_is_mdb002_with_the_remedy(tmp_path):
    """Issue 12 (4): PEP 701 f-strings under 3.11 were a stderr note and exit 0; now MDB002,
    always on (even with --select MDB301), exit 2."""
    # a backslash inside a replacement field has no 3.11 spelling (quote reuse has: see below)
    root = make(tmp_path, {"shop/models.py": MODELS, "shop/new.py": 'xs = []\nx = f"{\'\\\\n\'.join(xs)}"\n'})
    found, result = lines_of(root)
    assert found == [("shop/new.py", 2, "MDB002")]
    (f,) = result.findings
    assert "needs Python 3.12" in f.message and "run mandu-lint under Python ≥ 3.12" in f.message
    assert not result.notices
    code, out, _ = run_cli("check", str(root), "--no-cache", "--exit-zero")
    assert code == 2 and "MDB002" in out


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="all of it parses on 3.14")
def test_newer_syntax_with_an_older_spelling_is_analysed(tmp_path):
    """PEP 695 type parameters and aliases, PEP 758 ``except A, B:`` and PEP 701 f-strings
    reusing their quote inside a replacement field are read as their older equivalents, so a
    3.12+/3.14 codebase is still analysed on an older Python. A nested f-string whose subscript
    key reuses its quote (no other quote is left to swap to) reads the key as a name."""
    src = (
        "from shop.models import Book\n\n\n"
        "class Repo[\n    T: dict[str, int],\n](object):\n"
        "    def load[K](self, ids: list[K]):\n"
        "        for i in ids:\n"
        "            try:\n"
        "                Book.objects.get(pk=i)\n"
        "            except ValueError, TypeError:\n"
        "                pass\n\n\n"
        "type Ids = list[int]\n"
        'label = f"{ids["first"]}: {ids[\'last\']:>{len(ids["w"])}}"\n'
        'nested = f"{str(f\'{ids[\'ok\']}\')} | {str(f\'{ids[\'failed\']}\')}"\n'
    )
    root = make(tmp_path, {"shop/models.py": MODELS, "shop/repo.py": src})
    found, result = lines_of(root)
    assert found == [("shop/repo.py", 10, "MDB301")] and not result.notices


class Crashes(Rule):
    """## What it does\nCrashes (test only)."""

    code = "MDB980"
    name = "crashes"
    summary = "Crashes on every call"
    default = False

    def visit_Call(self, node):
        raise RuntimeError("boom")


def test_rule_crash_reports_error_and_continues(tmp_path, capsys):
    root = make(tmp_path, {"shop/models.py": MODELS, "shop/views.py": LOOP.format("")})
    rules.register(Crashes)
    try:
        out_file = tmp_path / "out.sarif"
        code = main(["check", str(root), "--no-cache", "--extend-select", "MDB980", "--format", "sarif",
                     "-o", str(out_file), "--exit-zero"])
    finally:
        rules.unregister(Crashes)
    assert code == 2  # --exit-zero never hides an error
    sarif = json.loads(out_file.read_text())
    run = sarif["runs"][0]
    assert run["invocations"][0]["executionSuccessful"] is False
    assert any(r["ruleId"] == "MDB301" for r in run["results"])  # other rules still ran
    assert "MDB980" in capsys.readouterr().out + json.dumps(run["invocations"])


class OptIn(Rule):
    """## What it does\nReports every call to `legacy()` (test only)."""

    code = "MDB981"
    name = "opt-in-test"
    summary = "Opt-in test rule"
    default = False

    def visit_Call(self, node):
        if getattr(node.func, "id", "") == "legacy":
            self.report(node, "legacy call")


@pytest.mark.parametrize("kw,runs", [
    ({}, False), ({"extend_select": ["MDB9"]}, False), ({"extend_select": ["MDB"]}, False),
    ({"extend_select": ["MDB981"]}, True), ({"select": ["MDB981"]}, True),
    ({"extend_select": ["MDB981"], "ignore": ["MDB981"]}, False),
    ({"extend_select": ["MDB981"], "ignore": ["MDB9"]}, True),
])
def test_opt_in_rules_need_their_full_code(tmp_path, kw, runs):
    root = make(tmp_path, {"app/x.py": "legacy()\n"})
    rules.register(OptIn)
    try:
        found, _ = lines_of(root, **kw)
    finally:
        rules.unregister(OptIn)
    assert (("app/x.py", 1, "MDB981") in found) is runs


def test_config_select_and_cli_select(tmp_path):
    root = make(tmp_path, {"shop/models.py": MODELS, "shop/views.py": LOOP.format("")}, config="select: [MDB2]\n")
    assert lines_of(root, select=None)[0] == []  # the config's select governs
    assert len(lines_of(root, select=["MDB3"])[0]) == 1  # CLI --select replaces the config's


def test_cache_invalidation_on_model_and_helper_edits(tmp_path):
    helper = "from shop.models import Book\n\n\ndef load(i):\n    return Book.objects.get(pk=i)\n"
    caller = ("from shop.helpers import load\nfrom shop.models import Author\n\n\ndef f(ids):\n"
              "    for i in ids:\n        load(i)\n    for a in Author.objects.all():\n"
              "        for b in a.books.all():\n            print(b)\n")
    root = make(tmp_path, {"shop/models.py": MODELS, "shop/helpers.py": helper, "shop/views.py": caller})
    sel = ["MDB301", "MDB302"]  # line 9 is MDB302's (issue 12: ignoring it never makes it MDB301)
    first, _ = lines_of(root, use_cache=True, select=sel)
    assert first == [("shop/views.py", 7, "MDB301"), ("shop/views.py", 9, "MDB302")]
    assert lines_of(root, use_cache=True, select=sel)[0] == first  # warm
    (root / "shop/helpers.py").write_text("def load(i):\n    return i\n")  # the helper stops querying
    assert lines_of(root, use_cache=True, select=sel)[0] == [("shop/views.py", 9, "MDB302")]
    (root / "shop/models.py").write_text(MODELS.replace('related_name="books"', 'related_name="volumes"'))
    assert lines_of(root, use_cache=True, select=sel)[0] == []  # `books` is no longer a relation


def test_fingerprints_survive_lines_shifting(tmp_path):
    root = make(tmp_path, {"shop/models.py": MODELS, "shop/views.py": LOOP.format("")})
    _, before = lines_of(root)
    (root / "shop/views.py").write_text("import os\n\n\n" + LOOP.format(""))
    _, after = lines_of(root)
    assert [f.fingerprint for f in before.findings] == [f.fingerprint for f in after.findings]
    assert before.findings[0].span.line + 3 == after.findings[0].span.line


def test_baseline_flag_and_config_key(tmp_path):
    root = make(tmp_path, {"shop/models.py": MODELS, "shop/views.py": LOOP.format("")})
    base = root / "baseline.json"
    assert run_cli("baseline", str(base), "--paths", str(root), "--no-cache")[0] == 0
    code, out, _ = run_cli("check", str(root), "--baseline", str(base), "--no-cache")
    assert code == 0 and "1 baselined" in out
    (root / "shop/views.py").write_text(LOOP.format("") + "\n\ndef g(ids):\n    return [Book.objects.get(pk=i) "
                                                          "for i in ids]\n")
    (root / "mandu.yaml").write_text("baseline: baseline.json\n")
    code, out, _ = run_cli("check", str(root), "--no-cache")
    assert code == 1 and out.count("MDB301") == 1 and ":10:" in out
    (root / "shop/views.py").write_text("")
    code, out, _ = run_cli("check", str(root), "--no-cache")
    assert code == 0 and "1 baseline entry no longer found" in out


def test_broken_config_reports_every_error_with_lines(tmp_path):
    root = make(tmp_path, {"app/x.py": "x = 1\n"},
                config="selec: [MDB301]\ntenant:\n  depth: lots\nnon-app: tests/\n")
    code, out, err = run_cli("check", str(root), "--no-cache")
    assert code == 2 and "Traceback" not in err
    for fragment in ("mandu.yaml:1", "did you mean 'select'", "mandu.yaml:3", "tenant.depth", "mandu.yaml:4",
                     "non-app"):
        assert fragment in err


def test_cli_surface(tmp_path):
    clean = make(tmp_path / "clean", {"app/x.py": "x = 1\n"})
    assert run_cli("check", str(clean), "--no-cache")[0] == 0
    dirty = make(tmp_path / "dirty", {"shop/models.py": MODELS, "shop/views.py": LOOP.format("")})
    code, out, _ = run_cli("db:check", str(dirty), "--no-cache", "--format", "json")
    assert code == 1 and json.loads(out)["summary"]["total"] == 1
    assert run_cli("check", str(dirty), "--no-cache", "--exit-zero")[0] == 0
    out_file = tmp_path / "report.json"
    assert run_cli("check", str(clean), "--no-cache", "--format", "json", "-o", str(out_file))[0] == 0
    assert json.loads(out_file.read_text())["findings"] == []  # -o is always written
    assert "MDB301" in run_cli("rules")[1]
    code, out, _ = run_cli("explain", "mdb301")
    assert code == 0 and "## Why is this bad?" in out
    assert run_cli("explain", "MDB777")[0] == 2
    assert run_cli("check", str(tmp_path / "missing"))[0] == 2


def test_several_project_roots_in_one_run(tmp_path):
    make(tmp_path / "one", {"shop/models.py": MODELS, "shop/views.py": LOOP.format("")})
    make(tmp_path / "two", {"shop/models.py": MODELS, "shop/views.py": LOOP.format("")})
    result = check_paths([str(tmp_path)], CheckOptions(use_cache=False, jobs=1))
    assert len(result.projects) == 2 and len(result.findings) == 2  # nested configs: one project each
    result = check_paths([str(tmp_path / "one"), str(tmp_path / "two")], CheckOptions(use_cache=False, jobs=1))
    assert len(result.projects) == 2 and len(result.findings) == 2


def test_check_does_not_import_heavy_modules(tmp_path):
    root = make(tmp_path, {"shop/models.py": MODELS, "shop/views.py": LOOP.format("")})
    code = ("import sys; from mandu_lint.cli import main; main(['check', %r, '--no-cache']); "
            "print(sorted(m for m in ('libcst', 'sqlglot', 'astroid') if m in sys.modules))" % str(root))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert out.strip().endswith("[]")


def test_pep263_encoding_and_character_columns(tmp_path):
    src = "# -*- coding: latin-1 -*-\nfrom shop.models import Book\n\n\ndef f(ids):\n    for i in ids:\n" \
          "        x = 'é'; Book.objects.get(pk=i)\n"
    root = make(tmp_path, {"shop/models.py": MODELS})
    (root / "shop/views.py").write_bytes(src.encode("latin-1"))
    _, result = lines_of(root)
    (finding,) = result.findings
    assert finding.span.col == len("        x = 'é'; ")


class WholeProject(ProjectRule):
    """## What it does\nReports the first line of every `seeds.py` (test only)."""

    code = "MDB982"
    name = "project-level-test"
    summary = "Project-level test rule"
    default = False

    def check(self):
        for rel in self.project.relfiles:
            if rel.endswith("seeds.py"):
                self.report_at(rel, 1, "seed script found", node_text=rel)


def test_project_level_rules_are_anchored_and_honour_noqa(tmp_path):
    root = make(tmp_path, {"a/seeds.py": "x = 1\n", "b/seeds.py": "x = 1  # noqa: MDB982\n", "c/other.py": ""})
    rules.register(WholeProject)
    try:
        found, result = lines_of(root, extend_select=["MDB982"])
        assert found == [("a/seeds.py", 1, "MDB982")]
        assert result.findings[0].fingerprint
        assert "MDB982" in result.rules and result.rules["MDB982"].project_level
        from mandu_lint.integrations.flake8_plugin import choose_rules
        from mandu_lint.config import load_settings
        assert WholeProject not in choose_rules(load_settings(None, root), ["MDB982"])  # CLI only
    finally:
        rules.unregister(WholeProject)


def test_model_identifiers_must_be_unique_or_qualified(tmp_path):
    two = MODELS + "\n"
    root = make(tmp_path, {"shop/models.py": two, "blog/models.py": two},
                config="tenant:\n  models:\n    - Author\n    - Athor\n    - shop.Book\n")
    code, _, err = run_cli("check", str(root), "--no-cache")
    assert code == 2
    assert "mandu.yaml:3: tenant.models: model 'Author' is ambiguous: blog.Author, shop.Author" in err
    assert "mandu.yaml:4" in err and "'Athor'" in err
    assert "shop.Book" not in err  # app_label.Model picks one


def test_cache_invalidation_follows_callers(tmp_path):
    """A helper's findings can depend on its callers (is it always called inside a
    transaction?): editing only the caller must re-check the helper."""
    helper = ("from shop.models import Author, Book\n\n\ndef both(a):\n    Author.objects.create(name=a)\n"
              "    Book.objects.create(author_id=1)\n")
    caller = "from django.db import transaction\nfrom shop.helpers import both\n\n\ndef view(a):\n    both(a)\n"
    root = make(tmp_path, {"shop/models.py": MODELS, "shop/helpers.py": helper, "shop/views.py": caller,
                           "shop/settings.py": "DATABASES = {'default': {}}\n"})
    project = __import__("mandu_lint.project.build", fromlist=["Project"])
    from mandu_lint.config import load_settings
    p = project.Project(root, load_settings(root / "mandu.yaml", root), use_cache=True)
    before = p.dep_digest("shop/helpers.py")
    (root / "shop/views.py").write_text(caller.replace("    both(a)", "    with transaction.atomic():\n"
                                        "        both(a)"))
    p2 = project.Project(root, load_settings(root / "mandu.yaml", root), use_cache=True)
    assert p2.dep_digest("shop/helpers.py") != before
