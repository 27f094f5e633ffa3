"""Keep AWS credentials out of logs, even at DEBUG.

botocore's DEBUG logs print each signed request, a role's session token included. This filter,
on the botocore loggers that print requests, redacts token and secret values before any handler
sees the record; the access key id and the signature are not secrets and stay readable.
"""

import logging
import re
from collections.abc import Callable, Iterable

_PATTERNS = [
    re.compile(r"(?i)(x-amz-security-token['\"]?\s*[:=]\s*b?['\"]?)[^'\"\s,}&]+"),
    re.compile(r"(?i)(x-amz-security-token=)[^&\s'\"]+"),  # presigned URLs
    re.compile(r"(?i)((?:aws_)?secret_access_key['\"]?\s*[:=]\s*b?['\"]?)[^'\"\s,}]+"),
    re.compile(r"(?i)((?:aws_)?session_token['\"]?\s*[:=]\s*b?['\"]?)[^'\"\s,}]+"),
]
#: botocore loggers that print request headers, canonical requests or credentials.
LOGGERS = ("botocore.endpoint", "botocore.auth", "botocore.credentials", "botocore.httpsession",
           "botocore.parsers", "botocore.hooks", "urllib3.connectionpool")
REDACTED = "***"


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record's message through ``redact`` before any handler sees it."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the library's problem, not a reason to drop it
            return True
        cleaned = self.redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def attach(log_filter: logging.Filter, loggers: Iterable[str]) -> None:
    """Idempotent: ``log_filter`` on each of ``loggers``."""
    for name in loggers:
        logger = logging.getLogger(name)
        if log_filter not in logger.filters:
            logger.addFilter(log_filter)


class RedactAwsCredentials(RedactingFilter):
    def __init__(self) -> None:
        super().__init__(redact)


_FILTER = RedactAwsCredentials()


def install() -> None:
    """Idempotent: attach the filter to every request-printing botocore logger."""
    attach(_FILTER, LOGGERS)
