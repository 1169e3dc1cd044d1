"""semgrep-style annotations for fixture projects.

A line is annotated by a trailing comment, or by a comment alone on the line above it:

- ``# ruleid: MDB301`` the rule must report this line;
- ``# ok: MDB301`` it must stay silent here;
- ``# todoruleid: MDB301`` a known gap: it does not report yet (the test fails once it does, so
  the annotation gets promoted);
- ``# todook: MDB301`` a known false positive: it still reports here.

Every finding in a fixture project must be annotated ``ruleid`` or ``todook``: an unexpected
finding fails the test, which is how precision regressions show up.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, Set, Tuple

ANNOTATION = re.compile(r"#\s*(ruleid|ok|todoruleid|todook):\s*([A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)")

Key = Tuple[str, int, str]  # (path relative to the project, line, code)


def read_annotations(project: Path) -> Dict[str, Set[Key]]:
    out: Dict[str, Set[Key]] = {"ruleid": set(), "ok": set(), "todoruleid": set(), "todook": set()}
    for path in sorted(project.rglob("*")):
        if path.suffix not in (".py", ".yaml", ".yml") or path.name == "mandu.yaml":
            continue  # YAML fixture files (MDB610) are annotated like code
        rel = path.relative_to(project).as_posix()
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, text in enumerate(lines, start=1):
            m = ANNOTATION.search(text)
            if not m:
                continue
            target = i
            if text.strip().startswith("#"):  # a comment alone: annotates the next code line
                target = i + 1
                while target <= len(lines) and lines[target - 1].strip().startswith("#"):
                    target += 1
            for code in re.split(r"\s*,\s*", m.group(2)):
                out[m.group(1)].add((rel, target, code))
    return out
