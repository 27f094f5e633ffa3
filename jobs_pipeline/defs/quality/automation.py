"""When the quality assets refresh between the daily schedules (declarative automation).

The lake is ingested hourly; ``job_runs`` and ``marketplace_quality`` follow ``job_events``;
a finished day's anomalies follow its ``marketplace_quality_daily``; the dashboard follows the
marts. ``quality_automation_sensor`` evaluates these conditions. The marts' partitions are not
here: ``job_runs_changed_days_sensor`` (:mod:`.late_days`) rebuilds exactly the days whose
``job_runs`` rows changed, today and late days alike; the schedules still finalise yesterday
(docs/dashboards.md).
"""

from datetime import timedelta

import dagster as dg

AC = dg.AutomationCondition

#: ``job_events``: new lake files every hour (UTC).
INGEST_CRON = "0 * * * *"
INGEST_HOURLY = AC.on_cron(INGEST_CRON, "UTC")

#: After any upstream asset updated (``job_runs``, ``marketplace_quality``; for a daily asset,
#: its latest partition only).
EAGER = AC.eager()

#: Yesterday's partition of a daily asset (partitions end a day ahead: today is the latest).
_YESTERDAY = (AC.in_latest_time_window(timedelta(days=2)) & ~AC.in_latest_time_window()).with_label("yesterday")


def _after_upstream(scope: AC) -> AC:
    """``scope`` once an upstream partition updated, when none is missing or running."""
    return (scope & AC.any_deps_updated().since_last_handled() & ~AC.any_deps_missing()
            & ~AC.any_deps_in_progress() & ~AC.in_progress())


#: ``quality_anomalies``: a complete day only (today's partial volume would look like a drop).
AFTER_FINISHED_DAY = _after_upstream(_YESTERDAY).with_label("after yesterday's marketplace_quality_daily")

#: ``quality_dashboard`` (unpartitioned, over every mart partition): redraw after any update.
#: No "deps missing" clause: old partitions never materialised must not block it.
AFTER_MARTS = (AC.any_deps_updated().since_last_handled() & ~AC.any_deps_in_progress()
               & ~AC.in_progress()).with_label("after the marts")
