"""Django runs the save of ``get_or_create()``/``update_or_create()`` inside its own
``transaction.atomic()``: a ``save()`` override reached that way runs inside a transaction
whatever its caller's state. Its writes are not "outside a transaction" (MDB401; chiefonboarding's
user save reached through ``update_or_create``, judged a wrong claim on a tune app), and a task
it queues goes out before that transaction commits (MDB403). A plain ``save()`` from an
autocommit view still leaves the override outside. Synthetic project."""
from __future__ import annotations

from synthetic import check_files

MODELS = """\
from django.db import models

from shop.tasks import announce


class Profile(models.Model):
    name = models.CharField(max_length=10, unique=True)


class Member(models.Model):
    name = models.CharField(max_length=10, unique=True)

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        Profile.objects.create(name=self.name)  # WRITE
        announce.delay(self.pk)  # QUEUE


class Guest(models.Model):
    name = models.CharField(max_length=10, unique=True)

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        Profile.objects.create(name=self.name)  # PLAIN
"""

SETTINGS = 'DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "shop"}}\n'

TASKS = """\
from celery import shared_task


@shared_task
def announce(pk):
    return pk
"""

VIEWS = """\
from shop.models import Guest, Member


def join(request):
    member, _ = Member.objects.get_or_create(name=request.POST["name"])
    return member


def rename(request):
    Member.objects.update_or_create(name=request.POST["name"], defaults={})


def visit(request):
    guest = Guest(name=request.POST["name"])
    guest.save()
"""


def _line(needle: str) -> int:
    return next(i for i, line in enumerate(MODELS.splitlines(), 1) if line.endswith(needle))


def test_a_save_override_reached_through_get_or_create_runs_inside_a_transaction(tmp_path):
    found = check_files(tmp_path, {"shop/__init__.py": "", "shop/settings.py": SETTINGS,
                                   "shop/models.py": MODELS, "shop/tasks.py": TASKS, "shop/views.py": VIEWS},
                        "MDB401", "MDB403")
    in_models = {(line, code) for name, line, code in found if name == "models.py"}
    assert (_line("# QUEUE"), "MDB403") in in_models
    assert not any(code == "MDB401" and line < _line("# QUEUE") for line, code in in_models)
    # the plain save() of a view in autocommit leaves Guest.save outside a transaction
    assert any(code == "MDB401" and line > _line("# QUEUE") for line, code in in_models), found
