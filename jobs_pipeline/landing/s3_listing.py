"""One bounded window of the S3 landing area, as :class:`LandedFile` objects with ETags.

Listing starts after a marker (``StartAfter``) and stops after ``max_keys`` keys, so a sensor
tick costs a few requests, never a full scan; the window's last key is the next marker. Folder
markers, temporary names and excluded prefixes (quarantine, reports) are skipped.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from jobs_pipeline.landing.files import LandedFile, is_temporary
from jobs_pipeline.storage.uri import S3Uri


@dataclass
class ListingWindow:
    files: list[LandedFile] = field(default_factory=list)
    last_relpath: str = ""  # the last key listed (skipped ones included), relative to the prefix
    exhausted: bool = False  # True when the listing reached the end of the prefix
    requests: int = 0


def landed_object(root: S3Uri, obj: dict[str, Any]) -> LandedFile:
    key = obj["Key"]
    return LandedFile(
        relpath=key[len(root.prefix):],
        path=f"s3://{root.bucket}/{key}",
        size=int(obj["Size"]),
        mtime_ns=int(obj["LastModified"].timestamp() * 1_000_000_000),
        etag=str(obj.get("ETag", "")).strip('"') or None,
    )


def list_window(
    client: Any,
    root: S3Uri,
    *,
    start_after: str = "",
    max_keys: int = 1000,
    page_size: int = 1000,
    exclude_prefixes: Sequence[str] = (),
) -> ListingWindow:
    """List up to ``max_keys`` keys under ``root`` after the relative path ``start_after``."""
    window = ListingWindow(last_relpath=start_after)
    args: dict[str, Any] = {"Bucket": root.bucket, "Prefix": root.prefix}
    if start_after:
        args["StartAfter"] = root.key(start_after)
    remaining = max_keys
    while remaining > 0:
        page = client.list_objects_v2(**args, MaxKeys=min(page_size, remaining))
        window.requests += 1
        contents = page.get("Contents", [])
        for obj in contents:
            key: str = obj["Key"]
            window.last_relpath = key[len(root.prefix):]
            name = key.rsplit("/", 1)[-1]
            if not name or is_temporary(name) or any(key.startswith(p) for p in exclude_prefixes):
                continue
            window.files.append(landed_object(root, obj))
        remaining -= len(contents)
        if not page.get("IsTruncated"):
            window.exhausted = True
            break
        if not contents:  # defensive: a truncated page with no keys would loop forever
            break
        args["ContinuationToken"] = page["NextContinuationToken"]
        args.pop("StartAfter", None)
    return window
