"""The repository layer: every query of the app lives here, scoped to one organization.

Handlers and services never touch the ORM; they get plain read models (dataclasses), so what a
page costs in queries is decided here, once: scoping, soft-delete filtering and eager loading.
The Django implementation of the repository interface described in docs/guide/layers.md."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Prefetch, Q
from django.utils import timezone

from .models import AuditLog, Comment, Membership, Organization, Project, Task


class NotFound(Exception):
    """The row does not exist *in this organization* (another tenant's row is not found either)."""


class Conflict(Exception):
    """The row already exists: a unique key (a project's name in its organization) is taken."""


@dataclass(frozen=True)
class TaskCard:
    id: int
    title: str
    done: bool
    project: str
    comments: List[str] = field(default_factory=list)


def organization_for_member(user_id: int, slug: str) -> Optional[Organization]:
    """The tenant of a request: the organization named in the URL, only if the user belongs to it."""
    return Organization.objects.filter(slug=slug, memberships__user_id=user_id).first()


def add_member(organization: Organization, user_id: int, role: str = "member") -> Membership:
    """Idempotent under concurrency: the unique constraint decides, get_or_create retries the read."""
    membership, _ = Membership.objects.get_or_create(organization=organization, user_id=user_id,
                                                     defaults={"role": role})
    return membership


class OrganizationRepository:
    """All reads and writes of one organization's rows."""

    def __init__(self, organization: Organization):
        self.organization = organization

    def projects_with_open_counts(self) -> List[dict]:
        """One query: the database counts the open tasks of every project."""
        rows = (Project.objects.filter(organization=self.organization)
                .annotate(open_tasks=Count("tasks", filter=Q(tasks__done=False, tasks__deleted_at__isnull=True)))
                .order_by("name").values("id", "name", "open_tasks"))
        return list(rows)

    def board(self, project_id: int) -> List[TaskCard]:
        """Two queries whatever the number of tasks: the tasks with their project, then all comments."""
        tasks = (Task.objects.filter(organization=self.organization, project_id=project_id)
                 .select_related("project").prefetch_related("comments").order_by("id"))
        return [TaskCard(t.id, t.title, t.done, t.project.name, [c.body for c in t.comments.all()])
                for t in tasks]

    def task(self, task_id: int) -> Task:
        task = Task.objects.filter(organization=self.organization, pk=task_id).first()
        if task is None:
            raise NotFound(task_id)
        return task

    def project(self, project_id: int) -> Project:
        project = Project.objects.filter(organization=self.organization, pk=project_id).first()
        if project is None:
            raise NotFound(project_id)
        return project

    def create_project(self, name: str) -> Project:
        """A taken name (or a double submit) is a Conflict, not an IntegrityError: the savepoint
        keeps the caller's transaction usable."""
        try:
            with transaction.atomic():
                return Project.objects.create(organization=self.organization, name=name)
        except IntegrityError:
            raise Conflict(name) from None

    def add_tasks(self, project: Project, titles: Iterable[str]) -> List[Task]:
        """One INSERT for all the tasks, and the counter moved by the database, not in Python."""
        tasks = Task.objects.bulk_create(
            [Task(organization=self.organization, project=project, title=t) for t in titles])
        Project.objects.filter(organization=self.organization, pk=project.pk).update(
            task_count=F("task_count") + len(tasks))
        return tasks

    def rename_tasks(self, titles: Dict[int, str]) -> int:
        """One UPDATE for all the tasks, whatever their number."""
        tasks = list(Task.objects.filter(organization=self.organization, pk__in=list(titles)))
        for task in tasks:
            task.title = titles[task.pk]
        return Task.objects.bulk_update(tasks, ["title"])

    def latest_comments(self, project_id: int, n: int = 3) -> Dict[int, List[str]]:
        """The ordering goes into the prefetch query: two queries in all, none per task."""
        newest = Comment.objects.filter(organization=self.organization).order_by("-created_at", "-id")
        tasks = (Task.objects.filter(organization=self.organization, project_id=project_id)
                 .prefetch_related(Prefetch("comments", queryset=newest, to_attr="newest")))
        return {task.pk: [c.body for c in task.newest[:n]] for task in tasks}

    def add_comment(self, task: Task, author_id: int, body: str) -> Comment:
        return Comment.objects.create(organization=self.organization, task=task, author_id=author_id, body=body)

    def comment_counts(self, task_ids: Iterable[int]) -> Dict[int, int]:
        rows = (Comment.objects.filter(organization=self.organization, task_id__in=list(task_ids))
                .values("task_id").annotate(n=Count("id")))
        return {row["task_id"]: row["n"] for row in rows}

    def close_tasks(self, task_ids: Iterable[int]) -> int:
        return Task.objects.filter(organization=self.organization, pk__in=list(task_ids)).update(done=True)

    def soft_delete_task(self, task_id: int) -> int:
        return Task.objects.filter(organization=self.organization, pk=task_id).update(deleted_at=timezone.now())

    def record(self, actor_id: Optional[int], action: str, entity: str, entity_id: int, changes: dict) -> None:
        """Append one audit entry; callers write it in the same transaction as the change it records."""
        AuditLog.objects.create(organization=self.organization, actor_id=actor_id, action=action,
                                entity=entity, entity_id=entity_id, changes=changes)
