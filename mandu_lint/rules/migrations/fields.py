"""Reading Django field, index and constraint calls statically, and what column a field makes.

``models.CharField(max_length=20, null=True)`` becomes a ``FieldState``: the class as written,
every keyword (literal value or ``Expr``), and the DDL-relevant ones decoded with Django's
defaults (``SlugField`` is 50 long, a ``ForeignKey`` is indexed, a ``OneToOneField`` unique).
Column types are PostgreSQL's, canonical names shared with ``ddl.py`` and ``alembic_ops.py``.
"""
from __future__ import annotations

import ast
from typing import Any, Dict, Optional, Tuple

from . import pyast
from .schema import ColumnState
from .state import ConstraintSpec, Expr, FieldState, IndexSpec, ModelState, ProjectState, column_name, table_name

# Django field class -> (canonical PostgreSQL type, default max_length)
FIELD_TYPES: Dict[str, Tuple[str, Optional[int]]] = {
    "AutoField": ("integer", None), "BigAutoField": ("bigint", None), "SmallAutoField": ("smallint", None),
    "IntegerField": ("integer", None), "BigIntegerField": ("bigint", None), "SmallIntegerField": ("smallint", None),
    "PositiveIntegerField": ("integer", None), "PositiveBigIntegerField": ("bigint", None),
    "PositiveSmallIntegerField": ("smallint", None), "BooleanField": ("boolean", None),
    "NullBooleanField": ("boolean", None), "CharField": ("varchar", None), "SlugField": ("varchar", 50),
    "EmailField": ("varchar", 254), "URLField": ("varchar", 200), "FileField": ("varchar", 100),
    "ImageField": ("varchar", 100), "FilePathField": ("varchar", 100), "TextField": ("text", None),
    "DateField": ("date", None), "DateTimeField": ("timestamptz", None), "TimeField": ("time", None),
    "DurationField": ("interval", None), "DecimalField": ("numeric", None), "FloatField": ("double", None),
    "UUIDField": ("uuid", None), "JSONField": ("jsonb", None), "BinaryField": ("bytea", None),
    "GenericIPAddressField": ("inet", None), "IPAddressField": ("inet", None), "ArrayField": ("array", None),
    "HStoreField": ("hstore", None), "CICharField": ("citext", None), "CIEmailField": ("citext", None),
    "CITextField": ("citext", None), "SearchVectorField": ("tsvector", None),
}
AUTO_FIELDS = {"AutoField", "BigAutoField", "SmallAutoField"}
INDEXED_BY_DEFAULT = {"SlugField"}  # Django's own default db_index=True


def relation_kind(cls: str, kwargs: Dict[str, Any]) -> Optional[str]:
    if cls.endswith("ManyToManyField"):
        return "m2m"
    if cls.endswith("OneToOneField"):
        return "o2o"
    if cls.endswith("ForeignKey") or "on_delete" in kwargs:
        return "fk"
    return None


def _value(node: ast.AST):
    value = pyast.literal(node)
    return Expr(pyast.text(node)) if value is pyast.NOT_LITERAL else value


CONSTRAINT_KINDS = {"UniqueConstraint": "unique", "CheckConstraint": "check", "ExclusionConstraint": "exclude"}


def _default_text(value) -> Optional[str]:
    if value is None:
        return None
    return value.text if isinstance(value, Expr) else repr(value)


def read_field(name: str, call: ast.AST) -> FieldState:
    """A field from its constructor call; anything else (a variable, a helper) is an opaque
    field of unknown class."""
    if not isinstance(call, ast.Call):
        return FieldState(name, "?", pyast.text(call) or "?")
    path = pyast.call_name(call) or pyast.text(call.func) or "?"
    cls = pyast.last_part(path)
    kwargs = {k.arg: _value(k.value) for k in call.keywords if k.arg}
    relation = relation_kind(cls, kwargs)
    if relation and call.args and "to" not in kwargs:
        kwargs["to"] = _value(call.args[0])
    to = kwargs.get("to")
    to_text = to.lower() if isinstance(to, str) else (to.text if isinstance(to, Expr) else None)
    default_length = FIELD_TYPES.get(cls, (None, None))[1]
    max_length = kwargs.get("max_length", default_length)
    db_default = kwargs.get("db_default")
    default = kwargs.get("default")
    return FieldState(
        name=name, cls=cls, path=path, null=kwargs.get("null") is True,
        max_length=max_length if isinstance(max_length, int) else None,
        has_default="default" in kwargs and not (isinstance(default, Expr) and default.text.endswith("NOT_PROVIDED")),
        db_default=_default_text(db_default),
        unique=kwargs.get("unique") is True or relation == "o2o" or kwargs.get("primary_key") is True,
        db_index=kwargs.get("db_index", relation in ("fk", "o2o") or cls in INDEXED_BY_DEFAULT) is True,
        primary_key=kwargs.get("primary_key") is True, to=to_text, relation=relation,
        db_column=kwargs.get("db_column") if isinstance(kwargs.get("db_column"), str) else None,
        kwargs=kwargs)


def read_fields(node: Optional[ast.AST]) -> Optional[Dict[str, FieldState]]:
    """CreateModel's ``fields=[("name", models.X(...)), ...]``; None when not a literal list."""
    if not isinstance(node, (ast.List, ast.Tuple)):
        return None
    out: Dict[str, FieldState] = {}
    for element in node.elts:
        if isinstance(element, ast.Tuple) and len(element.elts) == 2 and pyast.str_value(element.elts[0]):
            name = pyast.str_value(element.elts[0])
            out[name] = read_field(name, element.elts[1])
        else:
            return None
    return out


def read_index(call: ast.AST) -> IndexSpec:
    if not isinstance(call, ast.Call):
        return IndexSpec(None, expressions=True, kind="?")
    bound, _ = pyast.bind(call, ())
    fields = pyast.string_list(bound.get("fields")) or ()
    return IndexSpec(pyast.str_value(bound.get("name")), tuple(f.lstrip("-") for f in fields),
                     pyast.last_part(pyast.call_name(call)) or "?", pyast.text(bound.get("condition")),
                     expressions=bool(call.args) or "expressions" in bound)


def read_constraint(call: ast.AST) -> ConstraintSpec:
    if not isinstance(call, ast.Call):
        return ConstraintSpec(None, "other")
    cls = pyast.last_part(pyast.call_name(call)) or "?"
    bound, _ = pyast.bind(call, ())
    kind = CONSTRAINT_KINDS.get(cls, "other")
    condition = bound.get("condition", bound.get("check"))
    return ConstraintSpec(pyast.str_value(bound.get("name")), kind, pyast.string_list(bound.get("fields")) or (),
                          pyast.text(condition), cls)


def normalize_together(value) -> Tuple[Tuple[str, ...], ...]:
    """Django's normalize_together: ("a", "b") means one set; a set/list of tuples many."""
    if not value:
        return ()
    if isinstance(value, (tuple, list, set)) and all(isinstance(v, str) for v in value):
        return (tuple(value),)
    if isinstance(value, (tuple, list, set)):
        return tuple(sorted(tuple(v) for v in value if isinstance(v, (tuple, list))))
    return ()


def read_options(node: Optional[ast.AST]) -> Dict[str, Any]:
    """CreateModel/AlterModelOptions ``options={...}``: literals, with ``indexes`` and
    ``constraints`` read as specs and the ``*_together`` options normalised."""
    if not isinstance(node, ast.Dict):
        return {}
    out: Dict[str, Any] = {}
    for key_node, value_node in zip(node.keys, node.values):
        key = pyast.str_value(key_node)
        if key is None:
            continue
        if key in ("indexes", "constraints") and isinstance(value_node, (ast.List, ast.Tuple)):
            reader = read_index if key == "indexes" else read_constraint
            out[key] = tuple(reader(e) for e in value_node.elts)
        elif key in ("unique_together", "index_together"):
            out[key] = normalize_together(pyast.literal(value_node))
        else:
            out[key] = _value(value_node)
    return out


def pk_type(model: Optional[ModelState], state: ProjectState, depth: int = 0) -> Optional[str]:
    """The canonical type a relation to ``model`` stores: its primary key's."""
    if model is None:
        return None
    pk = next((f for f in model.fields.values() if f.primary_key), None)
    if pk is None:
        return None
    if pk.relation:  # multi-table inheritance: the parent link is the key
        return None if depth > 3 else pk_type(state.resolve(pk.to, model.app_label), state, depth + 1)
    return FIELD_TYPES.get(pk.cls, (None,))[0]


def column_state(f: FieldState, model: ModelState, state: ProjectState) -> Optional[ColumnState]:
    """The column a field makes (None for many-to-many), resolving a relation's type and table
    through the state."""
    name = column_name(f)
    if name is None:
        return None
    type_params: Tuple = ()
    fk_table = None
    if f.relation:
        target = model if f.to in ("self",) else state.resolve(f.to, model.app_label)
        ctype = pk_type(target, state)
        fk_table = table_name(target) if target is not None else None
    else:
        ctype = FIELD_TYPES.get(f.cls, (None,))[0]
        if f.cls == "DecimalField":
            type_params = (f.kwargs.get("max_digits"), f.kwargs.get("decimal_places"))
    return ColumnState(name, ctype, False if f.primary_key else f.null, f.max_length if ctype == "varchar" else None,
                       f.has_default, f.db_default, f.unique, f.db_index or f.unique, f.primary_key,
                       fk_table, type_params)
