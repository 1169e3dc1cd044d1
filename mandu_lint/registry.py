"""The rule registry: the catalogue's specs, rule classes imported on demand, and selection.

Selection follows flake8/ruff: codes or prefixes in ``select``/``extend-select`` turn *default*
rules on; an *opt-in* rule runs only when its full code is named; for a rule matched by both a
select and an ignore entry, the longer (more specific) entry wins, and ignore wins a tie.

Rules are selected from their :class:`~mandu_lint.model.RuleSpec` alone; a rule's module is
imported only when the rule is selected and its family is active under the configuration, so
an editor run with no ``tenant`` section never imports the tenant analysis.
"""
from __future__ import annotations

import importlib
from typing import Dict, Iterable, List, Optional, Sequence, Type

from .model import RuleMeta, RuleSpec
from .diagnostics import SYNTAX_META, tool_metas
from .rules import EXTRA, FAMILIES
from .rules.base import Rule

_EXTRA: List[Type[Rule]] = EXTRA  # registered at run time (tests, plugins); lives in the catalogue
_LOADED: Dict[str, Type[Rule]] = {}


def specs() -> List[RuleSpec]:
    return [spec for family in FAMILIES for spec in family.rules]


def load(spec: RuleSpec, package: Optional[str] = None) -> Type[Rule]:
    """The class of a catalogued rule, importing its module on first use."""
    hit = _LOADED.get(spec.code)
    if hit is None:
        if package is None:
            package = next(f.package for f in FAMILIES if spec in f.rules)
        module, _, name = spec.target.partition(":")
        hit = _LOADED[spec.code] = getattr(importlib.import_module(f"{package}.{module}"), name)
    return hit


def all_rules() -> List[Type[Rule]]:
    """Every rule class (imports every family: for docs, ``explain``, ``rules``)."""
    return [load(s, f.package) for f in FAMILIES for s in f.rules] + list(_EXTRA)


def register(rule: Type[Rule]) -> None:
    if rule not in _EXTRA:
        _EXTRA.append(rule)


def unregister(rule: Type[Rule]) -> None:
    if rule in _EXTRA:
        _EXTRA.remove(rule)


def rule_for(code: str) -> Optional[Type[Rule]]:
    """The class of one rule, importing only its own module (None for an unknown code)."""
    for family in FAMILIES:
        for spec in family.rules:
            if spec.code == code:
                return load(spec, family.package)
    return next((r for r in _EXTRA if r.code == code), None)


def metas() -> Dict[str, RuleMeta]:
    out = {"MDB000": SYNTAX_META}
    out.update({r.code: r.meta() for r in all_rules()})
    return out


def all_metas() -> Dict[str, RuleMeta]:
    """Every code: the rules and the tool codes (imports every rule)."""
    out = dict(metas())
    out.update(tool_metas())
    return dict(sorted(out.items()))


def _longest(code: str, entries: Iterable[str], full_only: bool = False) -> int:
    best = -1
    for e in entries:
        if (e == code) if full_only else code.startswith(e):
            best = max(best, len(e))
    return best


def is_enabled(code: str, default: bool, select: Optional[Sequence[str]], extend: Sequence[str],
               ignore: Sequence[str]) -> bool:
    chosen = list(extend) + (list(select) if select is not None else [])
    if default:
        sel = _longest(code, chosen)
        if select is None:
            sel = max(sel, 0)
    else:
        sel = _longest(code, chosen, full_only=True)
    if sel < 0:
        return False
    return _longest(code, ignore) < sel


def select_rules(select, extend, ignore, settings=None) -> List[Type[Rule]]:
    """The enabled rule classes; with ``settings``, families with nothing to do under them
    (``FamilySpec.active``) are skipped before their modules are imported."""
    out: List[Type[Rule]] = []
    for family in FAMILIES:
        if settings is not None and family.active is not None and not family.active(settings):
            continue
        out += [load(s, family.package) for s in family.rules if is_enabled(s.code, s.default, select, extend, ignore)]
    return out + [r for r in _EXTRA if is_enabled(r.code, r.default, select, extend, ignore)]


def describers() -> list:
    """(family name, function) pairs: what each family detected, for ``--show-settings``."""
    out = []
    for family in FAMILIES:
        if family.describe:
            module, _, name = family.describe.partition(":")
            out.append((family.name, getattr(importlib.import_module(f"{family.package}.{module}"), name)))
    return out


def proposers() -> Dict[str, list]:
    """section -> proposer functions declared by the families (``mandu-lint init``)."""
    out: Dict[str, list] = {}
    for family in FAMILIES:
        if family.proposer:
            module, _, name = family.proposer.partition(":")
            fn = getattr(importlib.import_module(f"{family.package}.{module}"), name)
            out.setdefault(family.name, []).append(fn)
    return out
