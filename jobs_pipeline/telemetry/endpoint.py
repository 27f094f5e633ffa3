"""Name where a secret-bearing URL points without the secret in it.

Webhook and collector URLs may carry tokens in their path, query or user info, so errors and
log lines name ``scheme://host:port`` only (:func:`endpoint`, :class:`DeliveryError`), and
:func:`install_httpx_redaction` cuts httpx's own request log lines down the same way.
"""

import re
from urllib.parse import urlsplit

from jobs_pipeline.storage.log_redaction import RedactingFilter, attach

#: ``scheme://[userinfo@]host[:port]`` then anything up to a blank or a quote.
_URL = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)(?:[^@/\s'\"<>]*@)?([^/?#\s'\"<>]*)[^\s'\"<>]*")


def endpoint(url: object) -> str:
    """``scheme://host[:port]`` of ``url``: no user info, path or query."""
    try:
        parts = urlsplit(str(url))
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable URL>"
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return f"{parts.scheme or '?'}://{host}{port}"


def host_only(value: object) -> object:
    """For a ``repr``: a URL string cut to its :func:`endpoint`; anything else (a Dagster
    ``EnvVar``, resolved later, shows only its name) unchanged."""
    return endpoint(value) if type(value) is str and "://" in value else value


def redact_urls(text: str) -> str:
    """Every URL in ``text`` cut down to its :func:`endpoint`."""
    return _URL.sub(lambda m: m.group(1) + m.group(2), text)


class DeliveryError(RuntimeError):
    """A sink could not deliver: which sink, what went wrong, and the host only (never the URL
    or the server's answer, which may echo it)."""

    def __init__(self, sink: str, url: object, reason: str, *, status: int | None = None) -> None:
        self.sink, self.endpoint, self.reason, self.status = sink, endpoint(url), reason, status
        super().__init__(f"{sink} at {self.endpoint}: {reason}")


_FILTER = RedactingFilter(redact_urls)
#: Loggers that print request URLs (httpx: one INFO line per request).
LOGGERS = ("httpx",)


def install_httpx_redaction() -> None:
    """Idempotent: httpx's request lines name the host only."""
    attach(_FILTER, LOGGERS)


