"""Issue 12, item 2: input validated up front. Unknown codes and selectors are errors with a
"did you mean" (CLI and mandu.yaml), unknown/unused codes in ``# noqa`` are MDB003 findings
(tests in test_loud_failures.py), ``--jobs`` is range-checked, and flags that make no sense
together are usage errors. Synthetic projects only."""
from __future__ import annotations

from pathlib import Path

import pytest

from mandu_lint.cli import main
from mandu_lint.config import ConfigError, load_settings

VIEWS = "def f(ids):\n    return ids\n"


@pytest.fixture
def proj(tmp_path: Path, monkeypatch) -> Path:
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    (root / "app").mkdir()
    (root / "app/views.py").write_text(VIEWS)
    monkeypatch.chdir(root)
    return root


@pytest.mark.parametrize("args,fragment", [
    (["--select", "MDB999"], "--select MDB999: no rule code starts with MDB999"),
    (["--select", "XYZ"], "--select XYZ: not a mandu-lint code"),
    (["--select", "MDB31"], "did you mean MDB301?"),
    (["--extend-select", "MDB3011"], "--extend-select MDB3011"),
    (["--ignore", "MDB30l"], "--ignore MDB30L"),
    (["--ignore", "MDB002"], "MDB002 cannot be ignored"),
    (["--ignore", "MDB000"], "MDB000 cannot be ignored"),
])
def test_unknown_cli_selectors_exit_2(proj, capsys, args, fragment):
    assert main(["check", ".", "--no-cache", *args]) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err


@pytest.mark.parametrize("args", [["--select", "MDB3"], ["--select", "MDB"], ["--extend-select", "MDB105"],
                                  ["--ignore", "MDB0"], ["--select", "mdb301"], ["--select", "MDB003"]])
def test_valid_selectors_and_prefixes(proj, args):
    assert main(["check", ".", "--no-cache", *args]) == 0


@pytest.mark.parametrize("text,line,fragment", [
    ("select: [MDB999]\n", 1, "no rule code starts with MDB999"),
    ("select: [MDB31]\n", 1, "did you mean MDB301?"),
    ("extend-select:\n  - MDB301\n  - MDB3999\n", 3, "MDB3999"),
    ("ignore: [MDB001]\n", 1, "MDB001 cannot be ignored"),
    ('per-file-ignores:\n  "scripts/**": [MDB3, MDB777]\n', 2, "per-file-ignores.scripts/**: no rule code starts "
                                                               "with MDB777"),
])
def test_unknown_config_selectors_are_config_errors(tmp_path, text, line, fragment):
    (tmp_path / "mandu.yaml").write_text(text)
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path / "mandu.yaml", tmp_path)
    (problem,) = err.value.problems
    assert problem.line == line and fragment in str(problem)


def test_config_selectors_exit_2_through_the_cli(proj, capsys):
    (proj / "mandu.yaml").write_text("select: [MDB31]\n")
    assert main(["check", ".", "--no-cache"]) == 2
    assert "did you mean MDB301?" in capsys.readouterr().err


@pytest.mark.parametrize("value,ok", [("0", True), ("auto", True), ("3", True), ("512", True), ("-3", False),
                                      ("513", False), ("many", False)])
def test_jobs_range(proj, capsys, value, ok):
    code = main(["check", ".", "--no-cache", "--jobs", value])
    assert (code == 0) is ok
    if not ok:
        assert code == 2 and "--jobs" in capsys.readouterr().err


@pytest.mark.parametrize("args,fragment", [
    (["check", "--diff"], "--diff"),
    (["check", "--unsafe-fixes"], "--unsafe-fixes needs --fix"),
    (["check", "--sarif-fixes"], "--sarif-fixes"),
    (["check", "--sarif-fixes", "--format", "json"], "--sarif-fixes"),
    (["check", "--fix", "--sarif-fixes", "--format", "sarif"], "--sarif-fixes"),
])
def test_flags_that_make_no_sense_together(proj, capsys, args, fragment):
    assert main([*args, "--no-cache", "."]) == 2
    assert fragment in capsys.readouterr().err


def test_flags_that_do_make_sense(proj):
    assert main(["check", "--fix", "--diff", "--unsafe-fixes", "--no-cache", "."]) == 0
    assert main(["check", "--sarif-fixes", "--format", "sarif", "--no-cache", "."]) == 0
