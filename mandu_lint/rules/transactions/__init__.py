"""MDB4xx — transactions, locks, side effects and races.

The family's map:

- ``mdb401_writes_outside_transaction.py`` … ``mdb410_unguarded_unique_insert.py`` — one rule each;
  ``base.py`` holds ``TxRule``, their shared per-function plumbing.
- ``analysis.py`` — ``TxIndex``: is a function entered inside a transaction (project-wide,
  three states), cached once per index.
- ``framework.py`` — what frameworks do with functions no project code calls (views, tasks,
  ``ATOMIC_REQUESTS``), the "known" entry states.
- ``summary.py`` — what calling a project function does, transaction-wise, calls deep.
- ``calls.py`` — what one call means for transactions, from refs alone.
- ``flow.py`` — one function body as ordered database events with their transaction stacks.
- ``paths.py`` — can node ``b`` run after node ``a`` on one path.
- ``race.py`` — recognisers for check-then-insert, lost updates and check-then-set: rows read
  without a lock and their write-back; a model's unique keys and inserts guarded against duplicates.
- ``harm.py`` — does a half-done multi-write do harm (invariant fields, replacements, status
  changes): the evidence MDB401 needs for ``high``.
- ``fix.py`` — text of the fixes: wrap in ``atomic()``, ``on_commit``, ``select_for_update``.

Imported by the configuration loader: options and rule metadata only.
"""
from __future__ import annotations

from ...model import FamilySpec, RuleSpec
from ...options import declare

declare("transactions", "helpers", "str-list", [], "Extra decorators/context managers that open a transaction.")
declare("transactions", "side-effects", "str-list", [], "Extra calls that must wait for commit.")
declare("transactions", "invariant-fields", "str-list", [],
        "Field names whose half-done update is harmful (added to balance, amount, stock, credits...).")

FAMILY = FamilySpec(
    name="transactions",
    package=__name__,
    rules=(
        RuleSpec("MDB401", "writes-outside-transaction",
                 "mdb401_writes_outside_transaction:WritesOutsideTransaction"),
        RuleSpec("MDB402", "lock-outside-transaction", "mdb402_lock_outside_transaction:LockOutsideTransaction",
                 default=False),
        RuleSpec("MDB403", "side-effect-before-commit", "mdb403_side_effect_before_commit:SideEffectBeforeCommit"),
        RuleSpec("MDB404", "commit-in-loop", "mdb404_commit_in_loop:CommitInLoop"),
        RuleSpec("MDB405", "retry-without-backoff", "mdb405_retry_without_backoff:RetryWithoutBackoff", default=False),
        RuleSpec("MDB406", "check-then-insert", "mdb406_check_then_insert:CheckThenInsert"),
        RuleSpec("MDB407", "lost-update", "mdb407_lost_update:LostUpdate"),
        RuleSpec("MDB408", "error-swallowed-in-transaction",
                 "mdb408_error_swallowed_in_transaction:ErrorSwallowedInTransaction", default=False),
        RuleSpec("MDB409", "check-then-set", "mdb409_check_then_set:CheckThenSet", default=False),
        RuleSpec("MDB410", "unguarded-unique-insert", "mdb410_unguarded_unique_insert:UnguardedUniqueInsert"),
    ),
)
