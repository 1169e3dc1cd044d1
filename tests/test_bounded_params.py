"""A loop over a parameter that every project call passes a fixed, small collection (a display
of constants, or a module constant bound to one) runs a fixed number of times, like a loop over
the literal itself: the loop rules do not call its query or write per row. Blind triage of a
tune app judged such findings negligible ("loop is over a literal list of one or two permission
codenames"). One caller passing anything else — rows, an unknown value, ``*args`` — or no
caller at all keeps the loop per row."""
from __future__ import annotations

from pathlib import Path

from synthetic import check_files

MODELS = """\
from django.db import models


class Perm(models.Model):
    codename = models.CharField(max_length=10)
"""

HELPERS = """\
from shop.models import Perm

DEFAULT_CODES = ("view", "change")


def grant_codes(user, codes):
    for code in codes:
        Perm.objects.get(codename=code)


def grant_default(user, codes):
    for code in codes:
        Perm.objects.create(codename=code)


def grant_mixed(user, codes):
    for code in codes:
        Perm.objects.filter(codename=code).first()


def grant_spread(user, codes):
    for code in codes:
        Perm.objects.filter(codename=code).exists()


def grant_uncalled(user, codes):
    for code in codes:
        Perm.objects.filter(codename=code).count()
"""

CALLERS = """\
from shop.helpers import DEFAULT_CODES, grant_codes, grant_default, grant_mixed, grant_spread
from shop.models import Perm


def on_create(user):
    grant_codes(user, ["view", "change"])
    grant_codes(user, codes=("delete",))
    grant_default(user, DEFAULT_CODES)
    grant_mixed(user, ["view"])


def on_sync(user, args):
    grant_mixed(user, [p.codename for p in Perm.objects.all()])
    grant_spread(*args)
"""


def _findings(tmp_path: Path):
    return check_files(tmp_path, {"shop/__init__.py": "", "shop/models.py": MODELS, "shop/helpers.py": HELPERS,
                                  "shop/callers.py": CALLERS}, "MDB301", "MDB303")


def _line(needle: str) -> int:
    return next(i for i, line in enumerate(HELPERS.splitlines(), 1) if needle in line)


def test_a_parameter_every_caller_passes_a_small_display_is_bounded(tmp_path):
    found = _findings(tmp_path)
    assert ("helpers.py", _line("Perm.objects.get(codename=code)"), "MDB301") not in found
    assert ("helpers.py", _line("Perm.objects.create(codename=code)"), "MDB303") not in found


def test_one_caller_passing_rows_or_unplaceable_arguments_keeps_it_per_row(tmp_path):
    found = _findings(tmp_path)
    assert ("helpers.py", _line("Perm.objects.filter(codename=code).first()"), "MDB301") in found
    assert ("helpers.py", _line("Perm.objects.filter(codename=code).exists()"), "MDB301") in found
    assert ("helpers.py", _line("Perm.objects.filter(codename=code).count()"), "MDB301") in found


POLL_AND_CHUNKS = """\
import time

from shop.helpers import chunked
from shop.models import Perm


def rerun(ids):
    for i in ids:
        start(i)
        while Perm.objects.filter(codename=i).first() is None:
            time.sleep(1)


def by_chunk(ids):
    chunks = chunked(ids, 500)
    for chunk in chunks:
        latest = Perm.objects.filter(codename__in=chunk).values("id")
        list(Perm.objects.filter(id__in=latest))


def per_row(ids):
    for i in ids:
        Perm.objects.filter(codename=i).first()


def walk_levels(codes):
    level = list(codes)
    while level:
        rows = Perm.objects.filter(codename__in=level)
        level = [r.codename + "/" for r in rows]


def by_week(weeks):
    i = 0
    while i < len(weeks):
        if weeks[i]:
            ids = weeks[i]
        else:
            ids = []
        Perm.objects.filter(codename__in=ids).count()
        i += 1


def all_pages(cursor):
    rows = fetch_page(cursor=cursor, page_size=1000)
    while rows:
        rows = fetch_page(cursor=rows[-1].codename, page_size=1000)


def one_by_one(cursor):
    row = fetch_page(cursor=cursor)
    while row:
        row = fetch_page(cursor=row[-1].codename)


def fetch_page(cursor, page_size=1):
    return list(Perm.objects.filter(codename__gt=cursor)[:page_size])


def walk_up(code):
    while code:
        row = Perm.objects.filter(codename=code).first()
        code = row.codename[:-1] if row else ""


def start(i):
    return i
"""


def test_a_polling_wait_and_a_named_chunk_list_are_not_per_row(tmp_path):
    """Blind triage of new tune apps judged these false: a query in a ``while`` that sleeps waits
    for a row to appear (the outer loop cannot fetch it first); ``chunks = chunked(ids, n)``
    then ``for chunk in chunks`` runs one statement per chunk, like ``for chunk in chunked(…)``;
    a ``while`` that hands its query the collection it rebuilds each pass walks a tree one
    level per query; a call for a page of a fixed size reads a page per pass."""
    chunked = "def chunked(xs, n):\n    return [xs[i:i + n] for i in range(0, len(xs), n)]\n"
    found = check_files(tmp_path, {"shop/__init__.py": "", "shop/models.py": MODELS, "shop/helpers.py": chunked,
                                   "shop/jobs.py": POLL_AND_CHUNKS}, "MDB301")
    lines = {line for name, line, _code in found if name == "jobs.py"}
    src = POLL_AND_CHUNKS.splitlines()
    at = {name: next(i for i, line in enumerate(src, 1) if name in line)
          for name in ("first() is None", "id__in=latest", "codename__in=level", "codename=code", "codename__in=ids")}
    assert at["first() is None"] not in lines
    assert at["id__in=latest"] not in lines
    assert at["codename__in=level"] not in lines  # a tree walked level by level: one query per level
    assert at["codename=code"] in lines  # a parent chain walked one row at a time
    assert at["codename__in=ids"] in lines  # a fresh list per pass, but not built from the rows
    src_lines = POLL_AND_CHUNKS.splitlines()
    paged = next(i for i, line in enumerate(src_lines, 1) if "rows[-1].codename, page_size=1000" in line)
    single = next(i for i, line in enumerate(src_lines, 1) if "fetch_page(cursor=row[-1].codename)" in line)
    assert paged not in lines  # a page of 1000 per pass
    assert single in lines  # a row per pass
    per_row = "Perm.objects.filter(codename=i).first()"
    assert next(i for i, line in enumerate(src, 1) if line.strip() == per_row) in lines


CODE_DEFINED = """\
from shop import helpers
from shop.models import Perm


def register_all():
    for name, value in list(helpers.__dict__.items()):
        Perm.objects.get_or_create(codename=name)


def check_unique(values):
    for fields in Perm._meta.unique_together:
        Perm.objects.filter(**{f: values[f] for f in fields}).exists()


def every_field():
    for field in sorted(Perm._meta.get_fields(), key=str):
        Perm.objects.filter(codename=field.name).count()


def per_row(rows):
    for name, value in list(rows.items()):
        Perm.objects.get_or_create(codename=name)
"""


def test_collections_the_code_defines_are_bounded(tmp_path):
    """A module's namespace, a model's fields and constraints: their size is fixed by the source.
    Blind triage of tune apps judged loops over them negligible (a migration runner over a module's
    names, a model's two unique_together constraints)."""
    found = check_files(tmp_path, {"shop/__init__.py": "", "shop/models.py": MODELS, "shop/helpers.py": HELPERS,
                                   "shop/setup.py": CODE_DEFINED}, "MDB301", "MDB303")
    lines = {line for name, line, _code in found if name == "setup.py"}
    src = CODE_DEFINED.splitlines()
    at = [i for i, line in enumerate(src, 1) if "Perm.objects" in line]
    assert not set(at[:3]) & lines
    assert at[3] in lines
