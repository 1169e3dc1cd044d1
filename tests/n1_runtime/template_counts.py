"""Query counts of the template views of the ``n1_templates`` fixture, rendered by Django (run in
its own process: Django is configured once per process).
Usage: python template_counts.py APP_ROOT ROWS → JSON {view: queries}."""
import json
import sys


def main(root: str, rows: int) -> dict:
    sys.path.insert(0, root)
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=True, SECRET_KEY="x", USE_TZ=True, ROOT_URLCONF=__name__,
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "catalog"],
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [f"{root}/templates"],
                    "APP_DIRS": True}],
    )
    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext

    from catalog import cbv, views
    from catalog.models import Author, Book, Publisher, Review, Tag

    call_command("migrate", run_syncdb=True, verbosity=0)
    tags = [Tag.objects.create(name=f"t{i}") for i in range(2)]
    first = None
    for i in range(rows):
        author = Author.objects.create(name=f"a{i}", publisher=Publisher.objects.create(name=f"p{i}"))
        first = first or author
        for j in range(2):
            book = Book.objects.create(title=f"b{i}{j}", author=author if j else first, year=2021)
            book.tags.set(tags)
            Review.objects.create(book=book, reviewer=author, stars=5)
    request = RequestFactory().get("/")
    calls = {
        "books": lambda: views.books(request),
        "authors": lambda: views.authors(request),
        "paged": lambda: views.paged(request),
        "export": lambda: views.export(request),
        "bylines": lambda: views.bylines(request),
        "by_author": lambda: views.by_author(request),
        "book_list": lambda: cbv.BookListView.as_view()(request),
        "recent": lambda: cbv.RecentBooks.as_view()(request),
        "recent_mixin": lambda: cbv.RecentFromMixin.as_view()(request),
        "dashboard": lambda: cbv.Dashboard.as_view()(request),
        "author_detail": lambda: cbv.AuthorDetail.as_view()(request, pk=first.pk),
    }
    out = {}
    for name, call in calls.items():
        with CaptureQueriesContext(connection) as captured:
            response = call()
            if hasattr(response, "render"):
                response.render()
        assert response.status_code == 200, (name, response.status_code)
        out[name] = len(captured.captured_queries)
    return out


urlpatterns: list = []

if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]))))
