"""The landing folder (``<landing>/<marketplace>/<category>/<region>/<file>``): which files are
feeds, what context their path gives, when they are ready (no temporary name, size and mtime
settled) and how each version is identified: its digest (path + size + mtime, + ETag on S3) is
the sensor's ``run_key`` and, through a UUIDv5, the job's id. ``path`` may be ``s3://bucket/key``.
"""

import hashlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from jobs_pipeline.domain.model import JobContext, Tier

TEMP_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".filepart", ".swp")
_JOB_NS = uuid.UUID("a9c51f3e-7a0b-4d43-9d0f-5b8f6a3e2c10")


@dataclass(frozen=True)
class LandedFile:
    relpath: str
    path: Path | str
    size: int
    mtime_ns: int
    etag: str | None = None

    @property
    def version(self) -> str:
        base = f"{self.relpath}|{self.size}|{self.mtime_ns}"
        return f"{base}|{self.etag}" if self.etag else base

    @property
    def run_key(self) -> str:
        return hashlib.sha256(self.version.encode()).hexdigest()[:32]

    @property
    def digest(self) -> str:
        """Short fingerprint kept in the sensor cursor."""
        return self.run_key[:16]

    @property
    def job_id(self) -> uuid.UUID:
        return uuid.uuid5(_JOB_NS, self.version)


def is_temporary(name: str) -> bool:
    return name.startswith((".", "~")) or name.lower().endswith(TEMP_SUFFIXES)


def context_from_relpath(relpath: str, tier: Tier | str = Tier.FREE) -> JobContext:
    """``marketplace/category/region/file`` -> context; ``ValueError`` with the reason otherwise."""
    parts = Path(relpath).parts
    if len(parts) != 4:
        raise ValueError(
            f"{relpath}: expected <marketplace>/<category>/<region>/<file>, got {len(parts) - 1} folder level(s)"
        )
    marketplace, category, region, _ = parts
    try:
        return JobContext(marketplace=marketplace, category=category, region=region, tier=tier)
    except ValidationError as exc:
        raise ValueError(f"{relpath}: {exc.errors()[0]['msg']}") from None


def scan_landing(root: Path | str) -> Iterator[LandedFile]:
    """Every regular, non-temporary file under ``root`` (a file vanishing mid-scan is skipped)."""
    root = Path(root)
    if not root.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if is_temporary(name):
                continue
            path = Path(dirpath) / name
            try:
                st = path.stat()
            except OSError:
                continue
            yield LandedFile(relpath=path.relative_to(root).as_posix(), path=path, size=st.st_size,
                             mtime_ns=st.st_mtime_ns)
