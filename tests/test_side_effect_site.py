"""MDB403 points at where a side effect reached through a helper, a ``save()`` override or a
receiver is sent: a related location on that line (where ``on_commit`` belongs), none when the
side effect is the reported call itself. Synthetic project."""
from __future__ import annotations

from synthetic import check_all, marked, write_project

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
    root = write_project(tmp_path, FILES)
    result = check_all(root)
    [direct] = marked(root, "shop/views.py", "DIRECT")
    [through] = marked(root, "shop/models.py", "THROUGH")
    [sent] = marked(root, "shop/mail.py", "SENT")
    found = {(f.path.rsplit("/", 1)[-1], f.span.line): f for f in result.findings if f.code == "MDB403"}
    # the save() override runs inside the view's transaction: reported where it calls the helper
    assert set(found) == {("views.py", direct), ("models.py", through)}
    assert [(r.path.endswith("shop/mail.py"), r.span.line) for r in found[("models.py", through)].related] == [
        (True, sent)]
    assert found[("views.py", direct)].related == ()
