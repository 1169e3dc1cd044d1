"""Shared test data: two organizations with the same shape, so a leak from one into the other
shows up as the other's titles; and a way to run a "concurrent request" between a read and a
write, deterministically."""
from contextlib import contextmanager

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from tasks.models import Comment, Membership, Organization, Project, Task


def make_org(slug, tasks=2, comments=2):
    """An organization, its admin (logged in through the returned client), one project of tasks."""
    org = Organization.objects.create(slug=slug, name=slug.title())
    user = get_user_model().objects.create(username=f"{slug}-user")
    Membership.objects.create(organization=org, user=user, role="admin")
    project = Project.objects.create(organization=org, name=f"{slug} project")
    add_tasks(org, project, user, tasks, comments)
    client = Client()
    client.force_login(user)
    return org, user, project, client


def add_tasks(org, project, user, n, comments=2):
    start = Task.objects.filter(project=project).count()
    for i in range(start, start + n):
        task = Task.objects.create(organization=org, project=project, title=f"{org.slug} task {i}")
        for j in range(comments):
            Comment.objects.create(organization=org, task=task, author=user, body=f"{org.slug} c{i}.{j}")


@contextmanager
def concurrently_after(table, action):
    """Run ``action`` once, right after the first SELECT from ``table``: as if another request ran
    and committed between this code's read and its write (same connection, autocommit)."""
    state = {"fired": False}

    def wrapper(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not state["fired"] and sql.lstrip().upper().startswith("SELECT") and f'FROM "{table}"' in sql:
            state["fired"] = True
            action()
        return result

    with connection.execute_wrapper(wrapper):
        yield state
    assert state["fired"], f"no SELECT from {table} ran"
