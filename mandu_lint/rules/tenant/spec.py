"""Which models belong to a tenant, and through which keys: the facts behind the MDB1xx rules.

Computed once per project index from the ``tenant`` section of ``mandu.yaml`` and the models the
index found. A model is *scoped* when it reaches a tenant root through non-null foreign keys
(``Task → Project → Workspace``) within ``depth`` hops, or when the config lists it. Its *keys*
are the first hops of those paths in every spelling a query may use (``project``,
``project_id``): a predicate on a key, or on a lookup through one, keeps a query inside one
tenant. Nullable paths do not count: a ``User`` with an optional organization is not scoped,
and a query on it is not a tenant leak.

SQLAlchemy models are read from their foreign-key columns (``ForeignKey("organizations.id")``),
since relationships are often declared in ways the index cannot see (``@declared_attr``); the
relationship names that mirror those columns are added as keys.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, FrozenSet, List, Optional, Tuple

from ...core.refs import dotted
from ...core.tags import RT


@dataclass(frozen=True)
class Edge:
    """One many-to-one hop from ``model`` to ``target``."""

    model: str
    name: str  # the attribute a query names (Django relation, SQLAlchemy column attribute)
    names: FrozenSet[str]  # every spelling: {"project", "project_id"}
    column: str  # the database column ("project_id")
    target: str
    null: bool


@dataclass
class ScopedModel:
    qual: str
    name: str
    orm: str
    table: str
    paths: Tuple[Tuple[Edge, ...], ...]  # shortest first; each ends at a root
    keys: FrozenSet[str]  # names that scope a query on this model
    columns: FrozenSet[str]  # database columns that scope raw SQL on its table

    @property
    def direct(self) -> Optional[Edge]:
        """The hop straight to a root, when the model has one."""
        return next((p[0] for p in self.paths if len(p) == 1), None)


@dataclass
class TenantSpec:
    roots: FrozenSet[str]
    models: Dict[str, ScopedModel]
    helpers: FrozenSet[str]
    key_names: FrozenSet[str] = frozenset()  # keys of every scoped model
    root_names: FrozenSet[str] = frozenset()  # hops that end at a root ("organization_id")
    tables: Dict[str, ScopedModel] = field(default_factory=dict)
    root_tables: Dict[str, str] = field(default_factory=dict)
    # a schema-per-tenant package's tenant model (django-tenants, django-tenant-schemas): every
    # query runs in the current tenant's schema, so row-level predicates are not expected
    schema_per_tenant: Optional[str] = None

    def scoped(self, qual: Optional[str]) -> Optional[ScopedModel]:
        return self.models.get(qual) if qual else None


def tenant_spec(index, settings) -> Optional[TenantSpec]:
    """The spec of a project, or None when no tenant root is configured (the rules are off)."""
    per_index = index.derived("tenant.spec", dict)
    key = settings.digest
    if key not in per_index:
        per_index[key] = _build(index, settings.section("tenant"))
    return per_index[key]


# Libraries that scope rows themselves (docs/architecture.md, "evidence"):
# - schema-per-tenant: a model deriving from these is the tenant; queries run in its schema
SCHEMA_PER_TENANT_BASES = ("django_tenants.models.TenantMixin", "tenant_schemas.models.TenantMixin")
# - django-multitenant: a model deriving from these filters by the current tenant itself
AUTO_SCOPED_BASES = ("django_multitenant.models.TenantModel", "django_multitenant.mixins.TenantModelMixin",
                     "django_multitenant.models.TenantModelMixin")


def _external_bases(index, qual: str) -> List[str]:
    return [b for b in index.mro(qual) if b not in index.classes]


def _build(index, cfg) -> Optional[TenantSpec]:
    roots = frozenset(m.qual for name in (cfg.models or []) for m in index.model_named(name))
    if not roots:
        return None
    schema_tenant = next((m.name for q, m in sorted(index.models.items())
                          if any(b in SCHEMA_PER_TENANT_BASES for b in _external_bases(index, q))), None)
    if schema_tenant is not None:
        return TenantSpec(roots, {}, frozenset(), schema_per_tenant=schema_tenant)
    edges = {q: model_edges(index, m) for q, m in index.models.items()}
    exempt = {m.qual for name in (cfg.exempt or []) for m in index.model_named(name)}
    explicit = None
    if isinstance(cfg.scoped, list):
        explicit = {m.qual for name in cfg.scoped for m in index.model_named(name)}
    fields = frozenset(cfg.fields or ())
    models = {}
    for qual, m in index.models.items():
        if qual in roots or qual in exempt or m.abstract or (explicit is not None and qual not in explicit):
            continue
        if any(b in AUTO_SCOPED_BASES for b in _external_bases(index, qual)):
            continue  # django-multitenant: its manager adds the current tenant's filter
        paths = _paths(qual, edges, roots, cfg.depth or 1, allow_null=False)
        if not paths and explicit is not None:  # listed by hand: a nullable path still names its keys
            paths = _paths(qual, edges, roots, cfg.depth or 1, allow_null=True)
        own = fields & (set(m.fields) | set(m.relations))
        if not paths and not (explicit is not None and (own or fields)):
            continue
        keys = {n for p in paths for n in p[0].names} | (own if own else (fields if not paths else set()))
        columns = {p[0].column for p in paths} | {f for f in own if f not in m.relations}
        models[qual] = ScopedModel(qual, m.name, m.orm, m.table, tuple(paths), frozenset(keys), frozenset(columns))
    spec = TenantSpec(roots, models, frozenset(cfg.helpers or ()))
    spec.key_names = frozenset(k for s in models.values() for k in s.keys)
    spec.root_names = frozenset(n for es in edges.values() for e in es if e.target in roots for n in e.names) | fields
    spec.tables = {s.table: s for s in models.values() if s.table}
    spec.root_tables = {index.models[r].table: r for r in roots if index.models[r].table}
    return spec


def _paths(qual: str, edges, roots, depth: int, allow_null: bool) -> List[Tuple[Edge, ...]]:
    """Every FK path from ``qual`` to a root of at most ``depth`` hops, shortest first."""
    out: List[Tuple[Edge, ...]] = []
    frontier: List[Tuple[Tuple[Edge, ...], frozenset]] = [((), frozenset([qual]))]
    for _ in range(max(depth, 1)):
        nxt = []
        for path, seen in frontier:
            here = path[-1].target if path else qual
            for e in edges.get(here, ()):
                if (e.null and not allow_null) or e.target in seen:
                    continue
                if e.target in roots:
                    out.append(path + (e,))
                else:
                    nxt.append((path + (e,), seen | {e.target}))
        frontier = nxt
    return out  # breadth-first: shortest first


# -- edges -----------------------------------------------------------------------------------------


def model_edges(index, model) -> List[Edge]:
    if model.orm == "django":
        return _django_edges(model)
    return _sa_edges(index, model)


def _django_edges(model) -> List[Edge]:
    out = []
    for name, rel in model.relations.items():
        if rel.kind not in ("fk", "o2o"):
            continue
        ff = model.fields.get(name)
        col = ff.kw.get("db_column") if ff is not None else None
        column = col if isinstance(col, str) else f"{name}_id"
        out.append(Edge(model.qual, name, frozenset({name, f"{name}_id"}), column, rel.target, rel.null))
    return out


def _sa_edges(index, model) -> List[Edge]:
    by_table = _tables(index)
    rel_names = _sa_relationship_names(index, model)
    out = []
    for name, ff in model.fields.items():
        fk = ff.kw.get("__fk__") or ff.kw.get("foreign_key")
        if not isinstance(fk, str) or "." not in fk:
            continue
        targets = by_table.get(fk.split(".")[0], [])
        if not targets:
            continue
        names = {name} | {r for r, t in rel_names.items() if t in targets and _mirrors(r, name)}
        for target in targets:
            out.append(Edge(model.qual, name, frozenset(names), name, target, _sa_nullable(ff)))
    linked = {e.target for e in out}
    for rel, target in rel_names.items():  # ``ForeignKey(Tenant.id)``: the column beside ``tenant``
        ff = model.fields.get(f"{rel}_id")
        if target not in linked and ff is not None:
            out.append(Edge(model.qual, ff.name, frozenset({ff.name, rel}), ff.name, target, _sa_nullable(ff)))
    return out


def _tables(index) -> Dict[str, List[str]]:
    """Table -> the model that owns it. Single-table inheritance maps many classes to one table:
    the base class stands for all of them."""
    return index.derived("tenant.tables", lambda: _build_tables(index))


def _build_tables(index) -> Dict[str, List[str]]:
    groups: Dict[str, List[str]] = {}
    for m in index.models.values():
        groups.setdefault(m.table, []).append(m.qual)
    out = {}
    for table, quals in groups.items():
        bases = [q for q in quals if all(q in index.mro(o) for o in quals)]
        out[table] = bases[:1] or sorted(quals)
    return out


def _mirrors(rel: str, column: str) -> bool:
    """``organization`` is the relationship of column ``organization_id``."""
    return column in (f"{rel}_id", f"{rel}_uuid", f"{rel}_pk") or column.startswith(rel + "_")


def _sa_nullable(ff) -> bool:
    kw = ff.kw
    if kw.get("nullable") is not None:
        return bool(kw["nullable"])
    if kw.get("primary_key"):
        return False
    if ff.ann is not None and ff.ann[0] == RT.MAPPED:
        return bool(kw.get("__optional__"))
    return True  # Column(...) without nullable=False


def _sa_relationship_names(index, model) -> Dict[str, str]:
    """Relationship attribute -> target model: declared fields and ``@declared_attr`` methods
    annotated ``-> Mapped["Organization"]``."""
    out = {name: rel.target for name, rel in model.relations.items() if rel.kind == "many_to_one"}
    for cls in index.mro(model.qual):
        cf = index.classes.get(cls)
        if cf is None:
            continue
        for name, fq in cf.methods.items():
            fn = index.functions.get(fq)
            ann = fn.returns_ann if fn is not None else None
            if ann is None or ann[0] != RT.MAPPED or name in out:
                continue
            target = _model_of(index, ann[1], model)
            if target is not None:
                out[name] = target
    return out


def _model_of(index, ref, owner) -> Optional[str]:
    if ref is None:
        return None
    d = dotted(ref)
    if d is None:
        return None
    q = index.canonical(d)
    if q in index.models:
        return q
    cands = index.models_by_name.get(q.rsplit(".", 1)[-1], [])
    return cands[0].qual if len(cands) == 1 else None


# -- lookups -----------------------------------------------------------------------------------------
PIN_TAIL = frozenset(("id", "pk", "in", "exact"))


def walk_lookup(index, spec: TenantSpec, model: str, lookup: str) -> Tuple[bool, Optional[str]]:
    """Does a Django lookup on ``model`` pin the tenant? It does when it reaches a root
    (``project__workspace__slug``), or fixes a tenant key or another foreign key to a scoped
    model (``project``, ``project_id__in``, ``state``); ``project__name`` does not.
    Returns (pins, suffix): ``suffix`` is what follows the hop that reaches a root
    (``"slug"``), None when no hop reaches one."""
    parts = lookup.split("__")
    cur = model
    for i, part in enumerate(parts):
        m = index.models.get(cur)
        rel = None
        if m is not None:
            rel = m.relations.get(part) or (m.relations.get(part[:-3]) if part.endswith("_id") else None)
        if rel is not None and rel.target in spec.roots:
            return True, "__".join(parts[i + 1:])
        sm = spec.models.get(cur)
        pinned = set(parts[i + 1:]) <= PIN_TAIL
        if pinned and sm is not None and part in sm.keys:
            return True, None
        if pinned and rel is not None and rel.kind in ("fk", "o2o") and rel.target in spec.models:
            return True, None  # one parent row (``state=…``, even nullable) lies in one tenant
        if rel is None:
            break
        cur = rel.target
    return False, None


def django_path(sm: ScopedModel) -> Optional[str]:
    """The lookup from a scoped model to its root along the shortest path (``project__workspace``)."""
    return "__".join(e.name for e in sm.paths[0]) if sm.paths else None
