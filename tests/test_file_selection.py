"""Issue 12, item 7: which files are checked.

``non-app`` replaces the default globs with one warning naming those it drops, ``extend-non-app``
adds to them; an explicitly named symlinked folder or gitignored file is checked; a file or
folder that cannot be read is MDB002 with the reason. Synthetic projects only."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from mandu_lint import config
from mandu_lint.cli import main
from mandu_lint.runner import CheckOptions, check_paths

MODELS = "from django.db import models\n\n\nclass Book(models.Model):\n    title = models.CharField(max_length=9)\n"
LOOP = "from shop.models import Book\n\n\ndef f(ids):\n    for i in ids:\n        Book.objects.get(pk=i)\n"


@pytest.fixture
def proj(tmp_path: Path, monkeypatch) -> Path:
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    for rel, text in {"shop/__init__.py": "", "shop/models.py": MODELS, "shop/views.py": LOOP,
                      "tests/test_views.py": LOOP, "qa/check_views.py": LOOP}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    monkeypatch.chdir(root)
    config.clear_caches()
    yield root
    config.clear_caches()


def found(*paths, **kw):
    result = check_paths([str(p) for p in paths], CheckOptions(use_cache=False, jobs=1, **kw))
    cwd = Path.cwd()
    return sorted(os.path.relpath(f.path, cwd).replace(os.sep, "/") for f in result.findings), result


def test_non_app_replaces_the_defaults_with_one_warning(proj, capsys):
    (proj / "mandu.yaml").write_text("non-app: [qa/]\n")
    assert main(["check", ".", "--no-cache"]) == 1
    out, err = capsys.readouterr()
    assert "tests/test_views.py:6" in out and "qa/" not in out  # tests/ lost its default
    assert err.count("non-app replaces the default non-app globs") == 1
    assert "tests/, test/" in err and "extend-non-app" in err


def test_extend_non_app_adds_to_the_defaults(proj, capsys):
    (proj / "mandu.yaml").write_text("extend-non-app: [qa/]\n")
    assert found(proj)[0] == ["shop/views.py"]
    assert main(["check", ".", "--no-cache"]) == 1
    assert "non-app" not in capsys.readouterr().err
    (proj / "mandu.yaml").write_text("non-app: [qa/]\nextend-non-app: [tests/]\n")
    assert found(proj)[0] == ["shop/views.py"]


def test_show_settings_tells_replaced_defaults(proj, capsys):
    (proj / "mandu.yaml").write_text("non-app: [qa/]\n")
    assert main(["check", "--show-settings", "."]) == 0
    out = capsys.readouterr().out
    assert 'non-app = ["qa/"]  # replaces the defaults' in out and "extend-non-app = []" in out


def test_explicit_symlinked_folder_is_checked(proj, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "more.py").write_text(LOOP)
    (proj / "linked").symlink_to(outside, target_is_directory=True)
    (proj / "alias").symlink_to(proj / "shop", target_is_directory=True)
    assert found("linked")[0] == ["linked/more.py"]
    assert found("alias/")[0] == ["shop/views.py"]  # a link inside the project: its target's files
    assert "linked/more.py" not in found(".")[0]  # a walk does not follow links


def test_explicitly_named_gitignored_file_is_checked(proj):
    (proj / ".gitignore").write_text("generated/\nlocal_*.py\n")
    (proj / "generated").mkdir()
    (proj / "generated/views.py").write_text(LOOP)
    (proj / "local_views.py").write_text(LOOP)
    assert found(".")[0] == ["qa/check_views.py", "shop/views.py"]
    assert found("generated/views.py", "local_views.py")[0] == ["generated/views.py", "local_views.py"]
    (proj / "mandu.yaml").write_text("exclude: [local_views.py]\n")
    config.clear_caches()
    assert found("local_views.py")[0] == []  # `exclude` still wins


def test_unlistable_folder_is_mdb002(proj, monkeypatch, capsys):
    import mandu_lint.project.files as files

    real = os.walk

    def walk(top, onerror=None, **kw):
        for dirpath, dirnames, filenames in real(top, **kw):
            if os.path.basename(dirpath) == "shop" and onerror is not None:
                onerror(PermissionError(13, "Permission denied", dirpath))
                dirnames[:] = []
                continue
            yield dirpath, dirnames, filenames

    monkeypatch.setattr(files.os, "walk", walk)
    assert main(["check", ".", "--no-cache"]) == 2
    assert "shop:1:1: MDB002 file not checked: folder not read: cannot list: Permission denied" in \
        capsys.readouterr().out


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads every file")
def test_unreadable_file_reason_for_real(proj, capsys):
    (proj / "shop/views.py").chmod(0)
    try:
        assert main(["check", ".", "--no-cache"]) == 2
    finally:
        (proj / "shop/views.py").chmod(0o644)
    assert "views.py:1:1: MDB002 file not checked: cannot read: Permission denied" in capsys.readouterr().out
