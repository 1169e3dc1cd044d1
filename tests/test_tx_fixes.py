"""The transaction rules' fixes, applied by the real fix engine (``fix_paths`` with unsafe fixes):
each result parses, keeps comments, makes its finding go away without creating another, and a
second run changes nothing."""
from __future__ import annotations

import ast
import io
import textwrap
from pathlib import Path

import pytest

from mandu_lint import config
from mandu_lint.fixes.apply import fix_paths
from mandu_lint.runner import CheckOptions, check_paths

SETTINGS = 'DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "shop"}}\n'
MODELS = """
from django.db import models

class Customer(models.Model):
    email = models.CharField(max_length=80, unique=True)
    name = models.CharField(max_length=50, default="")
    credits = models.IntegerField(default=0)

class Order(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE)
    total = models.IntegerField(default=0)
"""


def _project(root: Path, files: dict) -> Path:
    (root / ".git").mkdir(parents=True)
    (root / "mandu.yaml").write_text("select: [MDB4]\n")
    for rel, src in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(src).lstrip("\n"))
        (path.parent / "__init__.py").touch()
    return root


TX = ["MDB4", "MDB402", "MDB405", "MDB408"]  # the family, and its opt-in rules by code


def _findings(root: Path):
    result = check_paths([str(root)], CheckOptions(use_cache=False, jobs=1, select=TX))
    assert not result.had_error, result.notices
    return sorted((Path(f.path).relative_to(root).as_posix(), f.code, f.node_text) for f in result.findings)


def _fix(root: Path) -> None:
    config.clear_caches()
    fix_paths([str(root)], CheckOptions(use_cache=False, jobs=1, select=TX), unsafe=True, diff=False,
              out=io.StringIO())


def fixed(tmp_path, files: dict, rel: str, code: str) -> str:
    """Fix the project; check the guarantees; return the fixed text of ``rel``."""
    root = _project(tmp_path / "proj", files)
    before = _findings(root)
    assert any(c == code for _, c, _ in before), before
    _fix(root)
    text = (root / rel).read_text()
    ast.parse(text)
    after = _findings(root)
    assert not any(c == code for _, c, _ in after), after
    assert set(after) <= set(before), f"the fix created findings: {set(after) - set(before)}"
    _fix(root)
    assert (root / rel).read_text() == text, "a second run must change nothing"
    return text


def test_mdb401_decorates_a_view(tmp_path):
    text = fixed(tmp_path, {"shop/settings.py": SETTINGS, "shop/models.py": MODELS, "shop/views.py": """
from shop.models import Customer, Order

@login_required  # stays where it was
def checkout(request):
    customer = Customer.objects.create(email="a@example.com")  # the first write
    Order.objects.create(customer=customer)
    return customer
"""}, "shop/views.py", "MDB401")
    assert "@login_required  # stays where it was\n@transaction.atomic\ndef checkout(request):" in text
    assert "from django.db import transaction" in text
    assert "# the first write" in text


def test_mdb401_wraps_the_smallest_span(tmp_path):
    text = fixed(tmp_path, {"shop/settings.py": SETTINGS, "shop/models.py": MODELS, "shop/views.py": """
import logging

from shop.models import Customer, Order

log = logging.getLogger(__name__)

def checkout(request, email):
    log.info("checkout")
    if email:
        customer = Customer.objects.create(email=email)
        # keep this comment
        Order.objects.create(customer=customer)
        log.info("done")
    return None
"""}, "shop/views.py", "MDB401")
    assert textwrap.dedent("""
        if email:
            with transaction.atomic():
                customer = Customer.objects.create(email=email)
                # keep this comment
                Order.objects.create(customer=customer)
            log.info("done")
    """).strip("\n") in textwrap.dedent(text.split("def checkout(request, email):\n", 1)[1])


def test_mdb401_sqlalchemy_commit_becomes_flush(tmp_path):
    text = fixed(tmp_path, {"app/db.py": """
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

class Base(DeclarativeBase):
    pass

class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)

class Profile(Base):
    __tablename__ = "profiles"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int]

def register(session: Session):
    user = User()
    session.add(user)
    session.commit()  # needs the id
    session.add(Profile(user_id=user.id))
    session.commit()
"""}, "app/db.py", "MDB401")
    assert "session.flush()  # needs the id" in text
    assert text.count("session.commit()") == 1


def test_mdb402_wraps_lock_and_write(tmp_path):
    text = fixed(tmp_path, {"shop/settings.py": SETTINGS, "shop/models.py": MODELS, "shop/views.py": """
from shop.models import Customer

def spend(request, pk):
    if pk:
        customer = Customer.objects.select_for_update().get(pk=pk)
        customer.name = "x"
        customer.save()
    return None
"""}, "shop/views.py", "MDB402")
    assert "    if pk:\n        with transaction.atomic():\n            customer = Customer.objects" in text
    assert "            customer.save()\n    return None" in text


def test_mdb403_defers_with_on_commit(tmp_path):
    text = fixed(tmp_path, {"shop/models.py": MODELS, "shop/services.py": """
from django.core.mail import send_mail
from django.db import transaction

from shop.models import Customer

def welcome(customer: Customer):
    with transaction.atomic(using="default"):
        customer.save()
        send_mail("Hi", "Welcome", None,
                  [customer.email])  # tell them
"""}, "shop/services.py", "MDB403")
    assert "transaction.on_commit(partial(send_mail, \"Hi\", \"Welcome\", None,\n" in text
    assert "[customer.email]), using=\"default\")  # tell them" in text
    assert "from functools import partial" in text


def test_mdb406_get_or_create_on_a_unique_lookup(tmp_path):
    text = fixed(tmp_path, {"shop/models.py": MODELS, "shop/services.py": """
from shop.models import Customer

def join(email):
    if not Customer.objects.filter(email=email).exists():
        Customer.objects.create(email=email, name="new")
"""}, "shop/services.py", "MDB406")
    assert 'Customer.objects.get_or_create(email=email, defaults={"name": "new"})' in text


def test_mdb406_no_fix_without_a_unique_lookup(tmp_path):
    root = _project(tmp_path / "proj", {"shop/models.py": MODELS, "shop/services.py": """
from shop.models import Customer

def join(name):
    if not Customer.objects.filter(name=name).exists():
        Customer.objects.create(name=name)
"""})
    result = check_paths([str(root)], CheckOptions(use_cache=False, jobs=1, select=["MDB406"]))
    (finding,) = result.findings
    assert finding.fix is None


def test_mdb407_f_expression(tmp_path):
    text = fixed(tmp_path, {"shop/models.py": MODELS, "shop/services.py": """
from shop.models import Customer

def topup(pk, amount):
    customer = Customer.objects.get(pk=pk)
    customer.credits += amount * 2
    customer.save()
"""}, "shop/services.py", "MDB407")
    assert 'customer.credits = F("credits") + (amount * 2)' in text
    assert "from django.db.models import F" in text


@pytest.mark.parametrize("later", ["print(customer.credits)", "return customer.credits"])
def test_mdb407_no_fix_when_read_again(tmp_path, later):
    root = _project(tmp_path / "proj", {"shop/models.py": MODELS, "shop/services.py": f"""
from shop.models import Customer

def topup(pk):
    customer = Customer.objects.get(pk=pk)
    customer.credits += 1
    customer.save()
    {later}
"""})
    result = check_paths([str(root)], CheckOptions(use_cache=False, jobs=1, select=["MDB407"]))
    (finding,) = result.findings
    assert finding.fix is None
