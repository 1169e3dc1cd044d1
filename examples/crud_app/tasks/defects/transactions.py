"""Transaction and concurrency defects (MDB4xx): partial writes, effects of rolled-back work,
races between concurrent requests."""
import json

from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.http import JsonResponse

from ..models import AuditLog, Membership, Project, Task
from ..repository import organization_for_member


def create_project(request, org_slug):
    """Autocommit: the project commits on its own; if a task fails, a project without tasks stays."""
    organization = organization_for_member(request.user.pk, org_slug)
    data = json.loads(request.body)
    project = Project.objects.create(organization=organization, name=data["name"])  # defect: MDB401, MDB410
    Task.objects.bulk_create([Task(organization=organization, project=project, title=t) for t in data["tasks"]])
    return JsonResponse({"id": project.pk}, status=201)


def rename_project(request, org_slug, project_id):
    """The row lock is taken outside a transaction: it is released before the save."""
    organization = organization_for_member(request.user.pk, org_slug)
    project = Project.objects.select_for_update().get(organization=organization, pk=project_id)  # defect: MDB402
    project.name = json.loads(request.body)["name"]
    project.save(update_fields=["name"])
    return JsonResponse({"id": project.pk})


def comment(organization, actor_id, task_id, body):
    """The email goes out before the transaction commits: a rollback cannot call it back."""
    with transaction.atomic():
        task = Task.objects.get(organization=organization, pk=task_id)
        task.comments.create(organization=organization, author_id=actor_id, body=body)
        send_mail(f"New comment on {task.title}", body, "noreply@example.com",  # defect: MDB403
                  [f"team@{organization.slug}.example.com"])
        AuditLog.objects.create(organization=organization, actor_id=actor_id, action="comment.added",
                                entity="task", entity_id=task.pk, changes={})


def invite(request, org_slug, user_id):
    """Two concurrent invitations both see no membership; the second insert fails with a 500."""
    organization = organization_for_member(request.user.pk, org_slug)
    if not Membership.objects.filter(organization=organization, user_id=user_id).exists():  # defect: MDB406
        Membership.objects.create(organization=organization, user_id=user_id)
    return JsonResponse({}, status=201)


def count_task(request, org_slug, project_id):
    """Read, add one in Python, write back: a concurrent increment in between is lost."""
    organization = organization_for_member(request.user.pk, org_slug)
    project = Project.objects.get(organization=organization, pk=project_id)
    project.task_count += 1  # defect: MDB407
    project.save(update_fields=["task_count"])
    return JsonResponse({"task_count": project.task_count})


@transaction.atomic
def add_task(organization, project, actor_id, title):
    """Ignores a rejected insert by catching the error inside the transaction, without a
    savepoint: the transaction is broken, and the audit write after it fails."""
    try:
        Task.objects.create(organization=organization, project=project, title=title)
    except IntegrityError:  # defect: MDB408
        pass
    AuditLog.objects.create(organization=organization, actor_id=actor_id, action="task.added",
                            entity="project", entity_id=project.pk, changes={"title": title})
