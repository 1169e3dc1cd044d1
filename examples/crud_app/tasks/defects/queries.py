"""Queries in loops (MDB3xx): the number of queries grows with the number of rows."""
from ..models import Comment, Organization, Task


def comment_counts(organization: Organization, task_ids):
    """One COUNT per task instead of one grouped query."""
    return {task_id: Comment.objects.filter(organization=organization, task_id=task_id).count()  # defect: MDB301
            for task_id in task_ids}


def board(organization: Organization, project_id):
    """No select_related: reading ``task.project`` loads the project again for every task."""
    tasks = Task.objects.filter(organization=organization, project_id=project_id).order_by("id")
    return [{"title": task.title, "project": task.project.name} for task in tasks]  # defect: MDB302


def rename(organization: Organization, titles):
    """One UPDATE per task; ``bulk_update`` sends them together."""
    tasks = Task.objects.filter(organization=organization, pk__in=list(titles))
    for task in tasks:
        task.title = titles[task.pk]
        task.save(update_fields=["title"])  # defect: MDB303


def latest_comments(organization: Organization, project_id):
    """Prefetches the comments, then asks for them ordered: a new query per task all the same."""
    tasks = (Task.objects.filter(organization=organization, project_id=project_id)
             .prefetch_related("comments").order_by("id"))
    return {task.pk: [c.body for c in task.comments.order_by("-created_at")[:3]]  # defect: MDB304
            for task in tasks}
