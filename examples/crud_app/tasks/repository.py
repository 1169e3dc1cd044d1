"""The repository layer: every query of the app goes through here, scoped to one organization."""
from django.db import transaction
from django.db.models import Count

from .models import Comment, Project, Task


class TaskRepository:
    def __init__(self, organization_id):
        self.organization_id = organization_id

    def projects_with_open_counts(self):
        """One query: the counts are computed by the database, not per project."""
        return (Project.objects.filter(organization_id=self.organization_id)
                .annotate(open_tasks=Count("tasks", filter=~models_done()))
                .order_by("name"))

    def tasks_with_comments(self, project_id):
        """Two queries whatever the number of tasks: tasks, then all their comments."""
        return (Task.objects.filter(organization_id=self.organization_id, project_id=project_id)
                .select_related("project")
                .prefetch_related("comments"))

    def comment_counts(self, task_ids):
        rows = (Comment.objects.filter(organization_id=self.organization_id, task_id__in=task_ids)
                .values("task_id").annotate(n=Count("id")))
        return {row["task_id"]: row["n"] for row in rows}

    def close_tasks(self, task_ids):
        with transaction.atomic():
            return Task.objects.filter(organization_id=self.organization_id, id__in=task_ids).update(done=True)


def models_done():
    from django.db.models import Q

    return Q(tasks__done=True)
