"""The package's layers, held: no import (lazy ones and ``TYPE_CHECKING`` ones included) points
to a higher layer, rule families never import each other, a family's ``__init__`` stays light,
and there is no import cycle.

The layer order is written once, in ``docs/architecture.md`` between the ``layers`` markers;
this test reads it from there. Stdlib only.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, List, Set, Tuple

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "mandu_lint"
DOC = ROOT / "docs" / "architecture.md"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> Dict[str, Path]:
    return {module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def families() -> List[str]:
    return sorted(p.parent.name for p in (PKG / "rules").glob("*/__init__.py"))


def imports_of(name: str, path: Path, known: Set[str]) -> List[Tuple[str, int]]:
    """Every project module ``name`` imports, wherever the statement is."""
    is_pkg = path.name == "__init__.py"
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names if a.name.split(".")[0] == "mandu_lint"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "mandu_lint":
                continue
            for alias in node.names:  # ``from . import tenant`` imports the submodule
                sub = f"{target}.{alias.name}"
                out.append((sub if sub in known else target, node.lineno))
    return out


def graph() -> Dict[str, List[Tuple[str, int]]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(name, path, known) for name, path in mods.items()}


def layer_table(text: str) -> List[Tuple[str, List[str]]]:
    block = text.split("<!-- layers: begin -->", 1)[1].split("<!-- layers: end -->", 1)[0]
    rows = []
    for line in block.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[1].startswith("`"):
            rows.append((cells[0], re.findall(r"`([^`]+)`", cells[1])))
    return rows


def _matches(pattern: str, name: str, fams: List[str]) -> bool:
    if "<family>" in pattern:
        return any(_matches(pattern.replace("<family>", f), name, fams) for f in fams)
    if pattern.endswith(".*"):
        return name.startswith(pattern[:-1])
    return name == pattern


def layer_of(name: str, table, fams: List[str]) -> int:
    """Index of the layer whose most specific pattern matches ``name``."""
    best, best_len = -1, -1
    for i, (_, patterns) in enumerate(table):
        for p in patterns:
            if _matches(p, name, fams):
                length = len(p.replace("<family>", "x")) + (0 if p.endswith(".*") else 1000)
                if length > best_len:
                    best, best_len = i, length
    return best


def family_of(name: str, fams: List[str]):
    parts = name.split(".")
    if len(parts) >= 3 and parts[:2] == ["mandu_lint", "rules"] and parts[2] in fams:
        return parts[2]
    return None


def violations(g: Dict[str, List[Tuple[str, int]]], table, fams: List[str]) -> List[str]:
    out = []
    for name, imports in sorted(g.items()):
        mine = layer_of(name, table, fams)
        if mine < 0:
            out.append(f"{name}: in no layer of docs/architecture.md")
            continue
        for target, line in imports:
            theirs = layer_of(target, table, fams)
            if theirs > mine:
                out.append(f"{name}:{line} imports {target}: layer '{table[theirs][0]}' is above "
                           f"'{table[mine][0]}'")
            fa, fb = family_of(name, fams), family_of(target, fams)
            if fa and fb and fa != fb:
                out.append(f"{name}:{line} imports {target}: rule families never import each other")
    return out


def cycles(g: Dict[str, List[Tuple[str, int]]]) -> List[List[str]]:
    """Strongly connected components of more than one module (Tarjan), or self-imports."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on: Set[str] = set()
    found: List[List[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w, _ in g.get(v, ()):
            if w == v or w not in g:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return found


def _ancestors_ok(g, name: str) -> Dict[str, List[Tuple[str, int]]]:
    """Importing ``a.b.c`` runs ``a/__init__`` and ``a.b/__init__`` too: a package's own
    modules importing their ancestor packages is how Python works, not a cycle."""
    return {k: [(t, ln) for t, ln in v if not k.startswith(t + ".")] for k, v in g.items()}


# -- the real tree ---------------------------------------------------------------------------
TABLE = layer_table(DOC.read_text(encoding="utf-8"))
FAMS = families()


def test_the_layer_table_is_written_in_the_docs():
    names = [n for n, _ in TABLE]
    assert len(names) >= 8 and len(set(names)) == len(names), names


def test_no_import_points_up_or_across_families():
    assert violations(graph(), TABLE, FAMS) == []


def test_no_import_cycles():
    assert cycles(_ancestors_ok(graph(), "")) == []


def test_family_inits_are_light():
    """The configuration loader imports every family's ``__init__``: it may import only the
    base layer (``options``, ``model``), so reading a config never imports a rule."""
    g = graph()
    base = TABLE[0][1]
    for fam in FAMS:
        for target, line in g[f"mandu_lint.rules.{fam}"]:
            assert any(_matches(p, target, FAMS) for p in base), f"rules/{fam}/__init__.py:{line} imports {target}"


def test_every_family_module_is_on_its_map():
    """Each family's ``__init__`` is its map: every module of the family is named in its
    docstring or is a rule module its ``RuleSpec`` entries point to."""
    for fam in FAMS:
        source = (PKG / "rules" / fam / "__init__.py").read_text()
        doc = ast.get_docstring(ast.parse(source)) or ""
        targets = {m + ".py" for m in re.findall(r'"(\w+):\w+"', source)}
        for path in sorted((PKG / "rules" / fam).glob("*.py")):
            if path.name != "__init__.py":
                assert path.name in doc or path.name in targets, f"rules/{fam}/__init__.py does not map {path.name}"


def test_architecture_doc_names_every_module_outside_the_families():
    text = DOC.read_text(encoding="utf-8")
    for name, path in modules().items():
        if family_of(name, FAMS) or path.name == "__init__.py" and name.count(".") >= 1:
            continue
        rel = path.relative_to(PKG).as_posix()
        assert f"`{rel}`" in text or f"`{path.name}`" in text, f"docs/architecture.md does not mention {rel}"
    for fam in FAMS:
        assert f"rules/{fam}/" in text, f"docs/architecture.md does not map the {fam} family"


# -- the checker catches what it must ---------------------------------------------------------
def _with(extra: Dict[str, List[str]]):
    g = {k: list(v) for k, v in graph().items()}
    for src, targets in extra.items():
        g[src] = g.get(src, []) + [(t, 999) for t in targets]
    return g


def test_an_upward_import_is_caught():
    found = violations(_with({"mandu_lint.core.refs": ["mandu_lint.engine"]}), TABLE, FAMS)
    assert any("mandu_lint.core.refs:999 imports mandu_lint.engine" in v and "above" in v for v in found), found


def test_a_lazy_import_counts(tmp_path):
    """Imports inside functions are read like module-level ones."""
    src = tmp_path / "mod.py"
    src.write_text("def f():\n    from mandu_lint import cli\n")
    assert imports_of("mandu_lint.core.mod", src, set(modules())) == [("mandu_lint.cli", 2)]


def test_a_cross_family_import_is_caught():
    found = violations(_with({"mandu_lint.rules.tenant.query": ["mandu_lint.rules.loops.per_row"]}), TABLE, FAMS)
    assert any("families never import each other" in v for v in found), found


def test_a_cycle_is_caught():
    g = _with({"mandu_lint.project.types": ["mandu_lint.project.index"]})
    assert ["mandu_lint.project.index", "mandu_lint.project.types"] in cycles(g)
