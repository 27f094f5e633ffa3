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


class SettingsError(JobsPipelineError):
    """A missing or wrong environment variable, detected at start-up."""


class FeedError(JobsPipelineError):
    """A feed file that cannot be validated (permanent: retrying the same bytes cannot help)."""


class FeedNotFoundError(FeedError):
    """The feed's location does not exist or is not a regular file."""


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
