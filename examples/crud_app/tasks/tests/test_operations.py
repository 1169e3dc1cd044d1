"""Seeds are idempotent; retention purges only what is past its time, and audits it."""
import io
from datetime import timedelta

from django.core.management import call_command
from django.test import TestCase
from django.utils import timezone

from tasks.models import AuditLog, Membership, Organization, Project, Task

from .helpers import make_org


class Operations(TestCase):
    def counts(self):
        return [m.objects.count() for m in (Organization, Membership, Project)]

    def test_seed_twice_changes_nothing(self):
        call_command("seed_demo", stdout=io.StringIO())
        first = self.counts()
        call_command("seed_demo", stdout=io.StringIO())
        self.assertEqual(self.counts(), first)
        self.assertEqual(first, [2, 2, 3])

    def test_retention_purges_old_soft_deletes(self):
        org, _, project, client = make_org("acme", tasks=3)
        old, recent, live = Task.objects.filter(project=project).order_by("pk")
        client.delete(f"/orgs/acme/tasks/{old.pk}/")
        client.delete(f"/orgs/acme/tasks/{recent.pk}/")
        self.assertEqual(Task.objects.filter(project=project).count(), 1, "soft-deleted tasks are hidden")
        Task.all_objects.filter(pk=old.pk).update(deleted_at=timezone.now() - timedelta(days=31))
        call_command("purge_deleted", "--days", "30", stdout=io.StringIO())
        self.assertEqual(set(Task.all_objects.values_list("pk", flat=True)), {recent.pk, live.pk})
        self.assertEqual(AuditLog.objects.filter(action="tasks.purged").get().changes, {"count": 1})
