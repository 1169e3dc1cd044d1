"""``request.user`` in a Django project whose user model is one of its models: a view's first
parameter named ``request`` (or annotated ``HttpRequest``/DRF ``Request``) and a class-based
view's ``self.request`` are the request, and ``.user`` is an instance of the user model, so the
rows reached through its relations (``request.user.notes.filter(…)``) are typed like any other
instance's. (A loop over ``request.user.notes.all()`` stays unreported like any one object's
children: MDB302's own limit.) Synthetic projects only."""
from __future__ import annotations

from mandu_lint.core.tags import RT, TK
from synthetic import check_all, index_of, lines_of, marked, write_project

MODELS = """\
from django.db import models


class Member(models.Model):
    name = models.CharField(max_length=50)


class Author(models.Model):
    name = models.CharField(max_length=50)


class Note(models.Model):
    owner = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(Author, on_delete=models.CASCADE)
"""

VIEWS = """\
from django.http import HttpRequest
from django.views import View


def inbox(request):
    return [n.author.name for n in request.user.notes.filter(author__name="x")]  # MDB302


def annotated(req: HttpRequest):
    return req.user.notes.count()


def helper(label, request):
    return request.user.notes.all()  # not the first parameter: not assumed to be a request


class Inbox(View):
    def get(self, request):
        return [n.author.name for n in self.request.user.notes.filter(author__name="x")]  # MDB302


class Plain:
    def get(self):
        return self.request.user.notes.all()  # not a view: unknown
"""


def project(tmp_path, settings: str):
    return write_project(tmp_path, {"app/__init__.py": "", "app/models.py": MODELS, "app/views.py": VIEWS,
                                    "app/settings.py": settings})


def test_a_view_request_is_typed_and_its_user_is_the_user_model(tmp_path):
    root = project(tmp_path, 'AUTH_USER_MODEL = "app.Member"\n')
    ix = index_of(root)
    t = ix.typer
    inbox = (RT.PARAM, "app.views.inbox", "request")
    assert ix.user_model == "app.models.Member"
    assert t.type_of(inbox) == (TK.REQUEST,)
    assert t.type_of((RT.ATTR, inbox, "user")) == (TK.INST, "app.models.Member")
    assert t.type_of((RT.ATTR, (RT.ATTR, inbox, "user"), "notes")) == (TK.RELMGR, "app.models.Note")
    assert t.type_of((RT.PARAM, "app.views.annotated", "req")) == (TK.REQUEST,)
    assert t.type_of((RT.PARAM, "app.views.helper", "request")) is None
    assert t.type_of((RT.ATTR, (RT.SELF, "app.views.Inbox"), "request")) == (TK.REQUEST,)
    assert t.type_of((RT.ATTR, (RT.SELF, "app.views.Plain"), "request")) is None


def test_without_the_setting_the_user_is_djangos_own(tmp_path):
    """No ``AUTH_USER_MODEL`` and no user model in the project: Django's ``auth.User``, whose
    relations are Django's (``notes`` belongs to ``Member``, not to it)."""
    root = project(tmp_path, "DEBUG = True\n")
    ix = index_of(root)
    request = (RT.PARAM, "app.views.inbox", "request")
    assert ix.user_model == "django.contrib.auth.models.User"
    assert ix.typer.type_of((RT.ATTR, request, "user")) == (TK.INST, "django.contrib.auth.models.User")
    assert ix.typer.type_of((RT.ATTR, (RT.ATTR, request, "user"), "groups")) == \
        (TK.RELMGR, "django.contrib.auth.models.Group")
    assert ix.typer.type_of((RT.ATTR, (RT.ATTR, request, "user"), "notes")) is None
    assert lines_of(check_all(root), "MDB302", "views.py") == []


def test_a_project_user_model_whose_setting_is_not_literal_stays_unknown(tmp_path):
    root = write_project(tmp_path, {
        "app/__init__.py": "", "app/views.py": VIEWS, "app/settings.py": "AUTH_USER_MODEL = env('USER_MODEL')\n",
        "app/models.py": MODELS + "\n\nfrom django.contrib.auth.models import AbstractUser\n\n\n"
                                  "class Account(AbstractUser):\n    pass\n"})
    ix = index_of(root)
    assert ix.user_model is None
    assert ix.typer.type_of((RT.ATTR, (RT.PARAM, "app.views.inbox", "request"), "user")) is None


def test_rows_reached_from_request_user_are_per_row_code(tmp_path):
    root = project(tmp_path, 'AUTH_USER_MODEL = "app.Member"\n')
    want = marked(root, "app/views.py", "# MDB302")
    assert len(want) == 2 and lines_of(check_all(root), "MDB302", "views.py") == want
