"""Keep code snippets in Markdown docs identical to the code they were taken from.

A snippet is a fenced code block right after a marker naming its source region:

    <!-- snippet: examples/crud_app/tasks/repository.py#OrganizationRepository.board -->
    ```python
    ...the source of that method...
    ```

The region is a dotted name of a function or class in a Python file (decorators included,
dedented), or the whole file when there is no ``#``. Paths are relative to the root folder.
Relative Markdown links in the checked files must resolve, too.

    python -m mandu_lint.docs_check                 # check docs/, examples/, README.md; exit 1 on drift
    python -m mandu_lint.docs_check --write         # rewrite every snippet from its source
    python -m mandu_lint.docs_check --root DIR PATH...
"""
from __future__ import annotations

import argparse
import ast
import difflib
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional

MARKER = re.compile(r"^<!--\s*snippet:\s*(?P<path>[^#\s]+)(?:#(?P<region>[\w.]+))?\s*-->\s*$")
FENCE = re.compile(r"^(?P<fence>```+|~~~+)(?P<lang>[\w+-]*)\s*$")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\((?P<target>[^)\s#]+)(?:#[^)]*)?\)")


class SnippetError(Exception):
    """The marker names a file or region that does not exist, or no fenced block follows it."""


@dataclass
class Snippet:
    doc: Path
    line: int          # 1-based line of the marker
    source: str        # as written in the marker
    region: Optional[str]
    start: int         # index of the first content line (after the opening fence)
    end: int           # index of the closing fence
    text: str


def region_text(root: Path, source: str, region: Optional[str]) -> str:
    path = root / source
    if not path.is_file():
        raise SnippetError(f"no such file: {source}")
    text = path.read_text(encoding="utf-8")
    if not region:
        return text.rstrip("\n") + "\n"
    node = _find(ast.parse(text).body, region.split("."))
    if node is None:
        raise SnippetError(f"no function or class `{region}` in {source}")
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    lines = text.splitlines()[first - 1:node.end_lineno]
    return textwrap.dedent("\n".join(lines)) + "\n"


def _find(body, names: List[str]):
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == names[0]:
            return node if len(names) == 1 else _find(node.body, names[1:])
    return None


def snippets(doc: Path) -> Iterator[Snippet]:
    lines = doc.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        marker = MARKER.match(line.strip())
        if not marker:
            continue
        fence = FENCE.match(lines[i + 1]) if i + 1 < len(lines) else None
        if not fence:
            raise SnippetError(f"{doc}:{i + 1}: a fenced code block must follow the snippet marker")
        close = next((j for j in range(i + 2, len(lines)) if lines[j].strip() == fence.group("fence")), None)
        if close is None:
            raise SnippetError(f"{doc}:{i + 1}: the code block is not closed")
        yield Snippet(doc, i + 1, marker.group("path"), marker.group("region"), i + 2, close,
                      "\n".join(lines[i + 2:close]) + "\n")


def broken_links(doc: Path, root: Path) -> List[str]:
    """Relative links whose target does not exist (external and anchor-only links are skipped)."""
    out = []
    in_code = False
    for n, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), start=1):
        if FENCE.match(line.strip()):
            in_code = not in_code
        if in_code:
            continue
        for m in LINK.finditer(line):
            target = m.group("target")
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (doc.parent / target).exists():
                out.append(f"{doc.relative_to(root)}:{n}: broken link `{target}`")
    return out


def check_doc(doc: Path, root: Path, write: bool) -> List[str]:
    problems, replacements = [], []
    for snip in snippets(doc):
        try:
            want = region_text(root, snip.source, snip.region)
        except SnippetError as exc:
            problems.append(f"{doc.relative_to(root)}:{snip.line}: {exc}")
            continue
        if want != snip.text:
            replacements.append((snip, want))
            if not write:
                diff = difflib.unified_diff(snip.text.splitlines(), want.splitlines(), "doc", "source", lineterm="")
                where = snip.source + (f"#{snip.region}" if snip.region else "")
                problems.append(f"{doc.relative_to(root)}:{snip.line}: snippet differs from {where}\n  "
                                + "\n  ".join(diff))
    if write and replacements:
        lines = doc.read_text(encoding="utf-8").splitlines()
        for snip, want in sorted(replacements, key=lambda r: -r[0].start):
            lines[snip.start:snip.end] = want.rstrip("\n").splitlines()
        doc.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return problems


def markdown_files(root: Path, paths: List[str]) -> List[Path]:
    out = []
    for p in paths or ["docs", "examples", "README.md"]:
        path = root / p
        out += sorted(path.rglob("*.md")) if path.is_dir() else [path] if path.is_file() else []
    return out


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mandu_lint.docs_check", description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="*", help="Markdown files or folders (default: docs/ examples/ README.md)")
    parser.add_argument("--root", default=".", help="folder the snippet paths are relative to")
    parser.add_argument("--write", action="store_true", help="rewrite drifted snippets from their sources")
    args = parser.parse_args(argv)
    root = Path(args.root).resolve()
    problems = []
    docs = markdown_files(root, args.paths)
    for doc in docs:
        try:
            problems += check_doc(doc, root, args.write) + broken_links(doc, root)
        except SnippetError as exc:
            problems.append(str(exc))
    for problem in problems:
        print(problem)
    count = sum(1 for d in docs for _ in snippets(d)) if not problems else None
    print(f"{len(problems)} problem(s)" if problems else f"{count} snippets in {len(docs)} files match their sources")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
