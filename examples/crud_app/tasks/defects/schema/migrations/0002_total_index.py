from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("schema", "0001_initial")]
    operations = [
        migrations.AddIndex("invoice", models.Index(fields=["total"], name="invoice_total_idx")),  # defect: MDB604
    ]
