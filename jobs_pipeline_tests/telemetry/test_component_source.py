"""The CloudEvents ``source`` names the component that emitted: the Celery worker's events say
``worker``, Dagster runs' say ``dagster`` (same deployment, same settings, same collector)."""

import importlib

from jobs_pipeline.domain.model import JobContext
from jobs_pipeline.demo.samples import DEMO_FEEDS, write_sample
from jobs_pipeline.settings import load_settings
from jobs_pipeline_tests.telemetry.collector import Collector
from jobs_pipeline_tests.telemetry.events_factory import stream


def test_worker_and_dagster_events_name_their_component(data_dir, tmp_path, monkeypatch):
    collector = Collector()
    try:
        monkeypatch.setenv("TELEMETRY_SINKS", "http")
        monkeypatch.setenv("TELEMETRY_HTTP_URL", collector.url)
        monkeypatch.setenv("TELEMETRY_SPOOL_DIR", str(tmp_path / "spool"))
        monkeypatch.setenv("DAGSTER_DEPLOYMENT", "staging")
        monkeypatch.delenv("TELEMETRY_SOURCE", raising=False)
        monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")  # the module builds its app on import
        worker = importlib.import_module("jobs_pipeline.worker")
        from jobs_pipeline.defs.resources.telemetry import HTTPTelemetryResource

        settings = load_settings()
        service = worker.build_service(settings)  # what the Celery task runs jobs with
        spec = DEMO_FEEDS[0]
        job = service.create_job(write_sample(tmp_path / "feeds", spec),
                                 JobContext(marketplace=spec.marketplace, category=spec.category, region=spec.region))
        assert service.run(job).status == "completed"
        service.emitter.close()
        [dagster_event] = stream(1, "source")[:1]
        dagster = HTTPTelemetryResource(sinks=["http"], lake_dir=str(data_dir / "lake"),
                                        http_url=collector.url).get_emitter()
        dagster.emit(dagster_event)
        dagster.close()

        by_job = {}
        for e in collector.accepted:
            by_job.setdefault(e["subject"], set()).add(e["source"])
        assert by_job == {str(job.job_id): {"urn:jobs-pipeline:staging:worker"},
                          str(dagster_event.job_id): {"urn:jobs-pipeline:staging:dagster"}}
        assert len(collector.accepted) >= 3  # started, progress…, completed from the worker
    finally:
        collector.stop()
