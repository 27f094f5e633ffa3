"""The same retry behaviour through Dagster: ``validate_feed.execute_in_process`` on a real
``dg.instance_for_test``; faults injected through a ``JobServiceResource`` subclass whose
validator touches a failing dependency, and a queue whose broker is briefly down."""

import itertools
from collections.abc import Callable
from pathlib import Path


from jobs_pipeline.defs.resources.job_service import JobServiceResource
from jobs_pipeline.defs.resources.queue import InMemoryQueueResource
from jobs_pipeline.defs.feeds.validate_feed import validate_feed
from jobs_pipeline.domain.errors import PublishError
from jobs_pipeline.jobs.service import JobService
from jobs_pipeline.queue.publisher import FEED_VALIDATED
from jobs_pipeline.demo.samples import DEMO_FEEDS, write_sample
from jobs_pipeline_tests.dagster_helpers import feed_run_config, resources_for
from jobs_pipeline_tests.retry.harness import (
    FAST,
    BrokerOutage,
    DependentValidator,
    Raising,
    RefusedNTimes,
    job_runs,
    lake_events,
)

SPEC = DEMO_FEEDS[0]

# Resources are rebuilt from config on every step attempt; the fault's state (how many
# calls failed so far) must outlive them, so it lives here, keyed per test.
_FAULTS: dict[str, Callable[[], None]] = {}
_KEYS = itertools.count()


class FaultyJobService(JobServiceResource):
    """The deployment's JobService, whose validator first calls a registered dependency."""

    fault: str

    def get_service(self) -> JobService:
        service = super().get_service()
        service.validator = DependentValidator(_FAULTS[self.fault])
        return service


class FlakyBrokerQueue(InMemoryQueueResource):
    """The in-memory queue behind a broker that refuses the first ``down_for`` publishes
    (a real ``ConnectionRefusedError`` from a closed local port, wrapped the way the
    publishers wrap it: ``PublishError`` raised from the library error)."""

    fault: str

    def get_publisher(self):
        inner = super().get_publisher()
        touch = _FAULTS[self.fault]

        class Publisher:
            def publish(self, message):
                try:
                    touch()
                except OSError as exc:
                    raise PublishError("broker unreachable", backend="celery", queue=message.queue) from exc
                return inner.publish(message)

            def __getattr__(self, name):
                return getattr(inner, name)

        return Publisher()


def register(fault: Callable[[], None]) -> str:
    key = f"fault-{next(_KEYS)}"
    _FAULTS[key] = fault
    return key


def run(settings, instance, fault: Callable[[], None], *, queue_fault: Callable[[], None] | None = None,
        max_attempts: int = 3):
    path = write_sample(settings.data_dir / "in", SPEC)
    resources = resources_for(settings)
    base: JobServiceResource = resources["job_service"]
    queue = base.queue
    if queue_fault is not None:
        queue = FlakyBrokerQueue(name=f"flaky-{next(_KEYS)}", fault=register(queue_fault))
    resources["job_service"] = FaultyJobService(
        queue=queue, telemetry=base.telemetry, fault=register(fault), retry_max_attempts=max_attempts,
        retry_base_s=FAST["base_s"], retry_throttle_base_s=FAST["throttle_base_s"], retry_cap_s=FAST["cap_s"],
    )
    result = validate_feed.execute_in_process(
        run_config=feed_run_config(path, SPEC.marketplace, SPEC.category, SPEC.region),
        instance=instance, resources=resources, raise_on_error=False,
    )
    return result, resources["job_service"].queue.get_publisher()


def published_outcomes(result, publisher) -> int:
    """``feed.validated`` messages for this run's job (the memory queue outlives a test)."""
    job_id = str(result.output_for_node("describe_feed").job_id)
    outcomes = publisher.messages(publisher.queue_for("free", "outcome"))  # feed.validated has its own queue
    return sum(1 for m in outcomes if m.task == FEED_VALIDATED and m.body["job_id"] == job_id)


def step_events(result, step_key: str, event_type: str) -> int:
    return sum(1 for e in result.all_events if e.step_key == step_key and e.event_type_value == event_type)


def test_transient_outage_retries_the_op_then_completes(settings, instance, redis_server):
    outage = BrokerOutage(redis_server.url, down_for=2)
    result, publisher = run(settings, instance, outage)

    assert result.success
    assert outage.calls == 3
    assert step_events(result, "run_validation", "STEP_UP_FOR_RETRY") == 2
    assert result.output_for_node("run_validation").attempt == 3
    events = lake_events(settings.lake_dir)
    assert [e["type"] for e in events] == ["job.started", "job.retrying"] * 2 + ["job.started", "job.completed"]
    [row] = job_runs(settings.lake_dir, settings.duckdb_path)
    assert (row["status"], row["attempts"], row["retries"]) == ("completed", 3, 2)
    assert published_outcomes(result, publisher) == 1


def test_permanent_error_fails_at_once_with_one_job_failed(settings, instance, tmp_path: Path):
    dependency = Raising(lambda: (tmp_path / "no-credentials-file").open())  # real FileNotFoundError
    result, publisher = run(settings, instance, dependency)

    assert not result.success
    assert dependency.calls == 1
    assert step_events(result, "run_validation", "STEP_UP_FOR_RETRY") == 0
    events = lake_events(settings.lake_dir)
    assert [e["type"] for e in events] == ["job.started", "job.failed"]
    assert events[-1]["error"]["error_type"] == "FileNotFoundError"
    assert events[-1]["error"]["classification"] == "permanent"
    [row] = job_runs(settings.lake_dir, settings.duckdb_path)
    assert (row["status"], row["attempts"], row["retries"]) == ("failed", 1, 0)
    # the failed outcome is still published, then the step that failed fails (no retry of that either)
    assert step_events(result, "run_validation", "STEP_FAILURE") == 1
    assert step_events(result, "run_validation", "STEP_UP_FOR_RETRY") == 0
    assert published_outcomes(result, publisher) == 1


def test_outage_outlasting_the_policy_fails_after_max_attempts(settings, instance):
    dependency = RefusedNTimes(100)
    result, _ = run(settings, instance, dependency, max_attempts=3)

    assert not result.success and dependency.calls == 3
    assert step_events(result, "run_validation", "STEP_UP_FOR_RETRY") == 2
    types = [e["type"] for e in lake_events(settings.lake_dir)]
    assert types.count("job.retrying") == 2 and types.count("job.failed") == 1 and types[-1] == "job.failed"
    [row] = job_runs(settings.lake_dir, settings.duckdb_path)
    assert (row["status"], row["attempts"], row["retries"]) == ("failed", 3, 2)


def test_broker_down_when_publishing_the_outcome_retries_only_that_op(settings, instance):
    validator_dependency = Raising(lambda: None)
    broker = RefusedNTimes(1)
    result, publisher = run(settings, instance, validator_dependency, queue_fault=broker)

    assert result.success
    assert validator_dependency.calls == 1  # the job ran once
    assert step_events(result, "publish_outcome", "STEP_UP_FOR_RETRY") == 1
    assert broker.calls == 2
    assert published_outcomes(result, publisher) == 1
    [row] = job_runs(settings.lake_dir, settings.duckdb_path)
    assert (row["status"], row["attempts"], row["retries"]) == ("completed", 1, 0)


def test_dagster_yaml_run_retries_do_not_compound_op_retries() -> None:
    import yaml

    config = yaml.safe_load((Path(__file__).parents[2] / "dagster.yaml").read_text())
    assert config["run_retries"]["retry_on_asset_or_op_failure"] is False
