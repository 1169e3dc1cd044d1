"""Query counts of the ``n1_pydantic`` fixture's routes and helpers on SQLite, with each route's
result validated into its response model as FastAPI would. Usage: python pydantic_counts.py
APP_ROOT ROWS → JSON {name: queries}."""
import json
import sys


def main(root: str, rows: int) -> dict:
    sys.path.insert(0, root)
    from sqlalchemy import create_engine, event
    from sqlalchemy.orm import Session

    from shop import api, schemas
    from shop.models import Author, Base, Book, Cover, Tag

    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as db:
        for i in range(rows):
            author = Author(name=f"a{i}")
            book = Book(title=f"b{i}", author=author, cover=Cover(url=f"u{i}"))
            db.add_all([author, book, Tag(name="t", book=book), Tag(name="u", book=book)])
        db.commit()
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    calls = {
        "list_books": lambda db: [schemas.BookOut.model_validate(b) for b in api.list_books(db)],
        "list_authors": lambda db: [schemas.AuthorWithBooks.model_validate(a) for a in api.list_authors(db)],
        "book_page": api.book_page,
    }
    out = {}
    for name, call in calls.items():
        with Session(engine) as db:
            statements.clear()
            assert len(call(db)) == rows
            out[name] = len(statements)
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]))))
