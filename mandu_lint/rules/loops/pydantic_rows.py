"""Pydantic response models as per-row contexts (FastAPI and friends).

A schema validated from ORM rows (``from_attributes``) reads one attribute per field: a field
named like a relation of the row's model loads that relation, and a nested schema reads the
related row's relations in turn. Done once per row, that is N+1:

- ``[BookOut.model_validate(b) for b in rows]``, ``BookOut.from_orm(b)`` inside a loop
  (:func:`validate_call`);
- a FastAPI route declaring ``response_model=list[BookOut]`` (or ``-> list[BookOut]``) that
  returns the rows of a query (:func:`route_schema`).

A schema's fields are read from its class bodies (the project classes of its MRO): the
annotation of each field gives the nested schema (``AuthorOut``, ``list[TagOut]``,
``Optional[...]``, ``"AuthorOut"``). Django relations count only when to-one (a Django related
manager is not a list pydantic validates); unknown annotations nest nothing.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from ...core.tags import TK
from ...model import Location, Span

SCHEMA_BASES = frozenset({"pydantic.BaseModel", "pydantic.main.BaseModel", "sqlmodel.SQLModel",
                          "sqlmodel.main.SQLModel"})
VALIDATE = frozenset({"model_validate", "from_orm"})
ROUTES = frozenset({"get", "post", "put", "patch", "delete", "api_route"})
_WRAPPERS = frozenset({"Optional", "Annotated", "Union", "Mapped"})
_LISTS = frozenset({"list", "List", "Sequence", "Set", "set", "Iterable", "tuple", "Tuple", "FrozenSet", "frozenset"})
MAX_DEPTH = 3


@dataclass(frozen=True)
class SchemaField:
    name: str
    nested: Optional[str]  # qual of a nested schema class, when the annotation names one
    line: int
    path: str  # file holding the field


@dataclass(frozen=True)
class SchemaRead:
    names: Tuple[str, ...]
    where: str
    location: Location


def is_schema(index, qual: Optional[str]) -> bool:
    return bool(qual) and qual in index.classes and qual not in index.models and \
        any(a in SCHEMA_BASES for a in index.mro(qual))


def _class_node(ctx, qual: str) -> Optional[Tuple[ast.ClassDef, object]]:
    facts = ctx.index.owner(qual)
    if facts is None or not qual.startswith(facts.module + "."):
        return None
    memo = ctx.derived("loops.schema_trees", dict)
    if facts.path not in memo:
        tree = None
        try:
            with open(Path(ctx.project.root) / facts.path, encoding="utf-8", errors="replace") as fh:
                tree = ast.parse(fh.read())
        except (OSError, SyntaxError, ValueError, RecursionError):
            tree = None
        memo[facts.path] = tree
    tree = memo[facts.path]
    body = tree.body if tree is not None else []
    node = None
    for part in qual[len(facts.module) + 1:].split("."):
        node = next((n for n in body if isinstance(n, ast.ClassDef) and n.name == part), None)
        if node is None:
            return None
        body = node.body
    return node, facts


def _ann_name(node: Optional[ast.AST]) -> Optional[str]:
    """The class an annotation names, wrappers and containers peeled: ``Optional[list["A"]]`` → A."""
    for _ in range(8):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            try:
                node = ast.parse(node.value, mode="eval").body
            except SyntaxError:
                return None
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            left = node.left
            node = node.right if isinstance(left, ast.Constant) and left.value is None else left
        elif isinstance(node, ast.Subscript):
            head = node.value.attr if isinstance(node.value, ast.Attribute) else getattr(node.value, "id", "")
            if head not in _WRAPPERS and head not in _LISTS:
                return None
            args = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            node = next((a for a in args if not (isinstance(a, ast.Constant) and a.value is None)), None)
        elif isinstance(node, ast.Name):
            return node.id
        elif isinstance(node, ast.Attribute):
            parts = []
            while isinstance(node, ast.Attribute):
                parts.append(node.attr)
                node = node.value
            return ".".join([node.id] + parts[::-1]) if isinstance(node, ast.Name) else None
        else:
            return None
    return None


def _resolve(ctx, facts, name: str) -> Optional[str]:
    head, _, rest = name.partition(".")
    base = facts.names.get(head)
    if base is None:
        base = f"{facts.module}.{head}"
    qual = ctx.index.canonical(f"{base}.{rest}" if rest else base)
    return qual if qual in ctx.index.classes else None


def schema_fields(ctx, qual: str) -> Dict[str, SchemaField]:
    memo = ctx.derived("loops.schema_fields", dict)
    if qual in memo:
        return memo[qual]
    out: Dict[str, SchemaField] = {}
    for c in reversed(ctx.index.mro(qual)):
        found = _class_node(ctx, c) if c in ctx.index.classes else None
        if found is None:
            continue
        node, facts = found
        for s in node.body:
            if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name) and not s.target.id.startswith("_"):
                if _class_var(s.annotation):
                    continue
                name = _ann_name(s.annotation)
                nested = _resolve(ctx, facts, name) if name else None
                out[s.target.id] = SchemaField(s.target.id, nested if is_schema(ctx.index, nested) else None,
                                               s.lineno, facts.path)
    memo[qual] = out
    return out


def _class_var(ann: ast.AST) -> bool:
    head = ann.value if isinstance(ann, ast.Subscript) else ann
    return getattr(head, "id", getattr(head, "attr", "")) == "ClassVar"


def schema_reads(ctx, schema: str, model: str, prefix: Tuple[str, ...] = (), depth: int = 0,
                 seen: Tuple[str, ...] = ()) -> List[SchemaRead]:
    """Relation paths of ``model`` that validating ``schema`` from a row reads."""
    m = ctx.index.models.get(model)
    if m is None or depth > MAX_DEPTH or schema in seen:
        return []
    out: List[SchemaRead] = []
    short = schema.rsplit(".", 1)[-1]
    for name, f in schema_fields(ctx, schema).items():
        rel = m.relations.get(name)
        if rel is None or (m.orm == "django" and rel.to_many):
            continue
        names = prefix + (name,)
        where = f"field `{name}` of `{short}`"
        loc = Location(str(Path(ctx.project.root) / f.path), Span(f.line, 0, f.line, 0), f"{where} reads `{name}`")
        out.append(SchemaRead(names, where, loc))
        if f.nested is not None:
            out.extend(schema_reads(ctx, f.nested, rel.target, names, depth + 1, seen + (schema,)))
    return out


def validate_call(ctx, call: ast.Call) -> Optional[Tuple[str, ast.AST]]:
    """(schema qual, the row argument) of ``Schema.model_validate(row)``/``Schema.from_orm(row)``."""
    f = call.func
    if not isinstance(f, ast.Attribute) or f.attr not in VALIDATE or not call.args:
        return None
    t = ctx.type_of(f.value)
    if t is None or t[0] != TK.CLASS or not is_schema(ctx.index, t[1]):
        return None
    return t[1], call.args[0]


def route_schema(ctx, func: ast.AST) -> Optional[str]:
    """The item schema of a FastAPI-style route answering a list: ``response_model=list[S]`` on
    its route decorator, or ``-> list[S]`` when no ``response_model`` is given."""
    if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    for d in func.decorator_list:
        if not (isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr in ROUTES):
            continue
        model = next((k.value for k in d.keywords if k.arg == "response_model"), None)
        if model is None:
            model = func.returns
        return _list_of(ctx, model)
    return None


def _list_of(ctx, node: Optional[ast.AST]) -> Optional[str]:
    if not isinstance(node, ast.Subscript):
        return None
    head = node.value.attr if isinstance(node.value, ast.Attribute) else getattr(node.value, "id", "")
    if head not in ("list", "List", "Sequence"):
        return None
    item = node.slice
    if isinstance(item, ast.Constant) and isinstance(item.value, str):
        return None
    t = ctx.type_of(item)
    return t[1] if t is not None and t[0] == TK.CLASS and is_schema(ctx.index, t[1]) else None
