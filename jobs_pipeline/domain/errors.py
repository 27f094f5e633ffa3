"""Typed errors of the business core.

Every error a user can meet is one of these, with a one-line reason that a seller or an
on-call engineer understands. Each class declares whether retrying could help
(``retry_class``), so retry decisions never read message text.
"""

from typing import ClassVar


class JobsPipelineError(Exception):
    """Base of the project's own errors."""

    #: "transient", "throttled" or "permanent": how a retry policy must treat this error.
    retry_class: ClassVar[str] = "permanent"

    @property
    def reason(self) -> str:
        """The one-line reason shown to users."""
        return str(self).splitlines()[0] if str(self) else type(self).__name__


class FeedError(JobsPipelineError):
    """A feed file that cannot be validated (permanent: retrying the same bytes cannot help)."""


class FeedNotFoundError(FeedError):
    """The feed's location does not exist or is not a regular file."""


class LandedLinkError(FeedNotFoundError):
    """A landed path that is, or goes through, a symbolic link or is not a regular file when the
    run opens it (landing never follows links: the sensor saw a regular file there)."""


class FeedFormatError(FeedError):
    """The feed exists but its bytes are not a usable table (empty, binary, ragged, ...)."""


class FeedTooLargeError(FeedFormatError):
    """The file (as uploaded) is over the configured size limit."""


class DecompressionBombError(FeedFormatError):
    """A compressed feed expands beyond the configured size or ratio limit."""


class FeedArchiveError(FeedFormatError):
    """A zip with zero or several feeds, or an archive inside an archive."""


class FeedEncodingError(FeedFormatError):
    """Bytes that are neither UTF-8 nor Windows-1252/Latin-1 text (or a mix of both)."""


class FeedStructureError(FeedFormatError):
    """Readable text that is not a table: header only, one giant column, ragged rows,
    duplicate column names."""


class RulesetError(JobsPipelineError):
    """A ruleset that does not exist or does not load."""


class PublishError(JobsPipelineError):
    """A message could not be handed to the queue backend: it was NOT queued."""

    def __init__(self, message: str, *, backend: str, queue: str) -> None:
        super().__init__(f"{backend} queue {queue!r}: {message}")
        self.backend = backend
        self.queue = queue


class PublishRetriesExhausted(PublishError):
    """The publisher retried a transient broker error ``attempts`` times and gave up.

    Final on purpose (``retry_class = "permanent"``): the retrying already happened, inside
    the publisher; an outer retry loop (the ``publish_outcome`` op, a caller's policy) must not
    multiply it. The transient cause stays on ``__cause__`` for logs and diagnosis.
    """

    retry_class = "permanent"

    def __init__(self, message: str, *, backend: str, queue: str, attempts: int) -> None:
        super().__init__(message, backend=backend, queue=queue)
        self.attempts = attempts


class TelemetryDeliveryError(JobsPipelineError):
    """A durable telemetry sink (lake, DuckDB) could not make a job's events durable: events
    failed or were dropped since the last flush, or its flush did not finish in time.

    Transient on purpose: a full disk or a flaky object store may work on the next attempt,
    and the job's retry re-emits every event (a hard-permanent cause such as missing
    credentials still wins, see docs/retries.md).
    """

    retry_class = "transient"

    def __init__(self, sink: str, *, failed_events: int, timed_out: bool = False, detail: str = "") -> None:
        what = (f"flush did not finish in time; {failed_events} event(s) not confirmed" if timed_out
                else f"{failed_events} event(s) not written since the last flush")
        super().__init__(f"telemetry sink {sink}: {what}" + (f" ({detail})" if detail else ""))
        self.sink = sink
        self.failed_events = failed_events
        self.timed_out = timed_out
