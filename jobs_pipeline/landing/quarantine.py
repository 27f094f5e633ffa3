"""Quarantine for unusable landing files, and the one rule of which failures quarantine.

A local file is *moved* (never deleted) into the quarantine folder next to a one-line
``<name>.reason.txt``; the S3 path copies the object instead (:mod:`jobs_pipeline.storage.s3_objects`).
Both ask :func:`quarantines` whether a failure makes the file unusable.
"""

import shutil
from datetime import UTC, datetime
from pathlib import Path

from jobs_pipeline.domain.errors import FeedError, FeedNotFoundError

REASON_SUFFIX = ".reason.txt"


def _subclasses(cls: type) -> set[type]:
    out = {cls}
    for sub in cls.__subclasses__():
        out |= _subclasses(sub)
    return out


def quarantines(error_type: str) -> bool:
    """Whether a job that failed with ``error_type`` (a class name) makes its file quarantined:
    every :class:`FeedError` except :class:`FeedNotFoundError` (nothing to move); retrying could
    not help any of them. Used by both the local landing folder and the S3 landing area."""
    names = {c.__name__ for c in _subclasses(FeedError)} - {c.__name__ for c in _subclasses(FeedNotFoundError)}
    return error_type in names


def _free(dest: Path) -> Path:
    """``dest``, or ``dest`` with ``.1``, ``.2``... before the suffix when taken."""
    if not dest.exists():
        return dest
    n = 1
    while (candidate := dest.with_name(f"{dest.stem}.{n}{dest.suffix}")).exists():
        n += 1
    return candidate


def quarantine_file(path: Path | str, landing_dir: Path | str, quarantine_dir: Path | str, reason: str,
                    *, job_id: str | None = None, error_type: str | None = None) -> Path | None:
    """Move ``path`` (a file under ``landing_dir``) into ``quarantine_dir`` with a reason file.
    Returns the new path, or ``None`` when the file is not under the landing folder (it is
    then left where it is) or no longer exists."""
    path, landing = Path(path).resolve(), Path(landing_dir).resolve()
    if not path.is_file() or not path.is_relative_to(landing):
        return None
    dest = _free(Path(quarantine_dir).resolve() / path.relative_to(landing))
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(path, dest)  # a rename on one filesystem; copy-then-remove across filesystems
    lines = [reason.splitlines()[0] if reason else "unusable feed",
             f"error_type: {error_type or 'unknown'}", f"job_id: {job_id or 'unknown'}",
             f"original_path: {path}", f"quarantined_at: {datetime.now(UTC).isoformat()}"]
    dest.with_name(dest.name + REASON_SUFFIX).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dest
