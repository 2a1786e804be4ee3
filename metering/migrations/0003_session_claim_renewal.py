import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("metering", "0002_daily_rollup")]

    operations = [
        migrations.RemoveField(model_name="sessionclaim", name="window_ends_at"),
        migrations.AddField(
            model_name="sessionclaim",
            name="occurred_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="sessionclaim",
            name="renewable_after",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
