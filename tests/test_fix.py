"""The fix engine (``mandu-lint fix``) and the libcst codemod, driven by the test-only rules of
``tests/fixrule.py`` (registered per test, in this process: subprocess runs cannot see them)."""
from __future__ import annotations

import ast
import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mandu_lint import config
from mandu_lint.fixes.apply import apply_fixes, fix_paths, non_overlapping
from mandu_lint.model import Edit, Finding, Fix, FixSafety, Span
from mandu_lint.registry import register, unregister
from mandu_lint.rules.base import Rule
from mandu_lint.runner import CheckOptions, check_paths
from tests.fixrule import CODES, registered

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def proj(tmp_path, monkeypatch):
    """A project folder (its own mandu.yaml) as the cwd, with the test rules registered."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "mandu.yaml").write_text("")
    monkeypatch.chdir(root)
    config.clear_caches()
    with registered():
        yield root
    config.clear_caches()


def opts(**kw) -> CheckOptions:
    return CheckOptions(select=kw.pop("select", CODES), use_cache=False, jobs=1, **kw)


def run_fix(*, unsafe=False, diff=False, paths=(".",)):
    out = io.StringIO()
    code = fix_paths(list(paths), opts(), unsafe=unsafe, diff=diff, out=out)
    return code, out.getvalue()


def write(root: Path, text: str, name: str = "app.py") -> Path:
    path = root / name
    path.write_text(textwrap.dedent(text))
    return path


def codes_in(path: Path):
    return sorted(f.code for f in check_paths([str(path)], opts()).findings)


def test_safe_fix_applied_and_import_added_once(proj):
    app = write(proj, """\
        import os


        def f(a):
            return legacy_call(a) + legacy_call(os.sep)
        """)
    code, out = run_fix()
    text = app.read_text()
    assert "return modern_call(a) + modern_call(os.sep)" in text
    assert text.count("from mylib import modern_call") == 1
    assert text.startswith("import os\n\nfrom mylib import modern_call\n")  # isort: its own section
    assert "Fixed 2 findings in 1 file; 0 remain" in out
    assert code == 0


def test_existing_import_is_not_added_again(proj):
    app = write(proj, "from mylib import modern_call\n\nx = legacy_call(1)\n")
    run_fix()
    assert app.read_text() == "from mylib import modern_call\n\nx = modern_call(1)\n"


def test_comments_and_formatting_elsewhere_are_preserved(proj):
    before = textwrap.dedent("""\
        #!/usr/bin/env python
        '''Module doc.'''
        import os   # two spaces before this comment


        def f( a ,b ):  # odd spacing stays
            # a comment line
            s = 'single' ;  t = "double"
            x = legacy_call(a)   # end-of-line comment
            return [ x ,
                     s ]  # trailing
        """)
    app = write(proj, before)
    run_fix()
    expected = before.replace("import os   # two spaces before this comment\n",
                              "import os   # two spaces before this comment\n\nfrom mylib import modern_call\n")
    expected = expected.replace("x = legacy_call(a)", "x = modern_call(a)")
    assert app.read_text() == expected


def test_idempotent(proj):
    app = write(proj, "def f(a):\n    return legacy_call(legacy_call(a))\n")
    run_fix()
    once = app.read_bytes()
    code, out = run_fix()
    assert app.read_bytes() == once
    assert "Fixed 0 findings in 0 files; 0 remain" in out and code == 0


def test_fixed_finding_is_gone(proj):
    app = write(proj, "x = legacy_call(1)\ny = risky(2)\n")
    assert codes_in(app) == ["MDB990", "MDB991"]
    run_fix()
    assert codes_in(app) == ["MDB991"]


def test_unsafe_fix_needs_the_flag(proj):
    app = write(proj, "y = risky(2)\n")
    code, out = run_fix()
    assert app.read_text() == "y = risky(2)\n"
    assert "0 findings in 0 files; 1 remain (1 fixable with --unsafe-fixes)" in out and code == 1
    code, out = run_fix(unsafe=True)
    assert app.read_text() == "y = safe_version(2)\n"
    assert code == 0


def test_display_fix_is_never_applied(proj):
    app = write(proj, "z = shown(3)\n")
    code, out = run_fix(unsafe=True)
    assert app.read_text() == "z = shown(3)\n"
    assert code == 1 and "1 remain" in out and "--unsafe-fixes" not in out


def test_overlapping_edits_resolved_over_passes(proj):
    src = "v = legacy_call(legacy_call(legacy_call(1)))\n"
    app = write(proj, src)
    # One pass can only take the outermost edit: the inner ones overlap it.
    findings = check_paths([str(app)], opts()).findings
    assert len(non_overlapping(findings)) == 1
    one, applied, skipped = apply_fixes(src, findings, unsafe=False)
    assert one.endswith("v = modern_call(legacy_call(legacy_call(1)))\n") and len(skipped) == 2
    code, out = run_fix()
    assert app.read_text() == "from mylib import modern_call\n\nv = modern_call(modern_call(modern_call(1)))\n"
    assert "Fixed 3 findings" in out and code == 0


def test_noqa_finding_is_not_fixed(proj):
    src = "a = legacy_call(1)  # noqa: MDB990\nb = legacy_call(2)  # noqa\n"
    app = write(proj, src)
    assert codes_in(app) == []
    code, out = run_fix()
    assert app.read_text() == src and code == 0


def test_diff_writes_nothing_and_exits_1(proj, capsys):
    src = "x = legacy_call(1)\n"
    app = write(proj, src)
    code, out = run_fix(diff=True)
    assert app.read_text() == src
    assert code == 1
    assert out.startswith("--- a/app.py\n+++ b/app.py\n")
    assert "-x = legacy_call(1)\n" in out and "+x = modern_call(1)\n" in out
    assert "Would fix 1 finding in 1 file; 0 would remain" in capsys.readouterr().err


def test_diff_of_a_file_without_final_newline(proj):
    app = proj / "app.py"
    app.write_text("x = legacy_call(1)")
    code, out = run_fix(diff=True)
    assert "+x = modern_call(1)\n\\ No newline at end of file\n" in out and code == 1


def test_fix_that_creates_a_finding_is_rejected(proj):
    app = write(proj, "a = bad(1)\nb = legacy_call(2)\n")
    code, out = run_fix()
    # MDB992's fix would write legacy_call(1), a new MDB990: it is refused, the other applies.
    assert app.read_text() == "from mylib import modern_call\n\na = bad(1)\nb = modern_call(2)\n"
    assert codes_in(app) == ["MDB992"]
    assert "Fixed 1 finding in 1 file; 1 remain" in out and code == 1


def test_project_sees_the_fixed_text_not_a_rejected_candidate(proj):
    """Files fixed later in the run are checked against what this file will hold."""
    from mandu_lint.fixes.apply import fix_in_project

    app = write(proj, "a = bad(1)\nb = legacy_call(2)\n")
    projects: dict = {}
    result = check_paths(["."], opts(), projects_out=projects)
    project, sel = projects[str(proj)]
    new, applied, skipped = fix_in_project(project, sel, str(app), app.read_text(), result.findings,
                                           unsafe=False, encoding="utf-8")
    assert [f.code for f in applied] == ["MDB990"] and [f.code for f in skipped] == ["MDB992"]
    assert project.data("app.py") == new.encode()


def test_new_finding_check_compares_multisets(proj):
    """Two findings with the same text and scope: fixing one may not add a third."""
    src = "x = [legacy_call(1), legacy_call(1), bad(1)]\n"
    app = write(proj, src)
    run_fix()
    assert app.read_text().endswith("x = [modern_call(1), modern_call(1), bad(1)]\n")


def test_baselined_finding_is_not_fixed(proj):
    from mandu_lint import baseline

    app = write(proj, "def old():\n    return legacy_call(1)\n")
    baseline.write(check_paths(["."], opts()), proj / "baseline.json")
    app.write_text("def old():\n    return legacy_call(1)\n\n\ndef new():\n    return legacy_call(2)\n")
    out = io.StringIO()
    code = fix_paths(["."], opts(baseline=proj / "baseline.json"), unsafe=False, diff=False, out=out)
    assert app.read_text().endswith("def old():\n    return legacy_call(1)\n\n\ndef new():\n"
                                    "    return modern_call(2)\n")
    assert code == 0 and "Fixed 1 finding in 1 file; 0 remain" in out.getvalue()


def test_crlf_newlines_are_kept(proj):
    app = proj / "app.py"
    app.write_bytes(b"import os\r\n\r\ndef f(a):\r\n    return legacy_call(a)  # c\r\n")
    run_fix()
    data = app.read_bytes()
    assert data == (b"import os\r\n\r\nfrom mylib import modern_call\r\n\r\n"
                    b"def f(a):\r\n    return modern_call(a)  # c\r\n")


def test_statement_fix_keeps_crlf_and_comment(proj):
    app = proj / "app.py"
    app.write_bytes(b"def f(a):\r\n    old_stmt(a)  # why\r\n    return a\r\n")
    run_fix()
    assert app.read_bytes() == (b"from mylib import ctx\r\n\r\ndef f(a):\r\n    # why\r\n    with ctx():\r\n"
                                b"        new_stmt(a)\r\n    return a\r\n")


def test_statement_fix_that_cannot_fit_is_skipped(proj):
    src = "a = 1; old_stmt(a)\n"  # a `with` block cannot share a line with another statement
    app = write(proj, src)
    code, out = run_fix()
    assert app.read_text() == src and code == 1 and "Fixed 0 findings" in out


def test_latin1_file_round_trips(proj):
    app = proj / "app.py"
    src = "# -*- coding: latin-1 -*-\ns = 'café'; t = legacy_call(s)  # déjà\n"
    app.write_bytes(src.encode("latin-1"))
    code, out = run_fix()
    data = app.read_bytes()
    # libcst's AddImportsVisitor keeps one blank line between the imports and the code.
    assert data == src.replace("legacy_call", "modern_call").replace(
        "\ns =", "\nfrom mylib import modern_call\n\ns =").encode("latin-1")
    assert code == 0


def test_utf8_bom_is_kept(proj):
    app = proj / "app.py"
    app.write_bytes(b"\xef\xbb\xbfx = legacy_call('\xc3\xa9')\n")
    run_fix()
    assert app.read_bytes() == b"\xef\xbb\xbffrom mylib import modern_call\n\nx = modern_call('\xc3\xa9')\n"


# -- the splice itself (no checker: one pass over the given spans) ------------------------------
def _finding(span: Span, text: str, safety=FixSafety.SAFE) -> Finding:
    return Finding("MDB990", "m", "/x.py", span, fix=Fix(safety, "d", (Edit(span, text),)))


def test_loose_expression_gets_parentheses():
    new, applied, _ = apply_fixes("y = a * 2\n", [_finding(Span(1, 4, 1, 5), "b + c")], unsafe=False)
    assert new == "y = (b + c) * 2\n" and len(applied) == 1
    new, _, _ = apply_fixes("y = a\n", [_finding(Span(1, 4, 1, 5), "b + c")], unsafe=False)
    assert new == "y = b + c\n"


def test_tuple_span_includes_its_parentheses():
    # ast counts a tuple's own parentheses; libcst's position does not: both must match.
    new, applied, _ = apply_fixes("y = f((1, 2))\n", [_finding(Span(1, 6, 1, 12), "[1, 2]")], unsafe=False)
    assert new == "y = f([1, 2])\n" and len(applied) == 1
    new, _, _ = apply_fixes("y = ((a))\n", [_finding(Span(1, 6, 1, 7), "b")], unsafe=False)
    assert new == "y = ((b))\n"


def test_statement_replacement_keeps_surrounding_comments():
    src = "if a:\n    # above\n\n    x = 1  # end of line\n    z = 3\n"
    new, applied, _ = apply_fixes(src, [_finding(Span(4, 4, 4, 9), "y = 2")], unsafe=False)
    assert new == "if a:\n    # above\n\n    y = 2  # end of line\n    z = 3\n" and len(applied) == 1


def test_a_fix_that_would_not_parse_is_skipped():
    src = "x = 1\n"
    new, applied, skipped = apply_fixes(src, [_finding(Span(1, 0, 1, 1), "f(x)")], unsafe=False)
    assert new == src and applied == [] and len(skipped) == 1


def test_unmatched_span_is_skipped():
    src = "x = abc\n"
    new, applied, skipped = apply_fixes(src, [_finding(Span(1, 4, 1, 6), "zz")], unsafe=False)
    assert new == src and len(skipped) == 1


def test_display_and_unsafe_filtered_in_apply_fixes():
    src = "x = a\n"
    display = _finding(Span(1, 4, 1, 5), "b", FixSafety.DISPLAY)
    unsafe = _finding(Span(1, 4, 1, 5), "c", FixSafety.UNSAFE)
    assert apply_fixes(src, [display, unsafe], unsafe=False)[0] == src
    assert apply_fixes(src, [display], unsafe=True)[0] == src
    assert apply_fixes(src, [display, unsafe], unsafe=True)[0] == "x = c\n"


# -- codemod -------------------------------------------------------------------------------------
def test_codemod_applies_fixes_in_process(proj):
    import libcst as cst
    from libcst.codemod import CodemodContext

    from mandu_lint.fixes.codemod import ApplyFixes

    app = write(proj, "x = legacy_call(1)  # c\ny = risky(2)\n")
    tree = cst.parse_module(app.read_bytes())
    mod = ApplyFixes(CodemodContext(filename=str(app)), select=CODES).transform_module(tree)
    assert mod.code == "from mylib import modern_call\n\nx = modern_call(1)  # c\ny = risky(2)\n"
    mod = ApplyFixes(CodemodContext(filename=str(app)), unsafe_fixes=True, select=["MDB991"]).transform_module(tree)
    assert mod.code == "x = legacy_call(1)  # c\ny = safe_version(2)\n"


def test_codemod_through_the_libcst_tool(proj):
    """`python -m libcst.tool codemod -x mandu_lint.fixes.codemod.ApplyFixes` resolves the
    command and its arguments; the rules are registered in that process by a wrapper."""
    app = proj / "app.py"
    app.write_bytes("# -*- coding: latin-1 -*-\nx = legacy_call('é')\n".encode("latin-1"))
    wrapper = ("import sys; from tests.fixrule import registered; from libcst.tool import main\n"
               "with registered(): sys.exit(main('libcst.tool', sys.argv[1:]))")
    # The command must come before options that take values: libcst's first, partial parse
    # would take the value (here "1" or the codes) for the command name.
    cmd = [sys.executable, "-c", wrapper, "codemod", "-x", "mandu_lint.fixes.codemod.ApplyFixes", "--no-format",
           "-j", "1", "--hide-progress", "--select", ",".join(CODES), "app.py"]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run(cmd, cwd=proj, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    expected = "# -*- coding: latin-1 -*-\nfrom mylib import modern_call\n\nx = modern_call('é')\n"
    assert app.read_bytes() == expected.encode("latin-1")


# -- the CLI in another process -----------------------------------------------------------------
def test_cli_fix_diff_exit_codes(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    clean, broken = tmp_path / "clean", tmp_path / "broken"
    for root, src in ((clean, "def f(a):\n    return a\n"), (broken, "def f(:\n")):
        root.mkdir()
        (root / "mandu.yaml").write_text("")
        (root / "app.py").write_text(src)
    run = [sys.executable, "-m", "mandu_lint", "fix", "--diff", "--no-cache", "."]
    proc = subprocess.run(run, cwd=clean, env=env, capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stdout) == (0, ""), proc.stderr
    assert "Would fix 0 findings in 0 files; 0 would remain" in proc.stderr
    proc = subprocess.run(run, cwd=broken, env=env, capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stdout) == (1, ""), proc.stderr  # MDB000 remains, nothing to fix
    assert (broken / "app.py").read_text() == "def f(:\n"


def test_a_check_run_never_imports_libcst(tmp_path):
    (tmp_path / "mandu.yaml").write_text("")
    (tmp_path / "app.py").write_text("x = 1\n")
    code = ("import sys; from mandu_lint.cli import main; rc = main(['check', '--no-cache', '.']);"
            "sys.exit(3 if 'libcst' in sys.modules else rc)")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


class _RenamesToB(Rule):
    """## What it does\nFlags `a = 1`; its safe fix writes `b = 1` (test only)."""

    code = "MDB987"
    name = "renames-to-b-test"
    summary = "Test rule whose fix creates another finding"
    default = False
    fixable = True

    def visit_Assign(self, node):
        if isinstance(node.targets[0], ast.Name) and node.targets[0].id == "a":
            edit = Edit(self.ctx.span(node), "b = 1")
            self.report(node, "a is set", fix=Fix(FixSafety.SAFE, "rename", (edit,)))


class _FlagsB(Rule):
    """## What it does\nFlags `b = 1` (test only); a default rule nobody selected."""

    code = "MDB988"
    name = "flags-b-test"
    summary = "Test rule flagging b"
    default = True

    def visit_Assign(self, node):
        if isinstance(node.targets[0], ast.Name) and node.targets[0].id == "b":
            self.report(node, "b is set", confidence="medium")


def test_a_fix_creating_a_finding_of_an_unselected_rule_is_rejected(tmp_path):
    """The re-check runs every default rule at every confidence, not only the selected ones."""
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    (root / "app.py").write_text("a = 1\n")
    for rule in (_RenamesToB, _FlagsB):
        register(rule)
    try:
        config.clear_caches()
        fix_paths([str(root)], CheckOptions(use_cache=False, jobs=1, select=["MDB987"]), unsafe=False,
                  diff=False, out=io.StringIO())
    finally:
        for rule in (_RenamesToB, _FlagsB):
            unregister(rule)
    assert (root / "app.py").read_text() == "a = 1\n"
