"""Where the event lake's part files come from, for :func:`~jobs_pipeline.warehouse.events.ingest_lake`.

A :class:`LakeSource` lists the lake's part files (by the name ``lake_files`` records) and
hands out local readable copies; :func:`lake_source` picks the local folder or the S3 prefix
(:mod:`jobs_pipeline.warehouse.s3_lake_source`) for a configured location.
"""

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from jobs_pipeline.storage.uri import is_s3_uri
from jobs_pipeline.telemetry.lake import PART_GLOB


class LakeSource(Protocol):
    def part_files(self) -> list[str]:
        """Every part file of the lake, named as ``lake_files`` records it (a path or a URI), in order."""
        ...

    def fetch(self, names: list[str]) -> AbstractContextManager[list[str]]:
        """Local paths holding ``names`` (same order), readable inside the ``with`` block."""
        ...


@dataclass(frozen=True)
class LocalLakeSource:
    """A lake folder on this machine: its files are read where they are."""

    root: Path

    @classmethod
    def folder(cls, location: str | os.PathLike) -> "LocalLakeSource":
        if "://" in str(location):  # Path() would quietly turn it into a folder that does not exist
            raise ValueError(f"{location} is a URI, not a folder: pick its source with lake_source()")
        return cls(Path(location))

    def part_files(self) -> list[str]:
        return sorted(str(p) for p in Path(self.root).glob(PART_GLOB))

    @contextmanager
    def fetch(self, names: list[str]) -> Iterator[list[str]]:
        yield list(names)


def lake_source(location: str | Path) -> LakeSource:
    """The source of the lake at ``location``: ``s3://bucket/prefix`` or a local folder."""
    if is_s3_uri(str(location)):
        from jobs_pipeline.warehouse.s3_lake_source import S3LakeSource  # boto3 only for an S3 lake

        return S3LakeSource.at(str(location))
    return LocalLakeSource.folder(location)
