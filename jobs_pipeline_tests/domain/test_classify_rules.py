"""The classifier's rules, one structured field at a time: every botocore code, HTTP
status and errno in the tables; chains, groups, our own errors, missing libraries."""

import errno
import socket
import subprocess
import sys
import textwrap

import httpx
import pytest
from botocore.exceptions import ClientError, NoCredentialsError

from jobs_pipeline.domain.errors import FeedFormatError, FeedNotFoundError, JobsPipelineError, PublishError
from jobs_pipeline.domain.retry import JobRetryRequested, RetryDecision
from jobs_pipeline.domain.transient import (
    THROTTLING_ERROR_CODES,
    TRANSIENT_ERRNOS,
    TRANSIENT_ERROR_CODES,
    ErrorClass,
    classify,
    is_retryable,
)

T, THR, P = ErrorClass.TRANSIENT, ErrorClass.THROTTLED, ErrorClass.PERMANENT


def client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "irrelevant"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "SendMessage")


@pytest.mark.parametrize("code", sorted(TRANSIENT_ERROR_CODES))
def test_transient_aws_codes(code: str) -> None:
    assert classify(client_error(code, 400)).kind is T


@pytest.mark.parametrize("code", sorted(THROTTLING_ERROR_CODES))
def test_throttling_aws_codes(code: str) -> None:
    assert classify(client_error(code, 400)).kind is THR


@pytest.mark.parametrize(("status", "expected"), [(500, T), (502, T), (503, T), (504, T), (429, THR),
                                                  (400, P), (403, P), (404, P), (501, P)])
def test_aws_status_when_code_is_unknown(status: int, expected: ErrorClass) -> None:
    assert classify(client_error("SomethingElse", status)).kind is expected


def test_aws_message_text_is_never_read() -> None:
    exc = ClientError({"Error": {"Code": "AccessDenied", "Message": "Throttling: timeout, try again"},
                       "ResponseMetadata": {"HTTPStatusCode": 403}}, "SendMessage")
    assert classify(exc).kind is P


@pytest.mark.parametrize("name", ["ECONNRESET", "ECONNREFUSED", "ECONNABORTED", "EPIPE", "ETIMEDOUT",
                                  "EHOSTUNREACH", "EHOSTDOWN", "ENETUNREACH", "ENETDOWN", "EAGAIN",
                                  "EADDRNOTAVAIL"])
def test_transient_errnos(name: str) -> None:
    code = getattr(errno, name)
    assert code in TRANSIENT_ERRNOS
    exc = OSError(code, "whatever")  # PEP 3151 may pick a subclass; errno still decides
    assert classify(exc).kind is T


@pytest.mark.parametrize("name", ["ENOENT", "EACCES", "ENOSPC", "EROFS", "EISDIR", "EPERM", "EEXIST"])
def test_permanent_errnos(name: str) -> None:
    assert classify(OSError(getattr(errno, name), "connection reset by peer, timeout")).kind is P


def test_builtin_connection_errors_and_timeouts() -> None:
    for exc in (ConnectionResetError(), ConnectionRefusedError(), ConnectionAbortedError(), BrokenPipeError(),
                TimeoutError(), socket.timeout(), BlockingIOError(), InterruptedError()):
        assert classify(exc).kind is T, exc


def test_name_resolution_only_try_again_is_transient() -> None:
    assert classify(socket.gaierror(socket.EAI_AGAIN, "x")).kind is T
    assert classify(socket.gaierror(socket.EAI_NONAME, "x")).kind is P


def test_httpx_status_codes_and_retry_after() -> None:
    request = httpx.Request("POST", "http://127.0.0.1/events")

    def status_error(status: int, headers: dict | None = None) -> httpx.HTTPStatusError:
        response = httpx.Response(status, headers=headers, request=request)
        return httpx.HTTPStatusError("x", request=request, response=response)

    assert classify(status_error(503, {"Retry-After": "2"})).retry_after_s == 2.0
    assert classify(status_error(408)).kind is T
    assert classify(status_error(429)).kind is THR
    assert classify(status_error(400)).kind is P
    assert classify(status_error(503, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})).retry_after_s is None


def test_own_errors_declare_their_class() -> None:
    class Throttled(JobsPipelineError):
        retry_class = "throttled"

    assert classify(Throttled("x")).kind is THR
    assert classify(FeedFormatError("empty")).kind is P
    assert classify(FeedNotFoundError("gone")).kind is P
    retry = JobRetryRequested(job_id="j", attempt=1, decision=RetryDecision(retry=True), cause=OSError())
    assert classify(retry).kind is T


def test_cause_and_context_chains_are_walked() -> None:
    try:
        try:
            raise ConnectionResetError(errno.ECONNRESET, "reset")
        except OSError as inner:
            raise PublishError("not queued", backend="sqs", queue="free") from inner
    except PublishError as outer:
        verdict = classify(outer)
    assert verdict.kind is T and "ConnectionResetError" in verdict.reason

    try:
        try:
            raise TimeoutError()
        except TimeoutError:
            raise RuntimeError("while handling")  # implicit __context__
    except RuntimeError as exc:
        assert classify(exc).kind is T


def test_hard_permanent_cause_beats_a_retryable_wrapper() -> None:
    outer = ConnectionError("wrapper")
    outer.__cause__ = NoCredentialsError()
    assert classify(outer).kind is P


def test_cycles_terminate_and_default_is_permanent() -> None:
    a, b = ValueError("a"), KeyError("b")
    a.__context__, b.__context__ = b, a
    assert classify(a).kind is P
    assert classify(KeyboardInterrupt()).kind is P
    assert not is_retryable(ValueError())


def test_exception_groups() -> None:
    assert classify(ExceptionGroup("g", [TimeoutError(), client_error("SlowDown", 503)])).kind is THR
    assert classify(ExceptionGroup("g", [TimeoutError(), ConnectionResetError()])).kind is T
    assert classify(ExceptionGroup("g", [TimeoutError(), ValueError()])).kind is P


def test_classification_api() -> None:
    verdict = classify(ConnectionRefusedError())
    assert verdict.retryable and verdict.kind == "transient" and isinstance(verdict.kind, str)
    with pytest.raises(AttributeError):
        verdict.kind = P  # type: ignore[misc]  # frozen


def test_works_without_optional_backend_libraries() -> None:
    """A deployment without botocore/kombu/redis/httpx still imports and classifies."""
    code = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split('.')[0] in {'botocore', 'boto3', 'kombu', 'amqp', 'redis', 'httpx', 'httpcore', 'urllib3'}:
                    raise ImportError(name)
        sys.meta_path.insert(0, Block())
        from jobs_pipeline.domain.transient import classify
        assert classify(ConnectionRefusedError()).kind == 'transient'
        assert classify(ValueError()).kind == 'permanent'
        assert not any(m.split('.')[0] in {'botocore', 'kombu', 'redis', 'httpx'} for m in sys.modules)
        print('ok')
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
