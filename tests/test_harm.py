"""MDB401 names the harm a half-done multi-write does (``rules/transactions/harm.py``). The rule
reports at ``medium`` since the holdout triage; the harm is what its message says."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mandu_lint import config
from mandu_lint.runner import CheckOptions, check_paths

SETTINGS = 'DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "shop"}}\n'
MODELS = """
from django.db import models

class Account(models.Model):
    balance = models.IntegerField(default=0)
    status = models.CharField(max_length=10, default="open")
    nickname = models.CharField(max_length=50, default="")

class Entry(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE)
    note = models.CharField(max_length=50, default="")
"""
VIEWS = {
    "transfer": """
        def transfer(request, a, b, amount):
            src = Account.objects.get(pk=a)
            dst = Account.objects.get(pk=b)
            src.balance -= amount
            src.save()
            dst.balance += amount
            dst.save()
    """,
    "replace": """
        def replace_entries(request, pk):
            Entry.objects.filter(account_id=pk).delete()
            Entry.objects.create(account_id=pk, note="fresh")
    """,
    "status": """
        def close(request, pk):
            acct = Account.objects.get(pk=pk)
            acct.status = "closed"
            acct.save()
            Entry.objects.create(account=acct, note="closed")
    """,
    "harmless": """
        def rename(request, pk):
            acct = Account.objects.get(pk=pk)
            acct.nickname = "x"
            acct.save()
            Entry.objects.create(account=acct, note="renamed")
    """,
}


@pytest.mark.parametrize("case,harm", [("transfer", "`balance` would be left half-updated"),
                                       ("replace", "the deleted rows would not be replaced"),
                                       ("status", "the status would change with no record of it"),
                                       ("harmless", None)])
def test_the_message_names_the_harm(tmp_path, monkeypatch, case, harm):
    findings = _findings(tmp_path, monkeypatch, VIEWS[case])
    assert [(Path(f.path).name, f.confidence) for f in findings] == [("views.py", "medium")]
    message = findings[0].message
    assert (harm in message) if harm else ("would" not in message), message


def _findings(tmp_path, monkeypatch, view: str):
    monkeypatch.delenv("MANDU_LINT_CONFIDENCE", raising=False)
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    (root / "mandu.yaml").write_text("")
    files = {"shop/models.py": MODELS, "shop/settings.py": SETTINGS,
             "shop/views.py": "from shop.models import Account, Entry\n\n\n" + textwrap.dedent(view)}
    for rel, src in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(src))
        (path.parent / "__init__.py").touch()
    config.clear_caches()
    options = CheckOptions(use_cache=False, jobs=1, select=["MDB401"], confidence="medium")
    return check_paths([str(root)], options).findings


def _check(tmp_path, monkeypatch, view: str):
    return [f.span.line for f in _findings(tmp_path, monkeypatch, view)]


def test_one_row_saved_twice_is_not_a_multi_write(tmp_path, monkeypatch):
    """A status committed before long work and saved again after it (paperless' share-link
    bundle, a profile saved twice) is one row: nothing across rows is left half-done."""
    assert _check(tmp_path, monkeypatch, """
        def build(request, pk):
            acct = Account.objects.get(pk=pk)
            acct.status = "processing"
            acct.save()
            acct.nickname = "built"
            acct.save()
    """) == []


def test_a_second_row_after_a_row_saved_twice_is_still_reported(tmp_path, monkeypatch):
    assert _check(tmp_path, monkeypatch, """
        def build(request, pk):
            acct = Account.objects.get(pk=pk)
            acct.status = "processing"
            acct.save()
            acct.save()
            Entry.objects.create(account=acct, note="built")
    """) == [8]
