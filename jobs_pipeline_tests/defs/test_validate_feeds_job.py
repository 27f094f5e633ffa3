"""validate_feeds in process: one mapped step per file; a failed file fails its own step with
its one-line reason; a transient failure retries that file's step only."""

from pathlib import Path

from jobs_pipeline.defs.feeds.validate_feeds import validate_feeds
from jobs_pipeline.defs.resources.job_service import JobServiceResource
from jobs_pipeline.demo.samples import DEMO_FEEDS, write_sample
from jobs_pipeline.jobs.service import JobService
from jobs_pipeline.validation.engine import validate_file as real_validate
from jobs_pipeline_tests.dagster_helpers import QUIET, file_steps, resources_for
from jobs_pipeline_tests.retry.harness import FAST, RefusedNTimes, lake_events

_REFUSED: dict[str, RefusedNTimes] = {}  # outlives the resources rebuilt for each step attempt


class FlakyForOneFile(JobServiceResource):
    """The real validator; files named ``flaky*`` meet a refused connection first."""

    def get_service(self) -> JobService:
        service = super().get_service()

        def validator(path: Path, ruleset, **kwargs):
            if Path(path).name.startswith("flaky"):
                _REFUSED.setdefault(str(path), RefusedNTimes(1))()
            return real_validate(path, ruleset, **kwargs)

        service.validator = validator
        return service


def batch_config(paths: list[Path]) -> dict:
    feeds = [{"path": str(p), "marketplace": "google_merchant", "category": "apparel", "region": "US",
              "job_id": f"00000000-0000-4000-8000-{i:012d}"} for i, p in enumerate(paths)]
    return {"ops": {"plan_feeds": {"config": {"feeds": feeds}}}, **QUIET}


def test_each_file_is_its_own_step_failing_and_retrying_alone(settings, instance):
    folder = settings.data_dir / "in"
    good = write_sample(folder, DEMO_FEEDS[1])
    flaky = folder / "flaky.csv"
    flaky.write_bytes(good.read_bytes())
    empty = folder / "empty.csv"
    empty.write_bytes(b"")
    resources = resources_for(settings)
    base = resources["job_service"]
    resources["job_service"] = FlakyForOneFile(queue=base.queue, telemetry=base.telemetry,
                                               retry_base_s=FAST["base_s"], retry_cap_s=FAST["cap_s"],
                                               retry_throttle_base_s=FAST["throttle_base_s"])
    result = validate_feeds.execute_in_process(run_config=batch_config([good, flaky, empty]), instance=instance,
                                               resources=resources, raise_on_error=False)

    assert not result.success
    steps = file_steps(result)
    ids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(3)]
    assert [steps[i]["success"] for i in ids] == [True, True, False]
    assert steps[ids[0]]["metadata"]["path"] == str(good) and steps[ids[0]]["metadata"]["job_id"] == ids[0]
    failed = steps[ids[2]]["metadata"]
    assert failed["error_type"] == "FeedFormatError" and failed["path"] == str(empty)
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failure.step_key == f"validate_file[{ids[2].replace('-', '')}]"
    assert "\n" not in failure.event_specific_data.user_failure_data.description
    retried = [e.step_key for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert retried == [f"validate_file[{ids[1].replace('-', '')}]"]  # that file only, never the others

    by_job: dict[str, list[str]] = {}
    for event in lake_events(settings.lake_dir):
        by_job.setdefault(event["job_id"], []).append(event["type"])
    assert by_job[ids[0]] == ["job.started", "job.completed"]  # validated once
    assert by_job[ids[1]] == ["job.started", "job.retrying", "job.started", "job.completed"]
    assert by_job[ids[2]] == ["job.started", "job.failed"]
    publisher = resources["job_service"].queue.get_publisher()
    published = {m.body["job_id"] for m in publisher.messages(publisher.queue_for("free", "outcome"))}
    assert set(ids) <= published  # every outcome published, the failed one too
