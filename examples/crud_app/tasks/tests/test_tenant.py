"""MDB1xx at runtime: a member of acme asks for globex's rows. The recommended handlers answer
404 or acme's rows only; each defect hands over (or destroys) globex's data."""
from django.test import RequestFactory, TestCase

from tasks.defects import handlers as layer_defects
from tasks.defects import tenant as defects
from tasks.models import Task

from .helpers import make_org


class CrossTenant(TestCase):
    def setUp(self):
        self.acme, self.user, self.project, self.client = make_org("acme")
        self.globex, _, self.globex_project, _ = make_org("globex")
        self.secret = Task.objects.filter(organization=self.globex).first()

    def request(self, path="/", **get):
        request = RequestFactory().get(path, get)
        request.user = self.user
        return request

    def test_task_detail_blocked_vs_leaked(self):  # MDB104
        self.assertEqual(self.client.get(f"/orgs/acme/tasks/{self.secret.pk}/").status_code, 404)
        self.assertEqual(self.client.get(f"/orgs/globex/tasks/{self.secret.pk}/").status_code, 404)
        leaked = defects.task_detail(self.request(), "acme", self.secret.pk)
        self.assertIn(self.secret.title, leaked.content.decode())

    def test_listing_scoped_vs_leaked(self):  # MDB101
        board = self.client.get(f"/orgs/acme/projects/{self.project.pk}/board/").content.decode()
        self.assertNotIn("globex", board)
        self.assertEqual(self.client.get(f"/orgs/acme/projects/{self.globex_project.pk}/board/").json(),
                         {"tasks": []})
        self.assertIn(self.secret.title, defects.open_tasks(self.request(), "acme").content.decode())

    def test_bulk_write_scoped_vs_every_tenant(self):  # MDB102
        Task.objects.update(done=True)
        self.client.post("/orgs/acme/tasks/close/", {"ids": [self.secret.pk]}, content_type="application/json")
        self.client.delete(f"/orgs/acme/tasks/{self.secret.pk}/")
        self.assertTrue(Task.objects.filter(pk=self.secret.pk).exists())
        defects.archive_done(self.request(), "acme")
        self.assertFalse(Task.objects.filter(organization=self.globex).exists())

    def test_raw_sql_counts_every_tenant(self):  # MDB103
        Task.objects.update(done=True)
        counts = self.client.get("/orgs/acme/projects/").json()["projects"]
        self.assertEqual([p["id"] for p in counts], [self.project.pk])
        leaked = defects.done_per_project(self.request(), "acme").content.decode()
        self.assertIn(f'"{self.globex_project.pk}"', leaked)

    def test_tenant_from_request_data(self):  # MDB105
        leaked = defects.tasks_of(self.request(org=str(self.globex.pk))).content.decode()
        self.assertIn(self.secret.title, leaked)
        self.assertEqual(self.client.get("/orgs/globex/projects/").status_code, 404)

    def test_handler_copy_of_a_query_drifts(self):  # MDB201: the bypass forgets the soft delete
        self.client.delete(f"/orgs/acme/tasks/{self.project.tasks.first().pk}/")
        good = self.client.get("/orgs/acme/projects/").json()["projects"]
        bad = layer_defects.projects(self.request(), "acme")
        self.assertEqual(good[0]["open_tasks"], 1)
        self.assertIn('"open_tasks": 2', bad.content.decode())
