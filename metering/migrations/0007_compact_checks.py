"""Store a decision's checks as one letter per check (metering.fields.ChecksField).

The 550-byte JSON array of ``[code, outcome]`` pairs in every event row becomes a 14-character
string in engine order: ``P`` passed, ``F`` failed, ``N`` n/a. Existing rows are converted in
place (a table rewrite); the reverse migration rebuilds the JSON from the engine's order as it
was when this migration was written.
"""

from django.db import migrations

import metering.fields

# metering.engine.CHECK_ORDER when this migration was written (new checks are only appended).
CODES = "ARRAY['not_sandbox', 'attempt_succeeded', 'no_human_handoff', 'success_criteria_met', 'within_definition', 'verified', 'first_in_session', 'not_reopened', 'not_reversed', 'not_escalated', 'outside_training_window', 'beyond_pilot_allowance', 'within_spend_cap', 'not_credited']"

FORWARD = """
CREATE FUNCTION pg_temp.checks_letters(c jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(string_agg(CASE x ->> 1 WHEN 'passed' THEN 'P' WHEN 'failed' THEN 'F' ELSE 'N' END, '' ORDER BY n), '')
  FROM jsonb_array_elements(c) WITH ORDINALITY AS t(x, n)
$$;
ALTER TABLE metering_event ALTER COLUMN checks TYPE varchar(32) USING pg_temp.checks_letters(checks);
DROP FUNCTION pg_temp.checks_letters(jsonb);
"""

BACKWARD = f"""
CREATE FUNCTION pg_temp.checks_json(s text) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(jsonb_agg(jsonb_build_array(({CODES})[n],
    CASE substr(s, n, 1) WHEN 'P' THEN 'passed' WHEN 'F' THEN 'failed' ELSE 'n/a' END) ORDER BY n), '[]'::jsonb)
  FROM generate_series(1, length(s)) AS n
$$;
ALTER TABLE metering_event ALTER COLUMN checks TYPE jsonb USING pg_temp.checks_json(checks);
DROP FUNCTION pg_temp.checks_json(text);
"""


class Migration(migrations.Migration):
    dependencies = [("metering", "0006_event_fillfactor")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(FORWARD, BACKWARD)],
            state_operations=[
                migrations.AlterField(
                    model_name="event",
                    name="checks",
                    field=metering.fields.ChecksField(blank=True, default="", max_length=32),
                ),
            ],
        ),
    ]
