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
