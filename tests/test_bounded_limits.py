"""A loop over the rows of a query cut to a few — ``qs[:10]``, ``select(...).limit(5)``, or the
rows ``session.execute(stmt)`` returns for a statement built with ``.limit(limit)`` whose
literal default every caller keeps — runs at most ``MAX_SMALL`` times, whatever the table holds:
the loop rules do not call its queries per row. Blind triage of a tune app judged such findings
negligible ("per-row get is real but limited to the top 10 groups"). A larger cut (a page of 50),
a caller that passes its own limit, or an uncut query keeps the loop per row."""
from __future__ import annotations

from pathlib import Path

from synthetic import check_files

MODELS = """\
from django.db import models


class Actor(models.Model):
    name = models.CharField(max_length=10)


class Note(models.Model):
    actor = models.ForeignKey(Actor, on_delete=models.CASCADE)
"""

VIEWS = """\
from shop.models import Actor, Note

TOP = 5


def latest(request):
    for note in Note.objects.order_by("-id")[:10]:
        Actor.objects.get(pk=note.actor_id)


def latest_named(request):
    notes = Note.objects.order_by("-id")[:TOP]
    for note in notes:
        Actor.objects.filter(pk=note.actor_id).exists()


def page(request):
    for note in Note.objects.order_by("-id")[:50]:
        Actor.objects.filter(pk=note.actor_id).first()


def every(request):
    for note in Note.objects.order_by("-id"):
        Actor.objects.filter(pk=note.actor_id).count()
"""

SA_MODELS = """\
from sqlalchemy import Column, ForeignKey, Integer
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Group(Base):
    __tablename__ = "groups"
    id = Column(Integer, primary_key=True)


class Package(Base):
    __tablename__ = "packages"
    id = Column(Integer, primary_key=True)
    group_id = Column(Integer, ForeignKey("groups.id"))
"""

STATS = """\
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Group, Package


class Stats:
    @classmethod
    def largest_groups(cls, session: Session, limit: int = 10):
        stmt = select(Package.group_id, func.count()).group_by(Package.group_id).limit(limit)
        rows = session.execute(stmt).fetchall()
        return [session.get(Group, group_id) for group_id, _ in rows]

    @classmethod
    def busiest_groups(cls, session: Session, limit: int = 10):
        stmt = select(Package.group_id, func.count()).group_by(Package.group_id).limit(limit)
        rows = session.execute(stmt).fetchall()
        return [session.get(Group, group_id) for group_id, _ in rows]
"""

SA_CALLERS = """\
from sqlalchemy.orm import Session

from app.stats import Stats


def dashboard(session: Session):
    return Stats.largest_groups(session), Stats.busiest_groups(session)


def export(session: Session):
    return Stats.busiest_groups(session, limit=5000)
"""


def _line(src: str, needle: str) -> int:
    return next(i for i, line in enumerate(src.splitlines(), 1) if needle in line)


def test_a_slice_of_a_few_rows_is_bounded_and_a_page_is_not(tmp_path: Path):
    found = check_files(tmp_path, {"shop/__init__.py": "", "shop/models.py": MODELS, "shop/views.py": VIEWS},
                        "MDB301")
    assert {line for name, line, _ in found if name == "views.py"} == {
        _line(VIEWS, ".first()"), _line(VIEWS, ".count()")}


def test_a_limit_every_caller_leaves_to_its_small_default_is_bounded(tmp_path: Path):
    found = check_files(tmp_path, {"app/__init__.py": "", "app/models.py": SA_MODELS, "app/stats.py": STATS,
                                   "app/callers.py": SA_CALLERS}, "MDB301")
    busiest = _line(STATS, "def busiest_groups")
    lines = {line for name, line, _ in found if name == "stats.py"}
    assert lines and all(line > busiest for line in lines), found


def _display(n: int, item) -> str:
    return "[" + ", ".join(item(i) for i in range(n)) + "]"


def test_a_long_display_of_constants_is_data_the_code_carries(tmp_path: Path):
    """netalertx's start-up index list: 30 `(name, "CREATE INDEX …")` pairs, one statement each.
    A display that long of anything but constants (names, calls) is not bounded."""
    pairs = _display(30, lambda i: f'("n{i}", "c{i}")')
    names = _display(30, lambda i: f"a{i}")
    views = f"""\
from shop.models import Actor

NAMES = {_display(30, lambda i: f'"n{i}"')}


def rebuild(request):
    for name, code in {pairs}:
        Actor.objects.filter(name=name).exists()


def rename(request):
    for name in NAMES:
        Actor.objects.filter(name=name).count()


def mixed(request, {", ".join(f"a{i}" for i in range(30))}):
    for name in {names}:
        Actor.objects.filter(name=name).first()
"""
    found = check_files(tmp_path, {"shop/__init__.py": "", "shop/models.py": MODELS, "shop/views.py": views},
                        "MDB301")
    assert {line for name, line, _ in found if name == "views.py"} == {_line(views, ".first()")}
