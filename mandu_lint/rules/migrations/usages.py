"""Where application code still names a column or a table (MDB603): ORM attribute access on a
model (typed by the project's typer, as the rules type receivers), lookup strings and keywords
(``filter(author__name=…)``, ``values("x")``, ``order_by("-x")``, ``F("x")``, SQLAlchemy
``filter_by(x=…)``), model field lists (DRF serializers, forms and admin classes: ``fields``,
``list_display``…), the model class still declaring the field, and raw SQL in string literals
(parsed with sqlglot).

Only application files are read (``non-app`` files — tests, migrations, fixtures — are not the
code a deploy runs). Each file is inventoried once per run, and only when it mentions the name
asked about. ``certain`` says the reference is tied to the model or table (a typed receiver,
a class whose ``Meta.model`` is the model, SQL naming the table); an untyped ``obj.x`` is not
collected at all.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Set, Tuple

from ...core.refs import ModuleNames, Scope
from ...core.tags import TK
from ...project.extract import function_scope
from .judged import MigrationFacts
from .schema import norm

LOOKUP_METHODS = {"filter", "exclude", "get", "get_or_create", "update_or_create", "values", "values_list", "order_by",
                  "only", "defer", "select_related", "prefetch_related", "update", "create", "distinct", "filter_by",
                  "annotate", "aggregate", "latest", "earliest", "in_bulk", "bulk_update", "count"}
STRING_ARG_METHODS = {"values", "values_list", "order_by", "only", "defer", "select_related", "prefetch_related",
                      "distinct", "latest", "earliest", "F", "Count", "Sum", "Max", "Min", "Avg"}
MODEL_TYPES = (TK.QS, TK.MANAGER, TK.RELMGR, TK.SAQUERY, TK.MODEL, TK.INST)
FIELD_LISTS = {"fields", "exclude", "read_only_fields", "list_display", "list_filter", "search_fields", "ordering",
               "readonly_fields", "raw_id_fields", "autocomplete_fields", "list_select_related", "list_editable",
               "filterset_fields", "ordering_fields", "search_fields", "prepopulated_fields", "list_display_links"}
ALIASING = {"annotate", "aggregate", "values", "values_list", "alias", "in_bulk", "count", "latest", "earliest"}
NOT_FIELDS = {"defaults", "create_defaults", "flat", "named", "using", "batch_size", "field_name"}
SQL_WORDS = re.compile(r"\bselect\b[\s\S]+?\bfrom\s|\bupdate\s+[\w\".]+\s+set\s|\binsert\s+into\s|"
                       r"\bdelete\s+from\s|\b(?:alter|drop)\s+table\s", re.I)


@dataclass(frozen=True)
class Use:
    rel: str
    line: int
    how: str
    certain: bool = True


@dataclass
class Inventory:
    lookups: List[Tuple[Optional[str], str, int, str]] = field(default_factory=list)  # (model, name, line, how)
    attrs: List[Tuple[str, str, int]] = field(default_factory=list)  # (model, attr, line)
    lists: List[Tuple[Optional[str], Tuple[str, ...], int, str]] = field(default_factory=list)
    sql: List[Tuple[int, str]] = field(default_factory=list)


def _first(name: str) -> str:
    return name.lstrip("-+?").split("__", 1)[0].split(".", 1)[0]


class Usages:
    def __init__(self, project, facts: MigrationFacts):
        self.project = project
        self.facts = facts
        self.index = project.index
        self.typer = self.index.typer
        self._inventories: Dict[str, Inventory] = {}
        self.app_files = [rel for rel in project.relfiles if rel.endswith(".py") and not project.is_non_app(rel)
                          and rel not in facts.replay.by_file]

    # -- queries ---------------------------------------------------------------------------------
    def _files_mentioning(self, words: Iterable[str]) -> List[str]:
        needles = [w.encode() for w in words if w]
        out = []
        for rel in self.app_files:
            data = self.project.data(rel)
            if data is not None and any(n in data for n in needles):
                out.append(rel)
        return out

    def of_column(self, table: str, column: str, models: Iterable[str], names: Iterable[str]) -> List[Use]:
        """Uses of ``table.column``: through the models mapped to the table (``models``, index
        quals) and the attribute/lookup ``names`` that mean the column, or in raw SQL."""
        models, names = set(models), {n for n in names if n}
        shadowed = self._members(models) - self._fields(models)
        names -= shadowed  # a property or method of the model now answers to that name
        out: List[Use] = []
        for rel in self._files_mentioning(names | {column}):
            inv = self.inventory(rel)
            for model, name, line, how in inv.lookups:
                if name in names and model in models:
                    out.append(Use(rel, line, how))
            for model, attr, line in inv.attrs:
                if attr in names and model in models:
                    out.append(Use(rel, line, f"`.{attr}` on `{model.rsplit('.', 1)[-1]}`"))
            for model, listed, line, how in inv.lists:
                if model in models and names & {_first(n) for n in listed}:
                    out.append(Use(rel, line, how))
            for line, text in inv.sql:
                if norm(table) in text.lower() and column.lower() in text.lower() and sql_names(text, table, column):
                    out.append(Use(rel, line, "raw SQL"))
        return sorted(set(out), key=lambda u: (u.rel, u.line))

    def _members(self, models: Set[str]) -> Set[str]:
        out: Set[str] = set()
        for qual in models:
            for cls in self.index.mro(qual):
                cf = self.index.classes.get(cls)
                if cf is not None:
                    out.update(cf.methods)
                    out.update(cf.attrs)
                    out.update(cf.fields)
        return out

    def _fields(self, models: Set[str]) -> Set[str]:
        out: Set[str] = set()
        for qual in models:
            model = self.index.models.get(qual)
            if model is not None:
                out.update(name for name, ff in model.fields.items() if ff.ctor is not None and _is_field(ff))
        return out

    def of_table(self, table: str, models: Iterable[str]) -> List[Use]:
        """Uses of a table: its model class imported by application code, or raw SQL naming it."""
        models = set(models)
        out: List[Use] = []
        short = {m.rsplit(".", 1)[-1] for m in models}
        for rel in self._files_mentioning(short | {table}):
            facts = self.index.files.get(rel)
            if facts is not None and models:
                homes = {self.index.class_path.get(m) for m in models}
                for local, qual in facts.names.items():
                    if self.index.canonical(qual) in models and rel not in homes:
                        out.append(Use(rel, 1, f"imports `{local}`"))
                        break
            for line, text in self.inventory(rel).sql:
                if norm(table) in text.lower() and sql_names(text, table, None):
                    out.append(Use(rel, line, "raw SQL"))
        return sorted(set(out), key=lambda u: (u.rel, u.line))

    # -- one file ----------------------------------------------------------------------------------
    def inventory(self, rel: str) -> Inventory:
        hit = self._inventories.get(rel)
        if hit is None:
            hit = self._inventories[rel] = Inventory()
            tree = self.facts.tree(rel)
            facts = self.index.files.get(rel)
            if tree is not None and facts is not None:
                _Collector(self, facts, hit).module(tree)
        return hit


class _Collector:
    def __init__(self, usages: Usages, facts, inv: Inventory):
        self.u = usages
        self.facts = facts
        self.inv = inv
        names = ModuleNames(facts.module, facts.is_package)
        names.names = dict(facts.names)
        self.names = names

    def module(self, tree: ast.Module) -> None:
        scope = Scope(self.names, func=None)
        scope.locals = dict(self.facts.module_locals or {})
        scope.freeze()
        self.body(tree.body, scope, self.facts.module, None)

    def body(self, body, scope, prefix: str, cls: Optional[str]) -> None:
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                qual = f"{prefix}.{stmt.name}" if prefix else stmt.name
                for node in stmt.decorator_list + stmt.args.defaults:
                    self.expr(node, scope)
                ff = self.facts.functions.get(qual)
                cached = ff.locals if ff is not None and ff.line == stmt.lineno else None
                decos = [scope.ref_of(d) for d in stmt.decorator_list]
                try:
                    inner = function_scope(self.names, stmt, qual, cls, scope, decos, locals_=cached)
                except RecursionError:
                    continue
                self.body(stmt.body, inner, qual, None)
            elif isinstance(stmt, ast.ClassDef):
                qual = f"{prefix}.{stmt.name}" if prefix else stmt.name
                for node in stmt.decorator_list + stmt.bases:
                    self.expr(node, scope)
                self.class_lists(stmt, qual, scope)
                self.body(stmt.body, scope, qual, qual)
            else:
                for node in ast.iter_child_nodes(stmt):
                    if isinstance(node, ast.stmt):
                        self.body([node], scope, prefix, cls)
                    else:
                        self.expr(node, scope)

    def expr(self, node, scope) -> None:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call):
                self.call(sub, scope)
            elif isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Load):
                model = self.model_of(sub.value, scope, (TK.INST, TK.MODEL))
                if model is not None:
                    self.inv.attrs.append((model, sub.attr, sub.lineno))
            elif isinstance(sub, ast.Constant) and isinstance(sub.value, str) and len(sub.value) > 12 \
                    and SQL_WORDS.search(sub.value):
                self.inv.sql.append((sub.lineno, sub.value))

    def model_of(self, node, scope, kinds=MODEL_TYPES) -> Optional[str]:
        try:
            t = self.u.typer.type_of(scope.ref_of(node))
        except RecursionError:
            return None
        if t and t[0] in kinds and len(t) > 1 and isinstance(t[1], str):
            return t[1]
        return None

    def call(self, node: ast.Call, scope) -> None:
        func = node.func
        if not isinstance(func, ast.Attribute) or func.attr not in LOOKUP_METHODS:
            return
        model = self.model_of(func.value, scope)
        if model is None:
            return
        how = f"`.{func.attr}()`"
        line = getattr(func, "end_lineno", None) or node.lineno  # the method's own line in a chain
        aliases = _aliases(func.value)
        for keyword in node.keywords:
            if keyword.arg and func.attr not in ALIASING and keyword.arg not in NOT_FIELDS \
                    and _first(keyword.arg) not in aliases:
                self.inv.lookups.append((model, _first(keyword.arg), line, f"{how} lookup `{keyword.arg}`"))
        for arg in node.args:
            for sub in ast.walk(arg):
                if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and func.attr in STRING_ARG_METHODS \
                        and sub in node.args and _first(sub.value) not in aliases:
                    self.inv.lookups.append((model, _first(sub.value), line, f"{how} with {sub.value!r}"))
                elif isinstance(sub, ast.Call) and isinstance(sub.func, (ast.Name, ast.Attribute)):
                    called = sub.func.attr if isinstance(sub.func, ast.Attribute) else sub.func.id
                    if called in ("Q",):
                        for keyword in sub.keywords:
                            if keyword.arg:
                                self.inv.lookups.append((model, _first(keyword.arg), sub.lineno,
                                                         f"`Q({keyword.arg}=…)`"))
                    elif called in STRING_ARG_METHODS and sub.args and isinstance(sub.args[0], ast.Constant) \
                            and isinstance(sub.args[0].value, str):
                        self.inv.lookups.append((model, _first(sub.args[0].value), sub.lineno,
                                                 f"`{called}({sub.args[0].value!r})`"))
        if func.attr in ("annotate", "aggregate", "filter", "exclude", "update"):
            for keyword in node.keywords:
                for sub in ast.walk(keyword.value):
                    if isinstance(sub, ast.Call) and isinstance(sub.func, (ast.Name, ast.Attribute)):
                        called = sub.func.attr if isinstance(sub.func, ast.Attribute) else sub.func.id
                        if called in STRING_ARG_METHODS and sub.args and isinstance(sub.args[0], ast.Constant) \
                                and isinstance(sub.args[0].value, str):
                            self.inv.lookups.append((model, _first(sub.args[0].value), sub.lineno,
                                                     f"`{called}({sub.args[0].value!r})`"))

    def class_lists(self, node: ast.ClassDef, qual: str, scope) -> None:
        """``Meta.model`` + ``Meta.fields`` (serializers, forms, filter sets), or a class
        attribute ``model = X`` / ``@admin.register(X)`` + ``list_display`` and the like."""
        if node.name == "Meta":
            return  # read with the class that holds it
        model = None
        meta = next((s for s in node.body if isinstance(s, ast.ClassDef) and s.name == "Meta"), None)
        lists: List[Tuple[str, ast.AST, int]] = []
        for stmt in (meta.body if meta is not None else []):
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                if stmt.targets[0].id == "model":
                    model = self.model_of(stmt.value, scope, (TK.MODEL,))
                elif stmt.targets[0].id in FIELD_LISTS:
                    lists.append((f"Meta.{stmt.targets[0].id}", stmt.value, stmt.lineno))
        for stmt in node.body:
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                if stmt.targets[0].id == "model" and model is None:
                    model = self.model_of(stmt.value, scope, (TK.MODEL,))
                elif stmt.targets[0].id in FIELD_LISTS:
                    lists.append((stmt.targets[0].id, stmt.value, stmt.lineno))
        for deco in node.decorator_list:
            if isinstance(deco, ast.Call) and isinstance(deco.func, ast.Attribute) and deco.func.attr == "register":
                for arg in deco.args:
                    model = model or self.model_of(arg, scope, (TK.MODEL,))
        if model is None:
            return
        own = {t.id for stmt in node.body if isinstance(stmt, (ast.Assign, ast.AnnAssign))
               for t in (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]) if isinstance(t, ast.Name)}
        own |= {stmt.name for stmt in node.body if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef))}
        for where, value, line in lists:
            names = tuple(n for n in _strings(value) if _first(n) not in own)
            if names:
                self.inv.lists.append((model, names, line, f"`{node.name}.{where}`"))


def _aliases(node: ast.AST) -> Set[str]:
    """Names a query chain defines before this call: ``annotate(x=…)``, ``alias(x=…)``,
    ``values(x=F(…))``."""
    out: Set[str] = set()
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr in ("annotate", "alias", "values", "values_list"):
            out.update(k.arg for k in node.keywords if k.arg)
        node = node.func.value
    return out


def _is_field(ff) -> bool:
    """A model attribute that is a column-backed field (not a manager or a helper object)."""
    from ...core.refs import dotted

    name = (dotted(ff.ctor) or "").rsplit(".", 1)[-1]
    return name.endswith(("Field", "ForeignKey", "Column", "column")) or name in ("ForeignKey", "OneToOneField")


def _strings(node: ast.AST) -> Tuple[str, ...]:
    out = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            out.append(sub.value)
    return tuple(out)


def sql_names(text: str, table: str, column: Optional[str]) -> bool:
    """Does SQL ``text`` name ``table`` (and ``column`` of it)? Parsed with sqlglot (Postgres);
    text that does not parse is not evidence."""
    import logging

    import sqlglot
    from sqlglot import exp

    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        statements = [s for s in sqlglot.parse(re.sub(r"%\(\w+\)s|%s|\?", "NULL", text), read="postgres") if s]
    except Exception:  # sqlglot raises several error types on odd input
        return False
    finally:
        logger.setLevel(level)
    wanted = norm(table).rpartition(".")[2]
    for statement in statements:
        tables = {t.name.lower(): (t.alias_or_name or "").lower() for t in statement.find_all(exp.Table)}
        if wanted not in tables:
            continue
        if column is None:
            return True
        aliases = {wanted, tables[wanted]}
        single = len(tables) == 1
        for col in statement.find_all(exp.Column):
            if col.name.lower() == column.lower() and (single or (col.table or "").lower() in aliases):
                return True
    return False


def django_models_for(project, facts: MigrationFacts, label: str, name: Optional[str]) -> List[str]:
    """Index quals of the Django models that are ``label.name`` (the app folder decides)."""
    from .drift import app_label_for

    if not name:
        return []
    dirs = {folder: lab for lab, folder in facts.replay.discovery.app_dirs.items()}
    out = []
    for model in project.index.models_by_name.get(name, []) + [
            m for n, ms in project.index.models_by_name.items() if n.lower() == name.lower() and n != name for m in ms]:
        if model.orm != "django" or not model.path:
            continue
        cf = project.index.classes.get(model.qual)
        if app_label_for(model.path, cf.meta.get("app_label") if cf else None, dirs) == label:
            out.append(model.qual)
    return out


def sa_models_for(project, table: str) -> List[str]:
    return [m.qual for m in project.index.models.values() if m.orm == "sqlalchemy" and norm(m.table) == norm(table)]


def usages_of(project, facts: MigrationFacts) -> Usages:
    return project.index.derived("migrations.usages", lambda: Usages(project, facts))


def field_names(field_name: str, column: Optional[str], relation: bool) -> Set[str]:
    """The attribute and lookup names that mean one column: the field, ``<fk>_id``."""
    out = {field_name}
    if relation:
        out.add(f"{field_name}_id")
    if column:
        out.add(column)
    return out
