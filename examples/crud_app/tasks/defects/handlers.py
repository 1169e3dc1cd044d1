"""Layering defects (MDB2xx): a route handler (``layers.handler`` in mandu.yaml) that talks to the
ORM itself instead of going through a service or the repository."""
from django.db.models import Count, Q  # defect: MDB202
from django.http import JsonResponse

from ..models import Project
from ..repository import organization_for_member


def projects(request, org_slug):
    """Its own copy of the project listing, which forgets what the repository knows: deleted tasks
    are not open tasks."""
    organization = organization_for_member(request.user.pk, org_slug)
    open_tasks = Count("tasks", filter=Q(tasks__done=False))
    rows = Project.objects.filter(organization=organization).annotate(open_tasks=open_tasks).values(  # defect: MDB201
        "id", "name", "open_tasks").order_by("name")
    return JsonResponse({"projects": list(rows)})
