"""Where the event lake's part files come from, for :func:`~jobs_pipeline.warehouse.events.ingest_lake`.

A :class:`LakeSource` lists the lake's part files with their sizes (by the name ``lake_files``
records) and reads byte ranges of them; :func:`lake_source` picks the local folder or the S3
prefix (:mod:`jobs_pipeline.warehouse.s3_lake_source`) for a configured location. Local files
grow (the lake appends, :mod:`jobs_pipeline.telemetry.lake`): the ingestion reads each from
the offset it stored, and only up to the size listed.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from jobs_pipeline.storage.uri import is_s3_uri
from jobs_pipeline.telemetry.lake import PART_GLOB
from jobs_pipeline.warehouse.lake_parts import ByteRange, LakeFile

__all__ = ["ByteRange", "FileListSource", "LakeFile", "LakeSource", "LocalLakeSource", "lake_source"]


class LakeSource(Protocol):
    def listing(self) -> list[LakeFile]:
        """Every part file of the lake with its size, in name order."""
        ...

    def read(self, ranges: list[ByteRange]) -> Iterator[bytes]:
        """The bytes ``[start, end)`` of each range, in order (fewer at the end of a shorter file)."""
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

    def listing(self) -> list[LakeFile]:
        out = []
        for path in sorted(str(p) for p in Path(self.root).glob(PART_GLOB)):
            try:
                out.append(LakeFile(path, os.stat(path).st_size))
            except FileNotFoundError:  # an empty file its writer removed after a failed flush
                continue
        return out

    def part_files(self) -> list[str]:
        return [f.name for f in self.listing()]

    def local_path(self, name: str) -> str:
        """Where ``name`` is on this machine (the ingestion copies ranges of it file to file)."""
        return name

    def read(self, ranges: list[ByteRange]) -> Iterator[bytes]:
        for r in ranges:
            try:
                with open(r.name, "rb") as fh:
                    fh.seek(r.start)
                    yield fh.read(r.end - r.start)
            except FileNotFoundError:  # an empty file its writer removed after a failed flush
                yield b""


@dataclass(frozen=True)
class FileListSource:
    """Given local files (``ingest_files``), recorded under ``names`` (default: their paths)."""

    files: tuple[str, ...]
    names: tuple[str, ...]

    def listing(self) -> list[LakeFile]:
        return [LakeFile(n, os.stat(f).st_size) for f, n in zip(self.files, self.names)]

    def local_path(self, name: str) -> str:
        return dict(zip(self.names, self.files))[name]

    def read(self, ranges: list[ByteRange]) -> Iterator[bytes]:
        where = dict(zip(self.names, self.files))
        return LocalLakeSource(Path(".")).read([ByteRange(where[r.name], r.start, r.end) for r in ranges])


def lake_source(location: str | Path) -> LakeSource:
    """The source of the lake at ``location``: ``s3://bucket/prefix`` or a local folder."""
    if is_s3_uri(str(location)):
        from jobs_pipeline.warehouse.s3_lake_source import S3LakeSource  # boto3 only for an S3 lake

        return S3LakeSource.at(str(location))
    return LocalLakeSource.folder(location)
