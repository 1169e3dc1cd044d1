"""MDB403 points at where a side effect reached through a helper, a ``save()`` override or a
receiver is sent: a related location on that line (where ``on_commit`` belongs), none when the
side effect is the reported call itself. Synthetic project."""
from __future__ import annotations

import textwrap

from mandu_lint import config
from mandu_lint.runner import CheckOptions, check_paths

FILES = {
    "shop/__init__.py": "",
    "shop/settings.py": "DEBUG = True\n",
    "shop/models.py": """\
        from django.db import models

        from shop.mail import announce


        class Order(models.Model):
            total = models.IntegerField()

            def save(self, *args, **kwargs):
                super().save(*args, **kwargs)
                announce(self)  # THROUGH
        """,
    "shop/mail.py": """\
        from django.core.mail import send_mail


        def announce(order):
            send_mail("order", str(order.pk), "shop@example.com", ["ops@example.com"])  # SENT
        """,
    "shop/views.py": """\
        from django.core.mail import send_mail
        from django.db import transaction

        from shop.models import Order


        def place(request):
            with transaction.atomic():
                order = Order(total=1)
                order.save()
                send_mail("x", "y", "a@example.com", ["b@example.com"])  # DIRECT
            return order
        """,
}


def test_side_effect_through_a_helper_carries_its_site(tmp_path):
    root = tmp_path / "p"
    (root / ".git").mkdir(parents=True)
    (root / "mandu.yaml").write_text("")
    for rel, src in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(src))
    config.clear_caches()
    result = check_paths([str(root)], CheckOptions(use_cache=False, jobs=1, confidence="medium"))
    views = (root / "shop/views.py").read_text().splitlines()
    models = (root / "shop/models.py").read_text().splitlines()
    mail = (root / "shop/mail.py").read_text().splitlines()
    direct = next(i + 1 for i, text in enumerate(views) if text.endswith("DIRECT"))
    through = next(i + 1 for i, text in enumerate(models) if text.endswith("THROUGH"))
    sent = next(i + 1 for i, text in enumerate(mail) if text.endswith("SENT"))
    found = {(f.path.rsplit("/", 1)[-1], f.span.line): f for f in result.findings if f.code == "MDB403"}
    # the save() override runs inside the view's transaction: reported where it calls the helper
    assert set(found) == {("views.py", direct), ("models.py", through)}
    assert [(r.path.endswith("shop/mail.py"), r.span.line) for r in found[("models.py", through)].related] == [
        (True, sent)]
    assert found[("views.py", direct)].related == ()
