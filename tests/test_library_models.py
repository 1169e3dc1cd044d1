"""Models whose base class comes from a library the index does not list: a class deriving from
an unread library class is a Django model when its body (or a project ancestor's) declares
Django model fields, and a name ending in ``objects`` that no project class defines is a manager
the library base declares (django-softdelete's ``global_objects``). Synthetic project."""
from __future__ import annotations

from mandu_lint.core.tags import RT, TK
from synthetic import index_of, write_project

MODELS = """\
from django import forms
from django.db import models
from django_softdelete.models import SoftDeleteModel
from somelib.base import Plugin


class Folder(SoftDeleteModel):
    name = models.CharField(max_length=50)

    def label(self):
        return self.name


class Archive(Folder):
    kept = models.BooleanField(default=False)


class FolderForm(forms.Form):
    name = forms.CharField()


class Widget(Plugin):
    size = 3


class Local(models.Model):
    note = models.TextField()
"""


def test_library_base_models_and_their_managers(tmp_path):
    ix = index_of(write_project(tmp_path, {"app/__init__.py": "", "app/models.py": MODELS,
                                           "app/settings.py": "DEBUG = True\n"}))
    assert {"app.models.Folder", "app.models.Archive", "app.models.Local"} <= set(ix.models)
    assert "app.models.FolderForm" not in ix.models and "app.models.Widget" not in ix.models
    assert ix.models["app.models.Folder"].orm == "django"
    t = ix.typer
    folder = (RT.GLOBAL, "app.models.Folder")
    assert t.type_of((RT.ATTR, folder, "objects")) == (TK.MANAGER, "app.models.Folder")
    assert t.type_of((RT.ATTR, folder, "global_objects")) == (TK.MANAGER, "app.models.Folder")
    assert t.type_of((RT.ATTR, (RT.GLOBAL, "app.models.Archive"), "deleted_objects")) == (
        TK.MANAGER, "app.models.Archive")
    # a plain Django model has only the managers it declares; other names are not guessed
    assert t.type_of((RT.ATTR, (RT.GLOBAL, "app.models.Local"), "global_objects")) is None
