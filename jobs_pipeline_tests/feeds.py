"""Small feed-writing helpers for tests."""

from pathlib import Path

from jobs_pipeline.demo.samples import write_csv


def write_feed(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> Path:
    return write_csv(path, rows, columns)
