"""Idempotent demo seed: running it twice leaves the same rows as running it once.

Rows are inserted with ``INSERT … ON CONFLICT`` on their natural keys (each backed by a unique
constraint), so a second run changes nothing, two concurrent runs cannot duplicate a row, and
the whole seed is one transaction: a failed run leaves nothing half-seeded."""
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from tasks.models import Membership, Organization, Project

DEMO = {"acme": ["Website", "Mobile app"], "globex": ["Billing"]}


class Command(BaseCommand):
    help = "Create the demo organizations, users and projects (safe to run again)."

    @transaction.atomic
    def handle(self, *args, **options):
        users = get_user_model()
        Organization.objects.bulk_create([Organization(slug=s, name=s.title()) for s in DEMO],
                                         update_conflicts=True, unique_fields=["slug"], update_fields=["name"])
        users.objects.bulk_create([users(username=f"{s}-admin") for s in DEMO], ignore_conflicts=True)
        orgs = Organization.objects.in_bulk(list(DEMO), field_name="slug")
        admins = users.objects.in_bulk([f"{s}-admin" for s in DEMO], field_name="username")
        Membership.objects.bulk_create([Membership(organization=orgs[s], user=admins[f"{s}-admin"], role="admin")
                                        for s in DEMO], ignore_conflicts=True)
        Project.objects.bulk_create([Project(organization=orgs[s], name=name)
                                     for s, names in DEMO.items() for name in names], ignore_conflicts=True)
        self.stdout.write(f"seeded {len(orgs)} organizations")
