from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("schema", "0003_drop_legacy_code")]
    operations = [
        migrations.RemoveField("invoice", "note"),  # defect: MDB607, MDB603
        migrations.AddField("invoice", "memo", models.TextField(blank=True)),  # defect: MDB604
    ]
