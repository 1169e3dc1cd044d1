"""A method nothing in the project names — no call, attribute or string anywhere, tests included
— of a model or of a plain project class cannot run in production: findings in it are dropped,
like findings in module-level classes nothing uses. Blind triage of new tune apps judged such
findings false ("add_members has no caller in the project"; "create_or_update_internal_platforms
has no callers"). A method a library base may call by a name it chose (a serializer's, a form's),
one a template can call (no argument), a Django ``Model`` hook, and the methods of a class that
calls ``getattr(self, <computed name>)`` are left alone."""
from __future__ import annotations

from synthetic import check_files

MODELS = """\
from django.db import models


class Member(models.Model):
    name = models.CharField(max_length=20)


class Team(models.Model):
    name = models.CharField(max_length=20)

    def add_members(self, names):
        for n in names:
            Member.objects.create(name=n)

    def add_helpers(self, names):
        for n in names:
            Member.objects.create(name=n)

    @classmethod
    def rebuild(cls):
        for t in cls.objects.all():
            Member.objects.create(name=t.name)

    def invite_all(self):
        for m in Member.objects.all():
            Member.objects.create(name=m.name)
"""

USES = """\
from shop.models import Team


def onboard(team: Team, names):
    team.add_helpers(names)
"""

HOOKS = """\
from shop.models import Member


class Hook:
    def __init__(self, kind):
        self.kind = kind

    def run(self):
        return getattr(self, "export_" + self.kind)(["a"])


class MembersHook(Hook):
    def export_members(self, names):
        for n in names:
            Member.objects.create(name=n)
"""

FORMS = """\
from django import forms

from shop.models import Member


class MemberForm(forms.Form):
    def clean_names(self, names):
        for n in names:
            Member.objects.create(name=n)
"""


def _at(src: str, needle: str, nth: int = 0) -> int:
    return [i for i, line in enumerate(src.splitlines(), 1) if needle in line][nth]


def test_a_method_nothing_names_is_not_reported_and_a_named_one_is(tmp_path):
    found = check_files(tmp_path, {"shop/__init__.py": "", "shop/models.py": MODELS, "shop/uses.py": USES,
                                   "shop/forms.py": FORMS, "shop/hooks.py": HOOKS}, "MDB303")
    lines = {line for name, line, _code in found if name == "models.py"}
    create = "Member.objects.create(name="
    assert _at(MODELS, create, 0) not in lines  # add_members: nothing names it
    assert _at(MODELS, create, 1) in lines  # add_helpers: called from shop/uses.py
    assert _at(MODELS, create, 2) not in lines  # an unnamed classmethod
    assert _at(MODELS, create, 3) in lines  # no argument: a template may call it
    assert ("forms.py", _at(FORMS, create), "MDB303") in found  # a form's hook: Django calls it by name
    assert ("hooks.py", _at(HOOKS, create), "MDB303") in found  # getattr(self, "export_" + kind)
