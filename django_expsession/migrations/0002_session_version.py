from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("django_expsession", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="session",
            name="version",
            field=models.BigIntegerField(db_default=0, default=0, verbose_name="version"),
        ),
    ]
