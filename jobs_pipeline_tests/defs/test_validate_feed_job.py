"""validate_feed through Dagster: execute_in_process on a real (temporary) instance."""

import json

import pytest

from jobs_pipeline.defs.feeds.validate_feed import validate_feed
from jobs_pipeline.queue.publisher import FEED_VALIDATED
from jobs_pipeline.demo.samples import DEMO_FEEDS, write_sample
from jobs_pipeline.telemetry.lake import PART_GLOB
from jobs_pipeline_tests.dagster_helpers import feed_run_config, resources_for


def lake_events(settings):
    return [json.loads(line) for part in settings.lake_dir.glob(PART_GLOB) for line in part.read_text().splitlines()]


def test_a_feed_runs_through_the_ops_and_reports_metadata(settings, instance):
    spec = DEMO_FEEDS[1]
    path = write_sample(settings.data_dir / "in", spec)
    resources = resources_for(settings)
    result = validate_feed.execute_in_process(
        run_config=feed_run_config(path, spec.marketplace, spec.category, spec.region, tier="pro"),
        instance=instance, resources=resources,
    )
    assert result.success
    outcome = result.output_for_node("run_validation")
    assert outcome.metrics.records_error == spec.expected_errors
    mats = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT" and e.step_key == "run_validation"]
    metadata = mats[0].event_specific_data.metadata
    assert metadata["records_total"].value == spec.rows
    assert metadata["error_rate"].value == pytest.approx(spec.expected_errors / spec.rows)
    types = [e["type"] for e in lake_events(settings)]
    assert types[0] == "job.started" and types[-1] == "job.completed"
    publisher = resources["job_service"].queue.get_publisher()
    published = [m for m in publisher.messages(publisher.queue_for("pro", "outcome")) if m.task == FEED_VALIDATED]
    assert not [m for m in publisher.messages("pro") if m.task == FEED_VALIDATED]  # never on the job queue
    assert any(m.body["job_id"] == str(outcome.job.job_id) for m in published)


def test_an_unusable_feed_fails_the_run_after_job_failed_and_its_outcome(settings, instance):
    path = settings.data_dir / "in" / "empty.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    resources = resources_for(settings)
    result = validate_feed.execute_in_process(
        run_config=feed_run_config(path, "google_merchant"), instance=instance, resources=resources,
        raise_on_error=False,
    )
    assert not result.success
    failure = result.failure_data_for_node("run_validation")
    assert "FeedFormatError" in failure.error.message
    events = lake_events(settings)
    assert [e["type"] for e in events] == ["job.started", "job.failed"]
    assert events[-1]["error"]["error_type"] == "FeedFormatError"


def test_a_landed_file_swapped_for_a_link_fails_without_reading_the_target(settings, instance):
    """Between the sensor and the run, a landed file became a link to a file the run may read:
    the run fails with LandedLinkError (a job.failed event) and never reports the target's rows."""
    secret = settings.data_dir / "secret.csv"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text("id,title\n" + "".join(f"{i},private {i}\n" for i in range(5)))
    path = settings.landing_dir / "google_merchant" / "toys" / "US" / "feed.csv"
    path.parent.mkdir(parents=True)
    path.symlink_to(secret)
    result = validate_feed.execute_in_process(
        run_config=feed_run_config(path, "google_merchant"), instance=instance,
        resources=resources_for(settings), raise_on_error=False,
    )
    assert not result.success
    assert "LandedLinkError" in result.failure_data_for_node("run_validation").error.message
    events = lake_events(settings)
    assert [e["type"] for e in events] == ["job.started", "job.failed"]
    assert events[-1]["error"]["error_type"] == "LandedLinkError"
    assert [e["metrics"]["payload_size_bytes"] for e in events] == [0, 0]  # not even the target's size
    assert result.failure_data_for_node("run_validation").user_failure_data.metadata["path"].value == str(path)
    assert path.is_symlink() and secret.exists()  # nothing moved: quarantine never takes a link
    described = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT" and e.step_key == "describe_feed"]
    assert described[0].event_specific_data.metadata["payload_size_bytes"].value == -1


def test_feed_size_limit_from_the_environment_applies_to_dagster_runs(data_dir, monkeypatch, instance):
    from jobs_pipeline.settings import load_settings

    monkeypatch.setenv("FEED_MAX_FILE_BYTES", "1000")
    settings = load_settings()
    spec = DEMO_FEEDS[2]
    path = write_sample(settings.data_dir / "in", spec)  # ~25 KB, over the 1000-byte limit
    result = validate_feed.execute_in_process(
        run_config=feed_run_config(path, spec.marketplace), instance=instance,
        resources=resources_for(settings), raise_on_error=False,
    )
    assert not result.success
    assert [e["error"]["error_type"] for e in lake_events(settings) if e["type"] == "job.failed"] == [
        "FeedTooLargeError"]


def test_the_log_sinks_job_lines_reach_the_run_logs(settings, monkeypatch):
    """dagster.yaml's python_logs captures the `log` sink's logger, so job.* lines show in the run."""
    from pathlib import Path

    import dagster as dg
    import yaml

    monkeypatch.setenv("TELEMETRY_SINKS", "log,lake")
    config = yaml.safe_load((Path(__file__).resolve().parents[2] / "dagster.yaml").read_text())
    spec = DEMO_FEEDS[0]
    path = write_sample(settings.data_dir / "in", spec)
    with dg.instance_for_test(overrides={"python_logs": config["python_logs"]}) as instance:
        from jobs_pipeline.jobs.compose import load_checked_settings

        result = validate_feed.execute_in_process(
            run_config=feed_run_config(path, spec.marketplace, spec.category, spec.region),
            instance=instance, resources=resources_for(load_checked_settings()))
        lines = [e.user_message for e in instance.all_logs(result.run_id) if '"type":"job.' in (e.user_message or "")]
    assert result.success
    assert ['"type":"job.started"' in lines[0], '"type":"job.completed"' in lines[-1]] == [True, True]
