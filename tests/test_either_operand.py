"""Issue 11, "Typing evidence": ``a or b`` and ``a if c else b`` are typed like a local bound in
both branches of an ``if``. Apps with their own data layer pass an optional connection and fall
back to a module-level handle (``await (conn or db).execute("UPDATE …")``); before, such a receiver
was unknown, so the helper's write was invisible to callers that loop over rows."""
from __future__ import annotations

import ast
import textwrap
from pathlib import Path

from mandu_lint import config
from mandu_lint.core.refs import ModuleNames
from mandu_lint.project.extract import module_scope
from mandu_lint.core.tags import RT
from mandu_lint.runner import CheckOptions, check_paths

DB = """\
import sqlite3

db = sqlite3.connect("app.db")


def delete_wallet(wallet_id, conn=None):
    (conn or db).execute("UPDATE wallets SET deleted = 1 WHERE id = ?", (wallet_id,))


def rename(wallet_id, name, conn=None):
    handle = conn if conn is not None else db
    handle.execute("UPDATE wallets SET name = ? WHERE id = ?", (name, wallet_id))


def label(wallet, fallback=None):
    return (wallet or fallback or "none").upper()
"""

VIEWS = """\
from app.db import delete_wallet, label, rename


def delete_all(wallet_ids):
    for wallet_id in wallet_ids:
        delete_wallet(wallet_id)


def rename_all(wallet_ids):
    for wallet_id in wallet_ids:
        rename(wallet_id, "x")


def labels(wallets):
    return [label(w) for w in wallets]
"""


def _project(tmp_path: Path) -> Path:
    (tmp_path / "mandu.yaml").write_text("")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "db.py").write_text(DB)
    (tmp_path / "app" / "views.py").write_text(VIEWS)
    return tmp_path


def _findings(root: Path):
    result = check_paths([str(root)], CheckOptions(use_cache=False, jobs=1, confidence="medium"))
    config.clear_caches()
    return sorted((f.path.rsplit("/", 1)[-1], f.span.line, f.code) for f in result.findings)


def _ref(src: str):
    tree = ast.parse(textwrap.dedent(src))
    scope = module_scope(ModuleNames("m", False), tree)
    node = tree.body[-1].value  # kept alive: a scope memoises refs by node identity
    return scope.ref_of(node)


def test_or_and_conditional_operands_become_candidates():
    assert _ref("conn or db") == (RT.CONFLICT, (RT.GLOBAL, "m.conn"), (RT.GLOBAL, "m.db"))
    assert _ref("x if flag else y") == (RT.CONFLICT, (RT.GLOBAL, "m.x"), (RT.GLOBAL, "m.y"))
    assert _ref("conn or None") == (RT.GLOBAL, "m.conn")  # a None operand is left out
    assert _ref("conn or db or conn") == (RT.CONFLICT, (RT.GLOBAL, "m.conn"), (RT.GLOBAL, "m.db"))
    assert _ref("conn and db") is None  # ``and`` gives its last operand only when all are truthy
    assert _ref("conn or make_thing(*args)")[0] == RT.CONFLICT
    assert _ref("conn or (lambda: 1)") is None  # an unknown operand makes the whole unknown


def test_a_helper_writing_through_an_optional_connection_is_a_write_in_the_callers_loop(tmp_path):
    found = _findings(_project(tmp_path))
    assert ("views.py", 6, "MDB303") in found
    assert ("views.py", 11, "MDB303") in found
    assert not [f for f in found if f[1] == 15]  # ``wallet or fallback or "none"`` is no database value
