"""Runtime proofs on SQLite that the transaction findings are real and their fixes work: each case
runs the app in a subprocess (Django is configured once per process), applies the real
``mandu-lint fix --unsafe-fixes`` to a temporary copy, and runs it again.

- MDB401: a failure in the second write leaves the first committed; after the fix, nothing is.
- MDB402: ``select_for_update()`` outside ``atomic`` raises ``TransactionManagementError`` on a
  backend with row locks (SQLite has none: the test turns the feature on and drops the clause);
  after the fix it runs.
- MDB403: an email sent inside a transaction that then rolls back is sent; after the fix it is not.
- MDB401 (SQLAlchemy): a ``commit()`` between two writes keeps the first after the second fails;
  after the fix (``flush()``) nothing is kept.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("django")

REPO = Path(__file__).resolve().parents[1]

SETTINGS = """
import os
SECRET_KEY = "test"
INSTALLED_APPS = ["shop"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["SHOP_DB"]}}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
"""
MODELS = """
from django.db import models

class Customer(models.Model):
    email = models.CharField(max_length=80)

    class Meta:
        app_label = "shop"

class Order(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE)
    total = models.IntegerField()  # NOT NULL: total=None makes the insert fail

    class Meta:
        app_label = "shop"
"""
SERVICES = """
from django.core.mail import send_mail
from django.db import transaction

from shop.models import Customer, Order


def checkout(request, email, total):
    customer = Customer.objects.create(email=email)
    Order.objects.create(customer=customer, total=total)
    return customer


def reserve(request, pk):
    customer = Customer.objects.select_for_update().get(pk=pk)
    customer.email = "locked@example.com"
    customer.save()


@transaction.atomic
def place(customer: Customer, total):
    customer.save()
    send_mail("Order placed", "Thanks", None, [customer.email])
    Order.objects.create(customer=customer, total=total)
"""
RUNNER = """
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
import django
django.setup()
from django.core import mail
from django.db import IntegrityError, connection
from django.db.utils import NotSupportedError
from django.db.transaction import TransactionManagementError
from shop.models import Customer, Order
from shop import services

with connection.schema_editor() as editor:
    editor.create_model(Customer)
    editor.create_model(Order)
case, out = sys.argv[1], {}
if case == "partial":
    try:
        services.checkout(None, "a@example.com", None)
    except IntegrityError:
        out["failed"] = True
    out["customers"] = Customer.objects.count()
elif case == "lock":
    connection.features.has_select_for_update = True   # behave like PostgreSQL/MySQL
    connection.ops.for_update_sql = lambda *a, **k: ""  # ... but let SQLite run the query
    pk = Customer.objects.create(email="b@example.com").pk
    try:
        services.reserve(None, pk)
        out["error"] = None
    except TransactionManagementError as exc:
        out["error"] = str(exc)
elif case == "mail":
    try:
        services.place(Customer(email="c@example.com"), None)
    except IntegrityError:
        out["failed"] = True
    out["customers"] = Customer.objects.count()
    out["sent"] = len(getattr(mail, "outbox", []))
print(json.dumps(out))
"""


def _django_app(root: Path) -> Path:
    (root / ".git").mkdir(parents=True)
    (root / "mandu.yaml").write_text("select: [MDB4]\nextend-select: [MDB402, MDB405, MDB408]  # opt-in rules\n")
    shop = root / "shop"
    shop.mkdir()
    for name, text in (("__init__", ""), ("settings", SETTINGS), ("models", MODELS), ("services", SERVICES)):
        (shop / f"{name}.py").write_text(textwrap.dedent(text).lstrip("\n"))
    (root / "run_case.py").write_text(textwrap.dedent(RUNNER).lstrip("\n"))
    return root


def _run(root: Path, case: str) -> dict:
    db = root / f"{case}.sqlite3"
    if db.exists():
        db.unlink()
    env = dict(os.environ, SHOP_DB=str(db), PYTHONPATH=str(root))
    proc = subprocess.run([sys.executable, "run_case.py", case], cwd=root, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _lint(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "mandu_lint", *args, "--no-cache", str(root)], cwd=root,
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The app run once as written and once after ``mandu-lint fix --unsafe-fixes``."""
    root = _django_app(tmp_path_factory.mktemp("tx") / "app")
    before = {case: _run(root, case) for case in ("partial", "lock", "mail")}
    found = _lint(root, "check").stdout
    fixed = _lint(root, "fix", "--unsafe-fixes")
    assert fixed.returncode in (0, 1), fixed.stderr
    after = {case: _run(root, case) for case in ("partial", "lock", "mail")}
    return before, after, found, (root / "shop" / "services.py").read_text()


def test_partial_write_before_the_mdb401_fix_and_none_after(app):
    before, after, found, fixed = app
    assert "services.py:8:" in found and "MDB401" in found
    assert before["partial"] == {"failed": True, "customers": 1}  # the first write stayed
    assert after["partial"] == {"failed": True, "customers": 0}
    assert "@transaction.atomic\ndef checkout(" in fixed


def test_lock_outside_a_transaction_raises_before_the_mdb402_fix(app):
    before, after, found, fixed = app
    assert "MDB402" in found
    assert "select_for_update cannot be used outside of a transaction" in before["lock"]["error"]
    assert after["lock"]["error"] is None


def test_email_of_a_rolled_back_transaction_is_not_sent_after_the_mdb403_fix(app):
    before, after, found, fixed = app
    assert "MDB403" in found
    assert before["mail"] == {"failed": True, "customers": 0, "sent": 1}  # sent, though rolled back
    assert after["mail"] == {"failed": True, "customers": 0, "sent": 0}
    assert "transaction.on_commit(partial(send_mail," in "".join(fixed.split())  # re-wrapped past 88


SA_APP = """
import sys
from sqlalchemy import ForeignKey, create_engine, select, func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)


class Profile(Base):
    __tablename__ = "profiles"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    bio: Mapped[str]


def register(session: Session, bio):
    user = User()
    session.add(user)
    session.commit()
    session.add(Profile(user_id=user.id, bio=bio))
    session.commit()


def main():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        try:
            register(session, None)  # bio is NOT NULL: the second write fails
        except IntegrityError:
            session.rollback()
    with Session(engine) as session:
        print(session.scalar(select(func.count()).select_from(User)))


if __name__ == "__main__":
    main()
"""


def test_sqlalchemy_commit_between_writes_before_the_mdb401_fix(tmp_path):
    pytest.importorskip("sqlalchemy")
    root = tmp_path / "sa"
    (root / ".git").mkdir(parents=True)
    (root / "mandu.yaml").write_text("select: [MDB4]\nextend-select: [MDB402, MDB405, MDB408]  # opt-in rules\n")
    (root / "app").mkdir()
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "users.py").write_text(textwrap.dedent(SA_APP).lstrip("\n"))

    def users() -> str:
        proc = subprocess.run([sys.executable, "-m", "app.users"], cwd=root, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    assert "MDB401" in _lint(root, "check").stdout
    assert users() == "1"  # the user stayed without its profile
    assert _lint(root, "fix", "--unsafe-fixes").returncode == 0
    assert users() == "0"
    assert "MDB401" not in _lint(root, "check").stdout
