"""Route handlers: they call the repository and shape the response, nothing else."""
from .repository import TaskRepository


def project_board(request, project_id):
    repo = TaskRepository(request.user.organization_id)
    board = []
    for task in repo.tasks_with_comments(project_id):
        board.append({
            "title": task.title,
            "project": task.project.name,
            "comments": [c.body for c in task.comments.all()],
        })
    return board


def comment_totals(request, task_ids):
    return TaskRepository(request.user.organization_id).comment_counts(task_ids)
