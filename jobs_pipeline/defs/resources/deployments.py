"""Dagster resources of every deployment (``DAGSTER_DEPLOYMENT=local|staging|prod``): :func:`resources_for`.

Values come from the checked settings. Staging and prod read each *set* location and every
secret through ``dg.EnvVar`` (resolved at launch, hidden in the UI); local keeps process-local
memory queues. Resources build their objects with the same factories as the worker.
"""

from typing import Any

import dagster as dg

from jobs_pipeline.defs.resources.alerts import alert_sink_resource
from jobs_pipeline.defs.resources.config import env_or
from jobs_pipeline.defs.resources.job_service import JobServiceResource, report_fields, retry_fields
from jobs_pipeline.defs.resources.landing import LandingZoneResource
from jobs_pipeline.defs.resources.queue import InMemoryQueueResource, queue_fields, queue_resource, sqs_jobs_resource
from jobs_pipeline.defs.resources.s3_landing import s3_landing_resource
from jobs_pipeline.defs.resources.telemetry import telemetry_resource
from jobs_pipeline.defs.resources.warehouse import warehouse_resource
from jobs_pipeline.jobs import compose
from jobs_pipeline.settings import Settings


def resources_for(settings: Settings) -> dict[str, Any]:
    """The resources of ``settings.dagster_deployment``; staging/prod read set variables at launch."""
    from_env = settings.dagster_deployment != "local"
    lake_var = "JOBS_PIPELINE_LAKE_URI" if settings.jobs_pipeline_lake_uri else "JOBS_PIPELINE_LAKE_DIR"
    lake = env_or(lake_var, settings.jobs_pipeline_lake_uri or settings.jobs_pipeline_lake_dir, settings.lake_uri,
                  from_env)
    # local: always process-local queues; elsewhere QUEUE_BACKEND (+ rollout), jobs and outcomes
    queue = queue_resource(settings, from_env=True) if from_env else InMemoryQueueResource(**queue_fields(settings))
    return {
        "job_service": JobServiceResource(
            queue=queue,
            telemetry=telemetry_resource(settings, lake, from_env=from_env),
            progress_every_records=settings.progress_every_records,
            sample_errors_limit=settings.sample_errors_limit,
            **retry_fields(settings),
            **report_fields(settings, from_env=from_env),
        ),
        "warehouse": warehouse_resource(settings, from_env=from_env),
        "sqs_jobs": sqs_jobs_resource(settings, from_env=from_env),
        "alert_sink": alert_sink_resource(settings, from_env=from_env),
        "s3_landing": s3_landing_resource(settings, from_env=from_env),
        "landing": LandingZoneResource(
            landing_dir=env_or("JOBS_PIPELINE_LANDING_DIR", settings.jobs_pipeline_landing_dir,
                               str(settings.landing_dir), from_env),
            quarantine_dir=env_or("JOBS_PIPELINE_QUARANTINE_DIR", settings.jobs_pipeline_quarantine_dir,
                                  str(settings.quarantine_dir), from_env),
            tier=settings.jobs_pipeline_landing_tier,
        ),
    }


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=resources_for(compose.load_checked_settings()))
