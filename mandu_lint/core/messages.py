"""Short renderings of code for finding messages, shared by every rule family."""
from __future__ import annotations

import ast

# Builtins that evaluate their argument: ``len(a.books.all())`` keeps the argument so the
# message says what is counted.
BUILTIN_EVAL = frozenset({"list", "tuple", "set", "len", "sorted", "bool", "any", "all", "sum", "dict", "max",
                         "min"})


def short(node: ast.AST, limit: int = 60) -> str:
    """The node's source on one line, cut to ``limit`` characters with ``...``."""
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def brief(node: ast.AST, limit: int = 60) -> str:
    """Source text with call arguments elided: ``Book.objects.filter(…).count()``."""
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name) and node.args and node.func.id in BUILTIN_EVAL:
            return f"{node.func.id}({brief(node.args[0], limit)})"
        return brief(node.func, limit) + ("(…)" if node.args or node.keywords else "()")
    if isinstance(node, ast.Attribute):
        return f"{brief(node.value, limit)}.{node.attr}"
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Await):
        return brief(node.value, limit)
    return short(node, limit)


def callee(call: ast.Call) -> str:
    """The called expression, whole, with its own arguments elided: ``obj.save(…)``."""
    return " ".join(ast.unparse(call.func).split()) + "(…)"
