"""MDB410: insert a row whose unique key may already exist, with no conflict handling."""
from __future__ import annotations

import ast

from .base import TxRule
from .race import created_model, guarded_insert, unique_sets
from ...core.bounded import FRESH
from ...core.messages import brief
from ..context import function_node
from ...core.tags import TK
from ...project.contexts import NOT_CONCURRENT, received_signal

# signals whose ``user`` argument is a user created just before they are sent
SIGNED_UP = frozenset({"allauth.account.signals.user_signed_up"})
CHECKS = frozenset("exists aexists get aget first afirst count acount get_or_none".split())


class UnguardedUniqueInsert(TxRule):
    """
    ## What it does
    Finds `X.objects.create(...)` whose keyword arguments name every field of one of `X`'s
    unique keys — a `unique=True` or one-to-one field, a `unique_together` entry, a
    `UniqueConstraint(fields=[...])` without a condition, its abstract bases' included — in code
    that requests, tasks or signal receivers run, with nothing to handle the duplicate: no `try`
    around it that catches `IntegrityError` (or a broader error) and no existence check of `X`
    earlier in the function (that race is MDB406's).

    Primary location: the `create()` call.

    ## Why is this bad?
    A double-submitted form, a retried webhook or two workers handling the same event insert the
    same key twice: the second insert raises `IntegrityError`, which surfaces as a 500 or a
    failed task, and anything the code did before it in autocommit stays done. Historical fixes
    of this kind in real apps: a book added twice to a list, a follow accepted twice, a
    duplicated payment webhook creating a second membership.

    ## Known problems
    Django only, `create()`/`acreate()` on a model's manager with keyword arguments (`**data`
    is not read). Values generated for the insert (`uuid4()`, `secrets.token_…()`) are taken as
    fresh, and so are rows the same function creates first (`user = User(…)`, `X.objects.create()`,
    `form.save()` of a `ModelForm` built without `instance=`), a `post_save` receiver's
    `instance` when `created`, and the `user` of a django-allauth `user_signed_up` receiver (a
    user created just before the signal); a key of constants only is seed data
    (MDB609's). A view whose class or project base overrides DRF's `handle_exception` with code
    naming `IntegrityError` answers duplicates itself and is not reported (a global DRF
    `EXCEPTION_HANDLER` or a middleware is not read). Management commands, migrations, seeds,
    tests and dev-data code are not judged
    (one process). Whether duplicates can really arrive (a button disabled after the first click, a
    queue that delivers once) is beyond the code, so the rule reports at `medium` only; it is
    new and not yet measured blind on real apps.

    ## Example
    ```python
    def add_item(request, list_id):
        ListItem.objects.create(book_list_id=list_id, book=book, user=request.user)
    ```

    ## Use instead
    ```python
    def add_item(request, list_id):
        ListItem.objects.get_or_create(book_list_id=list_id, book=book, defaults={"user": request.user})
    ```

    ## Fix safety
    No fix: whether a duplicate should return the existing row, update it or answer 409 is the
    application's decision.
    """

    code = "MDB410"
    name = "unguarded-unique-insert"
    summary = "Insert of a row whose unique key may already exist, with no conflict handling"
    precision = "medium"  # new; not yet measured blind on real apps
    CONFIDENCE = ("`medium` only (shown with `--confidence medium`): new, not yet measured blind on real apps; "
                  "judges request, task and signal code (and code no known entry point reaches), not management "
                  "commands, migrations, seeds, tests, dev data or startup code")
    tags = ("concurrency", "consistency")

    BAD = [
        {
            "lists/models.py": """
from django.db import models

class Book(models.Model):
    title = models.CharField(max_length=80)

class ListItem(models.Model):
    book = models.ForeignKey(Book, on_delete=models.CASCADE)
    book_list = models.IntegerField()
    note = models.TextField(default="")

    class Meta:
        unique_together = ("book", "book_list")

class Membership(models.Model):
    user = models.OneToOneField("auth.User", on_delete=models.CASCADE)
    level = models.IntegerField()

class Follow(models.Model):
    subject = models.IntegerField()
    target = models.IntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["subject", "target"], name="one_follow")]
""",
            "lists/views.py": """
from lists.models import Follow, ListItem, Membership

def add(request, book, list_id):
    ListItem.objects.create(book=book, book_list=list_id, note="")  # error
    return None

def webhook(request, user):
    Membership.objects.create(user=user, level=1)  # error

def accept(request, a, b):
    return Follow.objects.create(subject=a, target=b)  # error
""",
            "lists/forms.py": """
from django import forms
from lists.models import Book, ListItem

class BookForm(forms.ModelForm):
    class Meta:
        model = Book
        fields = ["title"]

def retitle(request, book, list_id):
    form = BookForm(request.POST, instance=book)
    edited = form.save()
    ListItem.objects.create(book=edited, book_list=list_id)  # error
""",
        },
    ]
    GOOD = [
        {
            "lists/models.py": """
import uuid
from django.db import models

class ListItem(models.Model):
    book = models.IntegerField()
    book_list = models.IntegerField()
    note = models.TextField(default="")

    class Meta:
        unique_together = ("book", "book_list")

class Token(models.Model):
    key = models.CharField(max_length=40, unique=True)
    owner = models.IntegerField()

class Follow(models.Model):
    subject = models.IntegerField()
    target = models.IntegerField()
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["subject", "target"], condition=models.Q(active=True),
                                               name="one_active_follow")]
""",
            "lists/views.py": """
import secrets
from django import forms
from django.db import IntegrityError
from lists.models import Follow, ListItem, Token

class ItemForm(forms.ModelForm):
    class Meta:
        model = ListItem
        fields = ["note"]

def add(request, book, list_id):
    try:
        ListItem.objects.create(book=book, book_list=list_id)
    except IntegrityError:
        pass

def add_once(request, book, list_id):
    ListItem.objects.get_or_create(book=book, book_list=list_id)

def note_only(request, book):
    ListItem.objects.create(book=book, note="x")

def issue(request, owner):
    return Token.objects.create(key=secrets.token_hex(20), owner=owner)

def follow(request, a, b):
    return Follow.objects.create(subject=a, target=b)

def first_item(request, list_id):
    item = ListItem(book=1, book_list=list_id)
    item.save()
    return ListItem.objects.create(book=item.pk, book_list=item.pk)

def from_form(request):
    form = ItemForm(request.POST)
    item = form.save()  # a ModelForm without instance=: a new row
    return ListItem.objects.create(book=item.pk, book_list=item.pk)

def on_save(sender, instance, created, **kwargs):
    if created:
        ListItem.objects.create(book=instance, book_list=instance)

def seed(request):
    ListItem.objects.create(book=1, book_list=1)
""",
            "lists/management/commands/load.py": """
from django.core.management.base import BaseCommand
from lists.models import ListItem

class Command(BaseCommand):
    def handle(self, *args, **options):
        ListItem.objects.create(book=1, book_list=2)
""",
        },
    ]

    def visit_Call(self, node: ast.Call) -> None:
        f = node.func
        if not (isinstance(f, ast.Attribute) and f.attr in ("create", "acreate")) or node.args:
            return
        if any(k.arg is None for k in node.keywords):
            return
        contexts = self.ctx.contexts()
        if contexts and contexts <= NOT_CONCURRENT:
            return
        view = self.view()
        if view is None:
            return
        model = created_model(view, node)
        if model is None or view.type_of(f)[1][0] != TK.MANAGER:
            return
        values = {self._field(model, k.arg): k.value for k in node.keywords}
        keys = [s for s in unique_sets(self.ctx.index, model) if s <= set(values)]
        keys = [s for s in keys if not any(self._fresh(values[name]) for name in s)
                and not all(isinstance(values[name], ast.Constant) for name in s)]
        if not keys or guarded_insert(self.ctx, view, node) or self._checked_before(view, node, model) \
                or self._view_handles_integrity():
            return
        label = self.ctx.index.models[model].name
        key = ", ".join(sorted(keys[0]))
        self.report(node, f"`{brief(node)}` inserts a `{label}` row whose ({key}) must be unique, with no conflict "
                          "handling: a double submit, a retried webhook or a concurrent worker raises "
                          "`IntegrityError` (a 500); use `get_or_create`/`update_or_create`, or catch "
                          "`IntegrityError`", confidence="medium")

    def _view_handles_integrity(self) -> bool:
        """The view's class (or a project base) overrides DRF's ``handle_exception`` with code that
        names ``IntegrityError``: the app turns the error into a response of its own, not a 500."""
        ix = self.ctx.index
        meth = self.ctx.own_method("handle_exception")
        if meth is None or meth not in ix.functions:
            return False
        project = self.ctx.project
        return self.ctx.derived(("mdb410.handles", meth), lambda: _names_integrity(project, ix, meth))

    def _field(self, model: str, name: str) -> str:
        m = self.ctx.index.models[model]
        return name[:-3] if name.endswith("_id") and name[:-3] in m.relations else name

    def _fresh(self, value: ast.AST) -> bool:
        """A value that cannot be in the table yet: generated for the insert (``uuid4()``), a row
        this function creates (``user = User(...)``; ``X.objects.create(...)``), or the
        ``instance`` a ``post_save`` receiver gets with ``created``."""
        if isinstance(value, ast.Call):
            return bool(FRESH.search(brief(value.func)))
        if isinstance(value, ast.Attribute) and value.attr in ("pk", "id"):
            value = value.value
        if not isinstance(value, ast.Name):
            return False
        fn = self.ctx.function
        params = {a.arg for a in fn.args.args + fn.args.kwonlyargs} if fn is not None else set()
        if value.id == "instance" and "created" in params:
            return True
        if value.id == "user" and "user" in params and self._receives(SIGNED_UP):
            return True  # django-allauth sends ``user_signed_up`` with the user it just created
        return any(self._new_row(v) for v in self._assigned(value.id))

    def _receives(self, signals) -> bool:
        """The function being checked is a ``@receiver(signal)`` of one of ``signals`` (qualified)."""
        facts = self.ctx.index.functions.get(self.ctx.function_qual())
        return facts is not None and any(received_signal(d) in signals for d in facts.decorators)

    def _assigned(self, name: str):
        fn = self.ctx.function
        for n in ast.walk(fn) if fn is not None else ():
            if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in n.targets):
                yield n.value

    def _new_row(self, value: ast.AST) -> bool:
        if isinstance(value, ast.Await):
            value = value.value
        if not isinstance(value, ast.Call):
            return False
        t = self.ctx.type_of(value.func)
        if t is not None and t[0] == TK.MODEL:
            return True  # ``User(email=…)``, saved further down
        f = value.func
        if isinstance(f, ast.Attribute) and f.attr == "save" and isinstance(f.value, ast.Name):
            return any(self._new_model_form(v) for v in self._assigned(f.value.id))  # ``group = form.save()``
        return isinstance(f, ast.Attribute) and f.attr in ("create", "acreate") and \
            self.ctx.type_of(f.value) is not None and self.ctx.type_of(f.value)[0] == TK.MANAGER

    def _new_model_form(self, value: ast.AST) -> bool:
        """``forms.GroupForm(request.POST)``: a Django ``ModelForm`` built without ``instance=``,
        whose ``save()`` inserts a new row."""
        if not isinstance(value, ast.Call) or any(k.arg in ("instance", None) for k in value.keywords):
            return False
        t = self.ctx.type_of(value.func)
        return t is not None and t[0] == TK.CLASS and any(
            a.startswith("django.forms") and a.rsplit(".", 1)[-1] == "ModelForm" for a in self.ctx.index.mro(t[1]))

    def _checked_before(self, view, node: ast.AST, model: str) -> bool:
        """An existence check of the same model earlier in the function: MDB406's race."""
        fn = self.ctx.function
        for n in ast.walk(fn) if fn is not None else ():
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in CHECKS \
                    and n.lineno <= node.lineno and n is not node:
                t = view.type_of(n.func)
                if t and t[0] == TK.METHOD and t[1][1:2] == (model,):
                    return True
        return False


def _names_integrity(project, index, qual: str) -> bool:
    """Does the body of project function ``qual`` name ``IntegrityError`` (``except
    IntegrityError``, ``isinstance(e, IntegrityError)``)? Reads that one file."""
    node = function_node(project, index, qual)
    return node is not None and any(isinstance(n, ast.Name) and n.id == "IntegrityError" or
                                    isinstance(n, ast.Attribute) and n.attr == "IntegrityError"
                                    for n in ast.walk(node))
