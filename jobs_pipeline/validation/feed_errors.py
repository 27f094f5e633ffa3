"""The precise kinds of unusable feed. All are :class:`FeedFormatError` (permanent: the same
bytes fail the same way), so callers that only care "is the file usable" catch that; the
subclass says which limit or defect, for tests, metrics and quarantine reason files."""

from jobs_pipeline.errors import FeedFormatError


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
