"""MDB610 on JSON fixtures (which cannot carry annotations): each finding points at the record or
the field's own line, keyless records only count when loaded outside tests, and a file that is
not a Django fixture is left alone."""
from __future__ import annotations

import textwrap
from pathlib import Path

from mandu_lint.runner import CheckOptions, check_paths

MODELS = """
from django.contrib.auth.models import User
from django.db import models


class Plan(models.Model):
    code = models.CharField(max_length=20, unique=True)
    owner = models.ForeignKey(User, null=True, on_delete=models.SET_NULL)
"""
PLANS = """
[
  {
    "model": "shop.plan",
    "pk": 1,
    "fields": {
      "code": "free",
      "owner_id": 1,
      "price": 0
    }
  },
  {"model": "shop.plan", "pk": null, "fields": {"code": "pro"}},
  {"model": "shop.invoice", "pk": 1, "fields": {}}
]
"""


def _project(tmp_path: Path, files) -> Path:
    root = tmp_path / "p"
    for rel, text in {"mandu.yaml": "select: [MDB610]\n", "shop/__init__.py": "", "shop/models.py": MODELS,
                      **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def _found(root: Path):
    result = check_paths([str(root)], CheckOptions(use_cache=False, jobs=1, confidence="medium"))
    return sorted((Path(f.path).relative_to(root).as_posix(), f.span.line, f.message.split(":")[0])
                  for f in result.findings if f.code == "MDB610")


def test_json_fixture_findings_point_at_their_lines(tmp_path):
    root = _project(tmp_path, {"shop/fixtures/plans.json": PLANS})
    assert _found(root) == [
        ("shop/fixtures/plans.json", 8, "fixture field 'price' of shop.plan"),
        ("shop/fixtures/plans.json", 11,
         "fixture record for shop.plan with no primary key, and Plan has no natural key"),
        ("shop/fixtures/plans.json", 12, "fixture record for model shop.invoice, which no longer exists in app shop "
                                         "(1 record)"),
    ]


def test_keyless_records_loaded_only_by_tests_are_fine(tmp_path):
    root = _project(tmp_path, {"shop/fixtures/plans.json": '[{"model": "shop.plan", "fields": {"code": "x"}}]',
                               "shop/tests/test_plans.py": "class T:\n    fixtures = ['plans.json']\n"})
    assert _found(root) == []


def test_natural_keys_make_keyless_records_fine(tmp_path):
    models = MODELS + "\n    def natural_key(self):\n        return (self.code,)\n"
    root = _project(tmp_path, {"shop/models.py": models,
                               "shop/fixtures/plans.json": '[{"model": "shop.plan", "fields": {"code": "x"}}]'})
    assert _found(root) == []


def test_fixture_named_by_loaddata_outside_a_fixtures_folder(tmp_path):
    root = _project(tmp_path, {"data/initial.json": '[{"model": "shop.plan", "pk": 1, "fields": {"title": "x"}}]',
                               "shop/management/__init__.py": "", "shop/management/commands/__init__.py": "",
                               "shop/management/commands/init_data.py": """
                                   from django.core.management import call_command

                                   def handle():
                                       call_command("loaddata", "data/initial.json")
                               """})
    assert _found(root) == [("data/initial.json", 1, "fixture field 'title' of shop.plan")]


def test_json_that_is_no_django_fixture_is_skipped(tmp_path):
    root = _project(tmp_path, {"shop/fixtures/config.json": '{"model": "shop.plan", "settings": [1, 2]}',
                               "shop/fixtures/list.json": '[1, 2, 3]'})
    assert _found(root) == []
