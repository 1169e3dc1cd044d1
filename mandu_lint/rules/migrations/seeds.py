"""Seed code for MDB609: which functions are seed entry points, and which keys of a model are
unique.

**Entry points** (a function of the file being checked):

- every function of a file matching the ``migrations.seeds`` globs;
- Django management commands named ``seed*``/``init*``/``bootstrap*``/``load*``
  (``management/commands/<name>.py``), click/typer/Flask CLI commands with such a name;
- ``post_migrate`` receivers (``@receiver(post_migrate)``, ``post_migrate.connect(f)``);
- ``AppConfig.ready``; FastAPI/Starlette startup handlers (``@app.on_event("startup")``) and
  lifespans (``FastAPI(lifespan=f)``, a function named ``lifespan``);
- functions the project's execution contexts mark ``seed`` (``project/contexts.py``);
- module functions and same-class methods those call (three calls deep).

Never: test code, and dev/demo data (``fake``/``demo``/``sample``… in the path or name, Faker or
factory_boy in the module): generators of fake data are not expected to be idempotent.

**Unique keys** of a model: the primary key, ``unique=True`` fields, one-to-one fields,
``unique_together``, ``UniqueConstraint``s without a condition (Django ``Meta.constraints``,
SQLAlchemy ``__table_args__``), read from the index and, for constraints, from the model's file.
"""
from __future__ import annotations

import ast
import re
from typing import Dict, FrozenSet, List, Optional, Set

from ...core.refs import dotted
from ...globs import GlobSet
from ...project.contexts import DEV_WORDS, TEST_PATH
from . import pyast

SEED_NAME = re.compile(r"^(seed|init|bootstrap|load)", re.I)
COMMAND_FILE = re.compile(r"(^|/)management/commands/([^/]+)\.py$")
VOLATILE_CALLS = frozenset({"now", "utcnow", "today", "uuid1", "uuid4", "time", "time_ns", "random", "randint",
                            "randrange", "choice", "choices", "sample", "shuffle", "token_hex", "token_urlsafe",
                            "token_bytes", "urandom", "monotonic"})
VOLATILE_ROOTS = frozenset({"random", "secrets", "fake", "faker", "Faker", "factory", "mimesis"})
FAKE_MODULES = ("faker", "factory", "mimesis", "model_bakery", "autofixture")


def _names(node: ast.AST) -> str:
    return pyast.dotted(node) or ""


def dev_or_test(rel: str, tree: ast.Module) -> bool:
    """Test code, or a file generating fake/demo data."""
    if TEST_PATH.search(rel):
        return True
    if DEV_WORDS.search(rel):
        return True
    for node in tree.body:
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] in FAKE_MODULES for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FAKE_MODULES:
            return True
    return False


def registered(ctx) -> Dict[str, str]:
    """Functions registered as entry points anywhere in the project, by qualified name:
    ``post_migrate.connect(f)``, ``FastAPI(lifespan=f)``, ``cli.add_command(seed)``."""
    return ctx.derived("migrations.seed_registrations", lambda: _registered(ctx))


def _registered(ctx) -> Dict[str, str]:
    out: Dict[str, str] = {}
    project, index = ctx.project, ctx.index
    for rel in project.relfiles:
        data = project.data(rel)
        if not data or not (b"post_migrate" in data or b"lifespan" in data or b"add_command" in data):
            continue
        tree = pyast.parse(data.decode("utf-8", errors="replace"), rel)
        facts = index.files.get(rel)
        if tree is None or facts is None:
            continue
        imported = _imports(tree, facts)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            found = []
            if isinstance(func, ast.Attribute) and func.attr == "connect" and "post_migrate" in _names(func.value) \
                    and node.args:
                found.append((node.args[0], "a post_migrate receiver (runs after every migrate)"))
            found += [(kw.value, "the app's lifespan (runs on every start)") for kw in node.keywords
                      if kw.arg == "lifespan"]
            if isinstance(func, ast.Attribute) and func.attr == "add_command" and node.args \
                    and SEED_NAME.match(pyast.last_part(_names(node.args[0]))):
                found.append((node.args[0], f"the `{pyast.last_part(_names(node.args[0]))}` CLI command"))
            for target, why in found:
                name = _names(target)
                if name:
                    head, _, rest = name.partition(".")
                    qual = imported.get(head) or facts.names.get(head) or f"{facts.module}.{head}"
                    out[f"{qual}.{rest}" if rest else qual] = why
    return out


def _imports(tree: ast.Module, facts) -> Dict[str, str]:
    """Names bound by ``from x import y`` anywhere in the file (local imports included)."""
    out: Dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                out[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.ImportFrom) and node.level:
            package = facts.module.split(".")
            if not facts.is_package:
                package = package[:-1]
            base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
            module = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                out[alias.asname or alias.name] = f"{module}.{alias.name}"
    return out


class EntryFinder:
    """Seed entry points of one file (decided from its tree and the project's registrations;
    contexts are asked by the rule)."""

    def __init__(self, rel: str, tree: ast.Module, seed_globs: GlobSet, module: str = "",
                 registrations: Optional[Dict[str, str]] = None):
        self.rel = rel
        self.tree = tree
        self.module = module
        self.registrations = registrations or {}
        self.whole_file = bool(seed_globs) and seed_globs.match(rel)
        command = COMMAND_FILE.search(rel)
        self.command_file = bool(command and SEED_NAME.match(command.group(2))
                                 and not DEV_WORDS.search(command.group(2)))

    def why(self, fn: ast.AST, cls: Optional[ast.ClassDef]) -> Optional[str]:
        """Why ``fn`` is a seed entry point, or None."""
        if self.whole_file:
            return "a seed script (migrations.seeds)"
        name = fn.name
        if self.command_file and (cls is None or cls.name == "Command"):
            return f"the `{COMMAND_FILE.search(self.rel).group(2)}` management command"
        qual = ".".join(p for p in (self.module, cls.name if cls is not None else "", name) if p)
        if qual in self.registrations:
            return self.registrations[qual]
        if name == "lifespan" and cls is None:
            return "the app's lifespan (runs on every start)"
        if name == "ready" and cls is not None and any(_names(b).endswith("AppConfig") for b in cls.bases):
            return "AppConfig.ready() (runs in every process that starts Django)"
        for deco in fn.decorator_list:
            call = deco if isinstance(deco, ast.Call) else None
            target = _names(call.func if call is not None else deco)
            last = pyast.last_part(target)
            if last == "receiver" and call is not None and call.args and "post_migrate" in _names(call.args[0]):
                return "a post_migrate receiver (runs after every migrate)"
            if last == "on_event" and call is not None and call.args and pyast.str_value(call.args[0]) == "startup":
                return "a startup handler (runs on every start)"
            if last in ("command", "group") and not DEV_WORDS.search(name):
                label = pyast.str_value(call.args[0]) if call is not None and call.args else None
                if SEED_NAME.match(label or name):
                    return f"the `{label or name}` CLI command"
        return None


def is_volatile(node: ast.AST) -> Optional[str]:
    """A value that differs on every run (``timezone.now()``, ``uuid4()``, ``random.…``,
    ``fake.…``): its source, else None."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            name = _names(sub.func)
            root = name.split(".")[0] if name else ""
            if pyast.last_part(name) in VOLATILE_CALLS or root in VOLATILE_ROOTS:
                return ast.unparse(sub)
    return None


# -- unique keys -------------------------------------------------------------------------------
def unique_keys(ctx) -> Dict[str, List[FrozenSet[str]]]:
    """Model qual -> its unique keys (sets of field names; ``pk``/``id`` always one)."""
    return ctx.derived("migrations.unique_keys", lambda: _unique_keys(ctx))


def _unique_keys(ctx) -> Dict[str, List[FrozenSet[str]]]:
    ix = ctx.index
    trees: Dict[str, Optional[ast.Module]] = {}
    out: Dict[str, List[FrozenSet[str]]] = {}
    for qual, model in ix.models.items():
        keys: List[FrozenSet[str]] = [frozenset({"pk"}), frozenset({"id"})]
        for name, ff in model.fields.items():
            ctor = pyast.last_part(dotted(ff.ctor) or "") if ff.ctor else ""
            if ff.kw.get("unique") is True or ff.kw.get("primary_key") is True or ctor == "OneToOneField":
                keys.append(frozenset({name}))
                if ff.kw.get("primary_key") is True:
                    keys.append(frozenset({"pk"}))
        for cls in ix.mro(qual):
            cf = ix.classes.get(cls)
            together = cf.meta.get("unique_together") if cf is not None else None
            if together:
                groups = (together,) if isinstance(together[0], str) else together
                keys += [frozenset(g) for g in groups if isinstance(g, (tuple, list))]
        path = model.path
        if path not in trees:
            data = ctx.project.data(path) if path else None
            trees[path] = pyast.parse(data.decode("utf-8", errors="replace"), path) if data else None
        keys += _declared_constraints(trees[path], model.name, model.line)
        out[qual] = keys
    return out


def _declared_constraints(tree: Optional[ast.Module], name: str, line: int) -> List[FrozenSet[str]]:
    if tree is None:
        return []
    cls = next((n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == name and n.lineno == line),
               None)
    if cls is None:
        return []
    found: List[FrozenSet[str]] = []
    places: List[ast.AST] = []
    for stmt in cls.body:
        if isinstance(stmt, ast.ClassDef) and stmt.name == "Meta":
            places += [s.value for s in stmt.body if isinstance(s, ast.Assign)
                       and any(isinstance(t, ast.Name) and t.id == "constraints" for t in s.targets)]
        elif isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__table_args__"
                                                  for t in stmt.targets):
            places.append(stmt.value)
    for place in places:
        for call in (n for n in ast.walk(place) if isinstance(n, ast.Call)):
            kind = pyast.last_part(pyast.call_name(call))
            if kind not in ("UniqueConstraint", "Index"):
                continue
            if kind == "Index" and not any(k.arg == "unique" and pyast.literal(k.value) is True for k in call.keywords):
                continue
            if any(k.arg in ("condition", "postgresql_where") for k in call.keywords):
                continue
            fields = next((pyast.string_list(k.value) for k in call.keywords if k.arg == "fields"), None)
            if fields is None:
                fields = tuple(pyast.str_value(a) for a in call.args if pyast.str_value(a))
            if fields:
                found.append(frozenset(fields))
    return found


def covers_unique(keys: List[FrozenSet[str]], fields: Set[str], model) -> bool:
    """Do ``fields`` (a lookup's keys) include a whole unique key of the model?"""
    if model is not None:
        fields = {f[:-3] if f.endswith("_id") and f[:-3] in model.relations else f for f in fields}
    return any(key <= fields for key in keys)


def unique_columns(keys: List[FrozenSet[str]], model) -> List[FrozenSet[str]]:
    """The unique keys as column names (``author`` -> ``author_id`` for a relation)."""
    out = []
    for key in keys:
        out.append(frozenset(f"{k}_id" if model is not None and k in model.relations
                             and model.relations[k].kind in ("fk", "o2o") else k for k in key))
    return out
