"""Flag-guarded effects (``project/flags.py``): a helper whose flush or commit runs only under a
flag parameter sends nothing per row when the call leaves the flag off, and still does when the
call turns it on (or passes something unknown). Synthetic SQLAlchemy project."""
from __future__ import annotations

import ast
import textwrap

from mandu_lint.project import flags
from synthetic import check_all, write_project

FILES = {
    "app/__init__.py": "",
    "app/models.py": """\
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


        class Base(DeclarativeBase):
            pass


        class Entry(Base):
            __tablename__ = "entries"
            id: Mapped[int] = mapped_column(primary_key=True)
        """,
    "app/repo.py": """\
        from sqlalchemy.orm import Session


        class Repo:
            def __init__(self, session: Session):
                self.session = session

            def create(self, obj, *, flush: bool = False):
                self.session.add(obj)
                if flush:
                    self.session.flush()
                return obj

            def save(self, obj, commit: bool = True):
                self.session.add(obj)
                if not commit:
                    return obj
                self.session.commit()
                return obj
        """,
    "app/service.py": """\
        from sqlalchemy.orm import Session

        from app.models import Entry
        from app.repo import Repo


        def import_rows(session: Session, rows, eager):
            repo = Repo(session)
            for row in rows:
                repo.create(Entry(id=row))  # staged only: flush is off
            for row in rows:
                repo.create(Entry(id=row), flush=True)  # MDB303
            for row in rows:
                repo.create(Entry(id=row), flush=eager)  # MDB303 (unknown flag)
            for row in rows:
                repo.save(Entry(id=row), commit=False)  # no commit
            for row in rows:
                repo.save(Entry(id=row))  # MDB404
            session.commit()
        """,
}


def test_guards_and_call_flags_are_extracted():
    fn = ast.parse(textwrap.dedent(FILES["app/repo.py"])).body[1].body[2]  # save()
    assert flags.flag_defaults(fn) == {"commit": True}
    guards = flags.flag_guards(fn.body, {"commit"})
    # ``if not commit: return obj`` guards the rest of the body to commit=True
    assert [(g[0], g[1]) for g in guards] == [("commit", False), ("commit", True)]
    rebinds = ast.parse("def g(flush=False):\n    flush = flush or True\n    if flush:\n        s.flush()\n").body[0]
    assert flags.flag_guards(rebinds.body, {"flush"}, ast.walk(rebinds)) == []  # the test no longer reads the flag
    call = ast.parse("f(x, True, commit=None, other=y)").body[0].value
    assert flags.literal_args(call) == ((1, True), ("commit", False))


def test_loops_judge_writes_by_the_flags_the_call_passes(tmp_path):
    root = write_project(tmp_path, FILES)
    result = check_all(root)
    source = (root / "app/service.py").read_text().splitlines()
    got = sorted((f.code, f.span.line) for f in result.findings
                 if f.path.endswith("service.py") and f.code in ("MDB303", "MDB404"))
    want = sorted((tag.split()[0], i + 1) for i, line in enumerate(source) if "# MDB" in line
                  for tag in [line.split("# ")[-1]])
    assert len(want) == 3 and got == want
