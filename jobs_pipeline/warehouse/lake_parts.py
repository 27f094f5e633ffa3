"""What a lake source lists and reads: part files with their sizes, and byte ranges of them.

Apart from :mod:`jobs_pipeline.warehouse.lake_source` so the S3 source, which that module picks
lazily, can use them without an import cycle."""

from dataclasses import dataclass


@dataclass(frozen=True)
class LakeFile:
    name: str  # as lake_files records it: a path or a URI
    size: int  # bytes when listed


@dataclass(frozen=True)
class ByteRange:
    name: str
    start: int
    end: int  # exclusive
