"""MDB4xx at runtime, in autocommit as in production (TransactionTestCase: no test-wide
transaction, so on_commit callbacks run and a failed statement behaves as it would live)."""
import json
from unittest import mock

from django.core import mail
from django.db import IntegrityError, transaction
from django.db.utils import DatabaseError
from django.test import RequestFactory, TransactionTestCase

from tasks import repository, services
from tasks.defects import transactions as defects
from tasks.models import AuditLog, Comment, Membership, Project, Task

from .helpers import concurrently_after, make_org


class Transactions(TransactionTestCase):
    def setUp(self):
        self.org, self.user, self.project, self.client = make_org("acme")
        self.task = self.project.tasks.first()

    def post(self, fn, body, *args):
        request = RequestFactory().post("/", json.dumps(body), content_type="application/json")
        request.user = self.user
        return fn(request, "acme", *args)

    def test_no_partial_write_after_failure(self):  # MDB401
        body = {"name": "Launch", "tasks": ["plan", None]}  # the second task violates NOT NULL
        with self.assertRaises(IntegrityError):
            self.client.post("/orgs/acme/projects/", body, content_type="application/json")
        self.assertFalse(Project.objects.filter(name="Launch").exists())
        with self.assertRaises(IntegrityError):
            self.post(defects.create_project, body)
        self.assertTrue(Project.objects.filter(name="Launch").exists(), "the defect leaves a project behind")
        self.assertFalse(Project.objects.get(name="Launch").tasks.exists())

    def test_no_email_for_rolled_back_comment(self):  # MDB403
        url = f"/orgs/acme/tasks/{self.task.pk}/comments/"
        self.client.post(url, {"body": "ok"}, content_type="application/json")
        self.assertEqual(len(mail.outbox), 1, "sent after commit")
        mail.outbox.clear()
        before = Comment.objects.count()
        with mock.patch.object(AuditLog.objects, "create", side_effect=DatabaseError("audit down")):
            with self.assertRaises(DatabaseError):
                self.client.post(url, {"body": "lost"}, content_type="application/json")
            self.assertEqual((len(mail.outbox), Comment.objects.count()), (0, before))
            with self.assertRaises(DatabaseError):
                defects.comment(self.org, self.user.pk, self.task.pk, "lost")
        self.assertEqual(Comment.objects.count(), before, "the comment rolled back...")
        self.assertEqual(len(mail.outbox), 1, "...but the defect's email about it went out")

    def test_check_then_insert_race(self):  # MDB406
        other = type(self.user).objects.create(username="bob")
        racer = lambda: Membership.objects.create(organization=self.org, user=other)  # noqa: E731
        with concurrently_after("tasks_membership", racer):
            with self.assertRaises(IntegrityError):
                self.post(defects.invite, {}, other.pk)
        Membership.objects.filter(user=other).delete()
        with concurrently_after("tasks_membership", racer):
            membership = repository.add_member(self.org, other.pk)
        self.assertEqual(Membership.objects.filter(user=other).get().pk, membership.pk)

    def test_lost_update(self):  # MDB407
        racer = lambda: Project.objects.filter(pk=self.project.pk).update(task_count=1)  # noqa: E731
        with concurrently_after("tasks_project", racer):
            self.post(defects.count_task, {}, self.project.pk)
        self.project.refresh_from_db()
        self.assertEqual(self.project.task_count, 1, "two increments, one survives")
        Project.objects.filter(pk=self.project.pk).update(task_count=0)
        racer = lambda: services.add_task(self.org, self.user.pk, self.project.pk, "racer")  # noqa: E731
        with concurrently_after("tasks_project", racer):
            services.add_task(self.org, self.user.pk, self.project.pk, "mine")
        self.project.refresh_from_db()
        self.assertEqual(self.project.task_count, 2, "F() moves the counter in the database")

    def test_error_swallowed_breaks_the_transaction(self):  # MDB408
        with self.assertRaises(transaction.TransactionManagementError):
            defects.add_task(self.org, self.project, self.user.pk, None)
        self.assertFalse(AuditLog.objects.exists())
        response = self.client.post(f"/orgs/acme/projects/{self.project.pk}/tasks/", {"title": None},
                                    content_type="application/json")
        self.assertEqual(response.status_code, 422)
        self.assertEqual(AuditLog.objects.get().action, "task.rejected")

    def test_audit_records_who_when_what(self):
        self.client.post("/orgs/acme/tasks/close/", {"ids": [self.task.pk]}, content_type="application/json")
        entry = AuditLog.objects.get()
        self.assertEqual((entry.actor_id, entry.action, entry.changes["ids"]),
                         (self.user.pk, "tasks.closed", [self.task.pk]))
        self.assertIsNotNone(entry.at)
        self.assertTrue(Task.objects.get(pk=self.task.pk).done)
