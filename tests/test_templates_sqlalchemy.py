"""Issue 11, "Per-row code in templates": Jinja templates of Flask and Pyramid views that render
SQLAlchemy rows. A relationship attribute read in the template's loop loads lazily once per row
unless the query loaded it (``options(joinedload(...))``) or the relationship loads itself
(``lazy="joined"``/``"selectin"``)."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mandu_lint import config
from mandu_lint.runner import CheckOptions, check_paths

MODELS = """\
from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "author"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String)


class Tag(Base):
    __tablename__ = "tag"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("post.id"))
    label: Mapped[str] = mapped_column(String)


class Post(Base):
    __tablename__ = "post"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
    author: Mapped[Author] = relationship()
    tags: Mapped[list[Tag]] = relationship()
    editor_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
    editor: Mapped[Author] = relationship(foreign_keys=[editor_id], lazy="joined")
"""

VIEWS = """\
from flask import render_template
from pyramid.view import view_config
from sqlalchemy.orm import Session, joinedload

from blog.models import Post


def index(session: Session):
    posts = session.query(Post).all()
    return render_template("posts.html", posts=posts, title="Posts")


def loaded(session: Session):
    posts = session.query(Post).options(joinedload(Post.author)).all()
    return render_template("authors.html", posts=posts)


def editors(session: Session):
    posts = session.query(Post).all()
    return render_template("editors.html", posts=posts)


@view_config(route_name="tags", renderer="blog:templates/tags.jinja2")
def tags(request):
    rows = request.db.query(Post).all()  # Pyramid's request.db: a session by what it is given
    return {"posts": rows}


@view_config(route_name="raw", renderer="json")
def raw(request):
    return {"posts": request.db.query(Post).all()}
"""

TEMPLATES = {
    "posts.html": "<h1>{{ title }}</h1>\n{% for p in posts %}\n  {{ p.author.name }}\n{% endfor %}\n",
    "authors.html": "{% for p in posts %}{{ p.author.name }}{% endfor %}\n",
    "editors.html": "{% for p in posts %}{{ p.editor.name }}{% endfor %}\n",
    "tags.jinja2": "{% for p in posts %}\n{% for t in p.tags %}{{ t.label }}{% endfor %}\n{% endfor %}\n",
}


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "mandu.yaml").write_text("")
    pkg = tmp_path / "blog"
    (pkg / "templates").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "models.py").write_text(MODELS)
    (pkg / "views.py").write_text(VIEWS)
    for name, text in TEMPLATES.items():
        (pkg / "templates" / name).write_text(text)
    return tmp_path


def findings(root: Path):
    result = check_paths([str(root)], CheckOptions(use_cache=False, jobs=1, confidence="medium",
                                                   select=["MDB302"]))
    config.clear_caches()
    return {f.span.line: f for f in result.findings if f.code == "MDB302"}


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(textwrap.dedent(text).splitlines(), 1) if needle in line)


def test_flask_template_reading_a_lazy_relationship_per_row(project):
    found = findings(project)
    f = found[_line(VIEWS, "posts = session.query(Post).all()")]  # the first: index()
    assert "posts.html" in f.message and "`author`" in f.message
    assert "joinedload(Post.author)" in f.message  # SQLAlchemy advice, not Django's select_related
    assert any(r.path.endswith("posts.html") and r.span.line == 3 for r in f.related)


def test_loaded_or_self_loading_relationships_are_quiet(project):
    found = findings(project)
    assert _line(VIEWS, "options(joinedload(Post.author))") not in found
    editors_query = [i for i, line in enumerate(VIEWS.splitlines(), 1) if "session.query(Post).all()" in line][1]
    assert editors_query not in found  # ``editor`` is lazy="joined"


def test_pyramid_renderer_view_returning_its_context(project):
    found = findings(project)
    f = found[_line(VIEWS, "rows = request.db.query(Post).all()")]
    assert "tags.jinja2" in f.message and "`tags`" in f.message and "selectinload(Post.tags)" in f.message
    assert _line(VIEWS, 'return {"posts": request.db.query(Post).all()}') not in found  # a JSON renderer


def test_a_receiver_given_a_mapped_class_or_a_select_is_a_session(tmp_path):
    """The typing evidence behind the Pyramid case: ``request.db.query(Post)`` and
    ``db.execute(select(Tag))`` run queries; the same call on a value from another library stays
    unknown."""
    (tmp_path / "mandu.yaml").write_text("")
    pkg = tmp_path / "blog"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "models.py").write_text(MODELS)
    (pkg / "jobs.py").write_text(textwrap.dedent("""\
        import elasticsearch
        from sqlalchemy import select

        from blog.models import Post, Tag


        def tag_counts(request, ids):
            for i in ids:
                request.db.query(Post).filter_by(id=i).first()
                request.db.execute(select(Tag).where(Tag.post_id == i)).all()
                elasticsearch.client.query(Post)
        """))
    result = check_paths([str(tmp_path)], CheckOptions(use_cache=False, jobs=1, confidence="medium",
                                                       select=["MDB301"]))
    config.clear_caches()
    assert sorted(f.span.line for f in result.findings) == [9, 10]
