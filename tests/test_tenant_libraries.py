"""Libraries that scope rows themselves (issue 11, library awareness): django-scopes'
``ScopedManager`` and ``scopes_disabled()``, django-multitenant's ``TenantModel``, and
schema-per-tenant packages (django-tenants), which turn the row-level tenant rules off."""
from __future__ import annotations

from pathlib import Path

import pytest

from mandu_lint.runner import CheckOptions, check_paths

MODELS = '''
from django.db import models
{imports}


class Organization(models.Model{org_base}):
    name = models.TextField()


class Invoice({invoice_base}):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    total = models.IntegerField()
{manager}
'''
VIEWS = '''
from app.models import Invoice
{imports}


{decorator}def invoice(request, pk):
{body}
'''


def project(tmp_path: Path, *, imports="", org_base="", invoice_base="models.Model", manager="",
            view_imports="", body="    return Invoice.objects.get(pk=pk)\n", decorator="") -> Path:
    root = tmp_path / "proj"
    (root / "app").mkdir(parents=True)
    (root / "mandu.yaml").write_text("tenant:\n  models: [Organization]\n")
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "models.py").write_text(MODELS.format(imports=imports, org_base=org_base,
                                                          invoice_base=invoice_base, manager=manager))
    (root / "app" / "views.py").write_text(VIEWS.format(imports=view_imports, body=body, decorator=decorator))
    return root


def run(root: Path):
    result = check_paths([str(root)], CheckOptions(use_cache=False, jobs=1, select=["MDB1"], confidence="medium"))
    assert not result.had_error
    notices = [n.message for p in result.projects for n in p.notices]
    return sorted((Path(f.path).name, f.code) for f in result.findings), notices


def test_a_lookup_by_id_alone_is_reported_without_a_library(tmp_path):
    assert ("views.py", "MDB104") in run(project(tmp_path))[0]


def test_django_scopes_scoped_manager_scopes_every_query(tmp_path):
    root = project(tmp_path, imports="from django_scopes import ScopedManager",
                   manager="    objects = ScopedManager(organization='organization')\n")
    assert run(root)[0] == []


@pytest.mark.parametrize("how", [
    {"body": "    with scopes_disabled():\n        return Invoice.objects.get(pk=pk)\n"},
    {"decorator": "@scopes_disabled()\n"},
])
def test_django_scopes_disabled_is_cross_tenant_on_purpose(tmp_path, how):
    root = project(tmp_path, view_imports="from django_scopes import scopes_disabled", **how)
    assert run(root)[0] == []


def test_a_local_function_named_like_the_library_is_not_trusted(tmp_path):
    body = "    with scopes_disabled():\n        return Invoice.objects.get(pk=pk)\n"
    root = project(tmp_path, view_imports="from contextlib import nullcontext as scopes_disabled", body=body)
    assert ("views.py", "MDB104") in run(root)[0]


def test_django_multitenant_models_filter_by_the_current_tenant(tmp_path):
    root = project(tmp_path, imports="from django_multitenant.mixins import TenantModelMixin",
                   invoice_base="TenantModelMixin, models.Model", manager="    tenant_id = 'organization_id'\n")
    assert run(root)[0] == []


def test_schema_per_tenant_turns_the_row_level_rules_off_and_says_so(tmp_path):
    root = project(tmp_path, imports="from django_tenants.models import TenantMixin", org_base=", TenantMixin")
    findings, notices = run(root)
    assert findings == []
    assert len([n for n in notices if "schema-per-tenant" in n]) == 1


@pytest.mark.parametrize("pk, expected", [
    ("", "high"),
    ("    id = models.UUIDField(primary_key=True, default=uuid.uuid4)\n", "medium"),
])
def test_a_lookup_by_an_unguessable_uuid_is_medium(tmp_path, pk, expected):
    root = project(tmp_path, imports="import uuid", manager=pk)
    result = check_paths([str(root)], CheckOptions(use_cache=False, jobs=1, select=["MDB104"], confidence="medium"))
    (finding,) = result.findings
    assert finding.confidence == expected
    assert ("cannot be enumerated" in finding.message) == (expected == "medium")


def test_a_sqlalchemy_uuid_primary_key_is_unguessable_too(tmp_path):
    root = tmp_path / "sa"
    (root / "app").mkdir(parents=True)
    (root / "mandu.yaml").write_text("tenant:\n  models: [Organization]\n")
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "models.py").write_text(
        "import uuid\n\nfrom sqlalchemy import ForeignKey\nfrom sqlalchemy.orm import DeclarativeBase, Mapped, "
        "mapped_column\n\n\nclass Base(DeclarativeBase):\n    pass\n\n\nclass Organization(Base):\n"
        "    __tablename__ = 'organizations'\n    id: Mapped[int] = mapped_column(primary_key=True)\n\n\n"
        "class Invoice(Base):\n    __tablename__ = 'invoices'\n"
        "    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)\n"
        "    organization_id: Mapped[int] = mapped_column(ForeignKey('organizations.id'))\n")
    (root / "app" / "views.py").write_text(
        "from fastapi import APIRouter\nfrom sqlalchemy.orm import Session\n\nfrom app.models import Invoice\n\n"
        "router = APIRouter()\n\n\n@router.get('/invoices/{invoice_id}')\n"
        "def invoice(invoice_id: str, session: Session):\n    return session.get(Invoice, invoice_id)\n")
    result = check_paths([str(root)], CheckOptions(use_cache=False, jobs=1, select=["MDB104"], confidence="medium"))
    assert [(f.code, f.confidence) for f in result.findings] == [("MDB104", "medium")]
