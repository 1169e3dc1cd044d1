"""``mandu-lint init`` proposes the ``tenant`` section: the tenant root is the model with a
tenant-like name that the most other models reference through non-null foreign keys, and
``system`` lists the cross-tenant code the project actually has (admin, commands, jobs).

No proposal (the section stays commented out) when no tenant-like model is referenced by at
least two others: guessing a root would switch on security rules that then cry wolf.
"""
from __future__ import annotations

from collections import Counter
from typing import List, Optional

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
MIN_REFERENCES = 2


def propose_tenant(project) -> Optional[str]:
    index = project.index
    names = {n.lower(): i for i, n in enumerate(TENANT_NAMES)}
    refs: Counter = Counter()
    for m in index.models.values():
        if m.abstract or project.is_non_app(m.path):
            continue
        for e in model_edges(index, m):
            if not e.null and e.target != m.qual:
                refs[e.target] += 1
    cands = [(q, n) for q, n in refs.items() if index.models[q].name.lower() in names and n >= MIN_REFERENCES]
    if not cands:
        return None
    cands.sort(key=lambda c: (-c[1], names[index.models[c[0]].name.lower()], c[0]))
    root, count = cands[0]
    others = ", ".join(f"{_ident(index, q)} {n}" for q, n in cands[1:4])
    note = f" (other candidates: {others})" if others else ""
    lines = [f"# {_ident(index, root)} is referenced by {count} non-null foreign keys{note}",
             f"models: [{_ident(index, root)}]",
             "scoped: auto",
             "depth: 3"]
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
