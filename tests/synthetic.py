"""Helpers for tests that build a small synthetic project and check it: write the files (dedented)
under a VCS root with an empty ``mandu.yaml``, run the whole check, and find the lines a test
marks with a trailing comment (``# MDB302``)."""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Dict, List

from mandu_lint import config
from mandu_lint.runner import CheckOptions, check_paths, load_project


def write_project(tmp_path: Path, files: Dict[str, str], name: str = "p") -> Path:
    root = tmp_path / name
    (root / ".git").mkdir(parents=True)
    (root / "mandu.yaml").write_text("")
    for rel, src in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(src))
    config.clear_caches()
    return root


def check_all(root: Path):
    """Every finding down to ``medium`` confidence, without a cache."""
    return check_paths([str(root)], CheckOptions(use_cache=False, jobs=1, confidence="medium"))


def index_of(root: Path):
    return load_project(root, None, CheckOptions(use_cache=False, jobs=1)).index


def marked(root: Path, rel: str, tag: str) -> List[int]:
    """Lines of ``rel`` that end with ``tag``."""
    return [i + 1 for i, line in enumerate((root / rel).read_text().splitlines()) if line.endswith(tag)]


def lines_of(result, code: str, suffix: str) -> List[int]:
    """Sorted lines of ``code`` findings in files whose path ends with ``suffix``."""
    return sorted(f.span.line for f in result.findings if f.code == code and f.path.endswith(suffix))


def check_files(tmp_path: Path, files: Dict[str, str], *codes: str) -> set:
    """Write ``files`` as a project, run only the rules ``codes`` down to ``medium`` confidence,
    and return the findings as ``(file name, line, code)``."""
    root = write_project(tmp_path, files)
    result = check_paths([str(root)], CheckOptions(use_cache=False, jobs=1, confidence="medium", select=list(codes)))
    config.clear_caches()
    return {(f.path.rsplit("/", 1)[-1], f.span.line, f.code) for f in result.findings}
