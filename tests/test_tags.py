"""Tags are compared through ``core.tags`` names, never as bare literals: a misspelt literal
(``t[0] == "quersyet"``) is a comparison that is silently never true."""
from __future__ import annotations

import ast
from pathlib import Path

from mandu_lint.core import tags

PKG = Path(__file__).resolve().parent.parent / "mandu_lint"
VOCAB = tags.REF_TAGS | tags.TYPE_KINDS | tags.EVENT_KINDS


def bare_tag_comparisons(source: str):
    """(line, literal) of each tag literal compared with ``x[0]``."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        if not any(isinstance(s, ast.Subscript) and isinstance(s.slice, ast.Constant) and s.slice.value == 0
                   for s in sides):
            continue
        for s in sides:
            items = s.elts if isinstance(s, (ast.Tuple, ast.List, ast.Set)) else [s]
            literals = [i.value for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)]
            # a collection that also holds non-tags (``params[0] in ("self", "cls")``) is names
            if literals and all(v in VOCAB for v in literals):
                out += [(node.lineno, v) for v in literals]
    return out


def test_no_bare_tag_literal_in_comparisons():
    found = [f"{p.relative_to(PKG)}:{line}: {lit!r}" for p in sorted(PKG.rglob("*.py"))
             for line, lit in bare_tag_comparisons(p.read_text(encoding="utf-8"))]
    assert found == [], "compare with core.tags names (RT/TK/EV):\n" + "\n".join(found)


def test_the_check_catches_a_bare_literal():
    assert bare_tag_comparisons('if t[0] == "qs" or r[0] in ("a", "c"):\n    pass\n') == [(1, "qs"), (1, "a"), (1, "c")]
    assert bare_tag_comparisons("if t[0] == TK.QS:\n    pass\n") == []


def test_each_vocabulary_has_distinct_values():
    for ns in (tags.RT, tags.TK, tags.EV):
        values = [v for k, v in vars(ns).items() if k.isupper()]
        assert len(values) == len(set(values)), ns.__name__


def test_a_misspelt_name_fails_loudly():
    try:
        tags.TK.QUERYSET  # noqa: B018 - the point is that this raises
    except AttributeError:
        return
    raise AssertionError("a misspelt tag name must raise")
