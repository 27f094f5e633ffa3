"""Quarantine for unusable landing files, and the one rule of which failures quarantine.

A local file is *moved* (never deleted, never through a link) into the quarantine folder next to
a one-line ``<name>.reason.txt``; the S3 path copies the object instead
(:mod:`jobs_pipeline.storage.s3_objects`). Both ask :func:`quarantines` whether a failure makes
the file unusable.
"""

import os
import shutil
import stat
from datetime import UTC, datetime
from pathlib import Path

from jobs_pipeline.domain.errors import FeedError, FeedNotFoundError
from jobs_pipeline.landing.files import shown

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


def _landed(path: Path | str, landing_dir: Path | str) -> tuple[Path, Path] | None:
    """``path`` as (absolute path, path relative to landing) when it is a regular file under the
    landing folder itself: its folder is resolved, the file never (a link is refused, not followed)."""
    path, landing = Path(path), Path(landing_dir).resolve()
    located = path.parent.resolve() / path.name
    if not located.is_relative_to(landing):
        return None
    try:
        st = os.lstat(located)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return located, located.relative_to(landing)


def quarantine_file(path: Path | str, landing_dir: Path | str, quarantine_dir: Path | str, reason: str,
                    *, job_id: str | None = None, error_type: str | None = None) -> Path | None:
    """Move ``path`` (a regular file under ``landing_dir``) into ``quarantine_dir`` with a reason
    file. Returns the new path, or ``None`` when it is not a regular file under the landing folder
    (a symbolic link, even to a landed file, or a path through a linked folder out of landing:
    nothing is moved) or no longer exists. Only that path moves, never what a link points to."""
    landed = _landed(path, landing_dir)
    if landed is None:
        return None
    path, relative = landed
    dest = _free(Path(quarantine_dir).resolve() / relative)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(path, dest)  # a rename on one filesystem; copy-then-remove across filesystems
    lines = [reason.splitlines()[0] if reason else "unusable feed",
             f"error_type: {error_type or 'unknown'}", f"job_id: {job_id or 'unknown'}",
             f"original_path: {shown(str(path))}", f"quarantined_at: {datetime.now(UTC).isoformat()}"]
    dest.with_name(dest.name + REASON_SUFFIX).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dest
