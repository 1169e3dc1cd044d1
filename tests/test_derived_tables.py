"""Tables derived from every module's facts (the transaction rules' call sites and signal
receivers) are stored beside the index, keyed like it: a warm one-file run loads them instead of
every module's facts, and any change to the project's files gives a new table."""
from __future__ import annotations

import textwrap

from mandu_lint import config
from mandu_lint.runner import CheckOptions, check_paths

MODELS = """
from django.db import models

class Order(models.Model):
    total = models.IntegerField(default=0)
"""
VIEWS = """
from shop.models import Order

def pay(request, pk):
    order = Order.objects.get(pk=pk)
    order.total = 0
    order.save()
"""
RECEIVER = """
from django.core.mail import send_mail
from django.db.models.signals import post_save
from django.dispatch import receiver
from shop.models import Order

@receiver(post_save, sender=Order)
def mail(sender, instance, **kw):
    send_mail("saved", "x", "a@b.c", ["d@e.f"])
"""


def test_tables_are_stored_and_follow_the_files(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("MANDU_CACHE_DIR", str(cache))
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    (root / "mandu.yaml").write_text("")
    for rel, src in {"shop/models.py": MODELS, "shop/views.py": VIEWS,
                     "shop/settings.py": 'DATABASES = {"default": {}}\n'}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(src))
        (path.parent / "__init__.py").touch()

    def run():
        config.clear_caches()
        check_paths([str(root)], CheckOptions(jobs=1, select=["MDB4"]))
        return sorted(p.name for p in cache.rglob("derived-tx-*.pkl"))
    first = run()
    assert any(n.startswith("derived-tx-sites-") for n in first)
    assert any(n.startswith("derived-tx-receivers-") for n in first)
    assert run() == first  # warm: the same tables, reused
    (root / "shop" / "signals.py").write_text(textwrap.dedent(RECEIVER))
    second = run()
    assert second != first and len(second) == len(first)  # rebuilt under the new index key, old ones pruned
