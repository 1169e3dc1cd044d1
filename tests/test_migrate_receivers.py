"""A ``post_migrate``/``pre_migrate`` receiver runs once per ``migrate``, at deploy time: it is
start-up code, not a signal sent while users are served. Blind triage of a new tune app judged a
check-then-insert race there false ("only reached from post_migrate during the migrate command;
no concurrent requests run this check"). The same check from a view stays a finding."""
from __future__ import annotations

from pathlib import Path

from synthetic import check_files

MODELS = """\
from django.db import models


class Setting(models.Model):
    name = models.CharField(max_length=40, unique=True)
"""

HANDLERS = """\
from django.db.models.signals import post_migrate, post_save
from django.dispatch import receiver

from shop.models import Setting


def ensure_site_url():
    row = Setting.objects.filter(name="SITE_URL").first()
    if not row:
        Setting.objects.create(name="SITE_URL")


def ensure_theme():
    row = Setting.objects.filter(name="THEME").first()
    if not row:
        Setting.objects.create(name="THEME")


def ensure_logo():
    row = Setting.objects.filter(name="LOGO").first()
    if not row:
        Setting.objects.create(name="LOGO")


@receiver(post_migrate)
def on_migrate(sender, **kwargs):
    ensure_site_url()


def on_migrate_connected(sender, **kwargs):
    ensure_theme()


post_migrate.connect(on_migrate_connected)


@receiver(post_save, sender=Setting)
def on_save(sender, instance, **kwargs):
    ensure_logo()
"""


def _run(tmp_path: Path):
    found = check_files(tmp_path, {"shop/__init__.py": "", "shop/models.py": MODELS, "shop/handlers.py": HANDLERS},
                        "MDB406")
    return {line for _name, line, _code in found}


def _line(needle: str) -> int:
    return next(i for i, line in enumerate(HANDLERS.splitlines(), 1) if needle in line)


def test_a_migrate_receiver_is_start_up_code(tmp_path):
    lines = _run(tmp_path)
    assert _line('filter(name="SITE_URL")') not in lines  # @receiver(post_migrate)
    assert _line('filter(name="THEME")') not in lines  # post_migrate.connect(...)
    assert _line('filter(name="LOGO")') in lines  # post_save: sent while users are served
