from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Invoice",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),
                ("number", models.CharField(max_length=20, unique=True)),
                ("total", models.IntegerField()),
                ("legacy_code", models.CharField(max_length=10, blank=True)),
                ("note", models.TextField(blank=True)),
            ],
        ),
    ]
