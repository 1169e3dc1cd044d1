"""GlobSet follows gitignore semantics; each table row is (patterns, path, is_dir, expected)."""
from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from mandu_lint.globs import GlobSet, load_gitignore, pattern_error, rebase_patterns

CASES = [
    # "*" and "?" stay inside one segment
    (["src/*.py"], "src/a.py", False, True),
    (["src/*.py"], "src/sub/a.py", False, False),
    (["a?c"], "abc", False, True),
    (["a?c"], "a/c", False, False),
    (["a/b?"], "a/bc", False, True),
    (["a/b?"], "a/b", False, False),
    (["*"], "anything/deep/file.txt", False, True),
    # "**" crosses folders
    (["**/x.py"], "x.py", False, True),
    (["**/x.py"], "a/b/c/x.py", False, True),
    (["**/x.py"], "a/b/cx.py", False, False),
    (["a/**"], "a/b/c.py", False, True),
    (["a/**"], "a", True, False),
    (["a/**/b"], "a/b", False, True),
    (["a/**/b"], "a/x/y/b", False, True),
    (["a/**/b"], "a/x/yb", False, False),
    (["a**b"], "a/x/b", False, False),  # not a whole segment: a plain "*"
    (["a**b"], "axxb", False, True),
    # a slash-free pattern matches a basename at any depth
    (["conftest.py"], "conftest.py", False, True),
    (["conftest.py"], "pkg/sub/conftest.py", False, True),
    (["conftest.py"], "pkg/my_conftest.py", False, False),
    (["*.pyc"], "a/b/c.pyc", False, True),
    # a slash anywhere but the end anchors to the root
    (["/build"], "build", True, True),
    (["/build"], "build/x.o", False, True),
    (["/build"], "src/build/x.o", False, False),
    (["docs/api"], "docs/api/index.md", False, True),
    (["docs/api"], "site/docs/api/index.md", False, False),
    # a trailing slash matches directories only (and what is under them)
    (["tests/"], "tests", True, True),
    (["tests/"], "tests", False, False),
    (["tests/"], "pkg/tests/test_a.py", False, True),
    (["tests/"], "pkg/tests.py", False, False),
    (["tests/"], "tests/", False, True),  # a trailing slash in the path means a directory
    # a pattern matching a directory matches everything under it
    (["vendor"], "vendor/lib/x.py", False, True),
    (["a/b"], "a/b/c/d.py", False, True),
    # negation: the last matching pattern wins
    (["*.log", "!keep.log"], "x/keep.log", False, False),
    (["*.log", "!keep.log"], "x/other.log", False, True),
    (["!keep.log", "*.log"], "keep.log", False, True),
    (["tests/*", "!tests/keep.py"], "tests/keep.py", False, False),
    (["tests/*", "!tests/keep.py"], "tests/drop.py", False, True),
    # ... but nothing under an excluded directory comes back, as in git
    (["tests/", "!tests/keep.py"], "tests/keep.py", False, True),
    (["build/", "!build/"], "build/x", False, False),
    # character classes never match "/"; "!" or "^" negates them
    (["file[0-9].txt"], "file7.txt", False, True),
    (["file[0-9].txt"], "filex.txt", False, False),
    (["file[!0-9].txt"], "filex.txt", False, True),
    (["a[/]b"], "a/b", False, False),
    (["a[!x]b"], "a/b", False, False),
    (["[unclosed"], "[unclosed", False, True),
    # escapes, odd inputs
    (["\\!important"], "!important", False, True),
    (["\\#hash"], "#hash", False, True),
    (["a.py"], "./a.py", False, True),
    (["a.py"], "xa.py", False, False),
    (["*.py"], "", False, False),
    (["*.py   "], "x.py", False, True),  # trailing spaces are ignored
    (["a\\ "], "a ", False, True),  # unless escaped
]


@pytest.mark.parametrize("patterns,path,is_dir,expected", CASES)
def test_match(patterns, path, is_dir, expected):
    assert GlobSet(patterns).match(path, is_dir=is_dir) is expected


@pytest.mark.parametrize("patterns,path,is_dir,expected", CASES)
def test_cached_directory_verdicts_do_not_change_answers(patterns, path, is_dir, expected):
    globs = GlobSet(patterns)
    for probe in ("a/b/c.py", "tests/x.py", "x/y/z", path):  # warm the directory cache
        globs.match(probe)
    assert globs.match(path, is_dir=is_dir) is expected


def test_match_dir_and_pathlike():
    globs = GlobSet(["migrations/"])
    assert globs.match_dir("app/migrations")
    assert not globs.match_dir("app/models")
    assert globs.match(PurePosixPath("app/migrations/0001_initial.py"))


def test_bool_and_blank_patterns():
    assert not GlobSet([])
    assert not GlobSet(["", "   ", "/"])
    assert GlobSet(["x"])
    assert not GlobSet([]).match("anything")


def test_invalid_pattern_is_reported_not_matched():
    assert pattern_error("ok/*.py") is None
    assert "backslash" in pattern_error("bad\\")
    assert pattern_error("[z-a]") is not None
    with pytest.raises(ValueError):
        GlobSet(["[z-a]"])


def test_many_paths_fast_enough():
    globs = GlobSet(["tests/", "**/migrations/", "*.pyc", "!keep.pyc", "/build", "a/**/b"])
    paths = [f"pkg{i % 50}/mod{i % 7}/file{i}.py" for i in range(20000)]
    assert sum(globs.match(p) for p in paths) == 0
    assert globs.match("pkg1/migrations/0001.py")


def test_load_gitignore(tmp_path: Path):
    (tmp_path / ".gitignore").write_text(
        "# comment\n\n*.pyc\n   \n/build/\n!keep.pyc\n\\#literal\nbad\\\ntrail   \n",
        encoding="utf-8",
    )
    assert load_gitignore(tmp_path) == ["*.pyc", "/build/", "!keep.pyc", "\\#literal", "trail"]


def test_load_gitignore_never_raises(tmp_path: Path):
    assert load_gitignore(tmp_path) == []  # missing
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / ".gitignore").mkdir()  # a directory, not a file
    assert load_gitignore(tmp_path / "dir") == []
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / ".gitignore").write_bytes(b"\xff\xfe*.o\n")
    assert load_gitignore(tmp_path / "bin") == ["\ufffd\ufffd*.o"]


@pytest.mark.parametrize(
    "pattern,path,expected",
    [
        ("*.log", "sub/dir/deep/x.log", True),
        ("*.log", "x.log", False),  # outside the sub folder
        ("/only", "sub/dir/only", True),
        ("/only", "sub/dir/deep/only", False),
        ("data/", "sub/dir/a/data/f", True),
        ("**/gen", "sub/dir/gen", True),
    ],
)
def test_rebase_patterns(pattern, path, expected):
    assert GlobSet(rebase_patterns([pattern], "sub/dir")).match(path) is expected


def test_rebase_keeps_negation_order():
    patterns = ["*.log"] + rebase_patterns(["!keep.log"], "sub")
    globs = GlobSet(patterns)
    assert not globs.match("sub/keep.log")
    assert globs.match("other/keep.log")
