"""Migration drift (MDB601): models as the code declares them against what the migrations
build.

- **Django**: each model class is read from its source (fields through ``fields.read_field``,
  the same reader the replay uses for migrations, ``class Meta`` likewise) and compared with
  the **State** track, which is what ``makemigrations`` compares models with. Compared: models,
  fields, and the DDL-relevant options (field class, ``null``, ``max_length``, ``unique``,
  ``db_index``, ``primary_key``, ``db_column``, foreign key target, ``db_table``,
  ``unique_together``, ``Meta.indexes``/``constraints`` by name). Attributes with no DDL
  effect (``help_text``, ``verbose_name``, ``choices``, ``blank``, a Python ``default``) are
  never compared; abstract, proxy and unmanaged models are skipped.
- **Alembic**: SQLAlchemy models (``Column``/``mapped_column``/``Mapped[...]``) against the
  environment's final **Database** track, and whether each model is reachable from
  ``env.py``'s ``target_metadata`` (autogenerate drops the tables of models it cannot see).

Unknown means silent: a model with a base the index cannot resolve, a field whose class is not
Django's own, an option that is not a literal, an app or model the replay lost track of — each
only removes what it touches from the comparison.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

from ...core.refs import dotted
from ...core.tags import RT
from . import pyast
from .fields import FIELD_TYPES, normalize_together, read_constraint, read_field, read_index
from .judged import MigrationFacts
from .sa_columns import default_text, sa_type
from .schema import ColumnState, Schema, norm
from .state import Expr, FieldState, ModelState, ProjectState

DJANGO_MODEL_BASES = {"django.db.models.Model", "django.db.models.base.Model", "object"}
RELATION_CLASSES = {"ForeignKey", "OneToOneField", "ManyToManyField"}
BUILTIN = set(FIELD_TYPES) | RELATION_CLASSES
NON_COLUMN = {"GenericForeignKey", "GenericRelation"}


@dataclass
class Drift:
    rel: str
    line: int
    message: str
    confidence: str = "high"


# -- reading classes ----------------------------------------------------------------------------
def class_node(facts: MigrationFacts, index, qual: str) -> Optional[Tuple[str, ast.ClassDef]]:
    """(file, ClassDef) of a project class, found by its qualified name in its file's tree."""
    rel = index.class_path.get(qual)
    file_facts = index.files.get(rel) if rel else None
    tree = facts.tree(rel) if rel else None
    if tree is None or file_facts is None:
        return None
    parts = qual[len(file_facts.module) + 1:].split(".") if file_facts.module else qual.split(".")
    body: Iterable[ast.stmt] = tree.body
    node = None
    for part in parts:
        node = next((s for s in _walk_defs(body) if isinstance(s, ast.ClassDef) and s.name == part), None)
        if node is None:
            return None
        body = node.body
    return rel, node


def _walk_defs(body: Iterable[ast.stmt]):
    """Statements of a body, looking into top-level ``if``/``try`` blocks (conditional models)."""
    for stmt in body:
        if isinstance(stmt, ast.If) and "TYPE_CHECKING" in (pyast.text(stmt.test) or ""):
            yield from _walk_defs(stmt.orelse)  # classes for the type checker only
        elif isinstance(stmt, (ast.If, ast.Try)):
            yield from _walk_defs(stmt.body + stmt.orelse + getattr(stmt, "finalbody", []))
            for handler in getattr(stmt, "handlers", []):
                yield from _walk_defs(handler.body)
        else:
            yield stmt


def raw_bases(index, qual: str) -> List[str]:
    """Bases as canonical dotted names, without the index's substitution of a
    ``declarative_base()`` result by SQLAlchemy's base (``target_metadata`` names that Base)."""
    cf = index.classes.get(qual)
    out = []
    for ref in cf.bases if cf is not None else ():
        if ref is not None and ref[0] == RT.SUB:  # a generic base: ``Base[Order]``
            ref = ref[1]
        d = dotted(ref)
        if d:
            out.append(index.canonical(d))
    return out


def raw_mro(index, qual: str, seen: Optional[Set[str]] = None) -> List[str]:
    seen = set() if seen is None else seen
    out = [qual]
    seen.add(qual)
    for base in raw_bases(index, qual):
        if base in seen:
            continue
        out.extend(raw_mro(index, base, seen) if base in index.classes else [base])
        seen.add(base)
    return out


# -- Django -------------------------------------------------------------------------------------
@dataclass
class CodeModel:
    qual: str
    name: str
    rel: str
    line: int
    label: str
    fields: Dict[str, Tuple[FieldState, int]] = field(default_factory=dict)
    meta: Dict[str, Any] = field(default_factory=dict)
    complete: bool = True          # every base and field class understood
    names: Set[str] = field(default_factory=set)  # every name the class bodies define


def _meta_values(meta: ast.ClassDef) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for key, (value, _line) in pyast.assignments(meta.body).items():
        if key in ("indexes", "constraints"):
            if isinstance(value, (ast.List, ast.Tuple)):
                reader = read_index if key == "indexes" else read_constraint
                out[key] = tuple(reader(e) for e in value.elts)
            else:
                out[key] = Expr(pyast.text(value) or "?")
        elif key in ("unique_together", "index_together"):
            literal = pyast.literal(value)
            out[key] = normalize_together(literal) if literal is not pyast.NOT_LITERAL else Expr("?")
        else:
            literal = pyast.literal(value)
            out[key] = Expr(pyast.text(value) or "?") if literal is pyast.NOT_LITERAL else literal
    return out


def read_django_model(facts: MigrationFacts, index, model, label: str) -> Optional[CodeModel]:
    found = class_node(facts, index, model.qual)
    if found is None:
        return None
    rel, node = found
    code = CodeModel(model.qual, model.name, rel, node.lineno, label)
    mro = index.mro(model.qual)
    excluded: Set[str] = set()
    for ancestor in mro[1:]:
        parent = index.models.get(ancestor)
        if parent is not None and not parent.abstract:  # multi-table inheritance: the parent's own table
            excluded.update(index.mro(ancestor))
    inherited: Dict[str, Any] = {}
    own: Optional[Tuple[Dict[str, Any], bool]] = None
    for cls in reversed(mro):
        if cls in excluded:
            continue
        if cls not in index.classes:
            if cls not in DJANGO_MODEL_BASES:
                code.complete = False  # a library's base: its fields are not known
            continue
        located = class_node(facts, index, cls)
        if located is None:
            code.complete = False
            continue
        _read_body(code, located[1], label)
        meta = next((s for s in located[1].body if isinstance(s, ast.ClassDef) and s.name == "Meta"), None)
        if meta is None:
            continue
        values = _meta_values(meta)
        if cls == model.qual:
            own = (values, bool(meta.bases))
        else:  # an abstract parent's Meta: its children inherit it unless they declare their own
            inherited.update({k: v for k, v in values.items() if k not in ("abstract", "db_table", "proxy")})
    if own is None:
        merged = inherited
    else:
        merged = {**inherited, **own[0]} if own[1] else own[0]
    code.meta = merged
    return code


def _read_body(code: CodeModel, node: ast.ClassDef, label: str) -> None:
    for stmt in node.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            code.names.add(stmt.name)
            continue
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(
            stmt, ast.AnnAssign) else []
        value = getattr(stmt, "value", None)
        for target in targets:
            if not isinstance(target, ast.Name):
                continue
            code.names.add(target.id)
            if isinstance(value, ast.Call):
                state = read_field(target.id, value)
                if state.cls in NON_COLUMN:
                    continue
                if state.cls in BUILTIN or state.relation or state.cls.endswith("Field"):
                    code.fields[target.id] = (state, stmt.lineno)
            elif isinstance(value, ast.Constant) and value.value is None:
                code.fields.pop(target.id, None)  # ``field = None`` removes an inherited field


def app_label_for(rel: str, meta_label, dirs: Dict[str, str]) -> Optional[str]:
    """The label of the app holding a model file: ``Meta.app_label``, else the app folder
    (with migrations) the file lies in, deepest first."""
    labels = set(dirs.values())
    if isinstance(meta_label, str):
        return meta_label if meta_label in labels else None
    best = None
    for folder, label in dirs.items():
        if folder in ("", ".") or rel.startswith(folder + "/"):
            if best is None or len(folder) > len(best[0]):
                best = (folder, label)
    return best[1] if best else None


def _known(f: FieldState, key: str) -> bool:
    """The attribute is a literal (or Django's default for a field class of Django's own; a
    custom class may set its own defaults in ``__init__``, so only what is written counts)."""
    if f.cls not in BUILTIN and not f.relation and key not in f.kwargs:
        return False
    return not isinstance(f.kwargs.get(key), Expr)


def _target(f: FieldState, owner: Tuple[str, str], state: ProjectState, resolved: Optional[Tuple[str, str]] = None):
    """The (app_label, model name lower case) a relation points at, or None."""
    if resolved is not None:
        return resolved
    to = f.to
    if not to or isinstance(f.kwargs.get("to"), Expr) and not to.startswith("settings."):
        return None  # a class written as an expression: only the index can resolve it
    if to.startswith("settings."):
        to = state.swappable.get(to.split(".", 1)[1], "")
        if not to:
            return None
    if to == "self":
        return owner
    if "." in to:
        label, _, name = to.rpartition(".")
        return (label, name.lower())
    return (owner[0], to.lower())


def compare_field(code: FieldState, mig: FieldState, owner, state: ProjectState,
                  code_target=None) -> List[str]:
    out = []
    if code.cls != mig.cls and code.cls in BUILTIN and mig.cls in BUILTIN:
        out.append(f"{code.cls} in the model, {mig.cls} in the migrations")
    for key, what in (("null", "null"), ("unique", "unique"), ("db_index", "db_index"),
                      ("primary_key", "primary_key")):
        if _known(code, key) and _known(mig, key) and getattr(code, key) != getattr(mig, key):
            if key in ("unique", "db_index") and (code.primary_key or mig.primary_key):
                continue
            out.append(f"{what}={getattr(code, key)} in the model, {getattr(mig, key)} in the migrations")
    if (_known(code, "max_length") and _known(mig, "max_length") and code.cls == mig.cls
            and code.max_length != mig.max_length):
        out.append(f"max_length={code.max_length} in the model, {mig.max_length} in the migrations")
    if _known(code, "db_column") and _known(mig, "db_column") and code.db_column != mig.db_column:
        out.append(f"db_column={code.db_column!r} in the model, {mig.db_column!r} in the migrations")
    if code.relation and mig.relation:
        a, b = _target(code, owner, state, code_target), _target(mig, owner, state)
        if a and b and a != b:
            out.append(f"points to {a[0]}.{a[1]} in the model, {b[0]}.{b[1]} in the migrations")
    return out


def _named(name: Optional[str], code: CodeModel) -> Optional[str]:
    if name is None:
        return None
    return name.replace("%(app_label)s", code.label).replace("%(class)s", code.name.lower())


def compare_meta(code: CodeModel, mig: ModelState) -> List[str]:
    out = []
    table = code.meta.get("db_table")
    if not isinstance(table, Expr) and not isinstance(mig.options.get("db_table"), Expr):
        if (table or None) != (mig.options.get("db_table") or None):
            out.append(f"db_table {table!r} in the model, {mig.options.get('db_table')!r} in the migrations")
    for option in ("unique_together", "index_together"):
        ours = code.meta.get(option, ())
        theirs = mig.options.get(option, ())
        if not isinstance(ours, Expr) and not isinstance(theirs, Expr) and set(ours) != set(theirs):
            out.append(f"{option} {sorted(ours)} in the model, {sorted(theirs)} in the migrations")
    for option, noun in (("indexes", "index"), ("constraints", "constraint")):
        ours = code.meta.get(option, ())
        theirs = tuple(mig.options.get(option, ()))
        if isinstance(ours, Expr) or isinstance(theirs, Expr):
            continue
        theirs_names = {s.name for s in theirs if s.name}
        matched: Set[str] = set()
        for spec in ours:
            name = _named(spec.name, code)
            if name is None:
                twin = next((s for s in theirs if getattr(s, "fields", None) == spec.fields and spec.fields), None)
                if twin is None and spec.fields and not getattr(spec, "expressions", False):
                    out.append(f"the {noun} on {', '.join(spec.fields)} in Meta.{option} has no migration")
                elif twin is not None and twin.name:
                    matched.add(twin.name)
                continue
            if name in theirs_names:
                matched.add(name)
            else:
                out.append(f"{noun} {name!r} in Meta.{option} has no migration")
        if not any(spec.name is None and not spec.fields for spec in ours):
            for name in sorted(theirs_names - matched):
                out.append(f"the migrations create {noun} {name!r}, which Meta.{option} no longer has")
    return out


def django_drift(project, facts: MigrationFacts) -> List[Drift]:
    index = project.index
    replay = facts.replay
    state = replay.state
    dirs = {folder: label for label, folder in replay.discovery.app_dirs.items()}
    if not dirs:
        return []
    out: List[Drift] = []
    seen: Set[Tuple[str, str]] = set()
    for qual, model in sorted(index.models.items()):
        if model.orm != "django" or model.abstract or not model.path or project.is_non_app(model.path):
            continue
        cf = index.classes.get(qual)
        meta_label = cf.meta.get("app_label") if cf is not None else None
        label = app_label_for(model.path, meta_label, dirs)
        if label is None or label in state.unknown_apps:
            continue
        code = read_django_model(facts, index, model, label)
        if code is None:
            continue
        seen.add((label, model.name.lower()))
        if code.meta.get("managed") is False or code.meta.get("proxy") is True or code.meta.get("abstract") is True:
            continue
        if isinstance(code.meta.get("managed"), Expr) or isinstance(code.meta.get("proxy"), Expr):
            continue
        mig = state.get(label, model.name)
        if mig is None:
            out.append(Drift(code.rel, code.line, f"model `{model.name}` (app `{label}`) has no migration: "
                                                  "`makemigrations` would create it"))
            continue
        if mig.unknown or not mig.has_table:
            continue
        out.extend(_compare_model(code, mig, state, index, model, dirs))
    out.extend(_left_behind_models(project, facts, seen))
    return out


def _code_target(index, model, name: str, dirs_label) -> Optional[Tuple[str, str]]:
    relation = model.relations.get(name)
    target = index.models.get(relation.target) if relation is not None else None
    if target is None:
        return None
    return (dirs_label(target), target.name.lower()) if dirs_label(target) else None


def _compare_model(code: CodeModel, mig: ModelState, state: ProjectState, index, model,
                   dirs: Dict[str, str]) -> List[Drift]:
    out: List[Drift] = []
    owner = (code.label, code.name.lower())
    has_pk = any(f.primary_key for f, _ in code.fields.values())

    def label_of(target_model) -> Optional[str]:
        cf = index.classes.get(target_model.qual)
        meta_label = cf.meta.get("app_label") if cf is not None else None
        return app_label_for(target_model.path or "", meta_label, dirs)

    for name, (f, line) in code.fields.items():
        theirs = mig.field_named(name)
        if theirs is None:
            out.append(Drift(code.rel, line, f"field `{code.name}.{name}` is not in the migrations (app "
                                             f"`{code.label}`): `makemigrations` would add it"))
            continue
        target = _code_target(index, model, name, label_of) if f.relation else None
        diffs = compare_field(f, theirs, owner, state, target)
        if diffs:
            out.append(Drift(code.rel, line, f"field `{code.name}.{name}` differs from its migrations: "
                                             + "; ".join(diffs) + " (`makemigrations` would alter it)"))
    if code.complete:
        for name, theirs in mig.fields.items():
            if code.fields.get(name) or name in code.names:
                continue
            if name == "id" and not has_pk:
                continue  # the automatic primary key
            if theirs.relation == "o2o" and (name.endswith("_ptr") or theirs.kwargs.get("parent_link") is True):
                continue  # multi-table inheritance's parent link
            if any(name.startswith(own + "_") for own in code.fields) or name in code.names:
                continue  # a field a library adds beside another (currencies, translations)
            out.append(Drift(code.rel, code.line, f"the migrations create field `{code.name}.{name}`, which the "
                                                  "model no longer has: `makemigrations` would remove it"))
    for diff in compare_meta(code, mig):
        out.append(Drift(code.rel, code.line, f"model `{code.name}`: {diff}"))
    return out


def _left_behind_models(project, facts: MigrationFacts, seen: Set[Tuple[str, str]]) -> List[Drift]:
    index = project.index
    replay = facts.replay
    class_names = {q.rsplit(".", 1)[-1].lower() for q in index.classes}
    out = []
    for (label, name), mig in sorted(replay.state.models.items()):
        if (label, name) in seen or mig.unknown or not mig.has_table or label in replay.state.unknown_apps:
            continue
        if label not in replay.discovery.app_dirs:
            continue
        if name in class_names or name.startswith("historical"):
            continue  # django-simple-history's models are created by ``HistoricalRecords()``
        where = _created_at(replay, mig)
        if where is None:
            continue
        out.append(Drift(where[0], where[1], f"the migrations create model `{mig.name}` (app `{label}`), which "
                                             "no longer exists in code: `makemigrations` would delete it"))
    return out


def _created_at(replay, mig: ModelState) -> Optional[Tuple[str, int]]:
    migration = replay.migrations.get(mig.created_in) if mig.created_in else None
    if migration is None:
        return None
    for op in migration.operations:
        if op.kind == "CreateModel" and (op.args.get("name") or "").lower() == mig.name.lower():
            return migration.file, op.line
    return migration.file, migration.line


# -- SQLAlchemy / Alembic ----------------------------------------------------------------------
SA_COLUMN_CALLS = {"Column", "mapped_column"}
SA_NOT_COLUMNS = {"relationship", "Relationship", "relation", "association_proxy", "column_property", "synonym",
                  "hybrid_property", "deferred", "composite", "backref", "query_property", "dynamic_loader"}
SA_BASES = {"sqlalchemy.orm.DeclarativeBase", "sqlalchemy.orm.DeclarativeBaseNoMeta",
            "sqlalchemy.orm.decl_api.DeclarativeBase", "sqlalchemy.ext.asyncio.AsyncAttrs",
            "sqlalchemy.orm.MappedAsDataclass", "object", "flask_sqlalchemy.Model", "sqlmodel.SQLModel"}


@dataclass
class SaModel:
    qual: str
    name: str
    rel: str
    line: int
    table: str
    # column name -> (column, line, nullability written explicitly)
    columns: Dict[str, Tuple[ColumnState, int, bool]] = field(default_factory=dict)
    complete: bool = True


def _annotation_optional(node: Optional[ast.AST]) -> Optional[bool]:
    if node is None:
        return None
    text = pyast.text(node) or ""
    if "Optional[" in text or "None" in text:
        return True
    return False


def _mapped_inner(node: Optional[ast.AST]) -> Optional[ast.AST]:
    if isinstance(node, ast.Subscript) and pyast.last_part(pyast.dotted(node.value)) in ("Mapped",):
        return node.slice
    return None


def read_sa_column(name: str, call: Optional[ast.Call],
                   annotation: Optional[ast.AST]) -> Optional[Tuple[ColumnState, bool]]:
    """A model attribute's column and whether its nullability is written explicitly; None when
    it is not a column."""
    inner = _mapped_inner(annotation)
    if call is not None:
        called = pyast.last_part(pyast.call_name(call))
        if called not in SA_COLUMN_CALLS:
            return None
        args = list(call.args)
        column_name = name
        if args and pyast.str_value(args[0]) is not None:
            column_name = pyast.str_value(args.pop(0))
        type_node = next((a for a in args if pyast.last_part(pyast.call_name(a)) != "ForeignKey"), None)
        ctype, max_length, params = sa_type(type_node) if type_node is not None else (None, None, ())
        kw = {k.arg: k.value for k in call.keywords if k.arg}
        if pyast.str_value(kw.get("name")):
            column_name = pyast.str_value(kw["name"])
        primary = pyast.literal(kw.get("primary_key")) is True
        nullable_lit = pyast.literal(kw.get("nullable")) if "nullable" in kw else pyast.NOT_LITERAL
        explicit = isinstance(nullable_lit, bool)
        if explicit:
            nullable = nullable_lit
        elif "nullable" in kw:
            return ColumnState(column_name, ctype, None, max_length), False
        elif inner is not None:
            nullable = bool(_annotation_optional(inner)) and not primary
            explicit = True
        else:
            nullable = not primary
        unique = pyast.literal(kw.get("unique")) is True
        index = pyast.literal(kw.get("index")) is True
        return ColumnState(column_name, ctype, nullable, max_length, "default" in kw,
                           default_text(kw.get("server_default")), unique or primary, unique or index or primary,
                           primary, None, params), explicit
    if inner is not None:  # ``x: Mapped[int]``: a column unless the type is a relationship
        text = pyast.text(inner) or ""
        if any(w in text for w in ("List[", "list[", "Set[", "set[", "\"", "'")):
            return None
        return ColumnState(name, None, bool(_annotation_optional(inner))), True
    return None


def read_sa_model(facts: MigrationFacts, index, model) -> Optional[SaModel]:
    found = class_node(facts, index, model.qual)
    if found is None:
        return None
    rel, node = found
    out = SaModel(model.qual, model.name, rel, node.lineno, model.table)
    for cls in reversed(raw_mro(index, model.qual)):
        if cls not in index.classes:
            if cls not in SA_BASES and not cls.endswith(".Model") and not cls.endswith("Base"):
                out.complete = False
            continue
        located = class_node(facts, index, cls)
        if located is None:
            out.complete = False
            continue
        for stmt in located[1].body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                decos = {pyast.last_part(pyast.dotted(d) or pyast.call_name(d)) for d in stmt.decorator_list}
                if "declared_attr" in decos or "directive" in decos:
                    out.complete = False  # a column may come from it
                continue
            got = pyast.named_assignment(stmt)
            if got is None:
                continue
            name, value, annotation = got
            if name.startswith("__"):
                if name == "__table__":
                    out.complete = False
                continue
            call = value if isinstance(value, ast.Call) else None
            if value is not None and call is None and annotation is None:
                continue
            if call is not None and pyast.last_part(pyast.call_name(call)) not in SA_COLUMN_CALLS:
                if pyast.last_part(pyast.call_name(call)) not in SA_NOT_COLUMNS:
                    out.complete = False  # a helper that may build a column
                continue
            if call is None and value is not None:
                continue
            read = read_sa_column(name, call, annotation)
            if read is not None:
                column, explicit = read
                out.columns[norm(column.name)] = (column, stmt.lineno, explicit)
    return out


def _env_py(facts: MigrationFacts, env) -> Optional[str]:
    if env.script_location is None:
        return None
    return f"{env.script_location}/env.py".lstrip("/")


def target_bases(project, facts: MigrationFacts, env) -> Optional[Set[str]]:
    """The base classes (qualified) whose models ``env.py``'s ``target_metadata`` holds; None
    when it cannot be resolved (or autogenerate is off)."""
    rel = _env_py(facts, env)
    tree = facts.tree(rel) if rel else None
    file_facts = project.index.files.get(rel) if rel else None
    if tree is None or file_facts is None:
        return None
    value = pyast.assignments(tree.body).get("target_metadata", (None, 0))[0]
    if value is None or pyast.literal(value) is None:
        return None
    items = value.elts if isinstance(value, (ast.List, ast.Tuple)) else [value]
    out: Set[str] = set()
    for item in items:
        dotted = pyast.dotted(item)
        if not dotted or not dotted.endswith(".metadata"):
            return None
        head = dotted[: -len(".metadata")]
        first, _, rest = head.partition(".")
        qual = file_facts.names.get(first)
        if qual is None:
            return None
        out.add(project.index.canonical(f"{qual}.{rest}" if rest else qual))
    return out


def alembic_drift(project, facts: MigrationFacts) -> List[Drift]:
    index = project.index
    replay = facts.replay
    envs = replay.discovery.alembic_envs
    schemas = {name: replay.alembic_schemas[name] for name in envs if name in replay.alembic_schemas}
    models = [m for m in index.models.values() if m.orm == "sqlalchemy" and not m.abstract and m.path
              and not project.is_non_app(m.path)]
    if not schemas or not models:
        return []
    bases = {name: target_bases(project, facts, envs[name]) for name in schemas}
    out: List[Drift] = []
    by_table: Dict[Tuple[str, str], List[SaModel]] = {}
    for model in sorted(models, key=lambda m: m.qual):
        mro = set(raw_mro(index, model.qual))
        homes = [name for name, b in bases.items() if b is not None and b & mro]
        if not homes:
            resolved = [name for name, b in bases.items() if b is not None]
            if len(schemas) == 1 and resolved:
                code = class_node(facts, index, model.qual)
                if code is not None:
                    names = ", ".join(sorted(next(iter(bases.values()))))
                    out.append(Drift(code[0], code[1].lineno, f"model `{model.name}` is not reachable from env.py's "
                                                              f"`target_metadata` ({names}): autogenerate does not "
                                                              "see it and would drop its table", "medium"))
                continue
            if len(schemas) != 1:
                continue
            homes = list(schemas)
        sa = read_sa_model(facts, index, model)
        if sa is not None:
            by_table.setdefault((homes[0], norm(sa.table)), []).append(sa)
    prebuilt = {env for env in schemas if _history_assumes_a_base(replay, env)}
    for (env, table), group in sorted(by_table.items()):
        if env in prebuilt and schemas[env].table_exists(table) is False:
            continue  # built outside the migrations (``create_all`` then ``stamp``), as the history assumes
        out.extend(_compare_table(schemas[env], table, group))
    return out


def _history_assumes_a_base(replay, env: str) -> bool:
    """Can a table exist that no modelled revision created? Yes when the history starts from a
    schema it did not build (the documented ``metadata.create_all()`` + ``alembic stamp head``
    set-up: an operation on a table no earlier revision created), or when a revision creates
    or renames a table whose name the replay cannot read (``op.create_table(f"{prefix}x")``)."""
    for mig in replay.migrations.values():
        if mig.system != "alembic" or mig.label != env:
            continue
        for op in mig.operations:
            table = op.args.get("table_name")
            if op.kind in ("create_table", "rename_table") and not isinstance(table, str):
                return True
            if not isinstance(table, str) or op.kind == "create_table":
                continue
            before = replay.before(op)
            if before is not None and before.table_exists(table) is False:
                return True
    return False


def _compare_table(schema: Schema, table: str, group: List[SaModel]) -> List[Drift]:
    first = group[0]
    exists = schema.table_exists(table)
    if exists is None:
        return []
    if exists is False:
        return [Drift(first.rel, first.line, f"model `{first.name}`: no migration creates its table `{table}`")]
    db = schema.table(table)
    out: List[Drift] = []
    columns: Dict[str, Tuple[ColumnState, int, bool, SaModel]] = {}
    for sa in group:
        for name, (col, line, explicit) in sa.columns.items():
            columns.setdefault(name, (col, line, explicit, sa))
    for name, (col, line, explicit, sa) in sorted(columns.items()):
        theirs = db.columns.get(name)
        if theirs is None:
            out.append(Drift(sa.rel, line, f"column `{table}.{col.name}` of model `{sa.name}` is not in the "
                                           "migrations: autogenerate would add it"))
            continue
        diffs = []
        if explicit and col.nullable is not None and theirs.nullable is not None and not col.primary_key \
                and col.nullable != theirs.nullable:
            diffs.append(f"nullable={col.nullable} in the model, {theirs.nullable} in the migrations")
        if col.max_length and theirs.max_length and col.type == theirs.type == "varchar" \
                and col.max_length != theirs.max_length:
            diffs.append(f"length {col.max_length} in the model, {theirs.max_length} in the migrations")
        if diffs:
            out.append(Drift(sa.rel, line, f"column `{table}.{col.name}` differs from its migrations: "
                                           + "; ".join(diffs)))
    if all(sa.complete for sa in group):
        for name, theirs in sorted(db.columns.items()):
            if name not in columns:
                out.append(Drift(first.rel, first.line, f"the migrations create column `{table}.{theirs.name}`, "
                                                        f"which model `{first.name}` does not map: autogenerate "
                                                        "would drop it"))
    return out


def find_drift(project, facts: MigrationFacts) -> List[Drift]:
    return django_drift(project, facts) + alembic_drift(project, facts)
