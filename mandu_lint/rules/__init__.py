"""The rule catalogue: every rule family, imported light.

Each family is a package ``mandu_lint/rules/<family>/`` whose ``__init__`` declares the family's
options (``options.declare``), its rules as :class:`~mandu_lint.model.RuleSpec` entries and its
``init`` proposer, and imports nothing heavier than ``options`` and ``model``. Rule modules
and analyses inside the package are imported only when a rule runs (see ``registry.py``).

Families never import one another; ``tests/test_import_layers.py`` holds that.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

from ..model import FamilySpec
from . import tenant, layers, loops, transactions, migrations  # noqa: I001 - declaration order is option order

FAMILIES: Tuple[FamilySpec, ...] = (tenant.FAMILY, layers.FAMILY, loops.FAMILY, transactions.FAMILY, migrations.FAMILY)
# Rule classes registered at run time (tests, plugins) through ``registry.register``; kept here
# so that code validation (``diagnostics.known_codes``) sees them without importing any rule.
EXTRA: List[type] = []


def catalogued_codes() -> List[str]:
    """Every catalogued and registered rule code, without importing a rule module."""
    return [s.code for f in FAMILIES for s in f.rules] + [r.code for r in EXTRA]


def families() -> Dict[str, FamilySpec]:
    return {f.name: f for f in FAMILIES}
