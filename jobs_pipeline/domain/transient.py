"""Transient, throttled or permanent: the one type-based classifier of failures.

Every place that may retry asks :func:`classify`. It reads exception types, structured fields
(AWS ``Error.Code``, HTTP status) and ``errno``, never message text; backend libraries are
optional and looked up lazily. The rules and their order: docs/retries.md.
"""

import errno
import importlib
import importlib.util
import socket
import ssl
import sys
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

__all__ = [
    "ErrorClass",
    "Classification",
    "classify",
    "is_retryable",
    "THROTTLING_ERROR_CODES",
    "TRANSIENT_ERROR_CODES",
    "TRANSIENT_HTTP_STATUS",
    "THROTTLED_HTTP_STATUS",
    "TRANSIENT_ERRNOS",
]


class ErrorClass(StrEnum):
    """How a retry policy must treat a failure."""

    TRANSIENT = "transient"  # retry with the normal backoff
    THROTTLED = "throttled"  # retry, with the longer throttling backoff
    PERMANENT = "permanent"  # retrying the same thing cannot succeed: fail now


@dataclass(frozen=True)
class Classification:
    """The verdict and a short machine-made reason (type name, code, status, errno)."""

    kind: ErrorClass
    reason: str
    #: a server-given minimum wait (HTTP ``Retry-After`` seconds), when it sent one.
    retry_after_s: float | None = None

    @property
    def retryable(self) -> bool:
        return self.kind is not ErrorClass.PERMANENT


# -- the tables (botocore standard retry mode, PEP 3151, rclone/azcopy errno lists) -------

#: botocore ``TransientRetryableChecker`` error codes.
TRANSIENT_ERROR_CODES = frozenset({"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"})

#: botocore ``ThrottledRetryableChecker`` error codes (``PriorRequestNotComplete`` is
#: listed there too; we report it as transient, as the transient list comes first).
THROTTLING_ERROR_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException",
    "TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded",
    "LimitExceededException", "RequestThrottled", "SlowDown", "EC2ThrottledException",
})

TRANSIENT_HTTP_STATUS = frozenset({500, 502, 503, 504})
#: 408 Request Timeout is a transient answer of plain HTTP servers (not of AWS, which uses codes).
TRANSIENT_HTTP_STATUS_PLAIN = TRANSIENT_HTTP_STATUS | {408}
THROTTLED_HTTP_STATUS = frozenset({429})


def _errnos(*names: str) -> frozenset[int]:
    return frozenset(getattr(errno, n) for n in names if hasattr(errno, n))


#: Network-level errnos that say "the other side or the path is (momentarily) not there".
TRANSIENT_ERRNOS = _errnos(
    "ECONNRESET", "ECONNREFUSED", "ECONNABORTED", "EPIPE", "ESHUTDOWN", "ETIMEDOUT",
    "EHOSTUNREACH", "EHOSTDOWN", "ENETUNREACH", "ENETDOWN", "ENETRESET", "EAGAIN",
    "EWOULDBLOCK", "EINTR", "EADDRNOTAVAIL", "EADDRINUSE", "EBUSY",
)

#: ``getaddrinfo`` errors (``socket.gaierror.errno``): only "try again" is transient.
TRANSIENT_GAI_ERRORS = frozenset(
    getattr(socket, n) for n in ("EAI_AGAIN",) if hasattr(socket, n)
)

_T, _THR, _P = ErrorClass.TRANSIENT, ErrorClass.THROTTLED, ErrorClass.PERMANENT


# -- optional libraries ---------------------------------------------------------------------


@lru_cache(maxsize=None)
def _types(module: str, *names: str) -> tuple[type[BaseException], ...]:
    """The named exception classes of ``module``, or ``()`` if the library is not installed."""
    top = module.split(".")[0]
    try:
        # kombu swaps its module object for a lazy one whose __spec__ is None, on which
        # find_spec raises ValueError: an already-imported library needs no lookup.
        if top not in sys.modules and importlib.util.find_spec(top) is None:
            return ()
        mod = importlib.import_module(module)
    except (ImportError, ValueError):
        return ()
    return tuple(t for t in (getattr(mod, n, None) for n in names) if isinstance(t, type))


def _isinstance(exc: BaseException, module: str, *names: str) -> bool:
    classes = _types(module, *names)
    return bool(classes) and isinstance(exc, classes)


# -- the classifier -------------------------------------------------------------------------


def classify(exc: BaseException) -> Classification:
    """Classify ``exc`` as transient, throttled or permanent, by type and structured fields."""
    chain = _chain(exc)
    for link in chain:
        hard = _hard_permanent(link)
        if hard is not None:
            return hard
    for link in chain:
        verdict = _classify_one(link)
        if verdict is not None:
            if link is not exc:
                return Classification(verdict.kind, f"{type(exc).__name__} caused by {verdict.reason}",
                                      verdict.retry_after_s)
            return verdict
    return Classification(_P, f"{type(exc).__name__} is not a known transient error")


def is_retryable(exc: BaseException) -> bool:
    """Shortcut for callers that only need yes/no (publisher and emitter retry loops)."""
    return classify(exc).retryable


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` then everything it was raised from or while handling, depth first: each
    link's ``__cause__`` before its ``__context__``. A suppressed context (``raise ...
    from None``) is still visited: httpcore suppresses the ``SSLCertVerificationError``
    behind its ``ConnectError``, and that is exactly the fact we need. Cycles are cut."""
    seen: set[int] = set()
    out: list[BaseException] = []
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        out.append(current)
        for nxt in (current.__context__, current.__cause__):  # pushed in reverse: cause first
            if nxt is not None and id(nxt) not in seen:
                stack.append(nxt)
    return out


def _hard_permanent(exc: BaseException) -> Classification | None:
    """Failures that no retry can fix, even when wrapped in a retryable-looking type."""
    name = type(exc).__name__
    if _isinstance(exc, "botocore.exceptions", "NoCredentialsError", "PartialCredentialsError",
                   "CredentialRetrievalError", "ParamValidationError", "NoRegionError",
                   "UnknownServiceError", "SSLError"):
        return Classification(_P, f"botocore {name}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return Classification(_P, f"certificate verification failed ({name})")
    if _isinstance(exc, "redis.exceptions", "AuthenticationError", "AuthorizationError",
                   "AuthenticationWrongNumberOfArgsError", "NoPermissionError"):
        return Classification(_P, f"redis {name}")
    if _isinstance(exc, "kombu.exceptions", "SerializationError", "ContentDisallowed"):
        return Classification(_P, f"kombu {name}")
    return None


def _classify_one(exc: BaseException) -> Classification | None:
    """The verdict for this exception alone, or None when its type says nothing."""
    if isinstance(exc, BaseExceptionGroup):
        return _classify_group(exc)
    for check in (_own_error, _botocore, _kombu, _redis, _httpx, _urllib3, _builtin):
        verdict = check(exc)
        if verdict is not None:
            return verdict
    return None


def _own_error(exc: BaseException) -> Classification | None:
    """Our errors declare ``retry_class``. A subclass that does not override the base's
    default defers to its cause (a ``PublishError`` wrapping a refused connection is
    transient); with no recognised cause it stays permanent (the chain's default)."""
    from jobs_pipeline.domain.errors import JobsPipelineError  # no Dagster/Celery: safe, lazy for cycles

    if not isinstance(exc, JobsPipelineError):
        return None
    declared = next((klass.__dict__["retry_class"] for klass in type(exc).__mro__
                     if klass is not JobsPipelineError and "retry_class" in klass.__dict__), None)
    if declared is None:
        return None
    try:
        kind = ErrorClass(declared)
    except ValueError:
        kind = _P
    return Classification(kind, f"{type(exc).__name__} declares {kind.value}")


def _botocore(exc: BaseException) -> Classification | None:
    name = type(exc).__name__
    if _isinstance(exc, "botocore.exceptions", "ClientError"):
        response = getattr(exc, "response", None) or {}
        code = (response.get("Error") or {}).get("Code") or ""
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        where = f"AWS {code or '?'} (HTTP {status})"
        if code in TRANSIENT_ERROR_CODES:
            return Classification(_T, f"{where}: transient error code")
        if code in THROTTLING_ERROR_CODES:
            return Classification(_THR, f"{where}: throttling error code")
        if status in THROTTLED_HTTP_STATUS:
            return Classification(_THR, f"{where}: throttling status")
        if status in TRANSIENT_HTTP_STATUS:
            return Classification(_T, f"{where}: server error status")
        return Classification(_P, f"{where}: client error")
    if _isinstance(exc, "botocore.exceptions", "ConnectionError", "HTTPClientError"):
        return Classification(_T, f"botocore {name}")
    return None


def _kombu(exc: BaseException) -> Classification | None:
    if _isinstance(exc, "kombu.exceptions", "OperationalError", "ConnectionLimitExceeded"):
        return Classification(_T, f"kombu {type(exc).__name__}")
    # amqp's recoverable connection/channel errors, re-exported by kombu.
    if _isinstance(exc, "amqp.exceptions", "RecoverableConnectionError", "RecoverableChannelError"):
        return Classification(_T, f"amqp {type(exc).__name__}")
    return None


def _redis(exc: BaseException) -> Classification | None:
    name = type(exc).__name__
    if _isinstance(exc, "redis.exceptions", "ConnectionError", "TimeoutError", "TryAgainError",
                   "ClusterDownError", "ReadOnlyError"):
        # ReadOnlyError: a replica answered during a failover; the primary comes back.
        return Classification(_T, f"redis {name}")
    return None


def _httpx(exc: BaseException) -> Classification | None:
    name = type(exc).__name__
    if _isinstance(exc, "httpx", "HTTPStatusError"):
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
        retry_after = _retry_after(response)
        if status in THROTTLED_HTTP_STATUS:
            return Classification(_THR, f"HTTP {status}", retry_after)
        if status in TRANSIENT_HTTP_STATUS_PLAIN:
            return Classification(_T, f"HTTP {status}", retry_after)
        return Classification(_P, f"HTTP {status}")
    if _isinstance(exc, "httpx", "UnsupportedProtocol", "LocalProtocolError", "InvalidURL",
                   "DecodingError", "TooManyRedirects"):
        return Classification(_P, f"httpx {name}")
    if _isinstance(exc, "httpx", "TransportError"):  # timeouts, network, remote protocol, proxy
        return Classification(_T, f"httpx {name}")
    return None


def _urllib3(exc: BaseException) -> Classification | None:
    name = type(exc).__name__
    if _isinstance(exc, "urllib3.exceptions", "SSLError"):
        return None  # decided by its cause (certificate failure) or left permanent
    if _isinstance(exc, "urllib3.exceptions", "TimeoutError", "ProtocolError", "NewConnectionError"):
        return Classification(_T, f"urllib3 {name}")
    return None


def _builtin(exc: BaseException) -> Classification | None:
    name = type(exc).__name__
    if isinstance(exc, socket.gaierror):
        if exc.errno in TRANSIENT_GAI_ERRORS:
            return Classification(_T, f"name resolution: try again ({name})")
        return Classification(_P, f"name resolution failed ({name} {exc.errno})")
    if isinstance(exc, (ConnectionError, TimeoutError, BlockingIOError, InterruptedError)):
        return Classification(_T, f"{name}{_errno_suffix(exc)}")
    if isinstance(exc, OSError) and exc.errno is not None:
        code = errno.errorcode.get(exc.errno, str(exc.errno))
        if exc.errno in TRANSIENT_ERRNOS:
            return Classification(_T, f"{name} errno {code}")
        return Classification(_P, f"{name} errno {code}")
    return None


def _classify_group(group: BaseExceptionGroup) -> Classification:
    """Retry a group only if every member is retryable; throttling wins over transient."""
    verdicts = [classify(e) for e in group.exceptions]
    if not verdicts or any(not v.retryable for v in verdicts):
        return Classification(_P, f"{type(group).__name__} with a permanent member")
    kind = _THR if any(v.kind is _THR for v in verdicts) else _T
    return Classification(kind, f"{type(group).__name__}: all {len(verdicts)} members {kind.value}")


def _errno_suffix(exc: OSError) -> str:
    return f" errno {errno.errorcode.get(exc.errno, exc.errno)}" if exc.errno is not None else ""


def _retry_after(response: object) -> float | None:
    """``Retry-After`` in seconds (the delta form; an HTTP date is ignored)."""
    headers = getattr(response, "headers", None)
    value = headers.get("retry-after") if headers is not None else None
    if value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 else None
