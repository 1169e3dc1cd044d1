"""Static reading of migration source with the stdlib ``ast``: literals, dotted names, call
arguments bound to parameter names, module/class assignments.

Migration files are code, never data: nothing here imports or evaluates them. What is not a
literal stays an expression (its source text), so callers can tell "absent" from "present but
unknown".
"""
from __future__ import annotations

import ast
from typing import Dict, Iterable, List, Optional, Sequence, Tuple


class _NotLiteral:
    """Marker for "this expression is not a literal": distinct from a literal ``None``."""

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return "NOT_LITERAL"

    def __bool__(self) -> bool:
        return False


NOT_LITERAL = _NotLiteral()


def literal(node: Optional[ast.AST]):
    """The value of a literal expression (strings, numbers, None, bools, and containers of
    them), else ``NOT_LITERAL``."""
    if node is None:
        return NOT_LITERAL
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("set", "frozenset")
            and len(node.args) <= 1 and not node.keywords):  # ``set([...])``, as old makemigrations wrote
        inner = literal(node.args[0]) if node.args else ()
        try:
            return NOT_LITERAL if inner is NOT_LITERAL else set(inner)
        except TypeError:
            return NOT_LITERAL
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return NOT_LITERAL


def str_value(node: Optional[ast.AST]) -> Optional[str]:
    value = literal(node)
    return value if isinstance(value, str) else None


def dotted(node: Optional[ast.AST]) -> Optional[str]:
    """``models.CharField`` for an ``Attribute``/``Name`` chain, else None."""
    parts: List[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def call_name(node: ast.AST) -> Optional[str]:
    """The dotted name a call invokes (``migrations.AddField``), else None."""
    return dotted(node.func) if isinstance(node, ast.Call) else None


def last_part(name: Optional[str]) -> str:
    return name.rsplit(".", 1)[-1] if name else ""


def text(node: Optional[ast.AST]) -> Optional[str]:
    return ast.unparse(node) if node is not None else None


def bind(call: ast.Call, params: Sequence[str]) -> Tuple[Dict[str, ast.AST], bool]:
    """Bind a call's arguments to parameter names (positional in ``params`` order, then
    keywords). The flag is False when ``*args``/``**kwargs`` make the binding incomplete."""
    bound: Dict[str, ast.AST] = {}
    complete = True
    for position, arg in enumerate(call.args):
        if isinstance(arg, ast.Starred):
            complete = False
            break
        if position < len(params):
            bound[params[position]] = arg
        else:
            bound.setdefault("*", ast.Tuple(elts=[], ctx=ast.Load())).elts.append(arg)
    for keyword in call.keywords:
        if keyword.arg is None:
            complete = False
        else:
            bound[keyword.arg] = keyword.value
    return bound, complete


def extra_positional(bound: Dict[str, ast.AST]) -> List[ast.AST]:
    """Positional arguments beyond the declared parameters (``create_table``'s columns)."""
    extra = bound.get("*")
    return list(extra.elts) if isinstance(extra, ast.Tuple) else []


def named_assignment(stmt: ast.stmt) -> Optional[Tuple[str, Optional[ast.AST], Optional[ast.AST]]]:
    """(name, value, annotation) of ``name = value`` or ``name: T [= value]`` (value None when
    the annotation stands alone), else None."""
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        return stmt.targets[0].id, stmt.value, None
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return stmt.target.id, stmt.value, stmt.annotation
    return None


def assignments(body: Iterable[ast.stmt]) -> Dict[str, Tuple[ast.AST, int]]:
    """Simple ``name = value`` / ``name: T = value`` statements of a body, last one winning."""
    found: Dict[str, Tuple[ast.AST, int]] = {}
    for stmt in body:
        got = named_assignment(stmt)
        if got is not None and got[1] is not None:
            found[got[0]] = (got[1], stmt.lineno)
    return found


def find_class(tree: ast.Module, name: str) -> Optional[ast.ClassDef]:
    for stmt in tree.body:
        if isinstance(stmt, ast.ClassDef) and stmt.name == name:
            return stmt
    return None


def find_function(tree: ast.Module, name: str) -> Optional[ast.FunctionDef]:
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == name:
            return stmt  # type: ignore[return-value]
    return None


def string_list(node: Optional[ast.AST]) -> Optional[Tuple[str, ...]]:
    """``["a", "b"]`` / ``("a",)`` / ``"a"`` as a tuple of strings; None when not literal."""
    value = literal(node)
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def parse(source: str, filename: str = "<migration>") -> Optional[ast.Module]:
    """The tree, tolerant of syntax newer than the running Python (``core.source``), or None."""
    from ...core.source import parse_tree

    try:
        return parse_tree(source, filename)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
