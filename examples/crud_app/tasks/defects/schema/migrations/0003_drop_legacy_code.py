from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("schema", "0002_total_index")]
    operations = [
        migrations.RemoveField("invoice", "legacy_code"),  # defect: MDB603
    ]
