"""Models whose base class comes from a library the index does not list: a class deriving from
an unread library class is a Django model when its body (or a project ancestor's) declares
Django model fields, and a name ending in ``objects`` that no project class defines is a manager
the library base declares (django-softdelete's ``global_objects``). Synthetic project."""
from __future__ import annotations

import textwrap

from mandu_lint import config
from mandu_lint.core.tags import RT, TK
from mandu_lint.runner import CheckOptions, load_project

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
    root = tmp_path / "p"
    (root / ".git").mkdir(parents=True)
    (root / "mandu.yaml").write_text("")
    for rel, src in {"app/__init__.py": "", "app/models.py": MODELS, "app/settings.py": "DEBUG = True\n"}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(src))
    config.clear_caches()
    ix = load_project(root, None, CheckOptions(use_cache=False, jobs=1)).index
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
