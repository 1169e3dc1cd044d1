"""A block inside a loop that always leaves it (``if found: obj.save(); return obj``) runs at most
once per run of the loop: the loop rules do not call its query or write per row. Blind triage of
tune apps judged such findings false ("the save is followed by return, so at most one write per
call"; "loop returns right after the first successful save"). An outer loop still counts."""
from __future__ import annotations

from pathlib import Path

from mandu_lint import config
from mandu_lint.runner import CheckOptions, check_paths
from synthetic import check_files

MODELS = """\
from django.db import models


class Book(models.Model):
    title = models.CharField(max_length=10)
"""

VIEWS = """\
from django.db import IntegrityError

from shop.models import Book


def first_match(titles):
    for t in titles:
        if t.startswith("a"):
            book = Book.objects.filter(title=t).first()
            return book
    return None


def first_saved(titles):
    for t in titles:
        try:
            Book(title=t).save()
            break
        except IntegrityError:
            continue


def save_then_maybe_leave(titles):
    for t in titles:
        Book(title=t).save()
        if t == "stop":
            return


def skip_then_leave(titles):
    for t in titles:
        if t:
            if t == "x":
                continue
            Book(title=t).save()
            return


def inner_exit_outer_rows(groups):
    for group in groups:
        for t in group:
            if t:
                Book(title=t).save()
                break


def match_case(titles):
    for t in titles:
        match t:
            case "a":
                Book.objects.get(title=t)
                return
            case _:
                Book.objects.get(title=t)
"""


def _findings(tmp_path: Path):
    (tmp_path / "mandu.yaml").write_text("")
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text("")
    (tmp_path / "shop" / "models.py").write_text(MODELS)
    (tmp_path / "shop" / "views.py").write_text(VIEWS)
    result = check_paths([str(tmp_path)], CheckOptions(use_cache=False, jobs=1, confidence="medium",
                                                       select=["MDB301", "MDB303"]))
    config.clear_caches()
    return sorted((f.span.line, f.code) for f in result.findings)


def _line(needle: str, nth: int = 0) -> int:
    return [i for i, line in enumerate(VIEWS.splitlines(), 1) if needle in line][nth]


def test_a_block_that_leaves_the_loop_runs_once(tmp_path):
    found = _findings(tmp_path)
    lines = {line for line, _ in found}
    assert _line("Book.objects.filter(title=t).first()") not in lines  # if …: query; return
    assert _line("Book(title=t).save()", 0) not in lines  # try: save; break (first success)
    assert _line("Book.objects.get(title=t)", 0) not in lines  # case "a": …; return


def test_per_row_code_outside_the_leaving_block_is_still_reported(tmp_path):
    found = _findings(tmp_path)
    assert (_line("Book(title=t).save()", 1), "MDB303") in found  # the save runs before the check
    assert (_line("Book(title=t).save()", 2), "MDB303") in found  # a `continue` in the block: kept (conservative)
    assert (_line("Book(title=t).save()", 3), "MDB303") in found  # once per group: per row of the outer loop
    assert (_line("Book.objects.get(title=t)", 1), "MDB301") in found  # the other case does not leave


BATCHED = """\
from sqlalchemy.orm import Session

BATCH_SIZE = 500


def flush_per_batch(session: Session, rows):
    for i, row in enumerate(rows):
        session.add(row)
        if i % 500 == 0:
            session.flush()
        if i > 0 and i % BATCH_SIZE == 0:
            session.flush()


def commit_per_batch(session: Session, rows):
    pending = []
    for row in rows:
        pending.append(row)
        if len(pending) >= BATCH_SIZE:
            session.add_all(pending)
            session.commit()
            pending = []


def commit_every_row(session: Session, rows):
    for row in rows:
        session.add(row)
        if row:
            session.commit()
"""


def test_a_block_that_runs_once_per_batch_is_not_per_row(tmp_path):
    (tmp_path / "mandu.yaml").write_text("")
    (tmp_path / "jobs.py").write_text(BATCHED)
    result = check_paths([str(tmp_path)], CheckOptions(use_cache=False, jobs=1, confidence="medium",
                                                       select=["MDB3", "MDB404"]))
    config.clear_caches()
    lines = sorted({f.span.line for f in result.findings})
    every_row = [i for i, line in enumerate(BATCHED.splitlines(), 1) if "def commit_every_row" in line][0]
    assert lines and all(line > every_row for line in lines), lines  # only the commit under `if row:`


SKIP_BATCH = """\
from shop.models import Book


def import_rows(rows, batch_size):
    batch = []
    for i, row in enumerate(rows):
        batch.append(Book(title=row))
        finished = i == len(rows) - 1
        if len(batch) % batch_size != 0 and not finished:
            continue
        Book.objects.bulk_create(batch)
        Book.objects.filter(title="").delete()
        batch.clear()


def import_each(rows):
    for row in rows:
        if not row:
            continue
        Book.objects.filter(title=row).delete()
"""


def test_the_rest_of_a_pass_after_a_skip_until_the_batch_is_full_runs_once_per_batch(tmp_path):
    """``if len(batch) % size != 0: continue`` skips every pass but the last of a batch: what
    follows runs once per batch (blind triage of a new tune app: "finish_batch runs once per
    batch of rows, not per row"). A plain ``if not row: continue`` leaves the rest per row."""
    found = check_files(tmp_path, {"shop/__init__.py": "", "shop/models.py": MODELS, "shop/jobs.py": SKIP_BATCH},
                        "MDB301", "MDB303")
    lines = {line for name, line, _code in found if name == "jobs.py"}
    deletes = [i for i, line in enumerate(SKIP_BATCH.splitlines(), 1) if ".delete()" in line]
    assert deletes[0] not in lines
    assert deletes[1] in lines


DRAWS = """\
import secrets

from django.utils.crypto import get_random_string

from shop.models import Book


def new_code():
    taken = True
    while taken:
        code = get_random_string(length=12)
        taken = Book.objects.filter(title=code).exists()
    return code


def new_token():
    token = secrets.token_hex(8)
    while Book.objects.filter(title=token).exists():
        token = secrets.token_hex(8)
    return token


def walk(title):
    while title:
        title = Book.objects.filter(title=title).values_list("title", flat=True).first()
"""


def test_a_loop_that_draws_a_random_value_until_one_is_free_runs_once(tmp_path):
    """A collision retry (draw a random code, check it is free, draw again on a clash) normally
    runs once: blind triage of a new tune app judged it false ("a collision retry loop for a random
    12-char id, it almost always runs once"). A walk that queries each step stays a finding."""
    found = check_files(tmp_path, {"shop/__init__.py": "", "shop/models.py": MODELS, "shop/draws.py": DRAWS},
                        "MDB301")
    lines = {line for name, line, _code in found if name == "draws.py"}
    src = DRAWS.splitlines()
    at = [i for i, line in enumerate(src, 1) if "Book.objects.filter" in line]
    assert at[0] not in lines and at[1] not in lines
    assert at[2] in lines
