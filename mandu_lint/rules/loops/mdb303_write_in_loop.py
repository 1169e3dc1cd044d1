"""MDB303: a database write sent once per loop iteration."""
from __future__ import annotations

import ast
from typing import Optional

from ...project.flags import from_node as flags_from_node
from .writes import (bulk_fallback, dml_statement, function_writes, is_bulk, is_flush, is_staging, method_name,
                     param_write, table_per_pass)
from ...core.bounded import is_batched_call
from ...model import Location, Span
from ..base import Rule
from ...project.contexts import ONE_OFF
from ...core.messages import brief
from ...core.tags import EV, TK

ADVICE = {
    "save": "collect the objects and write them once with bulk_update(objs, fields) (or bulk_create)",
    "create": "build the objects in the loop and insert them once with bulk_create()",
    "update": "update all rows with one filter(...).update(...) (Case/When for per-row values) or bulk_update()",
    "delete": "delete them with one filter(pk__in=...).delete()",
    "get_or_create": "read the existing rows once, then bulk_create() the missing ones",
    "m2m": "add or remove them in one call: add(*objs) / remove(*objs) / set(objs)",
    "flush": "add every object, then flush (or commit) once: SQLAlchemy batches the INSERTs",
    "dml": "run one statement with a list of parameter sets (executemany), or one set-based statement",
    "helper": "give the helper the whole batch and let it write once",
}


class WriteInLoop(Rule):
    """
    ## What it does
    Finds a database write sent on every pass of a loop or comprehension: Django `save()`,
    `delete()`, `create()`, `update()`, `get_or_create()`/`update_or_create()` and related-manager
    `add()`/`remove()`; SQLAlchemy `session.flush()` (or `add()` committed in the same pass),
    `Query.update()/delete()`, and `execute()` of an `insert()`/`update()`/`delete()` statement
    or INSERT/UPDATE/DELETE text (also DB-API cursors and connections) — directly or through a
    project function that writes.

    Primary location: the write call (or the call of the helper that writes) inside the loop.

    ## Why is this bad?
    Each write is a round trip and, outside a transaction, a commit: saving 1,000 rows one by one
    takes 1,000 round trips where one `bulk_create`/`bulk_update`/`executemany` or a single
    set-based `UPDATE` takes one. The loop gets slower as the data grows and holds locks longer.

    ## Known problems
    A loop whose every pass also waits on another service (an HTTP, storage, Git-host, mail-box,
    SSH or chat client called in the pass, directly or through project functions a few calls
    away) is not reported: the round trip, not the query, is its cost (on the tune apps this
    removes 10 judged findings, all negligible, and no true one).
    Nor is code in a module-level class nothing in the project uses, or in a method of a model or
    plain project class that no code, test, string, script or configuration file (a YAML
    schedule, `pyproject.toml`, a `Procfile`) names (dead code; a method without arguments also
    needs a project with templates, none of which writes its name).
    Reported at `medium` confidence only (`--confidence medium`): in a blind triage of real apps
    almost every finding was a true per-row query over a handful of rows (a form's fields, one
    object's relations, a config list) or in one-off code, which maintainers would not change.
    Holdout round 3 (11 unseen apps, 2026-12-04) measured a stricter `high`: per-row work in a
    request or task over rows that grow with users' data (a user- or tenant-keyed model, the
    table's or the requesting user's rows, not one object's children, rows picked by key or a
    constant slice). On 0.82 M lines it gave this rule 2 default findings, both NEG; it was
    withdrawn and the rule stays `medium`.
    Retry loops (the write repeats only after a failure: `try: …; break`), loops that leave on
    their first pass, a write in a block that always leaves the loop (`if found: obj.save();
    return obj` — at most once per run of the loop; a `continue` in the block keeps it), a write
    under a once-per-batch condition (`if i % 500 == 0:`, `if len(batch) >= BATCH_SIZE:`, or
    after `if len(batch) % size != 0: continue`), loops over a small literal collection or a
    display of up to 200 constants (or a parameter every project call passes one, or the rows of
    a query cut to at most 20: `qs[:10]`, `.limit(5)`) and worker loops (`while True` that
    sleeps) are not reported. `session.add()` alone is not a write: SQLAlchemy sends the staged
    rows together at the next flush. `bulk_create()`/`bulk_update()` per chunk are batches on
    purpose and are not reported; so is `executemany()` (a list of parameter sets) in a loop
    over groups, directly or in a helper, and one statement per table when the loop names the
    table (`f"DELETE FROM {table}"`, or a local taken from the loop variable; a SQLAlchemy
    statement built on the loop's model or table: `update(model)`, `table.delete()`). A statement
    over a chunk of ids (`Model.id.in_(ids[i : i + 1000])` in `for i in range(0, len(ids),
    1000)`, or `filter(pk__in=chunk)`) is one batch per pass. Schema statements
    (`CREATE`, `DROP`, `ALTER`) are not row writes. Bulk operations skip `save()` overrides and
    signals; when those matter, a loop of `save()` calls may be intended — silence the line with
    `# noqa: MDB303`. A loop in the `except` of a failed bulk write (the row-by-row fallback
    that isolates bad rows) is not reported.
    A project helper's write that a flag parameter guards is counted only when the call lets it
    run: `repo.create(obj)` whose flush sits under `if flush:` with `flush=False` by default only
    stages the row (see `project/flags.py`).

    ## Example
    ```python
    def publish(ids):
        for book in Book.objects.filter(pk__in=ids):
            book.published = True
            book.save()
    ```

    ## Use instead
    ```python
    def publish(ids):
        Book.objects.filter(pk__in=ids).update(published=True)
    ```

    ## Fix safety
    No automatic fix: bulk operations skip `save()` overrides, signals and `auto_now` fields, so
    the rewrite can change behaviour; it is left to the author.
    """

    code = "MDB303"
    name = "write-in-loop"
    summary = "Database write sent once per loop iteration"
    precision = "medium"  # blind triage of real apps: almost every finding was true but immaterial
    quiet_in = ONE_OFF  # one-off code pays its per-row cost once (tune verdicts in commands: 1 of 32 true)
    tags = ("performance", "n+1")
    BAD = [
        {
            "shop/models.py": """
from django.db import models

class Book(models.Model):
    title = models.CharField(max_length=50)
    published = models.BooleanField(default=False)
""",
            "shop/jobs.py": """
from shop.models import Book

def publish(ids):
    for book in Book.objects.filter(pk__in=ids):
        book.published = True
        book.save()  # error
    return [Book.objects.create(title=t) for t in ids]  # error
""",
        },
        {
            "app/jobs.py": """
import sqlite3
from sqlalchemy import insert
from sqlalchemy.orm import Session

def load(session: Session, table, rows):
    for row in rows:
        session.execute(insert(table).values(**row))  # error
    conn = sqlite3.connect("x.db")
    for row in rows:
        conn.execute("INSERT INTO t (a) VALUES (?)", (row,))  # error
""",
        },
    ]
    GOOD = [
        {
            "shop/models.py": """
from django.db import models

class Book(models.Model):
    title = models.CharField(max_length=50)
""",
            "shop/jobs.py": """
import time
from sqlalchemy.orm import Session
from shop.models import Book

def publish(ids, titles, session: Session, objs):
    Book.objects.filter(pk__in=ids).update(title="x")
    Book.objects.bulk_create([Book(title=t) for t in titles])
    for obj in objs:
        session.add(obj)                 # staged; one flush at commit
    session.commit()
    for attempt in range(3):
        try:
            Book.objects.create(title="x")
            break
        except Exception:
            time.sleep(1)

def import_titles(titles):
    rows = [Book(title=t) for t in titles]
    try:
        Book.objects.bulk_create(rows)
    except Exception:
        for row in rows:                 # the fallback when the batch fails: keep the good rows
            try:
                row.save()
            except Exception:
                pass
""",
        },
    ]

    def _frame(self):
        frame = self.ctx.reporting_frame()
        if frame is None or self._fixed_list(frame) or bulk_fallback(self.ctx, frame) \
                or self.ctx.waits_on_network(frame):
            return None
        return frame

    def _fixed_list(self, frame) -> bool:
        """``for shelf in [{"name": ...}, ...]`` (directly or through a local assigned once)
        runs a fixed, small number of times."""
        it = frame.iter_node
        if isinstance(it, ast.Name):
            it = self.ctx.scope.value_of(it.id)
        return isinstance(it, (ast.List, ast.Tuple, ast.Set, ast.Dict))

    def visit_Call(self, node: ast.Call) -> None:
        frame = self._frame()
        if frame is None:
            return
        _ref, _t, ev = self.ctx.call_info(node)
        if ev is None:
            return
        if ev[0] in (EV.WRITE, EV.STAGE):
            self._write(node, frame)
        elif ev[0] == EV.QUERY:
            what = dml_statement(self.ctx, node)
            if what is not None and not table_per_pass(self.ctx, node, frame.targets) \
                    and not is_batched_call(node, frame):
                article = "an" if what[0] in "AEIOU" else "a"
                self._report(node, frame, f"runs {article} {what} statement", "dml")
        elif ev[0] == EV.CALL:
            self._helper(node, ev[1], frame)

    def _write(self, node: ast.Call, frame) -> None:
        name = method_name(node)
        if is_bulk(node) or is_batched_call(node, frame):
            return
        if is_staging(self.ctx, node):
            commit = self._commit_after(node, frame)
            if commit is not None:
                self._report(node, frame, f"is committed by `{brief(commit)}` on line {commit.lineno} in the "
                                          f"same pass", "flush")
            return
        if is_flush(self.ctx, node):
            self._report(node, frame, "sends the pending rows", "flush")
            return
        kind = name[1:] if name.startswith("a") and name[1:] in ADVICE else name
        if name in ("add", "remove", "set", "clear", "aadd", "aremove", "aset", "aclear"):
            kind = "m2m"
        if kind in ("update_or_create",):
            kind = "get_or_create"
        self._report(node, frame, "writes to the database", kind if kind in ADVICE else "save")

    def _commit_after(self, node: ast.Call, frame) -> Optional[ast.Call]:
        """A ``commit()`` of a session in the same pass of the loop, after ``node``."""
        for n in ast.walk(frame.node):
            if isinstance(n, ast.Call) and n.lineno > node.lineno and method_name(n) == "commit" \
                    and n is not node:
                ev = self.ctx.call_info(n)[2]
                if ev is not None and ev[0] == EV.COMMIT and _inside_body(n, frame.node):
                    return n
        return None

    def _helper(self, node: ast.Call, func: str, frame) -> None:
        flags = flags_from_node(self.ctx.index, func, self.ctx.ref(node), node)
        found = function_writes(self.ctx.index, func, flags=flags) or self._row_write(node, func)
        if found is None:
            return
        what, where, line = found
        path = self.ctx.index.func_path.get(where, "")
        related = ()
        if path:
            related = (Location(str(self.ctx.project.root / path), Span(line, 0, line, 0), f"{what} in {where}"),)
        site = f"{path}:{line}" if path else f"line {line}"
        self._report(node, frame, f"writes to the database (`{where}` runs {what} at {site})", "helper", related)

    def _row_write(self, node: ast.Call, func: str):
        """A model instance handed to a helper that saves or deletes it."""
        fn = self.ctx.index.functions.get(func)
        if fn is None:
            return None
        t = self.ctx.type_of(node.func)
        offset = 1 if t is not None and t[0] == TK.BOUND else 0
        for i, arg in enumerate(node.args):
            at = self.ctx.type_of(arg)
            if at is not None and at[0] == TK.INST and i + offset < len(fn.params):
                found = param_write(self.ctx.index, func, fn.params[i + offset][0])
                if found is not None:
                    return found
        return None

    def _report(self, node, frame, verb: str, kind: str, related=()) -> None:
        self.report(node, f"`{brief(node)}` {verb} on every iteration of the loop on line {frame.node.lineno}: one "
                          f"round trip per row; {ADVICE[kind]}", related=related)


def _inside_body(node: ast.AST, loop: ast.AST) -> bool:
    body = getattr(loop, "body", None)
    if not isinstance(body, list):
        return True
    return any(n is node for stmt in body for n in ast.walk(stmt))
