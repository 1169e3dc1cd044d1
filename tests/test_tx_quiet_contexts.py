"""Transaction rules report after the walk has left the function, so their ``quiet_in`` is
judged on the contexts of the function being checked: MDB401 stays silent in a management
command (one-off code an operator re-runs) and reports the same writes in a view. Synthetic."""
from __future__ import annotations

import textwrap

from synthetic import check_all, write_project

BODY = """\
        order = Order.objects.create(total=1)
        Line.objects.create(order=order, qty=1)
"""
FILES = {
    "shop/__init__.py": "",
    "shop/settings.py": "DATABASES = {}\n",
    "shop/models.py": """\
        from django.db import models


        class Order(models.Model):
            total = models.IntegerField()


        class Line(models.Model):
            order = models.ForeignKey(Order, on_delete=models.CASCADE)
            qty = models.IntegerField()
        """,
    "shop/views.py": "from shop.models import Line, Order\n\n\ndef place(request):\n" + textwrap.indent(
        textwrap.dedent(BODY), "    "),
    "shop/management/__init__.py": "",
    "shop/management/commands/__init__.py": "",
    "shop/management/commands/seed_orders.py": (
        "from django.core.management.base import BaseCommand\n\nfrom shop.models import Line, Order\n\n\n"
        "class Command(BaseCommand):\n    def handle(self, *args, **options):\n"
        + textwrap.indent(textwrap.dedent(BODY), "        ")),
}


def test_mdb401_is_quiet_in_one_off_code(tmp_path):
    result = check_all(write_project(tmp_path, FILES))
    where = sorted(f.path.rsplit("/", 1)[-1] for f in result.findings if f.code == "MDB401")
    assert where == ["views.py"]
