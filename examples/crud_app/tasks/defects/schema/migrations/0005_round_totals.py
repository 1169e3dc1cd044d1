from django.db import migrations

from ..models import Invoice  # defect: MDB605


def round_totals(apps, schema_editor):
    for invoice in Invoice.objects.all():
        invoice.total = round(invoice.total, -2)
        invoice.save(update_fields=["total"])  # defect: MDB605


class Migration(migrations.Migration):
    dependencies = [("schema", "0004_note_to_memo")]
    operations = [
        migrations.RunPython(round_totals),  # defect: MDB606
    ]
