"""MDB610: fixture files that no longer match the models."""
from __future__ import annotations

from typing import Dict, List, Optional, Set, Tuple

from ...globs import GlobSet
from ...project.contexts import TEST_PATH
from ...core.refs import dotted
from ...project.models import DJANGO_MODEL_BASES, DJANGO_REL, django_app_label
from ..base import ProjectRule
from .fixtures_files import EXTENSIONS, MAX_BYTES, find_fixture_files, loads_of, read_fixture, resolve, used_names


RELATION_FIELDS = {name for name, kind in DJANGO_REL.items() if kind in ("fk", "o2o")}


class FixtureDrift(ProjectRule):
    """
    ## What it does
    Checks Django fixture files - JSON and YAML files in `fixtures/` folders, files named by
    `loaddata` calls, and files matching `migrations.fixtures` - against the project's models:

    - a record whose model no longer exists (its app is a project app);
    - a field a model no longer has;
    - a record with `"pk": null` (or no `pk`) for a model without natural keys, in a fixture
      loaded outside tests: every load inserts it again.

    Primary location: the record (its `model` line) or the field in the fixture file.

    ## Why is this bad?
    `loaddata` of a drifted fixture fails (`Invalid model identifier`, `has no field named`),
    usually when it is needed most: bootstrapping a new environment or restoring reference
    data. A record without a primary key and without natural keys is created anew by each
    load, so reference data doubles on every deploy that loads it.

    ## Known problems
    Project-level (`mandu-lint check`, not flake8). Models of other apps (`auth.user`, third
    party) and models with a base class outside the project (whose fields are unknown) are not
    judged. Fixture names in shell scripts or Makefiles are not followed; those files are checked
    only when they sit in a `fixtures/` folder. XML fixtures and SQL seed files are not read.
    Findings in JSON files cannot carry a `# noqa`; use `per-file-ignores`. The `pk: null`
    check is skipped for fixtures only tests load (`fixtures = [...]` in test code).

    ## Example
    ```yaml
    # shop/fixtures/plans.yaml - Plan.title was renamed to Plan.name
    - model: shop.plan
      pk: 1
      fields:
        title: Free
    ```

    ## Use instead
    ```yaml
    - model: shop.plan
      pk: 1
      fields:
        name: Free
    ```

    ## Fix safety
    No fix: the right edit (rename, drop, a migration of the data) needs a person.
    """

    code = "MDB610"
    name = "fixture-drift"
    summary = "Fixture file naming models or fields that no longer exist, or records without keys loaded every deploy"
    default = False
    precision = "high"
    tags = ("fixtures", "data", "deploy")

    _MODELS = """
        from django.db import models

        class Plan(models.Model):
            code = models.CharField(max_length=20, unique=True)
            name = models.CharField(max_length=50)
    """
    BAD = [
        {"shop/models.py": _MODELS, "shop/management/commands/load_plans.py": """
            from django.core.management import call_command
            from django.core.management.base import BaseCommand

            class Command(BaseCommand):
                def handle(self, *args, **options):
                    call_command("loaddata", "plans.yaml")
         """, "shop/fixtures/plans.yaml": """
            - model: shop.plan
              pk: 1
              fields:
                code: free
                title: Free  # error
            - model: shop.coupon  # error
              pk: 1
              fields: {code: x}
            - model: shop.plan  # error
              pk: null
              fields: {code: pro, name: Pro}
         """},
    ]
    GOOD = [
        {"shop/models.py": _MODELS, "shop/fixtures/plans.yaml": """
            - model: shop.plan
              pk: 1
              fields: {code: free, name: Free}
            - model: auth.group
              fields: {name: staff}
         """, "shop/tests/test_plans.py": """
            from django.test import TestCase

            class PlanTests(TestCase):
                fixtures = ["draft_plans.yaml"]
         """, "shop/fixtures/draft_plans.yaml": """
            - model: shop.plan
              fields: {code: draft, name: Draft}
         """},
    ]

    def check(self) -> None:
        project = self.project
        settings = getattr(project.settings, "values", {})
        globs = GlobSet(settings.get(("migrations", "fixtures")) or [])
        fixtures = find_fixture_files(project, globs)
        loads = loads_of(project)
        for name in list(loads.outside_tests) + list(loads.in_tests):
            if not resolve(name, fixtures) and name.endswith(EXTENSIONS) and (project.root / name).is_file():
                fixtures.append(name)
        index = project.index
        django = [m for m in index.models.values() if m.orm == "django" and not m.abstract]
        apps = {m.app_label for m in django}
        by_label: Dict[Tuple[str, str], object] = {(m.app_label, m.name.lower()): m for m in django}
        # classes of the app's modules the index does not take for models (a base class from a
        # library): they may well be models, so a record naming one is not judged
        self.classes = {(django_app_label(q.rsplit(".", 1)[0]), q.rsplit(".", 1)[1].lower())
                        for q in (index.classes if fixtures else ()) if "." in q}
        for rel in sorted(set(fixtures)):
            path = project.root / rel
            try:
                if path.stat().st_size > MAX_BYTES:
                    continue
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            parsed = read_fixture(rel, text)
            if parsed is not None:
                self._file(parsed, apps, by_label, self._loaded_outside_tests(rel, loads, fixtures))

    def _loaded_outside_tests(self, rel: str, loads, fixtures: List[str]) -> bool:
        if TEST_PATH.search(rel):
            return False
        outside, tests = used_names(loads, rel, fixtures)
        return bool(outside) or not tests

    def _file(self, parsed, apps: Set[str], by_label, outside_tests: bool) -> None:
        missing_models: Set[str] = set()
        missing_fields: Set[Tuple[str, str]] = set()
        keyless: Set[str] = set()
        for record in parsed.records:
            label, _, name = record.model.partition(".")
            if not name or label not in apps:
                continue
            model = by_label.get((label, name.lower()))
            if model is None and (label, name.lower()) in self.classes:
                continue
            if model is None:
                if record.model.lower() not in missing_models:
                    missing_models.add(record.model.lower())
                    count = sum(1 for r in parsed.records if r.model.lower() == record.model.lower())
                    self.report_at(parsed.rel, record.line,
                                   f"fixture record for model {record.model}, which no longer exists in app {label} "
                                   f"({count} record{'s' if count > 1 else ''}): loaddata fails with 'Invalid model "
                                   "identifier'; remove the records or point them at the model that replaced it")
                continue
            known = self._field_names(model)
            for fname, line in record.fields.items():
                if known is not None and fname not in known and (model.qual, fname) not in missing_fields:
                    missing_fields.add((model.qual, fname))
                    self.report_at(parsed.rel, line,
                                   f"fixture field {fname!r} of {record.model}: {model.name} has no such field any "
                                   "more, so loaddata fails; rename or drop it in the fixture")
            if outside_tests and (not record.has_pk or record.pk is None) and model.qual not in keyless \
                    and not self._natural_keys(model):
                keyless.add(model.qual)
                self.report_at(parsed.rel, record.line,
                               f"fixture record for {record.model} with no primary key, and {model.name} has no "
                               "natural key: every loaddata inserts it again; give it a fixed pk, or define "
                               "natural_key() and get_by_natural_key() on the model and its manager")

    def _field_names(self, model) -> Optional[Set[str]]:
        """Every field name a fixture may use, or None when a base class is outside the project."""
        index = self.project.index
        for cls in index.mro(model.qual)[1:]:
            if cls in DJANGO_MODEL_BASES or cls in ("builtins.object", "object"):
                continue
            if cls not in index.classes:
                return None
        names = {"id", "pk"} | set(model.fields) | set(model.relations)
        names |= {f"{r}_id" for r, rel in model.relations.items() if rel.kind in ("fk", "o2o")}
        names |= {f"{n}_id" for n, ff in model.fields.items()  # relations to models outside the project
                  if ff.ctor is not None and (dotted(ff.ctor) or "").rsplit(".", 1)[-1] in RELATION_FIELDS}
        for cls in index.mro(model.qual):
            parent = index.models.get(cls)
            if parent is not None and parent is not model and not parent.abstract:
                names.add(f"{parent.name.lower()}_ptr")
        return names

    def _natural_keys(self, model) -> bool:
        return self.project.index.find_method(model.qual, "natural_key") is not None
