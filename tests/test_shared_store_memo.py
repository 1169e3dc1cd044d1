"""A project function that fills a class- or module-level store on a miss and serves later calls
from it (``if k not in cls._by_lang: cls._by_lang[k] = load(k)``) runs its query once per
process, not once per call: calling it in a loop is not a query per row. Blind triage of a new
tune app judged three such findings false ("cached per language in a class dict, so after the
first load no query runs"; "served from an in-memory org mapping"). A cache on the instance
(``self._x``) is not shared: each row's object loads it again, and that stays a finding."""
from __future__ import annotations

from pathlib import Path

from synthetic import check_files

MODELS = """\
from django.db import models


class Org(models.Model):
    name = models.CharField(max_length=10)

    orgs_mapping = None

    @classmethod
    def from_memory(cls, key):
        if not isinstance(cls.orgs_mapping, dict):
            cls.orgs_mapping = cls.build()
        return cls.orgs_mapping.get(key)

    @classmethod
    def build(cls):
        return {o.name: o for o in cls.objects.all()}


class Method(models.Model):
    lang = models.CharField(max_length=10)
"""

LOOKUPS = """\
from shop.models import Method

_BY_LANG = {}


class Types:
    _methods_by_lang = {}

    @classmethod
    def methods(cls, lang):
        if lang not in cls._methods_by_lang:
            cls._methods_by_lang[lang] = list(Method.objects.filter(lang=lang))
        return cls._methods_by_lang[lang]


def methods_for(lang):
    if lang not in _BY_LANG:
        _BY_LANG[lang] = list(Method.objects.filter(lang=lang))
    return _BY_LANG[lang]


class Row:
    def __init__(self, lang):
        self.lang = lang
        self._methods = None

    def methods(self):
        if self._methods is None:
            self._methods = list(Method.objects.filter(lang=self.lang))
        return self._methods
"""

VIEWS = """\
from shop.lookups import Row, Types, methods_for
from shop.models import Org


def page(langs, keys):
    for lang in langs:
        Types.methods(lang)
        methods_for(lang)
        Row(lang).methods()
    for key in keys:
        Org.from_memory(key)
"""


def _findings(tmp_path: Path):
    found = check_files(tmp_path, {"shop/__init__.py": "", "shop/models.py": MODELS, "shop/lookups.py": LOOKUPS,
                                   "shop/views.py": VIEWS}, "MDB301")
    return {line for name, line, _code in found if name == "views.py"}


def _line(needle: str) -> int:
    return next(i for i, line in enumerate(VIEWS.splitlines(), 1) if needle in line)


def test_a_class_or_module_store_filled_on_a_miss_is_not_a_query_per_call(tmp_path):
    lines = _findings(tmp_path)
    assert _line("Types.methods(lang)") not in lines
    assert _line("methods_for(lang)") not in lines
    assert _line("Org.from_memory(key)") not in lines


def test_an_instance_cache_still_loads_once_per_row(tmp_path):
    assert _line("Row(lang).methods()") in _findings(tmp_path)
