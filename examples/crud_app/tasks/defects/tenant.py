"""Tenant-scope defects (MDB1xx): each of these reads or changes another organization's rows."""
from django.db import connection
from django.http import JsonResponse

from ..models import Task
from ..repository import organization_for_member


def open_tasks(request, org_slug):
    """Checks membership, then forgets to scope the query: every organization's open tasks."""
    if organization_for_member(request.user.pk, org_slug) is None:
        return JsonResponse({}, status=404)
    tasks = Task.objects.filter(done=False).order_by("id")
    return JsonResponse({"tasks": [t.title for t in tasks]})  # defect: MDB101


def task_detail(request, org_slug, task_id):
    """IDOR: the task id comes from the URL and nothing ties it to the user's organization."""
    if organization_for_member(request.user.pk, org_slug) is None:
        return JsonResponse({}, status=404)
    task = Task.objects.get(pk=task_id)  # defect: MDB104
    return JsonResponse({"id": task.pk, "title": task.title})


def archive_done(request, org_slug):
    """Meant to clean up one organization's board; deletes every organization's done tasks."""
    if organization_for_member(request.user.pk, org_slug) is None:
        return JsonResponse({}, status=404)
    deleted, _ = Task.objects.filter(done=True).delete()  # defect: MDB102
    return JsonResponse({"deleted": deleted})


def done_per_project(request, org_slug):
    """A hand-written report query that counts every organization's tasks."""
    if organization_for_member(request.user.pk, org_slug) is None:
        return JsonResponse({}, status=404)
    with connection.cursor() as cursor:
        cursor.execute(  # defect: MDB103
            "SELECT project_id, COUNT(*) FROM tasks_task WHERE done = %s GROUP BY project_id", [True])
        rows = cursor.fetchall()
    return JsonResponse({"done": {str(project): n for project, n in rows}})


def tasks_of(request):
    """Scoped, but to whichever organization the client names in the query string."""
    tasks = Task.objects.filter(organization_id=request.GET["org"]).order_by("id")  # defect: MDB105
    return JsonResponse({"tasks": [t.title for t in tasks]})
