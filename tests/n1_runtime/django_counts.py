"""Query counts of the Django runtime-proof app (run in its own process: Django is configured
once per process). Usage: python django_counts.py APP_ROOT ROWS → JSON {"list": n, "loop": n}."""
import json
import sys


def main(root: str, rows: int) -> dict:
    sys.path.insert(0, root)
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=True, SECRET_KEY="x", USE_TZ=True, ROOT_URLCONF=__name__,
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "rest_framework", "shelf"],
        REST_FRAMEWORK={"DEFAULT_AUTHENTICATION_CLASSES": [], "DEFAULT_PERMISSION_CLASSES": [],
                        "UNAUTHENTICATED_USER": None},
    )
    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIRequestFactory

    from shelf.api import BookViewSet
    from shelf.models import Author, Book, Tag
    from shelf.reports import catalogue

    call_command("migrate", run_syncdb=True, verbosity=0)
    tags = [Tag.objects.create(name=f"t{i}") for i in range(2)]
    for i in range(rows):
        book = Book.objects.create(title=f"b{i}", author=Author.objects.create(name=f"a{i}"))
        book.tags.set(tags)
    view = BookViewSet.as_view({"get": "list"})
    with CaptureQueriesContext(connection) as listed:
        response = view(APIRequestFactory().get("/books/"))
        response.render()
    assert response.status_code == 200 and len(response.data) == rows, response.data
    with CaptureQueriesContext(connection) as looped:
        assert len(catalogue()) == rows
    return {"list": len(listed.captured_queries), "loop": len(looped.captured_queries)}


urlpatterns: list = []

if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]))))
