"""SQLAlchemy imperative (classical) mapping: ``registry.map_imperatively(Cls, table,
properties={...})`` and the classic ``mapper(...)`` onto a module-level ``Table`` make ``Cls`` a
model, with the table's columns (foreign keys included) and the mapping's relationships (the
layout of CKAN, a tune app). Synthetic projects only."""
from __future__ import annotations

from synthetic import check_all, index_of, marked, write_project

MODELS = """\
from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table, Unicode
from sqlalchemy.orm import registry, relationship

metadata = MetaData()
mapper_registry = registry(metadata=metadata)

author_table = Table("author", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Unicode),
)
book_table = Table("book", metadata,
    Column("id", Integer, primary_key=True),
    Column("author_id", ForeignKey("author.id"), nullable=False),
    Column("title", Unicode),
)


class Author:
    pass


class Book:
    pass


class Shelf:  # mapped nowhere: not a model
    pass


mapper_registry.map_imperatively(Author, author_table)
mapper_registry.map_imperatively(Book, book_table, properties={
    "author": relationship(Author, backref="books"),
})
"""

VIEWS = """\
from app.db import Session
from app.models import Book


def titles(request):
    out = []
    for book in Session.query(Book).all():
        out.append(book.author.name)  # MDB302
    return out
"""

DB = """\
from sqlalchemy import create_engine
from sqlalchemy.orm import scoped_session, sessionmaker

Session = scoped_session(sessionmaker(bind=create_engine("sqlite://")))
"""


def project(tmp_path):
    return write_project(tmp_path, {"app/__init__.py": "", "app/models.py": MODELS, "app/views.py": VIEWS,
                                    "app/db.py": DB})


def test_imperatively_mapped_classes_are_models_with_columns_and_relationships(tmp_path):
    ix = index_of(project(tmp_path))
    book, author = ix.models["app.models.Book"], ix.models["app.models.Author"]
    assert (book.orm, book.table, author.table) == ("sqlalchemy", "book", "author")
    assert "app.models.Shelf" not in ix.models
    assert book.relations["author"].target == "app.models.Author"
    assert author.relations["books"].to_many
    assert book.fields["author_id"].kw["__fk__"] == "author.id"


def test_a_lazy_relation_of_an_imperatively_mapped_model_is_reported(tmp_path):
    root = project(tmp_path)
    result = check_all(root)
    found = sorted(f.span.line for f in result.findings if f.code == "MDB302")
    assert found == marked(root, "app/views.py", "# MDB302")


def test_the_classic_mapper_call_maps_too(tmp_path):
    classic = MODELS.replace("from sqlalchemy.orm import registry, relationship",
                             "from sqlalchemy.orm import mapper, registry, relationship")
    classic = classic.replace("mapper_registry.map_imperatively(Author, author_table)", "mapper(Author, author_table)")
    root = write_project(tmp_path, {"app/__init__.py": "", "app/models.py": classic})
    ix = index_of(root)
    assert "mapper(Author" in classic and ix.models["app.models.Author"].table == "author"
