"""A method nothing in the project names — no call, attribute or string anywhere, tests, scripts and
configuration files included — of a model or of a plain project class cannot run in production:
findings in it are dropped, like findings in module-level classes nothing uses. Blind triage of new
tune apps judged such findings false ("add_members has no caller in the project";
"create_or_update_internal_platforms has no callers"). A method a library base may call by a name it
chose (a serializer's, a form's), one a template can call (no argument), a Django ``Model`` hook,
and the methods of a class that calls ``getattr(self, <computed name>)`` are left alone. Once the
project's templates are known, a method without arguments is left alone only when a template (or
code, a test or a script) writes its name."""
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


VIEWS = """\
from django.shortcuts import render

from shop.models import Team


def team_page(request, pk):
    return render(request, "shop/team.html", {"team": Team.objects.get(pk=pk)})
"""

TEMPLATE = """\
<h1>{{ team.name }}</h1>
<a href="#" onclick="go()">{{ team.invite_all }}</a>
"""

TESTS = """\
from shop.models import Team


def test_add_members():
    Team(name="a").add_members(["x"])
"""


def test_a_method_without_arguments_no_template_names_is_dead_once_templates_are_known(tmp_path):
    # once the project's templates are known, a method without arguments that none of them
    # writes cannot be called from one; a test, a template or a suffix-less script naming a
    # method keeps it (code a test calls but the app does not yet is code in development)
    models = MODELS + """
    def audit_all(self):
        for m in Member.objects.all():
            Member.objects.create(name=m.name)

    def sync_all(self):
        for m in Member.objects.all():
            Member.objects.create(name=m.name)
"""
    script = "#!/usr/bin/env python3\nfrom shop.models import Team\n\nTeam.objects.first().sync_all()\n"
    found = check_files(tmp_path, {"shop/__init__.py": "", "shop/models.py": models, "shop/uses.py": USES,
                                   "shop/views.py": VIEWS, "shop/templates/shop/team.html": TEMPLATE,
                                   "tests/test_team.py": TESTS, "sbin/shopctl": script}, "MDB303")
    lines = {line for name, line, _code in found if name == "models.py"}
    create = "Member.objects.create(name="
    assert _at(models, create, 0) in lines  # add_members: a test calls it
    assert _at(models, create, 1) in lines  # add_helpers: called from shop/uses.py
    assert _at(models, create, 3) in lines  # invite_all: the template writes it
    assert _at(models, create, 4) not in lines  # audit_all: no template, test or code names it
    assert _at(models, create, 5) in lines  # sync_all: a Python script without .py calls it


def test_a_template_that_starts_naming_a_method_brings_its_findings_back_on_a_warm_run(tmp_path, monkeypatch):
    # the index (cached between runs) knows which methods templates name: a template edit must
    # rebuild it although no Python file changed
    from mandu_lint import config
    from mandu_lint.runner import CheckOptions, check_paths

    from synthetic import write_project

    page = "shop/templates/shop/team.html"
    root = write_project(tmp_path, {"shop/__init__.py": "", "shop/models.py": MODELS, "shop/uses.py": USES,
                                    "shop/views.py": VIEWS, page: "<h1>{{ team.name }}</h1>\n"})
    monkeypatch.setenv("MANDU_CACHE_DIR", str(tmp_path / "cache"))

    def lines():
        config.clear_caches()
        result = check_paths([str(root)], CheckOptions(jobs=1, confidence="medium", select=["MDB303"]))
        return {f.span.line for f in result.findings if f.path.endswith("models.py")}

    invite = _at(MODELS, "Member.objects.create(name=", 3)
    assert invite not in lines() and invite not in lines()  # cold, then warm: no template names it
    (root / page).write_text("<h1>{{ team.name }}</h1>{{ team.invite_all }}\n")
    assert invite in lines()


def test_a_method_a_script_or_a_configuration_file_names_is_not_dead(tmp_path):
    files = {"shop/__init__.py": "", "shop/models.py": MODELS, "shop/uses.py": USES,
             "deploy/cron.yaml": "- schedule: daily\n  run: python -c 'Team.rebuild()'\n",
             "bin/members": "#!/bin/sh\nexec python -c 'from shop.models import Team; Team().add_members([])'\n"}
    found = check_files(tmp_path, files, "MDB303")
    lines = {line for name, line, _code in found if name == "models.py"}
    create = "Member.objects.create(name="
    assert _at(MODELS, create, 0) in lines  # add_members: the shell script calls it
    assert _at(MODELS, create, 2) in lines  # rebuild: the YAML schedule names it
