from django.core.management.base import BaseCommand

from ...models import Invoice


class Command(BaseCommand):
    help = "Create the opening invoice of a new installation."

    def handle(self, *args, **options):
        Invoice.objects.create(number="0001", total=0)  # defect: MDB609
