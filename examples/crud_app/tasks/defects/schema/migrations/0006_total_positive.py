from django.db import migrations, models


class Migration(migrations.Migration):  # defect: MDB602
    """Written on a branch from 0004 while 0005 was written on another: two leaves."""

    dependencies = [("schema", "0004_note_to_memo")]
    operations = [
        migrations.AddConstraint(  # defect: MDB604
            "invoice", models.CheckConstraint(condition=models.Q(total__gte=0), name="invoice_total_positive"),
        ),
    ]
