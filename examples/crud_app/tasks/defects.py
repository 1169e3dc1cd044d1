"""Realistic defects, one per rule, kept apart so the recommended code stays clean.
`mandu-lint check examples/` reports each of them; the tests pin the list."""
from .models import Comment, Task


def comment_counts_n_plus_one(task_ids):
    # MDB301: one COUNT query per task instead of one grouped query
    return {task_id: Comment.objects.filter(task_id=task_id).count() for task_id in task_ids}


def rename_tasks_one_by_one(organization_id, titles):
    for task_id, title in titles.items():
        task = Task.objects.get(organization_id=organization_id, pk=task_id)  # MDB301
        task.title = title
        task.save()  # MDB301
