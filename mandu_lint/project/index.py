"""The project index: per-file facts merged into one picture of the project.

It answers, for every rule in every front end: what does this name refer to (through imports
and re-exports), which classes are models and how they relate, and — via
:mod:`mandu_lint.project.types` — what a ref is and whether calling it queries.
"""
from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import replace
from typing import Callable, Dict, FrozenSet, Iterable, List, Optional, Sequence, Set, Tuple

from ..core.refs import dotted, sql_literal
from .extract import ClassFacts, FileFacts
from .types import Typer
from .models import (DEFAULT_USER_MODEL, DJANGO_APP_CONFIG, DJANGO_MANAGER_BASES, DJANGO_MODEL_BASES, DJANGO_REL,
                     FLASK_SQLALCHEMY, GET_USER_MODEL, LIBRARY_DJANGO_BASES, SA_DECL_BASES, SA_DECL_FACTORIES, SA_REL,
                     SQLMODEL_BASE, USER_MODEL_BASES, USER_MODEL_REFS, Model, ModelTable, Relation,
                     default_reverse_name, django_app_label, expand_related_name, library_models, path_origin,
                     prefer_app, resolve_target, snake)
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

    def __init__(self, files: Mapping, core: Optional[dict] = None, migration_dirs: Sequence[str] = (),
                 template_words: Optional[FrozenSet[str]] = None, script_words: FrozenSet[str] = frozenset()):
        """``migration_dirs``: folders the project's ``alembic.ini`` files name (see
        ``files.alembic_dirs``); their files are migrations. ``template_words``: the identifiers
        the project's templates write (``None``: templates unknown, so any method without
        arguments may be called from one). ``script_words``: the identifiers written in the
        project's scripts and configuration files (``Project._script_files``), which can call
        project code too."""
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
            self.import_roots = _import_roots(self.files, self.module_rel)
            self.migration_dirs = tuple(migration_dirs)
            self.migration_files = frozenset(rel for rel, f in self.files.items() if _is_revision(f))
            self.app_labels = self._app_labels()
            self.models: ModelTable = ModelTable()
            self.models_by_name: Dict[str, List[Model]] = {}
            self.user_model: Optional[str] = None
            self._find_models()
            self.import_graph = _import_graph(self.files, self.module_rel, self.import_roots)
            self.callers, self.sql_evidence, self.relation_evidence = _scan_calls(self)
            self.subclasses = _subclasses(self)
            self.unreferenced = _unreferenced(self, template_words, script_words)
        else:
            self.module_rel = core["module_rel"]
            self.import_roots = core.get("import_roots", {})
            self.models = core["models"]
            self.models_by_name = {}
            for m in self.models.values():
                self.models_by_name.setdefault(m.name, []).append(m)
            self.import_graph = core["graph"]
            self.migration_dirs = core.get("migration_dirs", ())
            self.migration_files = core.get("migration_files", frozenset())
            self.app_labels = core.get("app_labels", {})
            self.user_model = core.get("user_model")
            self.callers = core.get("callers", {})
            self.sql_evidence = core.get("sql_evidence", {})
            self.relation_evidence = core.get("relation_evidence", {})
            self.subclasses = core.get("subclasses", {})
            self.unreferenced = core.get("unreferenced", frozenset())
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
        return {"module_rel": self.module_rel, "import_roots": self.import_roots, "models": self.models,
                "graph": self.import_graph,
                "migration_dirs": self.migration_dirs, "migration_files": self.migration_files,
                "app_labels": self.app_labels, "user_model": self.user_model, "callers": self.callers,
                "sql_evidence": self.sql_evidence, "relation_evidence": self.relation_evidence,
                "subclasses": self.subclasses, "unreferenced": self.unreferenced}

    def sql_of(self, ref) -> Optional[str]:
        """``query``/``write`` when ``ref`` is an SQL string literal, directly or through a
        module-level constant (``QUERY = "SELECT …"``)."""
        kind = sql_literal(ref)
        if kind is None and ref is not None and ref[0] == RT.GLOBAL:
            q = self.canonical(ref[1])
            if q in self.assigns:
                kind = sql_literal(self.assigns.get(q))
        return kind

    @property
    def has_django(self) -> bool:
        """Does the project define Django models?"""
        hit = self._derived.get("index.has_django")
        if hit is None:
            hit = self._derived["index.has_django"] = any(m.orm == "django" for m in self.models.values())
        return hit

    def origin(self, rel: Optional[str]) -> str:
        """``migration``, ``test`` or ``app`` (see ``models.path_origin``); a file with module-level
        ``revision`` and ``down_revision`` is an Alembic migration wherever it lives."""
        if rel is None:
            return "app"
        if rel in self.migration_files:
            return "migration"
        return path_origin(rel, self.migration_dirs)

    def owner(self, qual: str) -> Optional[FileFacts]:
        """The facts of the module defining ``qual`` (its longest module prefix)."""
        rel = self._owner.get(qual, "")
        if rel == "":
            rel = None
            head = self.rebase(qual)
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

    def rebase(self, qual: str) -> str:
        """``core.database.Base`` imported by code run from ``backend/app`` (its own source root,
        which the layout does not show) is ``backend.app.core.database.Base`` here (see
        :func:`_import_roots`)."""
        return _rebase(self.import_roots, qual)

    def _alias_step(self, qual: str) -> Optional[str]:
        rebased = self.rebase(qual)
        if rebased != qual:
            return rebased
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
            if val is not None and val[0] == RT.CALL and self.is_flask_sqlalchemy(dotted(val[1]) or ""):
                return "flask_sqlalchemy.Model"
        val = self.assigns.get(d)
        if val is not None and val[0] == RT.CALL:
            callee = dotted(val[1])
            if callee and self.canonical(callee) in SA_DECL_FACTORIES:
                return "sqlalchemy.orm.DeclarativeBase"
        return d

    def is_flask_sqlalchemy(self, name: str) -> bool:
        """``flask_sqlalchemy.SQLAlchemy`` or a project subclass of it (indico's
        ``class IndicoSQLAlchemy(SQLAlchemy)``)."""
        q = self.canonical(name) if name else ""
        if q in FLASK_SQLALCHEMY:
            return True
        return q in self.classes and self.is_subclass(q, FLASK_SQLALCHEMY)

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

    def manager_methods(self, model: str, name: str) -> List[str]:
        """The project methods called ``name`` that a model's custom managers and querysets
        define (``objects = PackageQuerySet.as_manager()`` with ``def normal(self)``), in the
        order of the model's managers."""
        m = self.models.get(model)
        found = (self.find_method(cls, name) for cls in filter(None, m.managers.values())) if m is not None else ()
        return [meth for meth in found if meth is not None]

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
        mapped = self._imperative_models()
        if any(m.orm == "django" for m in self.models.values()):
            self.models.library.update(library_models())
        self.user_model = self._find_user_model()
        for model in self.models.values():
            self._inherit_fields(model)
        for qual, fields in mapped.items():  # the table's columns and the mapping's properties
            self.models[qual].fields.update(fields)
        for model in self.models.values():
            self._column_fks(model)
        for model in list(self.models.values()):
            self._relations(model)
        for model in list(self.models.values()):
            self._parent_link(model)

    def _parent_link(self, model: Model) -> None:
        """Django multi-table inheritance: a concrete model whose nearest model ancestor is a
        concrete project model has the one-to-one ``<parent>_ptr`` to it, and the parent has the
        reverse one-to-one named after the child (``status.comment``), read lazily like any
        other. Proxies (``Meta.proxy``) share their parent's table and have neither."""
        if model.orm != "django" or model.abstract:
            return
        cf = self.classes.get(model.qual)
        if cf is None or cf.meta.get("proxy"):
            return
        parent = next((self.models[c] for c in self.mro(model.qual)[1:]  # abstract bases have no table
                       if c in self.models and self.models[c].orm == "django" and not self.models[c].abstract), None)
        if parent is None or parent.origin == "library":
            return
        ptr = f"{parent.name.lower()}_ptr"
        model.relations.setdefault(ptr, Relation(ptr, parent.qual, "o2o", null=False))
        parent.relations.setdefault(model.name.lower(), Relation(model.name.lower(), model.qual, "reverse_o2o"))

    def mti_children(self, qual: str) -> List[Tuple[str, str]]:
        """(link name, child qual) of each multi-table child of model ``qual`` (``_parent_link``)."""
        m = self.models.get(qual)
        if m is None or m.orm != "django":
            return []
        ptr = f"{m.name.lower()}_ptr"
        out = []
        for name, rel in m.relations.items():
            child = self.models.get(rel.target) if rel.kind == "reverse_o2o" else None
            back = child.relations.get(ptr) if child is not None else None
            if back is not None and back.target == qual and back.kind == "o2o":
                out.append((name, rel.target))
        return out

    def _imperative_models(self) -> Dict[str, Dict[str, object]]:
        """Classes mapped imperatively (``registry.map_imperatively(Cls, table, properties=...)``,
        the classic ``mapper(...)``) onto a module-level ``Table``: SQLAlchemy models whose table
        and columns come from the ``Table`` and whose relationships come from ``properties``.
        Returns model qual -> those fields, added after the class's own (``Mapped[...]``
        annotations)."""
        out: Dict[str, Dict[str, object]] = {}
        for rel, facts in self.files.items():
            for cls_ref, table_ref, props, _line in getattr(facts, "mappings", ()):
                qual = self.canonical(dotted(cls_ref) or "")
                table = self.canonical(dotted(table_ref) or "")
                cf = self.classes.get(qual)
                if cf is None or qual in self.models or "." not in table:
                    continue
                module, _, var = table.rpartition(".")
                owner = self.files.get(self.module_rel.get(module, ""))
                found = getattr(owner, "tables", {}).get(var) if owner is not None else None
                if found is None:
                    continue
                path = self.class_path.get(qual)
                m = Model(qual, cf.name, "sqlalchemy", path, cf.line, origin=self.origin(path))
                m.table = found[0]
                self.models[qual] = m
                self.models_by_name.setdefault(m.name, []).append(m)
                out[qual] = {**found[1], **props}
        return out

    def _app_labels(self) -> Dict[str, str]:
        """App package -> Django app label, from the ``AppConfig`` classes of ``apps.py`` files
        (``label``, else the last part of ``name``, else the package's name)."""
        out: Dict[str, str] = {}
        for rel, f in self.files.items():
            if not f.module or f.module.rsplit(".", 1)[-1] != "apps" or not f.classes:
                continue
            pkg = f.module.rsplit(".", 1)[0] if "." in f.module else ""
            for qual, cf in f.classes.items():
                if not self.is_subclass(qual, DJANGO_APP_CONFIG):
                    continue
                name, label = cf.attrs.get("name"), cf.attrs.get("label")
                app = name[1] if _lit_str(name) else pkg
                lab = label[1] if _lit_str(label) else (app or pkg).rsplit(".", 1)[-1]
                for key in (app, pkg):
                    if key and lab:
                        out.setdefault(key, lab)
        return out

    def app_label_of(self, module: str) -> str:
        """The app label of a model defined in ``module``: the app whose package holds it
        (an ``apps.py`` above it), else the package that holds ``models``."""
        head = module
        while head:
            hit = self.app_labels.get(head)
            if hit is not None:
                return hit
            head = head.rpartition(".")[0]
        return django_app_label(module)

    def _find_user_model(self) -> Optional[str]:
        """The project's user model, from ``AUTH_USER_MODEL = "app.Model"`` in a settings module."""
        values = []
        for rel, f in self.files.items():
            v = f.literals.get("AUTH_USER_MODEL") if f.literals else None
            if isinstance(v, str) and v not in values:
                values.append(v)
        for v in values:
            cands = prefer_app(self.model_named(v))
            if len(cands) == 1:
                return cands[0].qual
        if values or DEFAULT_USER_MODEL not in self.models:
            return None
        # no ``AUTH_USER_MODEL`` anywhere: Django's own ``User``, unless the project defines a
        # user model (its setting is then computed, and which model it names is not known)
        if any(self.is_subclass(q, USER_MODEL_BASES) for q in self.models):  # the project's models only
            return None
        return DEFAULT_USER_MODEL

    def _column_fks(self, model: Model) -> None:
        """``ForeignKey(Parent.id)``: record the ``"table.column"`` it names, as for a string FK."""
        for name, ff in list(model.fields.items()):
            ref = ff.kw.get("__fk_ref__") if isinstance(ff.kw, dict) else None
            if ref is None or "__fk__" in ff.kw:
                continue
            d = dotted(ref)
            if not d or "." not in d:
                continue
            head, _, column = d.rpartition(".")
            while head:
                q = self.canonical(head)
                target = self.models.get(q)
                if target is not None:
                    if target.table:
                        model.fields[name] = replace(ff, kw={**ff.kw, "__fk__": f"{target.table}.{column}"})
                    break
                head = head.rpartition(".")[0]

    def _as_model(self, qual: str, cf: ClassFacts) -> Optional[Model]:
        ancestors = self.mro(qual)
        path = self.class_path.get(qual)
        module = qual.rsplit(".", 1)[0]
        if any(a in DJANGO_MODEL_BASES or a in LIBRARY_DJANGO_BASES for a in ancestors) or \
                self._library_django_model(ancestors):
            abstract = bool(cf.meta.get("abstract")) or qual in DJANGO_MODEL_BASES
            m = Model(qual, cf.name, "django", path, cf.line, abstract=abstract,
                      app_label=str(cf.meta.get("app_label") or self.app_label_of(module)), origin=self.origin(path))
            m.table = str(cf.meta.get("db_table") or f"{m.app_label}_{cf.name.lower()}")
            return m
        flask = "flask_sqlalchemy.Model" in ancestors
        sqlmodel = SQLMODEL_BASE in ancestors
        if flask or any(a in SA_DECL_BASES for a in ancestors) or (sqlmodel and cf.keywords.get("table")):
            if any(b in SA_DECL_BASES for b in self.class_bases(qual)) and "__tablename__" not in cf.attrs \
                    and not cf.fields:
                return None  # ``class Base(DeclarativeBase)`` is the registry, not a table
            abstract = cf.attrs.get("__abstract__") == ("lit", True)
            m = Model(qual, cf.name, "sqlalchemy", path, cf.line, abstract=abstract, flask=flask,
                      origin=self.origin(path))
            tn = self._inherited_attr(qual, "__tablename__")
            m.table = str(tn[1]) if tn and len(tn) > 1 and tn[0] == RT.LIT else (
                snake(cf.name) if flask else cf.name.lower())
            return m
        return None

    def _library_django_model(self, ancestors: List[str]) -> bool:
        """A class deriving from a library's class the index cannot read (``SoftDeleteModel`` of
        a package not in ``LIBRARY_DJANGO_BASES``) whose own body, or a project ancestor's,
        declares Django model fields (``models.CharField()``, ``models.ForeignKey()``): only a
        model's fields are written so, and Django ignores them on a class that is not a model."""
        external = [a for a in ancestors if a not in self.classes]
        if not external or any(a.startswith(("django.", "rest_framework.")) for a in external):
            return False  # forms, serializers, admin and plain Django classes are not models
        for a in ancestors:
            cf = self.classes.get(a)
            if cf is not None and any(ff.ctor is not None and (self.canonical(dotted(ff.ctor) or "")).startswith(
                    "django.db.models.") for ff in cf.fields.values()):
                return True
        return False

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
                    elif mgr not in self.classes and "." in mgr and mgr.rsplit(".", 1)[1].endswith("Manager"):
                        model.managers[name] = mgr  # a library's manager (django-scopes' ScopedManager), by name
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
        if target is not None and target[0] == RT.CALL:  # ``get_user_model()``
            d = dotted(target[1])
            return self.user_model if d and self.canonical(d) in GET_USER_MODEL else None
        d = dotted(target) if target is not None else None
        if d:
            q = self.canonical(d)
            if q in USER_MODEL_REFS:  # ``settings.AUTH_USER_MODEL``
                return self.user_model
            return q if q in self.models else None
        return None

    def _django_relation(self, model: Model, name: str, ff, kind: str) -> None:
        target = self._target_qual(ff.target, model)
        if target is None:
            return
        null = bool(ff.kw.get("null")) if kind != "m2m" else True
        model.relations[name] = Relation(name, target, kind, null=null, field_line=ff.line)
        if model.abstract or self._concrete_parent_declares(model, name):
            return  # the reverse relation is the declaring model's (multi-table inheritance)
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

    def _concrete_parent_declares(self, model: Model, name: str) -> bool:
        """A field a concrete parent model declares (multi-table inheritance, a proxy, a typing
        subclass under ``if TYPE_CHECKING:``): its reverse relation leads to the parent."""
        for c in self.mro(model.qual)[1:]:
            cf, parent = self.classes.get(c), self.models.get(c)
            if cf is not None and name in cf.fields and parent is not None and not parent.abstract:
                return True
        return False

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
            if isinstance(fk, str) and "." in fk:
                named = fk.rsplit(".", 1)[0]  # "parent.id", "schema.parent.id"
                if named == table or named.rsplit(".", 1)[-1] == table:
                    return True
        return False

    def model_named(self, name: str) -> List[Model]:
        """Config identifiers: a class name, ``app_label.Model`` or a dotted path."""
        if name in self.models:
            return [self.models[name]]
        if "." in name:
            label, cls = name.rsplit(".", 1)
            cands = self.models_by_name.get(cls, [])
            if cls not in self.models_by_name:  # Django resolves "app.ModelName" case-insensitively
                cands = next((v for k, v in self.models_by_name.items() if k.lower() == cls.lower()), [])
            return prefer_app([m for m in cands if m.app_label == label or m.qual.endswith("." + name)])
        return prefer_app(list(self.models_by_name.get(name, [])))

    def model_name_problem(self, name: str) -> Optional[str]:
        """Why a model identifier from the config names no model of the project, or None when it
        does (or names a library's model: a dotted name outside the project). An unknown
        ``app_label.Model`` whose label is a project app, or a dotted path into a project module,
        is a problem, with a close name suggested."""
        import difflib

        if self.model_named(name):
            return None
        names = sorted(self.models_by_name)
        if "." not in name:
            close = difflib.get_close_matches(name, names, n=1)
            return f"no model named {name!r} in the project" + (f" (did you mean {close[0]!r}?)" if close else "")
        head, cls = name.rsplit(".", 1)
        labels = {m.app_label for m in self.models.values() if m.orm == "django"}
        if head in labels:
            known = sorted(f"{m.app_label}.{m.name}" for m in self.models.values() if m.app_label == head)
        elif self.owner(name) is not None or head in self.module_rel:
            known = sorted(m.qual for m in self.models.values() if m.qual.startswith(head + ".")) or sorted(self.models)
        else:
            return None  # ``auth.User``, ``otherlib.models.Thing``: not the project's to check
        close = difflib.get_close_matches(name, known, n=1) or difflib.get_close_matches(
            cls, [k.rsplit(".", 1)[-1] for k in known], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"no model named {name!r} in the project{hint}"


def _subclasses(ix: "ProjectIndex") -> Dict[str, Tuple[str, ...]]:
    """Project class -> the project classes that name it as a direct base (kept in the index's
    core, so a one-file run finds a mixin's views without reading every file's facts)."""
    out: Dict[str, List[str]] = {}
    for qual in ix.classes:
        for base in ix.class_bases(qual):
            if base in ix.classes:
                out.setdefault(base, []).append(qual)
    return {k: tuple(sorted(v)) for k, v in out.items()}


def _unreferenced(ix: "ProjectIndex", template_words: Optional[FrozenSet[str]] = None,
                  script_words: FrozenSet[str] = frozenset()) -> FrozenSet[str]:
    """Module-level classes nothing in the project uses: the module is imported
    by another project file (so it is part of the app's wiring, not a script or an entry module
    found by path), yet no name that resolves to it (through imports and re-exports) is loaded,
    the name is never read as an attribute nor written in a string literal anywhere
    (``urls.py`` strings, ``__all__``, task names count as uses), and it is not decorated
    (decorators register) nor a model. Code nothing can reach cannot fail in production;
    findings there are dropped (``Rule.report``). Functions are left alone: a module-level
    function is often an entry point named outside Python (a plugin, a CLI script, a scheduler's
    configuration), while a class is used by instantiating or subclassing it. A name written in
    a script or configuration file (``script_words``) is a use. Tests count as uses too: code a
    test calls and the application does not yet is usually code in development, whose caller
    comes in the next change, and a pull-request gate must not go silent on it."""
    used: Set[str] = set(script_words)
    refs: Set[str] = set()
    imported: Set[str] = set()
    for rel, f in ix.files.items():
        used |= f.idents
        refs |= getattr(f, "name_refs", frozenset())
        own = set(f.functions) | set(f.classes) | set(f.assigns)
        for qual in f.names.values():
            if qual == f.module or qual in own:
                continue
            head = ix.rebase(qual)
            while head:
                imported.add(head)
                head = head.rpartition(".")[0]
    refs = {ix.canonical(q) for q in refs} | refs
    out = set()
    for rel, f in ix.files.items():
        if not f.module or f.module not in imported:
            continue
        for qual, cf in f.classes.items():
            if qual.rpartition(".")[0] != f.module:
                continue  # a nested class
            if cf.decorators or cf.name in used or qual in refs or cf.name.startswith("__") or qual in ix.models:
                continue
            out.add(qual)
        if ix.origin(rel) == "app":
            out.update(_unreferenced_methods(ix, f, used, template_words))
    return frozenset(out)


# Methods of Django's ``Model`` that Django itself calls: an override is used although no project
# code names it.
_MODEL_HOOKS = frozenset("""from_db check clean clean_fields validate_unique validate_constraints full_clean save
delete refresh_from_db get_deferred_fields serializable_value prepare_database_save natural_key
get_by_natural_key save_base unique_error_message date_error_message get_absolute_url""".split())
_STATIC_OR_CLASS = frozenset({"builtins.staticmethod", "builtins.classmethod"})


def _unreferenced_methods(ix: "ProjectIndex", f: FileFacts, used: Set[str],
                          template_words: Optional[FrozenSet[str]]) -> Set[str]:
    """Methods nothing in the project names — no call, attribute, ``getattr`` string or other
    string anywhere (tests, scripts and configuration included) — of a model or of a class whose
    bases are all the project's own: no library calls them by a name it chose. Only methods a
    template cannot call either (a class or static method, one that takes a required argument,
    or, once the project's templates are known, one whose name none of them writes), and neither
    decorated nor a Django ``Model`` hook."""
    out = set()
    for qual, fn in f.functions.items():
        cls = fn.cls
        if cls is None or qual.rpartition(".")[0] != cls or fn.name in used or fn.name.startswith("__"):
            continue
        decos = {d[1] for d in fn.decorators if d is not None and d[0] == RT.GLOBAL}
        if len(decos) != len([d for d in fn.decorators if d is not None]) or not decos <= _STATIC_OR_CLASS:
            continue
        own = [p for p in fn.params if p[2] is None]
        if not decos and len(own) < 2 and (template_words is None or fn.name in template_words):
            continue  # ``{{ obj.method }}`` in a template calls a method without arguments
        if cls in ix.models:
            if fn.name in _MODEL_HOOKS:
                continue
        elif any(a not in ix.classes for a in ix.mro(cls)[1:] if a not in ("builtins.object", "object")):
            continue  # a library base may call it by a name the project never writes
        if _dispatches_by_name(ix, cls):
            continue
        out.add(qual)
    return out


def _dispatches_by_name(ix: "ProjectIndex", cls: str) -> bool:
    """Does the class or a project base call ``getattr(self, <computed name>)`` (indico's API hooks
    call ``export_<type>``)? Then any of its methods may run although no code names it."""
    for c in ix.mro(cls):
        facts = ix.owner(c)
        if facts is None:
            continue
        for fn in facts.functions.values():
            if fn.cls != c:
                continue
            for ref, _line, _col in fn.calls:
                if ref is not None and ref[0] == RT.CALL and ref[1] == (RT.GLOBAL, "builtins.getattr") \
                        and len(ref[2]) >= 2 and ref[2][0] is not None and ref[2][0][0] == RT.SELF \
                        and (ref[2][1] is None or ref[2][1][0] != RT.LIT or len(ref[2][1]) < 3):
                    return True
    return False


def _scan_calls(ix: "ProjectIndex"):
    """One pass over every call of the project, while all facts are in memory:

    - ``callers``: function name -> the files that call a function of that name (call-site
      typing of parameters reads only those);
    - ``sql_evidence``: receiver ref -> DB-API type, for receivers given an SQL literal
      (``x.execute("SELECT …")``, asyncpg's ``x.fetch("…")``; ``x.cursor().execute("…")``
      makes ``x`` a connection and a receiver also read with ``fetchall()`` a cursor);
    - ``relation_evidence``: receiver ref -> model, for ``x.<rel>.<manager method>()`` where
      ``<rel>`` is a to-many relation of exactly one Django model (medium evidence)."""
    from .types import ASYNCPG_METHODS, CURSOR_READS, QS_LAZY, QS_READ, QS_WRITE, RELMGR_WRITE, SQL_METHODS

    wanted = set()
    for rel in ix.files:
        for fn in ix.files[rel].functions.values():
            n = len(fn.params) - (1 if fn.cls is not None else 0)
            if n > 0 and any(p[1] is None for p in fn.params):
                wanted.add(fn.name)
    to_many: Dict[str, Optional[str]] = {}
    for m in ix.models.values():
        if m.orm != "django" or m.abstract:
            continue
        for name, r in m.relations.items():
            if r.to_many:
                to_many[name] = None if name in to_many and to_many[name] != m.qual else m.qual
    rel_methods = QS_LAZY | QS_READ | QS_WRITE | RELMGR_WRITE
    callers: Dict[str, set] = {}
    sql: Dict[tuple, tuple] = {}
    fetched = set()
    related: Dict[tuple, Optional[str]] = {}
    CALL, ATTR, GLOBAL = RT.CALL, RT.ATTR, RT.GLOBAL
    for rel in ix.files:
        names = set()
        for fn in ix.files[rel].functions.values():
            for ref, _line, _col in fn.calls:
                if ref is None:
                    continue
                f = ref[1]
                kind = f[0]
                if kind == GLOBAL:
                    names.add(f[1].rpartition(".")[2])
                    continue
                if kind != ATTR:
                    continue
                name = f[2]
                names.add(name)
                if name in SQL_METHODS:
                    if ref[2] and ix.sql_of(ref[2][0]):
                        recv = f[1]
                        made = recv[0] == CALL and recv[1][0] == ATTR and recv[1][2] == "cursor"
                        driver = "asyncpg" if name in ASYNCPG_METHODS else None
                        sql[recv] = (TK.CURSOR, None) if made else sql.get(recv, (TK.DBCONN, driver))
                        if made:
                            sql.setdefault(recv[1][1], (TK.DBCONN, None))
                elif name in CURSOR_READS:
                    fetched.add(f[1])
                elif name in rel_methods and to_many:
                    recv = f[1]
                    if recv[0] == ATTR and to_many.get(recv[2]):
                        model = to_many[recv[2]]
                        owner = recv[1]
                        related[owner] = model if related.get(owner, model) == model else None
        for name in names & wanted:
            callers.setdefault(name, set()).add(rel)
    for recv in fetched:
        if sql.get(recv) == (TK.DBCONN, None):
            sql[recv] = (TK.CURSOR, None)
    return ({k: tuple(sorted(v)) for k, v in callers.items()}, sql,
            {k: v for k, v in related.items() if v is not None})


def _lit_str(ref) -> bool:
    return ref is not None and ref[0] == RT.LIT and len(ref) > 1 and isinstance(ref[1], str)


def _is_revision(f: FileFacts) -> bool:
    """An Alembic revision: module-level ``revision`` and ``down_revision``."""
    if not f.assigns:
        return False
    prefix = f"{f.module}." if f.module else ""
    return f"{prefix}revision" in f.assigns and f"{prefix}down_revision" in f.assigns


def _import_roots(files: Mapping, module_rel: Dict[str, str]) -> Dict[str, str]:
    """Top-level import names that resolve only below a folder of the project, and the module
    prefix of that folder: an app run from ``backend/app`` writes ``from core.database import
    Base`` for ``backend/app/core/database.py``. A name is taken when it is a package there, is
    not a top-level module of the project or of the standard library, resolves below exactly one
    folder, and that folder takes at least three distinct imported modules (a lone third-party
    name that a project folder happens to share is not enough)."""
    tops = {m.split(".", 1)[0] for m in module_rel}
    packages: Dict[str, Set[str]] = {}  # a package's last name -> the prefixes it sits under
    for module in module_rel:
        parts = module.split(".")
        for i in range(1, len(parts) - 1):
            packages.setdefault(parts[i], set()).add(".".join(parts[:i]))
    if not packages:
        return {}
    stdlib = getattr(sys, "stdlib_module_names", frozenset())
    under: Dict[str, Set[str]] = {}  # candidate top name -> prefixes
    targets: Dict[str, Set[str]] = {}  # prefix -> distinct imported modules found below it
    for f in files.values():
        for qual in f.names.values():
            top = qual.split(".", 1)[0]
            if top in tops or top in stdlib or top not in packages:
                continue
            for prefix in packages[top]:
                head = qual
                while "." in head and f"{prefix}.{head}" not in module_rel:
                    head = head.rpartition(".")[0]
                if "." in head:  # a module inside the package: the package alone proves little
                    under.setdefault(top, set()).add(prefix)
                    targets.setdefault(prefix, set()).add(head)
    return {top: next(iter(prefixes)) for top, prefixes in under.items()
            if len(prefixes) == 1 and len(targets[next(iter(prefixes))]) >= 3}


def _rebase(import_roots: Optional[Dict[str, str]], qual: str) -> str:
    """``qual`` below the folder its top-level name resolves from (``import_roots``), if any."""
    prefix = import_roots.get(qual.split(".", 1)[0]) if import_roots else None
    return f"{prefix}.{qual}" if prefix is not None else qual


def _import_graph(files: Mapping, module_rel: Dict[str, str],
                  import_roots: Optional[Dict[str, str]] = None) -> Dict[str, List[str]]:
    """File → the project files it imports (for the findings cache's dependency digests)."""
    graph: Dict[str, List[str]] = {}
    for rel, f in files.items():
        targets = set()
        for qual in f.names.values():
            head = _rebase(import_roots, qual)
            while head:
                hit = module_rel.get(head)
                if hit is not None:
                    targets.add(hit)
                    break
                head = head.rpartition(".")[0]
        graph[rel] = sorted(targets)
    return graph
