"""The rule registry: an explicit, ordered list (no import-time magic), plus selection.

Selection follows flake8/ruff: codes or prefixes in ``select``/``extend-select`` turn *default*
rules on; an *opt-in* rule runs only when its full code is named; for a rule matched by both a
select and an ignore entry, the longer (more specific) entry wins, and ignore wins a tie.
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Sequence, Type

from ..model import RuleMeta
from .base import Rule
from .mdb101_unscoped_query import UnscopedQuery
from .mdb102_unscoped_bulk_write import UnscopedBulkWrite
from .mdb103_unscoped_raw_sql import UnscopedRawSql
from .mdb104_lookup_by_id import LookupById
from .mdb105_tenant_from_request import TenantFromRequest
from .mdb201_repository_bypass import RepositoryBypass
from .mdb202_layer_import import LayerImport
from .mdb203_client_per_call import ClientPerCall
from .mdb204_connection_leak import ConnectionLeak
from .mdb301_query_in_loop import QueryInLoop
from .mdb302_lazy_relation_in_loop import LazyRelationInLoop
from .mdb303_write_in_loop import WriteInLoop
from .mdb304_prefetch_bypassed import PrefetchBypassed
from .mdb401_writes_outside_transaction import WritesOutsideTransaction
from .mdb402_lock_outside_transaction import LockOutsideTransaction
from .mdb403_side_effect_before_commit import SideEffectBeforeCommit
from .mdb404_commit_in_loop import CommitInLoop
from .mdb405_retry_without_backoff import RetryWithoutBackoff
from .mdb406_check_then_insert import CheckThenInsert
from .mdb407_lost_update import LostUpdate
from .mdb408_error_swallowed_in_transaction import ErrorSwallowedInTransaction

RULES: List[Type[Rule]] = [UnscopedQuery, UnscopedBulkWrite, UnscopedRawSql, LookupById, TenantFromRequest, RepositoryBypass, LayerImport, ClientPerCall, ConnectionLeak, QueryInLoop, LazyRelationInLoop, WriteInLoop, PrefetchBypassed, WritesOutsideTransaction, LockOutsideTransaction, SideEffectBeforeCommit, CommitInLoop, RetryWithoutBackoff, CheckThenInsert, LostUpdate, ErrorSwallowedInTransaction]
_EXTRA: List[Type[Rule]] = []  # registered at run time (tests, plugins)

SYNTAX_META = RuleMeta(
    code="MDB000", name="syntax-error", summary="File could not be parsed",
    doc="## What it does\nReports a file that Python cannot parse. The file is not analysed; the run "
        "goes on with the other files.\n\nPrimary location: where the parser stopped.",
    precision="very-high", level="error")


def all_rules() -> List[Type[Rule]]:
    return RULES + _EXTRA


def register(rule: Type[Rule]) -> None:
    if rule not in _EXTRA:
        _EXTRA.append(rule)


def unregister(rule: Type[Rule]) -> None:
    if rule in _EXTRA:
        _EXTRA.remove(rule)


def by_code() -> Dict[str, Type[Rule]]:
    return {r.code: r for r in all_rules()}


def metas() -> Dict[str, RuleMeta]:
    out = {"MDB000": SYNTAX_META}
    out.update({r.code: r.meta() for r in all_rules()})
    return out


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


def select_rules(select, extend, ignore) -> List[Type[Rule]]:
    return [r for r in all_rules() if is_enabled(r.code, r.default, select, extend, ignore)]
