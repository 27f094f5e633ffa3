"""Small feed-writing helpers for tests."""

import os
from pathlib import Path

from jobs_pipeline.demo.samples import write_csv


def write_feed(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> Path:
    return write_csv(path, rows, columns)


def land(root: Path, relpath: str, text: str, mtime: float | None) -> Path:
    """Write a landed file at ``root/relpath``, its modification time set to ``mtime`` when given."""
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path
