"""MDB3xx at runtime: the recommended pages cost the same number of queries for 2 tasks or 6;
each defect's cost grows with the rows."""
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext

from tasks.defects import queries as defects
from tasks.repository import OrganizationRepository

from .helpers import add_tasks, make_org


class QueriesPerPage(TestCase):
    def setUp(self):
        self.org, self.user, self.project, self.client = make_org("acme", tasks=2)

    def count(self, fn):
        with CaptureQueriesContext(connection) as ctx:
            fn()
        return len(ctx.captured_queries)

    def small_and_large(self, fn):
        small = self.count(fn)
        add_tasks(self.org, self.project, self.user, 4)
        return small, self.count(fn)

    def test_board_page_is_constant(self):
        url = f"/orgs/acme/projects/{self.project.pk}/board/"
        small, large = self.small_and_large(lambda: self.client.get(url))
        self.assertEqual(small, large)
        self.assertEqual(len(self.client.get(url).json()["tasks"]), 6)

    def test_lazy_relation_grows(self):  # MDB302
        small, large = self.small_and_large(lambda: defects.board(self.org, self.project.pk))
        self.assertEqual(large - small, 4)

    def test_comment_counts(self):  # MDB301
        repo = OrganizationRepository(self.org)
        ids = lambda: list(self.project.tasks.values_list("pk", flat=True))  # noqa: E731
        good_small, good_large = self.small_and_large(lambda: repo.comment_counts(ids()))
        self.assertEqual(good_small, good_large)
        bad_small = self.count(lambda: defects.comment_counts(self.org, ids()))
        add_tasks(self.org, self.project, self.user, 4)
        self.assertEqual(self.count(lambda: defects.comment_counts(self.org, ids())) - bad_small, 4)
        self.assertEqual(repo.comment_counts(ids()), defects.comment_counts(self.org, ids()))

    def test_rename(self):  # MDB303
        repo = OrganizationRepository(self.org)
        titles = lambda: {pk: f"renamed {pk}" for pk in self.project.tasks.values_list("pk", flat=True)}  # noqa
        good_small, good_large = self.small_and_large(lambda: repo.rename_tasks(titles()))
        self.assertEqual(good_small, good_large)
        bad_small = self.count(lambda: defects.rename(self.org, titles()))
        add_tasks(self.org, self.project, self.user, 4)
        self.assertEqual(self.count(lambda: defects.rename(self.org, titles())) - bad_small, 4)
        self.assertEqual(set(self.project.tasks.values_list("title", flat=True)), set(titles().values()))

    def test_latest_comments(self):  # MDB304
        repo = OrganizationRepository(self.org)
        good_small, good_large = self.small_and_large(lambda: repo.latest_comments(self.project.pk))
        self.assertEqual(good_small, good_large)
        bad_small = self.count(lambda: defects.latest_comments(self.org, self.project.pk))
        add_tasks(self.org, self.project, self.user, 4)
        self.assertEqual(self.count(lambda: defects.latest_comments(self.org, self.project.pk)) - bad_small, 4)
        self.assertEqual(repo.latest_comments(self.project.pk), defects.latest_comments(self.org, self.project.pk))
