"""The transaction analysis on its own: the interprocedural three-state entry rule (inside /
outside / unknown, and what the framework is known to do) and same-path reasoning."""
from __future__ import annotations

import ast
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from mandu_lint import config
from mandu_lint.rules.transactions.analysis import INSIDE, OUTSIDE, UNKNOWN, TxIndex
from mandu_lint.rules.transactions.flow import FlowView
from mandu_lint.runner import CheckOptions, load_project

MODELS = """
from django.db import models

class Item(models.Model):
    n = models.IntegerField(default=0)
"""


def tx_of(tmp_path: Path, files: dict, settings: str = "DATABASES = {'default': {}}\n") -> TxIndex:
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    (root / "mandu.yaml").write_text("")
    files = {"shop/models.py": MODELS, **files}
    if settings is not None:
        files["shop/settings.py"] = settings
    for rel, src in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(src).lstrip("\n"))
        (path.parent / "__init__.py").touch()
    config.clear_caches()
    return TxIndex(load_project(root, None, CheckOptions(use_cache=False, jobs=1)))


HELPERS = {"shop/helpers.py": """
from django.db import transaction
from shop.models import Item

def always_inside():
    Item.objects.create()

def sometimes_outside():
    Item.objects.create()

def nobody_calls():
    Item.objects.create()

@transaction.atomic
def caller_a():
    always_inside()
    sometimes_outside()

def caller_b():
    with transaction.atomic(using="default", savepoint=False):
        always_inside()
    sometimes_outside()

def unknown_caller():
    always_inside()
"""}


def test_three_states_from_callers(tmp_path):
    tx = tx_of(tmp_path, HELPERS)
    assert tx.entry("shop.helpers.always_inside").state == UNKNOWN  # unknown_caller is unknown
    assert tx.entry("shop.helpers.nobody_calls").state == UNKNOWN
    assert tx.entry("shop.helpers.caller_a").state == INSIDE  # decorated


def test_inside_when_every_caller_is_inside_and_outside_when_one_is_not(tmp_path):
    files = {"shop/views.py": """
from django.db.transaction import atomic
from shop.helpers import always_inside, sometimes_outside

def view(request):
    with atomic():
        always_inside()
    sometimes_outside()
""", "shop/helpers.py": """
from shop.models import Item

def always_inside():
    Item.objects.create()

def sometimes_outside():
    Item.objects.create()
"""}
    tx = tx_of(tmp_path, files)
    assert tx.entry("shop.views.view").state == OUTSIDE  # a view, ATOMIC_REQUESTS off
    assert tx.entry("shop.helpers.always_inside").state == INSIDE
    out = tx.entry("shop.helpers.sometimes_outside")
    assert out.state == OUTSIDE and "shop.views.view" in out.why and out.where[0] == "shop/views.py"


@pytest.mark.parametrize("settings,sync,async_", [
    ("DATABASES = {'default': {'ATOMIC_REQUESTS': True}}\n", INSIDE, OUTSIDE),
    ("DATABASES = {'default': {}}\nDATABASES['default']['ATOMIC_REQUESTS'] = False\n", OUTSIDE, OUTSIDE),
    ("import os\nif os.environ.get('X'):\n    DATABASES = {'default': {}}\n", OUTSIDE, OUTSIDE),
    ("DATABASES = {'default': {'ATOMIC_REQUESTS': os.environ['ATOMIC']}}\n", UNKNOWN, UNKNOWN),
    (None, UNKNOWN, UNKNOWN),  # no settings module: Django's defaults cannot be assumed
])
def test_views_follow_atomic_requests(tmp_path, settings, sync, async_):
    tx = tx_of(tmp_path, {"shop/views.py": """
from django.db import transaction
from django.views import View

def sync_view(request):
    pass

async def async_view(request):
    pass

@transaction.non_atomic_requests
def opted_out(request):
    pass

class Items(View):
    def post(self, request):
        pass
"""}, settings)
    assert tx.entry("shop.views.sync_view").state == sync
    assert tx.entry("shop.views.Items.post").state == sync
    assert tx.entry("shop.views.async_view").state == async_
    if settings is not None:
        assert tx.entry("shop.views.opted_out").state == OUTSIDE


@pytest.mark.parametrize("settings,graphene,strawberry", [
    ("DATABASES = {'default': {}}\n", OUTSIDE, OUTSIDE),
    ("DATABASES = {'default': {}}\nGRAPHENE = {'SCHEMA': 'x.schema', 'ATOMIC_MUTATIONS': True}\n", INSIDE, OUTSIDE),
    ("DATABASES = {'default': {'ATOMIC_MUTATIONS': True}}\n", INSIDE, OUTSIDE),
    ("DATABASES = {'default': {'ATOMIC_REQUESTS': True}}\n", INSIDE, INSIDE),
    (None, UNKNOWN, UNKNOWN),
])
def test_graphql_mutations_are_request_handlers(tmp_path, settings, graphene, strawberry):
    """Issue 11: a mutation runs in autocommit unless ATOMIC_REQUESTS wraps its view or
    graphene-django's ATOMIC_MUTATIONS is on (in GRAPHENE or a database's settings)."""
    tx = tx_of(tmp_path, {"shop/schema.py": """
import graphene
import strawberry
from graphene import relay

class Rename(graphene.Mutation):
    def mutate(self, info, name):
        pass

class Create(relay.ClientIDMutation):
    @classmethod
    def mutate_and_get_payload(cls, root, info, **data):
        pass

    def helper(self):
        pass

@strawberry.type
class Mutation:
    @strawberry.mutation
    def add(self, name: str) -> int:
        return 1

    @strawberry.mutation
    async def add_later(self, name: str) -> int:
        return 1
"""}, settings)
    assert tx.entry("shop.schema.Rename.mutate").state == graphene
    assert tx.entry("shop.schema.Create.mutate_and_get_payload").state == graphene
    assert tx.entry("shop.schema.Create.helper").state == UNKNOWN  # not called by the schema
    assert tx.entry("shop.schema.Mutation.add").state == strawberry
    assert tx.entry("shop.schema.Mutation.add_later").state == (UNKNOWN if settings is None else OUTSIDE)


def test_framework_entry_points(tmp_path):
    tx = tx_of(tmp_path, {"shop/jobs.py": """
from functools import partial

from celery import shared_task
from django.contrib import admin
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils.decorators import method_decorator

from shop.models import Item

@shared_task
def task():
    pass

class Command(BaseCommand):
    def handle(self, *args, **options):
        pass

class ItemAdmin(admin.ModelAdmin):
    def save_model(self, request, obj, form, change):
        pass

def later(pk):
    pass

@transaction.atomic
def schedule(pk):
    transaction.on_commit(partial(later, pk))

@method_decorator(transaction.atomic, name="dispatch")
class Wrapped:
    def post(self, request):
        pass
"""})
    assert tx.entry("shop.jobs.task").state == OUTSIDE
    assert tx.entry("shop.jobs.Command.handle").state == OUTSIDE
    assert tx.entry("shop.jobs.ItemAdmin.save_model").state == INSIDE
    assert tx.entry("shop.jobs.later").state == OUTSIDE  # an on_commit callback runs after the commit
    assert tx.entry("shop.jobs.Wrapped.post").state == INSIDE


def test_receivers_and_save_overrides_run_where_the_model_is_saved(tmp_path):
    files = {"shop/models.py": MODELS + """
class Log(models.Model):
    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
""", "shop/signals.py": """
from django.db.models.signals import post_save
from django.dispatch import receiver
from shop.models import Item, Log

@receiver(post_save, sender=Item)
def item_saved(sender, instance, **kwargs):
    pass

def log_saved(sender, instance, **kwargs):
    pass

def ready():
    post_save.connect(log_saved, sender=Log)
""", "shop/views.py": """
from django.db import transaction
from shop.models import Item, Log

@transaction.atomic
def make(request):
    Item.objects.create()
    Log().save()

def also(request):
    Log.objects.create()
"""}
    tx = tx_of(tmp_path, files)
    assert tx.entry("shop.signals.item_saved").state == INSIDE
    assert tx.entry("shop.signals.log_saved").state == OUTSIDE  # `also` saves a Log in autocommit
    assert tx.entry("shop.models.Log.save").state == OUTSIDE
    assert set(tx.save_hooks("shop.models.Log")) == {"shop.models.Log.save", "shop.signals.log_saved"}


def test_a_receiver_connected_at_module_level_runs_where_the_model_is_saved(tmp_path):
    files = {"shop/models.py": MODELS, "shop/signals.py": """
from django.db.models.signals import post_save
from shop.models import Item

def item_saved(sender, instance, **kwargs):
    pass

post_save.connect(item_saved, sender=Item)
""", "shop/views.py": """
from django.db import transaction
from shop.models import Item

@transaction.atomic
def make(request):
    Item.objects.create()
"""}
    tx = tx_of(tmp_path, files)
    assert tx.save_hooks("shop.models.Item") == ["shop.signals.item_saved"]
    assert tx.entry("shop.signals.item_saved").state == INSIDE


def test_delete_receivers_run_inside_the_deletions_own_transaction(tmp_path):
    """Django's ``Collector.delete()`` sends pre_delete/post_delete inside
    ``transaction.atomic(savepoint=False)`` (a model with receivers is never fast-deleted), so a
    delete receiver is inside a transaction even when every ``delete()`` runs in autocommit."""
    files = {"shop/models.py": MODELS, "shop/signals.py": """
from django.db.models.signals import post_delete, pre_delete
from django.dispatch import receiver
from shop.models import Item

@receiver(post_delete, sender=Item)
def item_deleted(sender, instance, **kwargs):
    pass

def any_deleted(sender, instance, **kwargs):
    pass

pre_delete.connect(any_deleted)
""", "shop/views.py": """
from shop.models import Item

def remove(request, pk):
    Item.objects.get(pk=pk).delete()
"""}
    tx = tx_of(tmp_path, files)
    assert tx.entry("shop.signals.item_deleted").state == INSIDE
    assert tx.entry("shop.signals.any_deleted").state == INSIDE
    assert tx.entry("shop.views.remove").state != INSIDE


def _view(source: str) -> FlowView:
    tree = ast.parse(textwrap.dedent(source))
    fn = tree.body[0]
    view = FlowView(SimpleNamespace(), fn, "m.f", None)
    for node in ast.walk(fn):
        for child in ast.iter_child_nodes(node):
            view.parents[id(child)] = node
    for stmt in fn.body:
        view.parents[id(stmt)] = fn
    calls = {n.func.id: n for n in ast.walk(fn) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    return view, calls


@pytest.mark.parametrize("source,a,b,expected", [
    ("def f():\n    a()\n    b()\n", "a", "b", True),
    ("def f():\n    a()\n    b()\n", "b", "a", False),
    ("def f(x):\n    if x:\n        a()\n    else:\n        b()\n", "a", "b", False),
    ("def f(x):\n    if x:\n        a()\n        return\n    b()\n", "a", "b", False),
    ("def f(x):\n    if x:\n        a()\n    b()\n", "a", "b", True),
    ("def f():\n    try:\n        a()\n        c()\n    except E:\n        b()\n", "a", "b", True),
    ("def f():\n    try:\n        a()\n    except E:\n        b()\n", "a", "b", False),
    ("def f():\n    try:\n        c()\n    except E:\n        a()\n    except F:\n        b()\n", "a", "b", False),
    ("def f(xs):\n    for x in xs:\n        a()\n        if x:\n            continue\n        b()\n", "a", "b", True),
    ("def f(xs):\n    for x in xs:\n        if x:\n            a()\n            break\n    b()\n", "a", "b", True),
    ("def f(xs):\n    for x in xs:\n        if x:\n            a()\n            continue\n        b()\n",
     "a", "b", False),
])
def test_same_path(source, a, b, expected):
    view, calls = _view(source)
    assert view.may_follow(calls[a], calls[b]) is expected
