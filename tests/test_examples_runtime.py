"""Runtime proof on the example apps: each app's own test suite runs in its own process (Django
is configured once per process) on SQLite, and each proof below must have passed by name.

The names map the rules to the tests that show, on the real app, the defect happening and the
recommended counterpart not: query counts constant vs growing, cross-tenant reads blocked vs
leaked, no partial write after an injected failure, no event for a rolled-back transaction, SSE
reconnect with Last-Event-ID, idempotent POST, optimistic locking."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CRUD, REALTIME = REPO / "examples" / "crud_app", REPO / "examples" / "realtime_app"

CRUD_PROOFS = {
    "MDB101": "test_listing_scoped_vs_leaked",
    "MDB102": "test_bulk_write_scoped_vs_every_tenant",
    "MDB103": "test_raw_sql_counts_every_tenant",
    "MDB104": "test_task_detail_blocked_vs_leaked",
    "MDB105": "test_tenant_from_request_data",
    "MDB201": "test_handler_copy_of_a_query_drifts",
    "MDB301": "test_comment_counts",
    "MDB302": "test_lazy_relation_grows",
    "MDB303": "test_rename",
    "MDB304": "test_latest_comments",
    "MDB401": "test_no_partial_write_after_failure",
    "MDB403": "test_no_email_for_rolled_back_comment",
    "MDB406": "test_check_then_insert_race",
    "MDB407": "test_lost_update",
    "MDB408": "test_error_swallowed_breaks_the_transaction",
    "board page": "test_board_page_is_constant",
    "audit log": "test_audit_records_who_when_what",
    "seed": "test_seed_twice_changes_nothing",
    "retention": "test_retention_purges_old_soft_deletes",
}
REALTIME_PROOFS = {
    "MDB104": "test_cross_store_order_blocked_vs_leaked",
    "MDB203": "test_one_pool_per_process",
    "MDB204": "test_export_leaves_the_connection_open",
    "MDB302": "test_order_list_query_count",
    "MDB401": "test_no_partial_write_when_the_event_fails",
    "MDB403": "test_no_event_for_a_rolled_back_cancel",
    "MDB404": "test_import_is_all_or_nothing",
    "MDB405": "test_retry_backs_off_with_jitter[defect]",
    "MDB406": "test_check_then_insert_defect_fails_the_duplicate",
    "MDB407": "test_stock_decrement_defect_loses_an_update",
    "idempotency key": "test_concurrent_duplicates_create_one_order",
    "optimistic locking": "test_concurrent_stale_versions_one_wins",
    "retry with jitter": "test_retry_backs_off_with_jitter[recommended]",
    "SSE reconnect": "test_reconnect_with_last_event_id_gets_every_event_once",
    "seed": "test_seed_is_idempotent",
}


def run(cmd, cwd: Path, **env) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    full_env.update(PYTHONPATH=str(cwd), **env)
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600, env=full_env)


def check_proofs(out: subprocess.CompletedProcess, passed: set, proofs: dict) -> None:
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    missing = {what: name for what, name in proofs.items() if name not in passed}
    assert not missing, f"proofs that did not run and pass: {missing}\n{out.stdout[-2000:]}{out.stderr[-2000:]}"


def test_crud_app(tmp_path):
    pytest.importorskip("django")
    out = run([sys.executable, "manage.py", "test", "tasks", "-v", "2", "--noinput"], CRUD,
              DJANGO_SETTINGS_MODULE="crud.settings", CRUD_DB=str(tmp_path / "crud.sqlite3"))
    # unittest -v: "test_name (module.Class.test_name) ... ok", the docstring's line in between if any
    passed = set(re.findall(r"^(test_\w+) \([\w.]+\)(?:\n[^\n]*?)? \.\.\. ok$", out.stderr, re.M))
    check_proofs(out, passed, CRUD_PROOFS)


def test_realtime_app():
    for module in ("fastapi", "sqlalchemy", "httpx", "uvicorn"):
        pytest.importorskip(module)
    out = run([sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "tests"], REALTIME)
    passed = set(re.findall(r"::(test_[\w\[\]-]+) PASSED", out.stdout))
    check_proofs(out, passed, REALTIME_PROOFS)
