"""Reading a landed object for validation, quarantining an unusable one, publishing a report.

A download stops at ``max_bytes``, so an oversized upload never fills the disk; quarantine
*copies* the object beside a ``.reason.json`` and never touches the seller's original.
"""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jobs_pipeline.domain.errors import FeedFormatError, FeedNotFoundError
from jobs_pipeline.storage.uri import S3Uri

CHUNK_BYTES = 1024 * 1024
REASON_SUFFIX = ".reason.json"


class ObjectTooLargeError(FeedFormatError):
    """The object is over the configured size limit (permanent: the same bytes stay too big)."""


def _error_code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def download_object(client: Any, bucket: str, key: str, dest_dir: Path, *, max_bytes: int) -> Path:
    """Stream ``s3://bucket/key`` into ``dest_dir/<basename>``; at most ``max_bytes``."""
    name = key.rsplit("/", 1)[-1]
    try:
        response = client.get_object(Bucket=bucket, Key=key)
    except Exception as exc:
        if _error_code(exc) in {"NoSuchKey", "404", "NotFound"}:
            raise FeedNotFoundError(f"feed not found: s3://{bucket}/{key}") from None
        raise  # network, throttling, access: classified by the retry policy
    if int(response.get("ContentLength", 0)) > max_bytes:
        response["Body"].close()
        raise ObjectTooLargeError(f"{name}: {response['ContentLength']} bytes is over the {max_bytes}-byte limit")
    dest = Path(dest_dir) / name
    written = 0
    with dest.open("wb") as out:
        for chunk in response["Body"].iter_chunks(CHUNK_BYTES):
            written += len(chunk)
            if written > max_bytes:
                response["Body"].close()
                raise ObjectTooLargeError(f"{name}: more than the {max_bytes}-byte limit")
            out.write(chunk)
    return dest


def quarantine_object(
    client: Any, bucket: str, key: str, quarantine: S3Uri, relpath: str, reason: str, *, etag: str | None = None
) -> str:
    """Copy the object to ``<quarantine>/<relpath>`` with a reason object; return the copy's URI."""
    target = quarantine.key(relpath)
    source: dict[str, Any] = {"CopySource": {"Bucket": bucket, "Key": key}}
    if etag:
        source["CopySourceIfMatch"] = f'"{etag}"'  # quarantine exactly the version judged
    client.copy_object(Bucket=quarantine.bucket, Key=target, **source)
    body = {
        "source": f"s3://{bucket}/{key}",
        "etag": etag,
        "reason": reason,
        "quarantined_at": datetime.now(UTC).isoformat(),
    }
    client.put_object(Bucket=quarantine.bucket, Key=target + REASON_SUFFIX,
                      Body=json.dumps(body, indent=2).encode(), ContentType="application/json")
    return f"s3://{quarantine.bucket}/{target}"


def upload_file(client: Any, path: Path, destination: S3Uri, relpath: str, *,
                extra_args: dict[str, Any] | None = None) -> str:
    """Upload a local file (e.g. an error report) to ``<destination>/<relpath>``; return its URI.

    boto3's managed transfer: multipart past its threshold (8 MiB), so a large report is safe."""
    key = destination.key(relpath)
    client.upload_file(str(path), destination.bucket, key, ExtraArgs=extra_args or None)
    return f"s3://{destination.bucket}/{key}"
