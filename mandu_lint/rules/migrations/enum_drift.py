"""PostgreSQL enum types that drifted from the Python ``Enum`` a SQLAlchemy model maps (MDB601).

Alembic's autogenerate compares tables and columns, not the labels of a PostgreSQL ``ENUM``
type: adding a member to the Python ``Enum`` produces no migration, and the first write of it
fails with ``invalid input value for enum``. This module replays the labels each Alembic
environment gives every enum type and compares them with the models.

**Migrations** (each environment's revisions in replay order, ``upgrade()`` only):
``sa.Enum("a", "b", name="t")`` / ``postgresql.ENUM(...)`` with literal labels define ``t``;
``op.execute`` of a literal ``CREATE TYPE t AS ENUM (...)``, ``ALTER TYPE t ADD VALUE [IF NOT
EXISTS] 'x'``, ``ALTER TYPE t RENAME VALUE 'a' TO 'b'``, ``ALTER TYPE t RENAME TO u`` and ``DROP
TYPE t`` change it; ``op.sync_enum_values(..., "t", [...])`` (alembic-postgresql-enum) sets it.
An ``Enum`` whose labels come from a Python class, any other SQL naming the type, or a non-literal
``op.execute`` in a revision that mentions the type's name make the type unknown: silence.

**Models**: a column typed ``Enum(PyEnum, ...)`` (``sa.Enum``, ``postgresql.ENUM``) or
``Mapped[PyEnum]`` with no explicit type (SQLAlchemy 2 maps it to ``Enum(PyEnum)``). The type
name is ``name=`` or the class name lower-cased; the labels are the members' **names**, or their
values with ``values_callable=lambda e: [m.value for m in e]`` (another callable: unknown);
``native_enum=False`` is not a PostgreSQL type. Members are read from the project's class
(assignments that are not dunder, private or functions); a class that is not the project's, or
whose members are not literal, is unknown.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from . import pyast
from .judged import MigrationFacts

ENUM_CALLS = {"Enum", "ENUM"}
_Q = r'"?(\w+)"?'
CREATE = re.compile(rf"\bCREATE\s+TYPE\s+(?:\w+\.)?{_Q}\s+AS\s+ENUM\s*\((.*?)\)", re.I | re.S)
ADD = re.compile(rf"\bALTER\s+TYPE\s+(?:\w+\.)?{_Q}\s+ADD\s+VALUE\s+(?:IF\s+NOT\s+EXISTS\s+)?'((?:[^']|'')*)'", re.I)
RENAME_VALUE = re.compile(rf"\bALTER\s+TYPE\s+(?:\w+\.)?{_Q}\s+RENAME\s+VALUE\s+'((?:[^']|'')*)'\s+TO\s+"
                          r"'((?:[^']|'')*)'", re.I)
RENAME_TYPE = re.compile(rf"\bALTER\s+TYPE\s+(?:\w+\.)?{_Q}\s+RENAME\s+TO\s+{_Q}", re.I)
DROP = re.compile(rf"\bDROP\s+TYPE\s+(?:IF\s+EXISTS\s+)?(?:\w+\.)?{_Q}", re.I)
LABEL = re.compile(r"'((?:[^']|'')*)'")
VALUES_CALLABLE = re.compile(r"^lambda\s+(\w+)\s*:\s*\[\s*(\w+)\.value\s+for\s+(\w+)\s+in\s+(\w+)\s*\]$")

Labels = Optional[Tuple[str, ...]]  # None: unknown


@dataclass(frozen=True)
class EnumColumn:
    rel: str
    line: int
    model: str
    attr: str
    type_name: str
    enum_class: str
    labels: Tuple[str, ...]


# -- the migrations -------------------------------------------------------------------------------
def _unquote(text: str) -> str:
    return text.replace("''", "'")


def _sql_of(node: Optional[ast.AST]) -> Optional[str]:
    """The literal SQL of ``op.execute(...)``'s argument (a string or ``sa.text("...")``)."""
    if node is None:
        return None
    if isinstance(node, ast.Call) and pyast.last_part(pyast.call_name(node)) == "text" and node.args:
        node = node.args[0]
    return pyast.str_value(node)


def _apply_sql(sql: str, types: Dict[str, Labels]) -> None:
    for m in CREATE.finditer(sql):
        types[m.group(1).lower()] = tuple(_unquote(x) for x in LABEL.findall(m.group(2)))
    for m in ADD.finditer(sql):
        name = m.group(1).lower()
        if types.get(name) is not None and _unquote(m.group(2)) not in types[name]:
            types[name] = types[name] + (_unquote(m.group(2)),)
    for m in RENAME_VALUE.finditer(sql):
        name = m.group(1).lower()
        if types.get(name) is not None:
            old, new = _unquote(m.group(2)), _unquote(m.group(3))
            types[name] = tuple(new if v == old else v for v in types[name])
    for m in RENAME_TYPE.finditer(sql):
        types[m.group(2).lower()] = types.pop(m.group(1).lower(), None)
    for m in DROP.finditer(sql):
        types.pop(m.group(1).lower(), None)
    handled = {m.group(1).lower() for rx in (CREATE, ADD, RENAME_VALUE, RENAME_TYPE, DROP) for m in rx.finditer(sql)}
    for name in list(types):
        if name not in handled and re.search(rf"\bTYPE\s+(?:\w+\.)?\"?{re.escape(name)}\b", sql, re.I):
            types[name] = None  # other DDL on the type


def _enum_call_labels(call: ast.Call) -> Tuple[Optional[str], Labels]:
    """(type name, labels) of ``sa.Enum("a", "b", name="t")``; labels None when not literal."""
    kw = {k.arg: k.value for k in call.keywords if k.arg}
    name = pyast.str_value(kw.get("name"))
    labels = tuple(pyast.str_value(a) for a in call.args)
    if not call.args or any(v is None for v in labels) or any(isinstance(a, ast.Starred) for a in call.args):
        return name, None
    return name, labels


def migration_types(facts: MigrationFacts) -> Dict[str, Dict[str, Labels]]:
    """environment -> enum type name -> labels after the last revision (None: unknown)."""
    out: Dict[str, Dict[str, Labels]] = {}
    for mig in facts.replay.migrations.values():
        if mig.system != "alembic" or mig.tree is None:
            continue
        types = out.setdefault(mig.label, {})
        upgrade = pyast.find_function(mig.tree, "upgrade")
        if upgrade is None:
            continue
        source = ast.unparse(upgrade)
        for node in ast.walk(upgrade):
            if not isinstance(node, ast.Call):
                continue
            called = pyast.last_part(pyast.call_name(node))
            if called in ENUM_CALLS:
                name, labels = _enum_call_labels(node)
                if name and not node.args:
                    continue  # ``ENUM(name="t", create_type=False)``: a reference to an existing type
                if name:
                    # an Enum in create_table/add_column creates the type (unless it exists and
                    # create_type=False); labels from a Python class are unknown here
                    types[name.lower()] = labels if labels is not None or name.lower() not in types else None
            elif called == "execute":
                sql = _sql_of(node.args[0] if node.args else None)
                if sql is not None:
                    _apply_sql(sql, types)
                else:
                    for name in list(types):
                        if re.search(rf"\b{re.escape(name)}\b", source, re.I):
                            types[name] = None
            elif called == "sync_enum_values":
                strings = [pyast.str_value(a) for a in node.args]
                names = [s for s in strings if s]
                values = next((pyast.string_list(a) for a in node.args if isinstance(a, (ast.List, ast.Tuple))), None)
                for name in names:
                    if name.lower() in types or values is not None:
                        types[name.lower()] = tuple(values) if values is not None else None
    return out


# -- the models -----------------------------------------------------------------------------------
def _members(node: ast.ClassDef) -> Optional[Tuple[Tuple[str, object], ...]]:
    out = []
    for stmt in node.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Expr, ast.Pass)):
            continue
        got = pyast.named_assignment(stmt)
        if got is None or got[1] is None:
            return None
        name, value, _annotation = got
        if name.startswith("_"):
            continue
        literal = pyast.literal(value)
        if literal is pyast.NOT_LITERAL:
            return None
        out.append((name, literal))
    return tuple(out) if out else None


def _enum_class(project, facts: MigrationFacts, rel: str, node: ast.AST) -> Optional[ast.ClassDef]:
    """The project class an expression in ``rel`` names, when it is an ``Enum`` subclass."""
    from .drift import class_node

    index = project.index
    dotted = pyast.dotted(node)
    file_facts = index.files.get(rel)
    if not dotted or file_facts is None:
        return None
    head, _, rest = dotted.partition(".")
    qual = file_facts.names.get(head) or (f"{file_facts.module}.{head}" if file_facts.module else head)
    qual = index.canonical(f"{qual}.{rest}" if rest else qual)
    found = class_node(facts, index, qual) if qual in index.classes else None
    if found is None:
        return None
    bases = {pyast.last_part(pyast.dotted(b) or "") for b in found[1].bases}
    return found[1] if bases & {"Enum", "StrEnum", "IntEnum"} else None


def _labels_of(project, facts, rel, enum_node: ast.AST, kw: Dict[str, ast.AST]):
    """(class name, type name, labels) for ``Enum(PyEnum, **kw)``; None when unknown."""
    cls = _enum_class(project, facts, rel, enum_node)
    if cls is None:
        return None
    members = _members(cls)
    if members is None:
        return None
    callable_node = kw.get("values_callable")
    if callable_node is None:
        labels = tuple(name for name, _ in members)
    else:
        m = VALUES_CALLABLE.match(pyast.text(callable_node) or "")
        if not m or m.group(2) != m.group(3) or m.group(1) != m.group(4):
            return None
        labels = tuple(str(value) for _, value in members)
    name = pyast.str_value(kw.get("name")) or cls.name.lower()
    return cls.name, name, labels


def model_columns(project, facts: MigrationFacts) -> List[EnumColumn]:
    from .drift import SA_COLUMN_CALLS, class_node, _mapped_inner

    index = project.index
    out: List[EnumColumn] = []
    for model in sorted(index.models.values(), key=lambda m: m.qual):
        if model.orm != "sqlalchemy" or model.abstract or not model.path or project.is_non_app(model.path):
            continue
        found = class_node(facts, index, model.qual)
        if found is None:
            continue
        rel, node = found
        for stmt in node.body:
            got = pyast.named_assignment(stmt)
            if got is None:
                continue
            attr, value, annotation = got
            call = value if isinstance(value, ast.Call) and pyast.last_part(
                pyast.call_name(value)) in SA_COLUMN_CALLS else None
            if value is not None and call is None:
                continue
            type_call = next((a for a in (call.args if call else []) if isinstance(a, ast.Call)
                              and pyast.last_part(pyast.call_name(a)) in ENUM_CALLS), None)
            got = None
            if type_call is not None:
                kw = {k.arg: k.value for k in type_call.keywords if k.arg}
                if pyast.literal(kw.get("native_enum")) is False:
                    continue
                if type_call.args and not isinstance(type_call.args[0], ast.Constant):
                    got = _labels_of(project, facts, rel, type_call.args[0], kw)
                else:
                    name, labels = _enum_call_labels(type_call)
                    got = ("", name, labels) if name and labels is not None else None
            elif call is None or not [a for a in call.args if not isinstance(a, ast.Constant)
                                      and pyast.last_part(pyast.call_name(a)) != "ForeignKey"]:
                inner = _mapped_inner(annotation)
                if isinstance(inner, (ast.Name, ast.Attribute)):
                    got = _labels_of(project, facts, rel, inner, {})
            if got is not None:
                enum_class, type_name, labels = got
                out.append(EnumColumn(rel, stmt.lineno, model.name, attr, type_name.lower(), enum_class, labels))
    return out


def enum_drift(project, facts: MigrationFacts, engine: Optional[str]):
    """(rel, line, message, confidence) for each drifted enum column (PostgreSQL only)."""
    if engine != "postgresql":
        return []
    envs = migration_types(facts)
    if not envs:
        return []
    out = []
    for col in model_columns(project, facts):
        known = [types[col.type_name] for types in envs.values() if col.type_name in types]
        if len(known) != 1 or known[0] is None:
            continue  # no environment creates it, several do, or its labels are unknown
        db = known[0]
        where = f"`{col.model}.{col.attr}`"
        source = f"the Python Enum `{col.enum_class}`" if col.enum_class else "the model"
        missing = [v for v in col.labels if v not in db]
        if missing:
            shown = ", ".join(f"'{v}'" for v in missing)
            out.append((col.rel, col.line, f"{where} maps PostgreSQL enum `{col.type_name}`, which the migrations "
                        f"never give {shown} from {source}: writing it fails with \"invalid input value for enum\"; "
                        f"Alembic autogenerate does not compare enum labels, so add "
                        f"`ALTER TYPE {col.type_name} ADD VALUE '{missing[0]}'` in a migration", "high"))
            continue
        extra = [v for v in db if v not in col.labels]
        if extra:
            shown = ", ".join(f"'{v}'" for v in extra)
            out.append((col.rel, col.line, f"{where} maps PostgreSQL enum `{col.type_name}`, whose labels {shown} "
                        f"(from the migrations) {source} no longer has: loading a row that holds one raises "
                        "LookupError; migrate those rows and drop the labels, or keep the members", "medium"))
    return out
