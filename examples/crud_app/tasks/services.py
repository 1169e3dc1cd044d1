"""Application services: one function per use case, one transaction per use case.

``transaction.atomic`` is Django's unit of work: every write of a use case, and its audit entry,
commit together or not at all; side effects wait for the commit with ``on_commit``."""
from __future__ import annotations

from functools import partial
from typing import Iterable, List, Optional

from django.db import IntegrityError, transaction

from . import notifications
from .models import Organization
from .repository import OrganizationRepository, TaskCard


@transaction.atomic
def create_project(organization: Organization, actor_id: int, name: str, titles: Iterable[str]) -> int:
    repo = OrganizationRepository(organization)
    project = repo.create_project(name)
    tasks = repo.add_tasks(project, titles)
    repo.record(actor_id, "project.created", "project", project.pk, {"name": name, "tasks": len(tasks)})
    return project.pk


@transaction.atomic
def add_task(organization: Organization, actor_id: int, project_id: int, title: str) -> Optional[int]:
    """A rejected insert is undone by its own savepoint; the transaction goes on and records it."""
    repo = OrganizationRepository(organization)
    project = repo.project(project_id)
    try:
        with transaction.atomic():
            task_id = repo.add_tasks(project, [title])[0].pk
    except IntegrityError:
        task_id = None
    repo.record(actor_id, "task.added" if task_id else "task.rejected", "project", project.pk, {"title": title})
    return task_id


@transaction.atomic
def add_comment(organization: Organization, actor_id: int, task_id: int, body: str) -> int:
    repo = OrganizationRepository(organization)
    task = repo.task(task_id)
    comment = repo.add_comment(task, actor_id, body)
    transaction.on_commit(partial(notifications.comment_added, organization.slug, task.title, body))
    repo.record(actor_id, "comment.added", "task", task.pk, {"comment": comment.pk})
    return comment.pk


@transaction.atomic
def close_tasks(organization: Organization, actor_id: int, task_ids: List[int]) -> int:
    repo = OrganizationRepository(organization)
    closed = repo.close_tasks(task_ids)
    repo.record(actor_id, "tasks.closed", "task", 0, {"ids": sorted(task_ids), "closed": closed})
    return closed


@transaction.atomic
def delete_task(organization: Organization, actor_id: int, task_id: int) -> None:
    repo = OrganizationRepository(organization)
    repo.task(task_id)  # NotFound for another organization's task
    repo.soft_delete_task(task_id)
    repo.record(actor_id, "task.deleted", "task", task_id, {})


def board(organization: Organization, project_id: int) -> List[TaskCard]:
    return OrganizationRepository(organization).board(project_id)
