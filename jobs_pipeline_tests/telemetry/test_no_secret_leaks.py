"""No secret in any artefact, whatever a sink's failure: the alert webhook and the HTTP telemetry
sink against real servers answering 4xx and 5xx (with a body that echoes the URL), refusing
connections and never answering in time. Planted: the webhook URL with a token in its path
and query, ``TELEMETRY_HTTP_URL`` (same) and ``TELEMETRY_HTTP_TOKEN``, a broker URL with a
password. Searched: the Dagster instance (event log, run storage, every file under it incl.
compute logs), stdout and stderr with every logger at DEBUG, the log records, the lake, the
spool and dead letters."""

import logging
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest
from pytest_httpserver import HTTPServer

from jobs_pipeline.defs.quality.alerts import quality_alert_job
from jobs_pipeline.defs.resources.alerts import WebhookAlertSinkResource
from jobs_pipeline.defs.resources.telemetry import HTTPTelemetryResource, TelemetryResource
from jobs_pipeline.telemetry.http import HTTPTelemetryEmitter
from jobs_pipeline_tests.telemetry.events_factory import stream

HOOK_PATH_SECRET = "hookpath-S3CRET-7f1e"
HOOK_QUERY_SECRET = "hookquery-S3CRET-91ab"
COLLECTOR_PATH_SECRET = "collpath-S3CRET-c3d4"
COLLECTOR_QUERY_SECRET = "collquery-S3CRET-e5f6"
TELEMETRY_TOKEN = "telemetry-token-S3CRET-55aa"
BROKER_PASSWORD = "brokerpw-S3CRET-0c0c"
SECRETS = (HOOK_PATH_SECRET, HOOK_QUERY_SECRET, COLLECTOR_PATH_SECRET, COLLECTOR_QUERY_SECRET,
           TELEMETRY_TOKEN, BROKER_PASSWORD)
CANARY = "canary-not-a-secret-4242"  # a run tag: proves the search reaches run storage

FAILURES = ["400", "401", "404", "413", "500", "503", "refused", "timeout"]

ALERT = {"alert_id": "a-1", "day": "2026-11-29", "partition_key": "amazon:books:US", "marketplace": "amazon",
         "category": "books", "region": "US", "metric": "error_rate", "direction": "spike", "value": 0.5,
         "baseline": 0.1, "score": 9.0, "threshold": 3.0, "relative_change": 4.0, "training_points": 7,
         "training_start": "2026-10-11", "training_end": "2026-11-22"}


@pytest.fixture(autouse=True)
def planted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JOBS_PIPELINE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TELEMETRY_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("TELEMETRY_HTTP_TOKEN", TELEMETRY_TOKEN)
    monkeypatch.setenv("TELEMETRY_HTTP_TIMEOUT_S", "0.3")
    monkeypatch.setenv("TELEMETRY_HTTP_BACKOFF_BASE_S", "0.02")
    monkeypatch.setenv("TELEMETRY_HTTP_BACKOFF_CAP_S", "0.1")
    monkeypatch.setenv("TELEMETRY_HTTP_BATCH_MAX_AGE_S", "0.05")
    monkeypatch.setenv("CELERY_BROKER_URL", f"redis://:{BROKER_PASSWORD}@127.0.0.1:1/0")


@pytest.fixture(autouse=True)
def everything_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every logger at DEBUG, printed to stderr as a deployment would."""
    root, server_log = logging.getLogger(), logging.getLogger("werkzeug")
    handler = logging.StreamHandler(sys.stderr)
    old = root.level, server_log.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    server_log.setLevel(logging.ERROR)  # the test servers' access log: the receiving side, not ours
    caplog.set_level(logging.DEBUG)
    yield
    root.removeHandler(handler)
    root.setLevel(old[0])
    server_log.setLevel(old[1])


@contextmanager
def sleepy_server(seconds: float) -> Iterator[int]:
    """An HTTP server that answers every POST only after ``seconds`` (clients time out)."""
    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            time.sleep(seconds)
            try:
                self.send_response(200)
                self.end_headers()
            except OSError:
                pass

        def log_message(self, *args) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def failing_url(kind: str, httpserver: HTTPServer, path: str, query: str) -> Iterator[str]:
    """A URL (secret path and query) whose server fails the ``kind`` way."""
    rest = f"/{path}/in?token={query}"
    if kind == "refused":
        yield f"http://127.0.0.1:{closed_port()}{rest}"
    elif kind == "timeout":
        with sleepy_server(1.5) as port:
            yield f"http://127.0.0.1:{port}{rest}"
    else:
        url = f"http://127.0.0.1:{httpserver.port}{rest}"
        echo = f"refused request to {url} (token {query})"  # a hostile answer quoting the secret
        httpserver.expect_request(f"/{path}/in", method="POST").respond_with_data(echo, status=int(kind))
        yield url


def dagster_artefacts(instance: dg.DagsterInstance, run_id: str) -> dict[str, bytes]:
    """The event log, the run, and every file the instance wrote (compute logs, SQLite)."""
    out = {f"event {i}": dg.serialize_value(e).encode() for i, e in enumerate(instance.all_logs(run_id))}
    out["run"] = dg.serialize_value(instance.get_run_by_id(run_id)).encode()
    for path in Path(instance.root_directory).rglob("*"):
        if path.is_file():
            out[str(path)] = path.read_bytes()
    return out


def files_under(*roots: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for root in roots if root.exists() for p in root.rglob("*") if p.is_file()}


def leaks(artefacts: dict[str, bytes | str]) -> list[tuple[str, str]]:
    found = []
    for where, content in artefacts.items():
        data = content.encode() if isinstance(content, str) else content
        found += [(where, s) for s in SECRETS if s.encode() in data]
    return found


@pytest.mark.parametrize("kind", FAILURES)
def test_alert_webhook_failures_leak_no_secret(kind, httpserver: HTTPServer, monkeypatch, capfd, caplog) -> None:
    with failing_url(kind, httpserver, f"hooks/{HOOK_PATH_SECRET}", HOOK_QUERY_SECRET) as url:
        monkeypatch.setenv("ALERT_WEBHOOK_URL", url)
        sink = WebhookAlertSinkResource(url=dg.EnvVar("ALERT_WEBHOOK_URL"), timeout_s=0.3)
        with dg.instance_for_test() as instance:
            run = quality_alert_job.execute_in_process(
                run_config={"ops": {"send_quality_alert": {"config": ALERT}}}, resources={"alert_sink": sink},
                instance=instance, raise_on_error=False, tags={"canary": CANARY})
            artefacts = dagster_artefacts(instance, run.run_id)
    assert not run.success  # the run fails (and can be retried)...
    [failure] = run.get_step_failure_events()
    message = failure.event_specific_data.error.to_string()
    assert "alert webhook at http://127.0.0.1:" in message  # ...saying where, by host only
    assert any(CANARY.encode() in v for v in artefacts.values())
    if kind not in ("refused", "timeout"):
        assert f"HTTP {kind}" in message
        assert HOOK_QUERY_SECRET in httpserver.log[0][0].url  # the secret URL was really used
    out, err = capfd.readouterr()
    assert leaks({**artefacts, "stdout": out, "stderr": err, "log records": caplog.text}) == []


@dg.op
def emit_some(telemetry: TelemetryResource) -> None:
    emitter = telemetry.get_emitter()
    for event in stream(3, "secrets"):
        emitter.emit(event)
    emitter.flush()
    http = next(e for e in emitter.emitters if isinstance(e, HTTPTelemetryEmitter))
    http.drain(timeout=1.0)
    http.close(timeout=0.3)
    emitter.close()
    print(f"telemetry: {http!r}")  # what an operator might print while debugging


@dg.job
def emit_job() -> None:
    emit_some()


@pytest.mark.parametrize("kind", FAILURES)
def test_http_telemetry_sink_failures_leak_no_secret(kind, httpserver: HTTPServer, monkeypatch, tmp_path,
                                                     capfd, caplog) -> None:
    lake = tmp_path / "lake"
    with failing_url(kind, httpserver, f"collect/{COLLECTOR_PATH_SECRET}", COLLECTOR_QUERY_SECRET) as url:
        monkeypatch.setenv("TELEMETRY_HTTP_URL", url)
        resource = HTTPTelemetryResource(sinks=["log", "lake", "http"], lake_dir=str(lake),
                                         http_url=dg.EnvVar("TELEMETRY_HTTP_URL"),
                                         http_token=dg.EnvVar("TELEMETRY_HTTP_TOKEN"))
        with dg.instance_for_test() as instance:
            run = emit_job.execute_in_process(resources={"telemetry": resource}, instance=instance,
                                              tags={"canary": CANARY})
            artefacts = dagster_artefacts(instance, run.run_id)
    assert run.success  # a best-effort sink never fails the job
    assert list(lake.glob("date=*/part-*.jsonl"))  # the events themselves were written
    if kind not in ("refused", "timeout"):
        assert httpserver.log and httpserver.log[0][0].headers["Authorization"] == f"Bearer {TELEMETRY_TOKEN}"
    out, err = capfd.readouterr()
    assert "telemetry: HTTPTelemetryEmitter(url='http://127.0.0.1:" in out + err + str(artefacts)
    stored = files_under(lake, tmp_path / "spool")  # events, the spool and the dead letters
    assert leaks({**artefacts, **stored, "stdout": out, "stderr": err, "log records": caplog.text}) == []


def test_resources_and_sinks_print_the_host_only() -> None:
    hook = f"https://user:{BROKER_PASSWORD}@hooks.example:8443/{HOOK_PATH_SECRET}?token={HOOK_QUERY_SECRET}"
    collector = f"https://collector.example/{COLLECTOR_PATH_SECRET}?k={COLLECTOR_QUERY_SECRET}"
    printed = [repr(WebhookAlertSinkResource(url=hook)), str(WebhookAlertSinkResource(url=hook)),
               repr(WebhookAlertSinkResource(url=hook).get_sink().sinks[-1]),
               repr(HTTPTelemetryResource(sinks=["http"], lake_dir="/lake", http_url=collector,
                                          http_token=TELEMETRY_TOKEN))]
    assert leaks({str(i): p for i, p in enumerate(printed)}) == []
    assert "https://hooks.example:8443" in printed[0] and "https://collector.example" in printed[-1]


def test_httpx_request_lines_name_the_host_only(caplog) -> None:
    from jobs_pipeline.telemetry.endpoint import install_httpx_redaction, redact_urls

    install_httpx_redaction()
    url = f"http://u:{BROKER_PASSWORD}@127.0.0.1:9/{HOOK_PATH_SECRET}?t={HOOK_QUERY_SECRET}"
    logging.getLogger("httpx").info('HTTP Request: %s %s "%s"', "POST", url, "HTTP/1.1 503")
    assert leaks({"record": caplog.text}) == [] and "POST http://127.0.0.1:9 " in caplog.text
    assert redact_urls(f"see {url} then 'https://h.example/x?y=1'") == "see http://127.0.0.1:9 then 'https://h.example'"
