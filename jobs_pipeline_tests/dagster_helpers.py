"""Helpers shared by the Dagster-level tests."""

from pathlib import Path

from jobs_pipeline.defs.resources.landing import LandingZoneResource
from jobs_pipeline.defs.resources.deployments import resources_for as deployment_resources
from jobs_pipeline.settings import Settings

QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def resources_for(settings: Settings, **landing_overrides) -> dict:
    resources = deployment_resources(settings)
    landing = resources["landing"]
    resources["landing"] = LandingZoneResource(**{
        "landing_dir": landing.landing_dir, "quarantine_dir": landing.quarantine_dir, "tier": landing.tier,
        "max_files_per_tick": landing.max_files_per_tick, "settle_seconds": 0.0, **landing_overrides,
    })
    return resources


def feed_run_config(path: Path, marketplace: str, category: str = "unknown", region: str = "unknown",
                    **extra) -> dict:
    config = {"path": str(path), "marketplace": marketplace, "category": category, "region": region, **extra}
    return {"ops": {"describe_feed": {"config": config}}, **QUIET}


def batch_feeds(requests) -> list[dict]:
    """The per-file configs of the landing sensors' ``validate_feeds`` run requests, in order."""
    from jobs_pipeline.defs.feeds.batches import feeds_of

    return [feed for request in requests or [] for feed in feeds_of(request)]


def file_steps(result) -> dict[str, dict]:
    """Per file of a ``validate_feeds`` run (by job id): ``success`` and the step's metadata
    (the output's when it succeeded, the failure's when it failed: status, error_type, error...)."""
    steps: dict[str, dict] = {}
    for event in result.all_events:
        key = event.step_key or ""
        if not key.startswith("validate_file["):
            continue
        job_id = str(__import__("uuid").UUID(key[len("validate_file["):-1]))
        entry = steps.setdefault(job_id, {"success": None, "metadata": {}})
        if event.event_type_value == "STEP_OUTPUT":
            entry["metadata"] = {k: v.value for k, v in event.event_specific_data.metadata.items()}
        elif event.event_type_value == "STEP_SUCCESS":
            entry["success"] = True
        elif event.event_type_value == "STEP_FAILURE":
            entry["success"] = False
            data = event.event_specific_data.user_failure_data
            entry["metadata"] = {k: v.value for k, v in (data.metadata if data else {}).items()}
    return steps
