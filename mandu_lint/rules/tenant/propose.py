"""``mandu-lint init`` proposes the ``tenant`` section: candidates are ranked by the foreign-key
graph - how many models reach a model through non-null foreign keys (within ``depth`` hops),
then how many reference it directly - and ``system`` lists the cross-tenant code the project
actually has (admin, commands, jobs).

A candidate is a model with a tenant-like name referenced by at least two others, or - whatever
its name (``Club``, ``Household``) - a graph root (no non-null foreign key of its own to another
model) that is not a user model, referenced directly by at least three models and reached by
most models that have non-null foreign keys. A tenant-like name outranks an unnamed root, and an
unnamed root says so in a note. The best-ranked candidate may be reached through another that
points at it (``Organization.account_id``); when that one is referenced directly by more models,
it owns the rows and goes first (the billing ``Account`` of an ``Organization`` is not the
tenant). ``init`` writes the proposal commented out unless ``--accept tenant`` confirms it
(``tenant`` is a policy section there): with a guessed tenant the tenant rules' findings were 0 of 25 (holdout
round 1) and 0 of 15 (round 3, where a programming-language lookup table was the guess) true, so
the security rules stay off until someone confirms the tenant. No proposal when there is no
candidate.
"""
from __future__ import annotations

from collections import Counter
from typing import Dict, List, Optional, Set, Tuple

from ...globs import GlobSet
from .spec import model_edges

# Names that mean "the customer that owns rows" in real apps. ``Project``, ``Space``, ``Event``
# were dropped: they are as often content shared across users (a translation project, a
# conference) as tenants, and a wrong root turns every query into a false alarm.
TENANT_NAMES = ("Organization", "Organisation", "Org", "Workspace", "Tenant", "Team", "Account", "Company",
                "Realm")
SYSTEM_GLOBS = ("**/admin.py", "**/admin/**", "**/management/commands/**", "**/tasks.py", "**/tasks/**",
                "**/bgtasks/**", "**/backoffice/**", "**/cron/**", "**/jobs/**", "**/worker/**", "**/workers/**",
                "**/cli/**", "**/scripts/**")
_NAME_RANK = {n.lower(): i for i, n in enumerate(TENANT_NAMES)}
MIN_REFERENCES = 2
GRAPH_MIN_REFERENCES = 3  # an unnamed candidate needs more evidence than a tenant-like name
GRAPH_MIN_SHARE = 0.6  # ... and must be reached by this share of the models with non-null FKs
DEPTH = 3
_USER_BASES = ("AbstractUser", "AbstractBaseUser")
_USER_NAMES = ("user", "customuser", "profile", "userprofile")


def candidates(project) -> List[Tuple[str, int, int]]:
    """(model qual, models reaching it, direct references), best first."""
    index = project.index
    refs: Counter = Counter()
    referrers: Dict[str, Set[str]] = {}
    outgoing: Dict[str, Set[str]] = {}
    pointing: Dict[str, Set[str]] = {}  # every foreign key, nullable ones too
    # a class in a migration, a test or a fixture is never the tenant, even when application
    # models' foreign keys name its table (an Alembic revision keeps a copy of the model)
    app = {q for q, m in index.models.items() if not m.abstract and not project.is_non_app(m.path)}
    for m in index.models.values():
        if m.qual not in app:
            continue
        for e in model_edges(index, m):
            if e.target not in app:
                continue
            if e.target != m.qual:
                pointing.setdefault(m.qual, set()).add(e.target)
            if not e.null and e.target != m.qual:
                refs[e.target] += 1
                referrers.setdefault(e.target, set()).add(m.qual)
                outgoing.setdefault(m.qual, set()).add(e.target)
    with_fks = set(outgoing)

    def reach(qual: str) -> int:
        seen, frontier = set(), {qual}
        for _ in range(DEPTH):
            frontier = {r for q in frontier for r in referrers.get(q, ())} - seen - {qual}
            seen |= frontier
        return len(seen)

    out = []
    for qual, n in refs.items():
        model = index.models[qual]
        named = tenant_named(model) and n >= MIN_REFERENCES
        graph = (qual not in outgoing and not _user_model(index, model) and len(referrers[qual]) >= GRAPH_MIN_REFERENCES
                 and reach(qual) >= GRAPH_MIN_SHARE * len(with_fks - {qual}))
        if named or graph:
            out.append((qual, reach(qual), n))
    # a tenant-like name outranks an unnamed graph root (a lookup table many models point at, such
    # as a ``Language``, is a root too); then reach, direct references, the name's rank
    out.sort(key=lambda c: (not tenant_named(index.models[c[0]]), -c[1], -c[2],
                            _NAME_RANK.get(index.models[c[0]].name.lower(), len(_NAME_RANK)), c[0]))
    return _owners_first(index, out, pointing)


def _owners_first(index, out: List[Tuple[str, int, int]], pointing: Dict[str, Set[str]]) -> List[Tuple[str, int, int]]:
    """A candidate the next one points at (``Organization.account_id`` → ``Account``) is reached
    through it: when the pointing one is referenced directly by more models, rows belong to it,
    and it goes first (the billing ``Account`` of an ``Organization`` is not the tenant)."""
    if len(out) < 2:
        return out
    top = out[0]
    for cand in out[1:]:
        if top[0] in pointing.get(cand[0], ()) and cand[2] > top[2] and \
                tenant_named(index.models[cand[0]]) >= tenant_named(index.models[top[0]]):
            return [cand] + [c for c in out if c is not cand]
    return out


def tenant_named(model) -> bool:
    return model.name.lower() in _NAME_RANK


def _user_model(index, model) -> bool:
    if model.name.lower() in _USER_NAMES:
        return True
    try:
        mro = index.mro(model.qual)
    except Exception:  # pragma: no cover - an index without the class
        return False
    return any(str(base).endswith(_USER_BASES) for base in mro)


def propose_tenant(project) -> Optional[str]:
    index = project.index
    cands = candidates(project)
    if not cands:
        return None
    root, reached, count = cands[0]
    others = ", ".join(f"{_ident(index, q)} {r}" for q, r, _ in cands[1:4])
    note = f"; other candidates, by models reaching them: {others}" if others else ""
    named = tenant_named(index.models[root])
    lines = [f"# {_ident(index, root)}: reached by {reached} models through non-null foreign keys, "
             f"referenced directly by {count}{note}"]
    if not named:  # only the graph says so
        lines.append(f"# Not named like a tenant: check that {_ident(index, root)} is the customer that owns rows.")
    lines.append(f"models: [{_ident(index, root)}]")
    lines += ["scoped: auto", "depth: 3"]
    system = _system(project)
    lines.append(f"system: [{', '.join(repr(g).replace(chr(39), chr(34)) for g in system)}]")
    return "\n".join(lines) + "\n"


def _ident(index, qual: str) -> str:
    """The shortest identifier the config validator accepts for this model."""
    m = index.models[qual]
    if len(index.models_by_name.get(m.name, [])) == 1:
        return m.name
    if m.orm == "django" and len(index.model_named(f"{m.app_label}.{m.name}")) == 1:
        return f"{m.app_label}.{m.name}"
    return qual


def _system(project) -> List[str]:
    """The system globs that match at least one application file of this project."""
    rels = [r for r in project.relfiles if not project.is_non_app(r)]
    return [g for g in SYSTEM_GLOBS if any(GlobSet([g]).match(r) for r in rels)]
