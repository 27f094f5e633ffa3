"""Keep AWS credentials out of logs, even at DEBUG.

botocore's DEBUG logs print each signed request, a role's session token included. This filter,
on the botocore loggers that print requests, redacts token and secret values before any handler
sees the record; the access key id and the signature are not secrets and stay readable.
"""

import logging
import re

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


class RedactAwsCredentials(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is botocore's problem, not a reason to drop it
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


_FILTER = RedactAwsCredentials()


def install() -> None:
    """Idempotent: attach the filter to every request-printing botocore logger."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
