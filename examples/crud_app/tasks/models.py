"""The schema of the CRUD example: organizations own projects, projects hold tasks, tasks hold
comments. Every table below Organization carries ``organization`` itself (not only through its
parent) so that each query can be scoped with one indexed predicate, and the audit log records
who did what, when."""
from django.conf import settings
from django.db import models


class Organization(models.Model):
    """The tenant root: every scoped row belongs to exactly one organization."""
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)


class Membership(models.Model):
    """Which users may act in which organization: the only source of the tenant for a request."""
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, default="member")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "user"], name="one_membership_per_org")]


class Project(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=100)
    task_count = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="unique_project_name")]


class LiveTaskManager(models.Manager):
    """Soft-deleted tasks are invisible to the application; only retention jobs see them."""

    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)


class Task(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="tasks")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(max_length=200)
    done = models.BooleanField(default=False)
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = LiveTaskManager()
    all_objects = models.Manager()

    class Meta:
        indexes = [models.Index(fields=["organization", "project"], name="task_org_project")]


class Comment(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="comments")
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)


class AuditLog(models.Model):
    """Who (actor), when (at), what (action on entity, with the changed fields) — append-only."""
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="audit_log")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    action = models.CharField(max_length=40)
    entity = models.CharField(max_length=40)
    entity_id = models.BigIntegerField()
    changes = models.JSONField(default=dict)

    class Meta:
        indexes = [models.Index(fields=["organization", "entity", "entity_id"], name="audit_entity")]
