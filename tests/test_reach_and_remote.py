"""Evidence that a finding cannot matter, read off the whole project (synthetic projects only):

- a module-level class nothing uses (its module is imported elsewhere, yet no name resolving to
  the class is loaded, no attribute or string names it) is dead code: findings inside are dropped;
- a loop pass that waits on the network (an HTTP client called directly or through project
  functions) is left alone by MDB301/MDB303: one more query is not its cost;
- MDB401 does not report a reconciliation job (sync/cleanup/prune by name or module) unless it
  sees a harm;
- a tenant predicate naming a user of the project's user model scopes the query to that person;
- MDB410 trusts a view base whose ``handle_exception`` handles ``IntegrityError``.
"""
from __future__ import annotations

from synthetic import check_all, index_of, lines_of, marked, write_project

MODELS = """\
from django.db import models


class Book(models.Model):
    title = models.CharField(max_length=50)


class Note(models.Model):
    book = models.ForeignKey(Book, on_delete=models.CASCADE)
    text = models.TextField()
"""

SERIALIZERS = """\
from app.models import Book, Note


class Used:
    def titles(self):
        for b in Book.objects.all():
            Note.objects.filter(book=b).count()  # MDB301


class NeverUsed:
    def titles(self):
        for b in Book.objects.all():
            Note.objects.filter(book=b).count()  # dead


class NamedInString:
    def titles(self):
        for b in Book.objects.all():
            Note.objects.filter(book=b).count()  # MDB301


class ThroughAttribute:
    def titles(self):
        for b in Book.objects.all():
            Note.objects.filter(book=b).count()  # MDB301
"""

VIEWS = """\
from app import serializers
from app.serializers import Used

ROUTES = {"x": "app.serializers.NamedInString"}


def index(request):
    return Used().titles(), serializers.ThroughAttribute


class NeverUsed:  # same name as the dead class, in another module: not a use of it
    pass


def other(request):
    return NeverUsed()
"""


def test_unreferenced_classes_are_dead_code(tmp_path):
    root = write_project(tmp_path, {"app/__init__.py": "", "app/models.py": MODELS,
                                    "app/serializers.py": SERIALIZERS, "app/views.py": VIEWS})
    dead = index_of(root).unreferenced
    assert "app.serializers.NeverUsed" in dead
    assert not dead & {"app.serializers.Used", "app.serializers.NamedInString", "app.serializers.ThroughAttribute",
                       "app.views.NeverUsed", "app.models.Book"}
    result = check_all(root)
    assert lines_of(result, "MDB301", "serializers.py") == marked(root, "app/serializers.py", "# MDB301")


def test_a_module_nobody_imports_is_not_judged(tmp_path):
    """A script or an entry module found by path (nobody imports it): its classes stay judged."""
    root = write_project(tmp_path, {"app/__init__.py": "", "app/models.py": MODELS,
                                    "app/serializers.py": SERIALIZERS})
    assert not index_of(root).unreferenced & {"app.serializers.NeverUsed"}
    result = check_all(root)
    assert len(lines_of(result, "MDB301", "serializers.py")) == 4


CLIENT = """\
import requests


def fetch(url):
    return requests.get(url, timeout=5).json()


def notify(book):
    return fetch(f"https://example.org/{book.pk}")
"""

SYNC = """\
import httpx
import imap_tools

import docker

from app.client import notify
from app.models import Book, Note


def push_all():
    for b in Book.objects.all():
        Note.objects.filter(book=b).count()
        notify(b)  # a project function two calls from requests.get


def pull_all():
    for b in Book.objects.all():
        Note.objects.filter(book=b).count()
        httpx.post("https://example.org", json={"id": b.pk})


def count_all():
    for b in Book.objects.all():
        Note.objects.filter(book=b).count()  # MDB301


def read_mailboxes(boxes):
    for box in Book.objects.all():
        Note.objects.filter(book=box).count()
        with imap_tools.MailBox(box.title).login("u", "p") as mailbox:
            mailbox.fetch()


def push_own_docker(images):
    for b in Book.objects.all():
        Note.objects.filter(book=b).count()  # MDB301
        docker.build(b.pk)  # the app's own ``docker`` package, not the Docker client


def save_all():
    for b in Book.objects.all():
        b.save()  # MDB303
"""


def test_loops_that_wait_on_the_network(tmp_path):
    root = write_project(tmp_path, {"app/__init__.py": "", "app/models.py": MODELS, "app/client.py": CLIENT,
                                    "app/sync.py": SYNC, "docker/__init__.py": "def build(pk):\n    return pk\n"})
    result = check_all(root)
    assert lines_of(result, "MDB301", "sync.py") == marked(root, "app/sync.py", "# MDB301")
    assert lines_of(result, "MDB303", "sync.py") == marked(root, "app/sync.py", "# MDB303")


TASKS = """\
from celery import shared_task

from app.models import Book, Note


@shared_task
def sync_books():
    Book.objects.filter(title="").delete()
    Note.objects.filter(text="").delete()


@shared_task
def publish_books():
    Book.objects.filter(title="").delete()  # MDB401
    Note.objects.filter(text="").delete()
"""


def test_reconciliation_jobs_are_not_half_done_writes(tmp_path):
    root = write_project(tmp_path, {"app/__init__.py": "", "app/models.py": MODELS, "app/tasks.py": TASKS,
                                    "app/settings.py": 'DATABASES = {"default": {}}\n'})
    result = check_all(root)
    assert lines_of(result, "MDB401", "tasks.py") == marked(root, "app/tasks.py", "# MDB401")


TENANT_MODELS = """\
from django.contrib.auth.models import AbstractUser
from django.db import models


class Workspace(models.Model):
    name = models.CharField(max_length=50)


class User(AbstractUser):
    pass


class Invite(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE)
    email = models.EmailField()
    member = models.ForeignKey(User, null=True, on_delete=models.CASCADE)
"""

TENANT_VIEWS = """\
from app.models import Invite


def my_invites(request):
    user = request.user
    return list(Invite.objects.filter(email=user.email))


def leaving(request):
    Invite.objects.filter(member=request.user).delete()


def by_email(request, email):
    return list(Invite.objects.filter(email=email))  # MDB101


def join_invited(new_user):
    for invite in Invite.objects.filter(email=new_user.email, member=None):
        invite.member = new_user
        invite.save()


def invites_of(request, obj):
    return Invite.objects.filter(email=obj.email).count()


def by_posted_email(request):
    return list(Invite.objects.filter(email=request.POST.email))  # MDB101
"""


def test_rows_addressed_to_one_user_are_scoped(tmp_path):
    root = write_project(tmp_path, {"app/__init__.py": "", "app/models.py": TENANT_MODELS,
                                    "app/views.py": TENANT_VIEWS,
                                    "app/settings.py": 'AUTH_USER_MODEL = "app.User"\n'})
    (root / "mandu.yaml").write_text("tenant:\n  models: [Workspace]\n")
    result = check_all(root)
    assert not [f for f in result.findings if f.code == "MDB001"], result.notices
    found = sorted(f.span.line for f in result.findings if f.code in ("MDB101", "MDB102"))
    assert found == marked(root, "app/views.py", "# MDB101")


SAFE_MODELS = """\
from django.db import models


class Item(models.Model):
    book = models.IntegerField()
    shelf = models.IntegerField()

    class Meta:
        unique_together = ("book", "shelf")
"""

SAFE_VIEWS = """\
from django.db import IntegrityError
from rest_framework.response import Response
from rest_framework.views import APIView

from app.models import Item


class SafeBase(APIView):
    def handle_exception(self, exc):
        try:
            return super().handle_exception(exc)
        except Exception as e:
            if isinstance(e, IntegrityError):
                return Response({"error": "duplicate"}, status=400)
            raise


class Add(SafeBase):
    def post(self, request, book, shelf):
        Item.objects.create(book=book, shelf=shelf)
        return Response(status=201)


class PlainAdd(APIView):
    def post(self, request, book, shelf):
        Item.objects.create(book=book, shelf=shelf)  # MDB410
        return Response(status=201)
"""


def test_a_view_base_that_handles_integrity_errors(tmp_path):
    """The app's own safety net: a DRF ``handle_exception`` override (in the view's class or a
    project base) that names ``IntegrityError`` turns a duplicate insert into its own response."""
    root = write_project(tmp_path, {"app/__init__.py": "", "app/models.py": SAFE_MODELS,
                                    "app/views.py": SAFE_VIEWS})
    result = check_all(root)
    assert lines_of(result, "MDB410", "views.py") == marked(root, "app/views.py", "# MDB410")


SYSTEM_REPO = """\
from app.models import Invite


def count_all(workspace):
    return Invite.objects.count()


def list_all(workspace):
    return list(Invite.objects.all())  # MDB101


def shared(workspace):
    return list(Invite.objects.filter(member=None))  # MDB101


def only_tested(workspace):
    return list(Invite.objects.filter(email=""))  # MDB101
"""

SYSTEM_BACKOFFICE = """\
from app.repository import count_all, shared


def stats(request):
    return {"invites": count_all(request.workspace), "open": shared(request.workspace)}
"""

SYSTEM_VIEWS = """\
from app.repository import list_all, shared


def invites(request):
    return list_all(request.workspace) + shared(request.workspace)
"""


def test_functions_only_system_code_calls_are_cross_tenant_like_it(tmp_path):
    root = write_project(tmp_path, {"app/__init__.py": "", "app/models.py": TENANT_MODELS,
                                    "app/repository.py": SYSTEM_REPO, "app/views.py": SYSTEM_VIEWS,
                                    "app/backoffice/__init__.py": "",
                                    "app/backoffice/views.py": SYSTEM_BACKOFFICE,
                                    "app/tests/__init__.py": "",
                                    "app/tests/test_repository.py": "from app.repository import only_tested\n\n\n"
                                    "def test_it():\n    assert only_tested(None) == []\n",
                                    "app/settings.py": 'AUTH_USER_MODEL = "app.User"\n'})
    (root / "mandu.yaml").write_text('tenant:\n  models: [Workspace]\n  system: ["**/backoffice/**"]\n')
    result = check_all(root)
    assert not [f for f in result.findings if f.code == "MDB001"], result.notices
    found = sorted(f.span.line for f in result.findings if f.code == "MDB101" and f.path.endswith("repository.py"))
    assert found == marked(root, "app/repository.py", "# MDB101")
