"""Each month's fold count (``MonthFold``): the month rollups' folds count the months they rebuild
(metering.month_rollup), so finance can keep figures of closed months until one of them changes. Empty at
first: a month folded for the first time gets its row."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('metering', '0019_monthly_rollup_marks'),
    ]

    operations = [
        migrations.CreateModel(
            name='MonthFold',
            fields=[
                ('month', models.DateField(primary_key=True, serialize=False)),
                ('folds', models.BigIntegerField(default=0)),
            ],
        ),
    ]
