"""Table-driven: real exceptions raised by the real libraries against local servers, each
with the class the shared classifier must give it."""

import json
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx
import kombu
import kombu.serialization
import pytest
from pytest_httpserver import HTTPServer

from jobs_pipeline.domain.errors import PublishError
from jobs_pipeline.domain.transient import ErrorClass, classify
from jobs_pipeline.validation.engine import validate_file
from jobs_pipeline.validation.ruleset import ruleset_for
from jobs_pipeline_tests import services
from jobs_pipeline_tests.retry import faults
from jobs_pipeline_tests.retry.faults import raised, sqs_client

T, THR, P = ErrorClass.TRANSIENT, ErrorClass.THROTTLED, ErrorClass.PERMANENT
AWS_JSON = "application/x-amz-json-1.0"


@dataclass
class Env:
    """Lazy access to fixtures, so each row starts only the servers it needs."""

    request: pytest.FixtureRequest

    def __getattr__(self, name: str):
        return self.request.getfixturevalue(name)


# -- makers: each performs a real failing call and returns the exception ------------------


def moto_missing_queue(env: Env) -> BaseException:
    sqs = sqs_client(env.moto_server.endpoint_url)
    return raised(lambda: sqs.get_queue_url(QueueName="no-such-queue-issue6"))


def moto_send_to_missing_queue(env: Env) -> BaseException:
    sqs = sqs_client(env.moto_server.endpoint_url)
    url = f"{env.moto_server.endpoint_url}/123456789012/no-such-queue-issue6"
    return raised(lambda: sqs.send_message(QueueUrl=url, MessageBody="{}"))


def fake_aws(status: int, body: dict | str, headers: dict | None = None) -> Callable[[Env], BaseException]:
    """A local endpoint answering like AWS (JSON protocol), parsed by real botocore."""

    def make(env: Env) -> BaseException:
        server: HTTPServer = env.httpserver
        data = json.dumps(body) if isinstance(body, dict) else body
        server.expect_oneshot_request("/").respond_with_data(data, status=status, headers=headers or {},
                                                            content_type=AWS_JSON)
        return raised(lambda: sqs_client(server.url_for("/")).list_queues())

    return make


def boto_closed_port(env: Env) -> BaseException:
    sqs = sqs_client(f"http://127.0.0.1:{faults.closed_port()}")
    return raised(lambda: sqs.list_queues())


def boto_hangup(env: Env) -> BaseException:
    with faults.socket_server(faults.close_at_once) as port:
        return raised(lambda: sqs_client(f"http://127.0.0.1:{port}").list_queues())


def boto_self_signed(env: Env) -> BaseException:
    cert, key = faults.self_signed_cert(env.tmp_path)
    with faults.socket_server(faults.tls_handler(cert, key)) as port:
        return raised(lambda: sqs_client(f"https://127.0.0.1:{port}").list_queues())


def boto_no_credentials(env: Env) -> BaseException:
    mp: pytest.MonkeyPatch = env.monkeypatch
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        mp.delenv(var, raising=False)
    mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(env.tmp_path / "none"))
    mp.setenv("AWS_CONFIG_FILE", str(env.tmp_path / "none"))
    mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # a fresh session: boto3's default one caches the credentials it found earlier
    sqs = boto3.session.Session().client("sqs", endpoint_url=env.moto_server.endpoint_url,
                                         region_name="us-east-1", config=faults.NO_RETRIES)
    return raised(lambda: sqs.list_queues())


def boto_bad_parameter(env: Env) -> BaseException:
    sqs = sqs_client(env.moto_server.endpoint_url)
    return raised(lambda: sqs.send_message(QueueUrl="x", MessageBody=123))  # type: ignore[arg-type]


def socket_refused(env: Env) -> BaseException:
    return raised(lambda: socket.create_connection(("127.0.0.1", faults.closed_port()), timeout=2))


def socket_timeout(env: Env) -> BaseException:
    with faults.socket_server(faults.never_answer) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
            conn.settimeout(0.05)
            return raised(lambda: conn.recv(1))


def missing_file(env: Env) -> BaseException:
    return raised(lambda: (env.tmp_path / "absent.csv").open())


def redis_stopped(env: Env) -> BaseException:
    with services.redis_server() as server:
        client = faults.redis_client(server.url)
        assert client.ping()
        server.stop()
        return raised(client.ping)


def redis_closed_port(env: Env) -> BaseException:
    client = faults.redis_client(port=faults.closed_port())
    return raised(client.ping)


def redis_wrong_type(env: Env) -> BaseException:
    client = faults.redis_client(env.redis_server.url)
    client.set("issue6:string", "x")
    return raised(lambda: client.lpush("issue6:string", "y"))


def kombu_broker_down(env: Env) -> BaseException:
    conn = kombu.Connection(f"redis://127.0.0.1:{faults.closed_port()}/0", connect_timeout=2)
    try:
        return raised(lambda: conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0,
                                                     interval_max=0))
    finally:
        conn.release()


def kombu_unserialisable(env: Env) -> BaseException:
    return raised(lambda: kombu.serialization.dumps(object(), serializer="json"))


def httpx_status(status: int, headers: dict | None = None) -> Callable[[Env], BaseException]:
    def make(env: Env) -> BaseException:
        server: HTTPServer = env.httpserver
        server.expect_oneshot_request("/events").respond_with_data("", status=status, headers=headers or {})
        return raised(lambda: httpx.post(server.url_for("/events"), json={}).raise_for_status())

    return make


def httpx_hangup(env: Env) -> BaseException:
    with faults.socket_server(faults.close_at_once) as port:
        return raised(lambda: httpx.post(f"http://127.0.0.1:{port}/events", json={}))


def httpx_refused(env: Env) -> BaseException:
    return raised(lambda: httpx.get(f"http://127.0.0.1:{faults.closed_port()}/"))


def httpx_read_timeout(env: Env) -> BaseException:
    with faults.socket_server(faults.never_answer) as port:
        return raised(lambda: httpx.get(f"http://127.0.0.1:{port}/", timeout=httpx.Timeout(2, read=0.05)))


def httpx_self_signed(env: Env) -> BaseException:
    cert, key = faults.self_signed_cert(env.tmp_path)
    with faults.socket_server(faults.tls_handler(cert, key)) as port:
        return raised(lambda: httpx.get(f"https://127.0.0.1:{port}/", timeout=2))


def empty_feed(env: Env) -> BaseException:
    path: Path = env.tmp_path / "empty.csv"
    path.write_bytes(b"")
    return raised(lambda: validate_file(path, ruleset_for("google_merchant", None)))


def publish_over_refused(env: Env) -> BaseException:
    """Our PublishError does not declare a class of its own: its cause decides."""

    def publish() -> None:
        try:
            socket.create_connection(("127.0.0.1", faults.closed_port()), timeout=2)
        except OSError as exc:
            raise PublishError("broker unreachable", backend="celery", queue="free") from exc

    return raised(publish)


CASES: list[tuple[str, Callable[[Env], BaseException], str, ErrorClass]] = [
    # (id, maker, expected exception type name, expected class)
    ("moto-get-missing-queue", moto_missing_queue, "QueueDoesNotExist", P),
    ("moto-send-missing-queue", moto_send_to_missing_queue, "QueueDoesNotExist", P),
    ("aws-throttling-code", fake_aws(400, {"__type": "com.amazonaws.sqs#ThrottlingException"}), "ClientError", THR),
    ("aws-sqs-request-throttled-403", fake_aws(403, {"__type": "com.amazonaws.sqs#RequestThrottled"},
                                               {"x-amzn-query-error": "RequestThrottled;Sender"}),
     "RequestThrottled", THR),
    ("aws-request-timeout-code", fake_aws(400, {"__type": "com.amazonaws.sqs#RequestTimeout"}), "ClientError", T),
    ("aws-429", fake_aws(429, "{}"), "ClientError", THR),
    ("aws-503", fake_aws(503, ""), "ClientError", T),
    ("aws-500", fake_aws(500, "{}"), "ClientError", T),
    ("aws-access-denied", fake_aws(403, {"__type": "com.amazonaws.sqs#AccessDeniedException"}), "ClientError", P),
    ("boto-closed-port", boto_closed_port, "EndpointConnectionError", T),
    ("boto-hangup", boto_hangup, "ConnectionClosedError", T),
    ("boto-self-signed-cert", boto_self_signed, "SSLError", P),
    ("boto-no-credentials", boto_no_credentials, "NoCredentialsError", P),
    ("boto-bad-parameter", boto_bad_parameter, "ParamValidationError", P),
    ("socket-refused", socket_refused, "ConnectionRefusedError", T),
    ("socket-timeout", socket_timeout, "TimeoutError", T),
    ("missing-file", missing_file, "FileNotFoundError", P),
    ("redis-stopped-server", redis_stopped, "ConnectionError", T),
    ("redis-closed-port", redis_closed_port, "ConnectionError", T),
    ("redis-wrong-type", redis_wrong_type, "ResponseError", P),
    ("kombu-broker-down", kombu_broker_down, "OperationalError", T),
    ("kombu-unserialisable", kombu_unserialisable, "EncodeError", P),
    ("httpx-503", httpx_status(503), "HTTPStatusError", T),
    ("httpx-429", httpx_status(429, {"Retry-After": "7"}), "HTTPStatusError", THR),
    ("httpx-404", httpx_status(404), "HTTPStatusError", P),
    ("httpx-hangup", httpx_hangup, "RemoteProtocolError", T),
    ("httpx-refused", httpx_refused, "ConnectError", T),
    ("httpx-read-timeout", httpx_read_timeout, "ReadTimeout", T),
    ("httpx-self-signed-cert", httpx_self_signed, "ConnectError", P),
    ("feed-empty-file", empty_feed, "FeedFormatError", P),
    ("publish-error-over-refused", publish_over_refused, "PublishError", T),
]


@pytest.mark.parametrize(("maker", "type_name", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_real_exception_is_classified(request: pytest.FixtureRequest, maker, type_name: str,
                                      expected: ErrorClass) -> None:
    exc = maker(Env(request))
    assert type(exc).__name__ == type_name, f"the library raised {type(exc)!r}: {exc}"
    verdict = classify(exc)
    assert verdict.kind is expected, verdict
    assert verdict.retryable is (expected is not P)
    assert verdict.reason


def test_retry_after_header_is_carried(request: pytest.FixtureRequest) -> None:
    verdict = classify(httpx_status(429, {"Retry-After": "7"})(Env(request)))
    assert verdict.retry_after_s == 7.0
