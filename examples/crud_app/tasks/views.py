"""Route handlers: resolve the tenant from the authenticated user, call one service, shape the
response. No ORM here: the handler layer imports services and repositories only."""
from __future__ import annotations

import json
from dataclasses import asdict
from functools import wraps

from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.http import require_http_methods

from . import repository, services
from .repository import Conflict, NotFound, OrganizationRepository


def member_view(view):
    """Pass the organization of the URL to the view, only if the logged-in user is a member."""
    @wraps(view)
    def wrapper(request, org_slug, **kwargs):
        if not request.user.is_authenticated:
            return JsonResponse({"error": "login required"}, status=401)
        organization = repository.organization_for_member(request.user.pk, org_slug)
        if organization is None:
            raise Http404("no such organization")
        try:
            return view(request, organization, **kwargs)
        except NotFound:
            raise Http404("not found") from None
        except Conflict:
            return JsonResponse({"error": "already exists"}, status=409)
    return wrapper


@require_http_methods(["GET", "POST"])
@member_view
def projects(request, organization):
    if request.method == "POST":
        data = json.loads(request.body)
        project_id = services.create_project(organization, request.user.pk, data["name"], data.get("tasks", []))
        return JsonResponse({"id": project_id}, status=201)
    return JsonResponse({"projects": OrganizationRepository(organization).projects_with_open_counts()})


@require_http_methods(["GET"])
@member_view
def project_board(request, organization, project_id):
    cards = services.board(organization, project_id)
    return JsonResponse({"tasks": [asdict(card) for card in cards]})


@require_http_methods(["POST"])
@member_view
def project_tasks(request, organization, project_id):
    task_id = services.add_task(organization, request.user.pk, project_id, json.loads(request.body)["title"])
    return JsonResponse({"id": task_id}, status=201 if task_id else 422)


@require_http_methods(["GET", "DELETE"])
@member_view
def task_detail(request, organization, task_id):
    if request.method == "DELETE":
        services.delete_task(organization, request.user.pk, task_id)
        return HttpResponse(status=204)
    task = OrganizationRepository(organization).task(task_id)
    return JsonResponse({"id": task.pk, "title": task.title, "done": task.done})


@require_http_methods(["POST"])
@member_view
def comments(request, organization, task_id):
    body = json.loads(request.body)["body"]
    return JsonResponse({"id": services.add_comment(organization, request.user.pk, task_id, body)}, status=201)


@require_http_methods(["POST"])
@member_view
def close_tasks(request, organization):
    ids = [int(i) for i in json.loads(request.body)["ids"]]
    return JsonResponse({"closed": services.close_tasks(organization, request.user.pk, ids)})
