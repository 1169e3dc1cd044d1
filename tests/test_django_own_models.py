"""Django's own models (``auth.User``, ``Group``, ``Permission``, ``ContentType``) are known to the
index as library models: a project model's ``ForeignKey(User)`` — or ``settings.AUTH_USER_MODEL``
with no user model of the project's own — is a relation, so reading ``note.owner.username`` for
each row of a query that did not load it is a query per row. They are found by name, never
walked as the project's models (no drift, tenant proposal or model count sees them). Synthetic
projects only."""
from __future__ import annotations

from synthetic import check_all, index_of, lines_of, marked, write_project

SETTINGS = 'DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "x"}}\n'
MODELS = """\
from django.conf import settings
from django.contrib.auth.models import User
from django.db import models


class Note(models.Model):
    owner = models.ForeignKey(User, on_delete=models.CASCADE)
    editor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="edited")
"""
VIEWS = """\
from django.http import JsonResponse

from app.models import Note


def owners(request):
    return JsonResponse([n.owner.username for n in Note.objects.filter(pk__gt=0)], safe=False)  # MDB302


def editors(request):
    return JsonResponse([n.editor.email for n in Note.objects.filter(pk__gt=0)], safe=False)  # MDB302


def loaded(request):
    rows = Note.objects.select_related("owner", "editor").filter(pk__gt=0)
    return JsonResponse([(n.owner.username, n.editor.email) for n in rows], safe=False)
"""
URLS = """\
from django.urls import path

from app import views

urlpatterns = [path("a", views.owners), path("b", views.editors), path("c", views.loaded)]
"""


def _project(tmp_path):
    return write_project(tmp_path, {"app/__init__.py": "", "app/models.py": MODELS, "app/views.py": VIEWS,
                                    "app/urls.py": URLS, "app/settings.py": SETTINGS})


def test_a_relation_to_djangos_user_is_read_per_row(tmp_path):
    root = _project(tmp_path)
    want = marked(root, "app/views.py", "# MDB302")
    assert len(want) == 2 and lines_of(check_all(root), "MDB302", "views.py") == want


def test_library_models_are_found_but_not_walked(tmp_path):
    ix = index_of(_project(tmp_path))
    user = "django.contrib.auth.models.User"
    assert ix.models["app.models.Note"].relations["owner"].target == user
    assert ix.models["app.models.Note"].relations["editor"].target == user
    assert user in ix.models and ix.models.get(user).relations["groups"].target == "django.contrib.auth.models.Group"
    assert ix.models[user].relations["edited"].target == "app.models.Note"  # the reverse side
    assert list(ix.models) == ["app.models.Note"] and len(ix.models) == 1
    assert "User" not in ix.models_by_name


def test_a_project_without_django_models_gets_no_library_models(tmp_path):
    root = write_project(tmp_path, {"app/__init__.py": "", "app/db.py": "import sqlite3\n"})
    assert "django.contrib.auth.models.User" not in index_of(root).models
