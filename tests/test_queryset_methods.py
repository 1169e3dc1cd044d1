"""Custom manager and queryset methods that load relations (``def normal(self): return
self.select_related("arch")``) count as the query's eager loading; a field a concrete parent
model declares gives the parent, not a subclass, the reverse relation (the analysis of
``resource.entities`` must not depend on which subclass was indexed first)."""
from __future__ import annotations

from pathlib import Path

from mandu_lint.runner import CheckOptions, check_paths
from synthetic import index_of, write_project

SETTINGS = 'DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "pk"}}\n'
MODELS = """
from django.db import models


class PackageQuerySet(models.QuerySet):
    def normal(self):
        return self.select_related("arch", "repo")


class OtherManager(models.Manager):
    def normal(self):
        return self.get_queryset().select_related("arch")


class Arch(models.Model):
    name = models.CharField(max_length=10)


class Repo(models.Model):
    name = models.CharField(max_length=10)


class Package(models.Model):
    arch = models.ForeignKey(Arch, on_delete=models.CASCADE, related_name="packages")
    repo = models.ForeignKey(Repo, on_delete=models.CASCADE)
    objects = PackageQuerySet.as_manager()


class Other(models.Model):
    arch = models.ForeignKey(Arch, on_delete=models.CASCADE)
    objects = OtherManager()
"""
# a typing-only subclass in a module indexed before the models
TYPING = """
from typing import TYPE_CHECKING

from pk.models import Package

if TYPE_CHECKING:
    class PackageWithExtra(Package):
        extra: str
else:
    PackageWithExtra = Package
"""
VIEWS = """
from django.http import JsonResponse

from pk.models import Other, Package


def loaded_by_queryset_method(request):
    rows = [(p.arch.name, p.repo.name) for p in Package.objects.normal().filter(arch__name="x")]
    return JsonResponse(rows, safe=False)


def loaded_by_manager_method(request):
    return JsonResponse([o.arch.name for o in Other.objects.normal()], safe=False)


def not_loaded(request):
    return JsonResponse([p.repo.name for p in Package.objects.filter(arch__name="x")], safe=False)
"""
URLS = """
from django.urls import path

from pk import views

urlpatterns = [path("a", views.loaded_by_queryset_method), path("b", views.loaded_by_manager_method),
               path("c", views.not_loaded)]
"""


def _project(tmp_path):
    return write_project(tmp_path, {"pk/__init__.py": "", "pk/a_typing.py": TYPING, "pk/models.py": MODELS,
                                    "pk/settings.py": SETTINGS, "pk/views.py": VIEWS, "pk/urls.py": URLS})


def test_custom_queryset_and_manager_methods_load_what_they_select(tmp_path, monkeypatch):
    monkeypatch.delenv("MANDU_LINT_CONFIDENCE", raising=False)
    root = _project(tmp_path)
    result = check_paths([str(root)], CheckOptions(use_cache=False, jobs=1, select=["MDB302"], confidence="medium"))
    lines = (root / "pk/views.py").read_text().splitlines()
    assert [(Path(f.path).name, lines[f.span.line - 1].strip()[:30]) for f in result.findings] == [
        ("views.py", "return JsonResponse([p.repo.na")]


def test_the_reverse_relation_belongs_to_the_model_that_declares_the_field(tmp_path):
    root = _project(tmp_path)
    index = index_of(root)
    assert index.models["pk.models.Arch"].relations["packages"].target == "pk.models.Package"
