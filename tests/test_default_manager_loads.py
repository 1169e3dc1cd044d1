"""What a model's default manager loads in its own ``get_queryset()`` is loaded by the querysets
that come from it without naming it: a related manager (Django builds ``host.packages`` from the
related model's default manager class) and a queryset handed in as a parameter (most come from
the default manager). Blind triage of a new tune app judged two MDB302 findings false for this
("host.packages uses PackageManager, whose get_queryset does select_related name/arch"). A
relation the manager does not load stays a finding."""
from __future__ import annotations

from synthetic import check_files

MODELS = """\
from django.db import models


class Name(models.Model):
    text = models.CharField(max_length=20)


class Arch(models.Model):
    text = models.CharField(max_length=20)


class PackageManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().select_related("name")


class Package(models.Model):
    name = models.ForeignKey(Name, on_delete=models.CASCADE)
    arch = models.ForeignKey(Arch, on_delete=models.CASCADE)
    objects = PackageManager()


class Host(models.Model):
    packages = models.ManyToManyField(Package)


def names():
    out = []
    for h in Host.objects.prefetch_related("packages"):
        for p in h.packages.all():
            out.append(p.name.text)
    return out


def arches():
    out = []
    for h in Host.objects.prefetch_related("packages"):
        for p in h.packages.all():
            out.append(p.arch.text)
    return out


def wanted(candidates):
    out = []
    for p in candidates.filter(arch__text="x"):
        out.append(p.name.text)
    return out


def caller():
    return wanted(Package.objects.exclude(arch__text="y"))
"""


def test_the_default_managers_loads_reach_related_managers_and_handed_in_querysets(tmp_path):
    found = check_files(tmp_path, {"shop/__init__.py": "", "shop/models.py": MODELS}, "MDB302")
    lines = {line for _name, line, _code in found}
    at = {n: next(i for i, line in enumerate(MODELS.splitlines(), 1) if n in line)
          for n in ("out.append(p.name.text)", "out.append(p.arch.text)")}
    second = [i for i, line in enumerate(MODELS.splitlines(), 1) if "out.append(p.name.text)" in line][1]
    assert at["out.append(p.name.text)"] not in lines  # a related manager: loaded by PackageManager
    assert at["out.append(p.arch.text)"] in lines  # not loaded: one query per package
    assert second not in lines  # a queryset handed in
