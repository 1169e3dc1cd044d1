"""The project index: per-file facts merged into one picture of the project.

It answers, for every rule in every front end: what does this name refer to (through imports
and re-exports), which classes are models and how they relate, and — via
:mod:`mandu_lint.project.types` — what a ref is and whether calling it queries.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Callable, Dict, Iterable, List, Optional

from ..core.refs import dotted
from .extract import ClassFacts, FileFacts
from .types import Typer
from .models import (DJANGO_MANAGER_BASES, DJANGO_MODEL_BASES, DJANGO_REL, FLASK_SQLALCHEMY, SA_DECL_BASES,
                     SA_DECL_FACTORIES, SA_REL, SQLMODEL_BASE, Model, Relation, default_reverse_name,
                     django_app_label, expand_related_name, resolve_target, snake)
from ..core.tags import RT, TK

_MAX_ALIAS_HOPS = 8


class FactsMap(Mapping):
    """Path → FileFacts, loaded on first use: a run that checks one file (flake8 in an
    editor) reads the facts of only the modules that file reaches."""

    def __init__(self, rels: Iterable[str], loader: Optional[Callable[[str], Optional[FileFacts]]] = None,
                 loaded: Optional[Dict[str, FileFacts]] = None):
        self._rels = list(rels)
        self._known = set(self._rels)
        self._loader = loader
        self._loaded: Dict[str, FileFacts] = dict(loaded or {})

    def __getitem__(self, rel: str) -> FileFacts:
        hit = self._loaded.get(rel)
        if hit is None:
            if rel not in self._known or self._loader is None:
                raise KeyError(rel)
            hit = self._loader(rel)
            if hit is None:
                raise KeyError(rel)
            self._loaded[rel] = hit
        return hit

    def __iter__(self):
        return iter(self._rels)

    def __len__(self) -> int:
        return len(self._rels)

    def __contains__(self, rel) -> bool:
        return rel in self._known

    def __getstate__(self):
        return {"_rels": self._rels, "_known": self._known, "_loader": self._loader, "_loaded": {}} \
            if self._loader is not None else self.__dict__


class _QualView(Mapping):
    """Qualified name → a class, function or module-level assignment, looked up in the module
    that defines it (the longest module prefix of the name)."""

    def __init__(self, index: "ProjectIndex", attr: str):
        self._ix = index
        self._attr = attr

    def _table(self, qual: str):
        facts = self._ix.owner(qual)
        return getattr(facts, self._attr) if facts is not None else None

    def get(self, qual, default=None):
        table = self._table(qual)
        return default if table is None else table.get(qual, default)

    def __getitem__(self, qual):
        table = self._table(qual)
        if table is None:
            raise KeyError(qual)
        return table[qual]

    def __contains__(self, qual) -> bool:
        table = self._table(qual)
        return table is not None and qual in table

    def __iter__(self):
        for rel in self._ix.files:
            yield from getattr(self._ix.files[rel], self._attr)

    def items(self):
        """Every (qual, entry), read file by file: a module whose name is unknown (a file outside
        every source root) still lists its entries, although ``owner`` cannot look them up."""
        for rel in self._ix.files:
            facts = self._ix.files[rel]
            if facts is not None:
                yield from getattr(facts, self._attr).items()

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _ModuleView(Mapping):
    def __init__(self, index: "ProjectIndex"):
        self._ix = index

    def __getitem__(self, module):
        return self._ix.files[self._ix.module_rel[module]]

    def __contains__(self, module) -> bool:
        return module in self._ix.module_rel

    def __iter__(self):
        return iter(self._ix.module_rel)

    def __len__(self) -> int:
        return len(self._ix.module_rel)


class _PathView:
    def __init__(self, index: "ProjectIndex"):
        self._ix = index

    def get(self, qual, default=None):
        facts = self._ix.owner(qual)
        return facts.path if facts is not None else default


class ProjectIndex:
    """Built once from every file's facts (models need them all); afterwards it can be
    pickled as a small core (:meth:`core`) and reopened over lazily loaded facts."""

    def __init__(self, files: Mapping, core: Optional[dict] = None):
        self.files = files if isinstance(files, FactsMap) else FactsMap(files, loaded=files)
        self.classes = _QualView(self, "classes")
        self.functions = _QualView(self, "functions")
        self.assigns = _QualView(self, "assigns")
        self.modules = _ModuleView(self)
        self.class_path = _PathView(self)
        self.func_path = _PathView(self)
        self._canon: Dict[str, str] = {}
        self._mro: Dict[str, List[str]] = {}
        self._owner: Dict[str, Optional[str]] = {}
        self._self_attrs: Dict[str, Dict[str, object]] = {}
        self._derived: Dict[object, object] = {}
        if core is None:
            self.module_rel = {f.module: rel for rel, f in self.files.items() if f.module}
            self.models: Dict[str, Model] = {}
            self.models_by_name: Dict[str, List[Model]] = {}
            self._find_models()
            self.import_graph = _import_graph(self.files, self.module_rel)
        else:
            self.module_rel = core["module_rel"]
            self.models = core["models"]
            self.models_by_name = {}
            for m in self.models.values():
                self.models_by_name.setdefault(m.name, []).append(m)
            self.import_graph = core["graph"]
        self.model_files = sorted({m.path for m in self.models.values()})
        self.typer = Typer(self)

    def derived(self, key: object, build: Callable[[], object]):
        """A value computed from this index once (``build()``) and kept under ``key`` while the
        index lives: the one per-index cache the rule families share (``FileContext.derived``)."""
        try:
            return self._derived[key]
        except KeyError:
            value = self._derived[key] = build()
            return value

    def core(self) -> dict:
        """What must be pickled to reopen the index without every file's facts."""
        return {"module_rel": self.module_rel, "models": self.models, "graph": self.import_graph}

    def owner(self, qual: str) -> Optional[FileFacts]:
        """The facts of the module defining ``qual`` (its longest module prefix)."""
        rel = self._owner.get(qual, "")
        if rel == "":
            rel = None
            head = qual
            while head:
                hit = self.module_rel.get(head)
                if hit is not None:
                    rel = hit
                    break
                head = head.rpartition(".")[0]
            self._owner[qual] = rel
        return self.files.get(rel) if rel is not None else None

    # -- names --------------------------------------------------------------------------------
    def canonical(self, qual: str) -> str:
        """Follow re-exports: ``pkg.Session`` imported in ``pkg/__init__.py`` from
        ``sqlalchemy.orm`` becomes ``sqlalchemy.orm.Session``."""
        hit = self._canon.get(qual)
        if hit is not None:
            return hit
        cur = qual
        for _ in range(_MAX_ALIAS_HOPS):
            nxt = self._alias_step(cur)
            if nxt is None or nxt == cur:
                break
            cur = nxt
        self._canon[qual] = cur
        return cur

    def _alias_step(self, qual: str) -> Optional[str]:
        if qual in self.classes or qual in self.functions or qual in self.assigns or qual in self.modules:
            return None
        head, _, last = qual.rpartition(".")
        while head:
            mod = self.modules.get(head)
            if mod is not None:
                first = last.split(".")[0]
                target = mod.names.get(first)
                if target is None:
                    target = self._star_target(mod, first)
                if target is None or target == f"{head}.{first}":
                    return None
                rest = last.split(".", 1)[1:] if "." in last else []
                return ".".join([target] + rest)
            head, _, prefix = head.rpartition(".")
            last = f"{prefix}.{last}"
        return None

    def _star_target(self, mod: FileFacts, name: str) -> Optional[str]:
        """``from .models import *``: the name, if a star-imported project module has it."""
        for star in getattr(mod, "star_imports", ()):
            other = self.modules.get(star)
            if other is not None and (name in other.names or any(
                    q.rsplit(".", 1)[-1] == name for q in (*other.classes, *other.functions, *other.assigns))):
                return f"{star}.{name}"
        return None

    # -- classes ------------------------------------------------------------------------------
    def class_bases(self, qual: str) -> List[str]:
        cf = self.classes.get(qual)
        if cf is None:
            return []
        out = []
        for b in cf.bases:
            name = self.base_name(b, cf)
            if name:
                out.append(name)
        return out

    def base_name(self, ref, cf: Optional[ClassFacts] = None) -> Optional[str]:
        """A base class as a canonical dotted name. ``db.Model`` with ``db = SQLAlchemy()``
        becomes ``flask_sqlalchemy.Model``; ``Base = declarative_base()`` marks ``Base``."""
        if ref is not None and ref[0] == RT.SUB:  # a generic base: ``RepositoryBase[Order]``
            ref = ref[1]
        d = dotted(ref)
        if d is None:
            return None
        d = self.canonical(d)
        head, _, last = d.rpartition(".")
        if last == "Model" and head:
            val = self.assigns.get(self.canonical(head))
            if val is not None and val[0] == RT.CALL and self.canonical(dotted(val[1]) or "") in FLASK_SQLALCHEMY:
                return "flask_sqlalchemy.Model"
        val = self.assigns.get(d)
        if val is not None and val[0] == RT.CALL:
            callee = dotted(val[1])
            if callee and self.canonical(callee) in SA_DECL_FACTORIES:
                return "sqlalchemy.orm.DeclarativeBase"
        return d

    def mro(self, qual: str) -> List[str]:
        """Linearised ancestors (depth-first, duplicates dropped); external names end a branch."""
        hit = self._mro.get(qual)
        if hit is not None:
            return hit
        self._mro[qual] = [qual]  # cycle guard
        out = [qual]
        for b in self.class_bases(qual):
            for a in (self.mro(b) if b in self.classes else [b]):
                if a not in out:
                    out.append(a)
        self._mro[qual] = out
        return out

    def find_method(self, cls: str, name: str) -> Optional[str]:
        for c in self.mro(cls):
            cf = self.classes.get(c)
            if cf is not None and name in cf.methods:
                return cf.methods[name]
        return None

    def class_attr(self, cls: str, name: str):
        for c in self.mro(cls):
            cf = self.classes.get(c)
            if cf is None:
                continue
            if name in cf.attrs:
                return cf.attrs[name]
            attrs = self.self_attrs(c)
            if name in attrs:
                return attrs[name]
        return None

    def self_attrs(self, cls: str) -> Dict[str, object]:
        """``self.x = ...`` assignments in the methods of ``cls`` (unknown when they disagree)."""
        hit = self._self_attrs.get(cls)
        if hit is None:
            hit = {}
            facts = self.owner(cls)
            for fn in (facts.functions.values() if facts is not None else ()):
                if fn.cls == cls:
                    for name, ref in fn.self_assigns:
                        old = hit.get(name, hit)
                        hit[name] = ref if old is hit or old == ref else None
            self._self_attrs[cls] = hit
        return hit

    def is_subclass(self, qual: str, bases: Iterable[str]) -> bool:
        bases = set(bases)
        return any(a in bases for a in self.mro(qual))

    # -- models -------------------------------------------------------------------------------
    def _find_models(self) -> None:
        for qual, cf in self.classes.items():  # every file is in memory while building
            model = self._as_model(qual, cf)
            if model is not None:
                self.models[qual] = model
                self.models_by_name.setdefault(model.name, []).append(model)
        for model in self.models.values():
            self._inherit_fields(model)
        for model in list(self.models.values()):
            self._relations(model)

    def _as_model(self, qual: str, cf: ClassFacts) -> Optional[Model]:
        ancestors = self.mro(qual)
        path = self.class_path.get(qual)
        module = qual.rsplit(".", 1)[0]
        if any(a in DJANGO_MODEL_BASES for a in ancestors):
            abstract = bool(cf.meta.get("abstract")) or qual in DJANGO_MODEL_BASES
            m = Model(qual, cf.name, "django", path, cf.line, abstract=abstract,
                      app_label=str(cf.meta.get("app_label") or django_app_label(module)))
            m.table = str(cf.meta.get("db_table") or f"{m.app_label}_{cf.name.lower()}")
            return m
        flask = "flask_sqlalchemy.Model" in ancestors
        sqlmodel = SQLMODEL_BASE in ancestors
        if flask or any(a in SA_DECL_BASES for a in ancestors) or (sqlmodel and cf.keywords.get("table")):
            if any(b in SA_DECL_BASES for b in self.class_bases(qual)) and "__tablename__" not in cf.attrs \
                    and not cf.fields:
                return None  # ``class Base(DeclarativeBase)`` is the registry, not a table
            abstract = cf.attrs.get("__abstract__") == ("lit", True)
            m = Model(qual, cf.name, "sqlalchemy", path, cf.line, abstract=abstract, flask=flask)
            tn = self._inherited_attr(qual, "__tablename__")
            m.table = str(tn[1]) if tn and tn[0] == RT.LIT else (
                snake(cf.name) if flask else cf.name.lower())
            return m
        return None

    def _inherited_attr(self, qual: str, name: str):
        for c in self.mro(qual):
            cf = self.classes.get(c)
            if cf is not None and name in cf.attrs:
                return cf.attrs[name]
        return None

    def _inherit_fields(self, model: Model) -> None:
        for c in reversed(self.mro(model.qual)):
            cf = self.classes.get(c)
            if cf is None:
                continue
            model.fields.update(cf.fields)
            # ``objects = TaskQuerySet.as_manager()`` is extracted as a field (its value is a call)
            called = [(n, (RT.CALL, ff.ctor, (), ())) for n, ff in cf.fields.items() if ff.ctor is not None]
            for name, ref in list(cf.attrs.items()) + called:
                d = dotted(ref[1]) if ref and ref[0] == RT.CALL else None
                if d and model.orm == "django":
                    mgr = self.canonical(d)
                    if mgr in self.classes and self.is_subclass(mgr, DJANGO_MANAGER_BASES) or \
                            mgr in DJANGO_MANAGER_BASES:
                        model.managers[name] = mgr if mgr in self.classes else None
                    elif ref[1][0] == RT.ATTR and ref[1][2] in ("as_manager", "from_queryset"):
                        qs = self.canonical(dotted(ref[1][1]) or "")
                        model.managers[name] = qs if qs in self.classes else None
        if model.orm == "django":
            model.managers.setdefault("objects", None)

    def _relations(self, model: Model) -> None:
        for name, ff in model.fields.items():
            ctor = dotted(ff.ctor) if ff.ctor else None
            last = ctor.rsplit(".", 1)[-1] if ctor else ""
            if model.orm == "django" and last in DJANGO_REL:
                self._django_relation(model, name, ff, DJANGO_REL[last])
            elif model.orm == "sqlalchemy" and (last in SA_REL or (ctor is None and ff.ann and ff.ann[0] == RT.MAPPED)):
                self._sa_relation(model, name, ff, bool(last in SA_REL))

    def _target_qual(self, target, owner: Model) -> Optional[str]:
        if isinstance(target, str):
            return resolve_target(target, owner, self.models_by_name)
        d = dotted(target) if target is not None else None
        if d:
            q = self.canonical(d)
            return q if q in self.models else None
        return None

    def _django_relation(self, model: Model, name: str, ff, kind: str) -> None:
        target = self._target_qual(ff.target, model)
        if target is None:
            return
        null = bool(ff.kw.get("null")) if kind != "m2m" else True
        model.relations[name] = Relation(name, target, kind, null=null, field_line=ff.line)
        if model.abstract:
            return
        rn = ff.kw.get("related_name")
        if isinstance(rn, str) and rn.endswith("+"):
            return
        rname = expand_related_name(rn, model) if isinstance(rn, str) else default_reverse_name(model, kind)
        rkind = {"fk": "reverse_fk", "o2o": "reverse_o2o", "m2m": "reverse_m2m"}[kind]
        tm = self.models[target]
        tm.relations.setdefault(rname, Relation(rname, model.qual, rkind, field_line=ff.line))
        for sub in self.models.values():  # concrete subclasses of an abstract target inherit it
            if sub is not tm and tm.qual in self.mro(sub.qual) and tm.abstract:
                sub.relations.setdefault(rname, Relation(rname, model.qual, rkind, field_line=ff.line))

    def _sa_relation(self, model: Model, name: str, ff, explicit: bool) -> None:
        ann = ff.ann[1] if ff.ann and ff.ann[0] == RT.MAPPED else None
        collection = ann is not None and ann[0] == TK.LIST
        inner = ann[1] if collection else ann
        target = self._target_qual(ff.target, model) if ff.target is not None else None
        if target is None and inner is not None and inner[0] != RT.LIT:
            target = self._target_qual(inner, model)
        if target is None or (not explicit and target not in self.models):
            return
        uselist = ff.kw.get("uselist")
        if ann is None:
            collection = uselist is True or (uselist is None and not self._has_fk_to(model, target))
        kind = "collection" if collection else "many_to_one"
        model.relations[name] = Relation(name, target, kind, lazy=ff.kw.get("lazy"), field_line=ff.line)
        backref = ff.kw.get("backref")
        if isinstance(backref, str):
            rkind = "many_to_one" if collection else "collection"
            self.models[target].relations.setdefault(backref, Relation(backref, model.qual, rkind, field_line=ff.line))

    def _has_fk_to(self, model: Model, target: str) -> bool:
        table = self.models[target].table
        for ff in model.fields.values():
            fk = ff.kw.get("foreign_key") or ff.kw.get("__fk__")
            if isinstance(fk, str) and fk.split(".")[0] == table:
                return True
        return False

    def model_named(self, name: str) -> List[Model]:
        """Config identifiers: a class name, ``app_label.Model`` or a dotted path."""
        if name in self.models:
            return [self.models[name]]
        if "." in name:
            label, cls = name.rsplit(".", 1)
            return [m for m in self.models_by_name.get(cls, []) if m.app_label == label or m.qual.endswith(name)]
        return list(self.models_by_name.get(name, []))


def _import_graph(files: Mapping, module_rel: Dict[str, str]) -> Dict[str, List[str]]:
    """File → the project files it imports (for the findings cache's dependency digests)."""
    graph: Dict[str, List[str]] = {}
    for rel, f in files.items():
        targets = set()
        for qual in f.names.values():
            head = qual
            while head:
                hit = module_rel.get(head)
                if hit is not None:
                    targets.add(hit)
                    break
                head = head.rpartition(".")[0]
        graph[rel] = sorted(targets)
    return graph
