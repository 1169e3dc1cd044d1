"""Retention: hard-delete tasks soft-deleted more than ``--days`` ago, across all organizations.

A system job on purpose (listed in ``tenant.system`` of mandu.yaml); it deletes in batches so a
large purge never holds a long transaction, and records one audit entry per organization."""
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from tasks.models import AuditLog, Task

BATCH = 500


class Command(BaseCommand):
    help = "Hard-delete tasks soft-deleted more than --days ago (default 30)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=30)

    def handle(self, *args, days=30, **options):
        cutoff = timezone.now() - timedelta(days=days)
        expired = Task.all_objects.filter(deleted_at__lt=cutoff)
        total = 0
        while True:
            batch = list(expired.values_list("pk", flat=True)[:BATCH])
            if not batch:
                break
            total += purge_batch(batch)
        self.stdout.write(f"purged {total} tasks")


@transaction.atomic
def purge_batch(task_ids):
    """One batch, with its audit entries, in one transaction."""
    doomed = Task.all_objects.filter(pk__in=task_ids)
    per_org = doomed.values("organization_id").annotate(n=Count("id"))
    AuditLog.objects.bulk_create([AuditLog(organization_id=row["organization_id"], action="tasks.purged",
                                           entity="task", entity_id=0, changes={"count": row["n"]})
                                  for row in per_org])
    _, by_model = doomed.delete()  # comments go with their task (CASCADE)
    return by_model.get("tasks.Task", 0)
