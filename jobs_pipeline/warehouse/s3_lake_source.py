"""The event lake on S3 as a :class:`~jobs_pipeline.warehouse.lake_source.LakeSource`.

DuckDB's S3 support (httpfs) is an extension downloaded at run time, which locked-down hosts
cannot do; boto3 is already needed. So part objects are listed with boto3 and read with ranged
``GetObject`` calls, :data:`READ_THREADS` at a time (an S3 lake holds one object per flush: the
request latency, not the bytes, is the cost), and recorded under their ``s3://`` URIs.
"""

import fnmatch
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from jobs_pipeline.storage.client import s3_client
from jobs_pipeline.storage.uri import S3Uri
from jobs_pipeline.telemetry.lake import PART_GLOB
from jobs_pipeline.warehouse.lake_parts import ByteRange, LakeFile

#: Concurrent object reads (boto3 clients are thread-safe).
READ_THREADS = 16


@dataclass
class S3LakeSource:
    root: S3Uri
    client: Any = None  # a boto3 S3 client; None: the configured one, made on first use

    @classmethod
    def at(cls, lake_uri: str, client: Any | None = None) -> "S3LakeSource":
        return cls(S3Uri.parse(lake_uri), client)

    def _client(self) -> Any:
        if self.client is None:
            self.client = s3_client()
        return self.client

    def listing(self) -> list[LakeFile]:
        """``s3://`` URIs of the lake's part objects with their sizes, in key order."""
        out: list[LakeFile] = []
        pages = self._client().get_paginator("list_objects_v2").paginate(
            Bucket=self.root.bucket, Prefix=self.root.prefix + "date=")
        for page in pages:
            for obj in page.get("Contents", []):
                relpath = obj["Key"][len(self.root.prefix):]
                if fnmatch.fnmatch(relpath, PART_GLOB):
                    out.append(LakeFile(self.root.uri(relpath), int(obj["Size"])))
        return out

    def part_files(self) -> list[str]:
        return [f.name for f in self.listing()]

    def _get(self, r: ByteRange) -> bytes:
        prefix = self.root.uri()
        if not r.name.startswith(prefix):
            raise ValueError(f"{r.name} is not in the lake {prefix}")
        if r.end <= r.start:
            return b""
        answer = self._client().get_object(Bucket=self.root.bucket, Key=self.root.key(r.name[len(prefix):]),
                                           Range=f"bytes={r.start}-{r.end - 1}")
        return answer["Body"].read()

    def read(self, ranges: list[ByteRange]) -> Iterator[bytes]:
        """The ranges' bytes, in order, fetched :data:`READ_THREADS` at a time."""
        self._client()  # made once, before the threads share it
        with ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="lake-read") as pool:
            yield from pool.map(self._get, ranges)
