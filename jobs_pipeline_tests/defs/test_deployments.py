"""resources_for(settings): one builder for every deployment; a defaulted variable stays optional in
staging and prod, a set one is read at launch; any registered queue backend gets a resource."""

import dagster as dg

from jobs_pipeline.defs.feeds.validate_feed import validate_feed
from jobs_pipeline.defs.resources.deployments import resources_for
from jobs_pipeline.defs.resources.queue import InMemoryQueueResource, QueueBackendResource, queue_resource
from jobs_pipeline.demo.samples import DEMO_FEEDS, write_sample
from jobs_pipeline.jobs.compose import load_checked_settings
from jobs_pipeline.queue.memory import InMemoryQueuePublisher
from jobs_pipeline.queue.registry import QUEUE_BACKENDS
from jobs_pipeline_tests.dagster_helpers import feed_run_config

DEFAULTED = ("JOBS_PIPELINE_LANDING_DIR", "JOBS_PIPELINE_QUARANTINE_DIR", "JOBS_PIPELINE_DUCKDB",
             "JOBS_PIPELINE_LAKE_DIR")


def test_staging_without_the_defaulted_locations_builds_resources_and_runs_validate_feed(
        data_dir, monkeypatch, instance) -> None:
    monkeypatch.setenv("DAGSTER_DEPLOYMENT", "staging")
    for var in DEFAULTED:
        monkeypatch.delenv(var, raising=False)
    settings = load_checked_settings()
    resources = resources_for(settings)
    assert resources["landing"].landing_dir == str(settings.landing_dir)
    assert resources["landing"].quarantine_dir == str(settings.quarantine_dir)
    assert resources["job_service"].telemetry.lake_dir == settings.lake_uri
    spec = DEMO_FEEDS[0]
    path = write_sample(settings.data_dir / "in", spec)
    result = validate_feed.execute_in_process(
        run_config=feed_run_config(path, spec.marketplace, spec.category, spec.region),
        instance=instance, resources=resources)
    assert result.success
    assert result.output_for_node("run_validation").status == "completed"


def test_staging_reads_a_set_location_at_launch_and_local_never_does(data_dir, monkeypatch) -> None:
    monkeypatch.setenv("JOBS_PIPELINE_LANDING_DIR", str(data_dir / "elsewhere"))
    monkeypatch.setenv("DAGSTER_DEPLOYMENT", "staging")
    staging = resources_for(load_checked_settings())
    assert staging["landing"].landing_dir == dg.EnvVar("JOBS_PIPELINE_LANDING_DIR")
    assert staging["landing"].quarantine_dir == str((data_dir / "quarantine").resolve())  # unset: the default
    monkeypatch.setenv("DAGSTER_DEPLOYMENT", "local")
    local = resources_for(load_checked_settings())
    assert local["landing"].landing_dir == str((data_dir / "elsewhere").resolve())
    assert isinstance(local["job_service"].queue, InMemoryQueueResource)


def test_a_newly_registered_backend_gets_the_generic_resource(data_dir, monkeypatch) -> None:
    monkeypatch.setitem(QUEUE_BACKENDS, "carrier", "jobs_pipeline.queue.memory:InMemoryQueuePublisher")
    monkeypatch.setenv("QUEUE_BACKEND", "carrier")
    monkeypatch.setenv("QUEUE_NAME_PRO", "jobs-pro")
    resource = queue_resource(load_checked_settings(), from_env=True)
    assert isinstance(resource, QueueBackendResource) and resource.queue_backend == "carrier"
    publisher = resource.get_publisher()
    assert isinstance(publisher, InMemoryQueuePublisher)
    assert (publisher.queue_for("pro"), publisher.queue_for("pro", "outcome")) == ("jobs-pro", "jobs-pro.outcomes")


def test_local_memory_queues_keep_named_outcome_queues(data_dir, monkeypatch) -> None:
    monkeypatch.setenv("QUEUE_NAME_OUTCOMES_PRO", "results-pro")
    queue = resources_for(load_checked_settings())["job_service"].queue
    publisher = queue.model_copy(update={"name": "named-outcomes"}).get_publisher()
    assert publisher.queue_for("pro", "outcome") == "results-pro"
