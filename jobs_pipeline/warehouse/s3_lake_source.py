"""The event lake on S3 as a :class:`~jobs_pipeline.warehouse.lake_source.LakeSource`.

DuckDB's S3 support (httpfs) is an extension downloaded at run time, which locked-down hosts
cannot do; boto3 is already needed. So part objects are listed with boto3 and the new ones
downloaded to a temporary folder for the local ingestion, recorded under their ``s3://`` URIs.
"""

import fnmatch
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobs_pipeline.storage.client import s3_client
from jobs_pipeline.storage.uri import S3Uri
from jobs_pipeline.telemetry.lake import PART_GLOB


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

    def part_files(self) -> list[str]:
        """``s3://`` URIs of the lake's part objects, in key order."""
        uris: list[str] = []
        pages = self._client().get_paginator("list_objects_v2").paginate(
            Bucket=self.root.bucket, Prefix=self.root.prefix + "date=")
        for page in pages:
            for obj in page.get("Contents", []):
                relpath = obj["Key"][len(self.root.prefix):]
                if fnmatch.fnmatch(relpath, PART_GLOB):
                    uris.append(self.root.uri(relpath))
        return uris

    @contextmanager
    def fetch(self, names: list[str]) -> Iterator[list[str]]:
        """Download ``names`` (URIs under this lake) into a temporary folder, removed afterwards."""
        prefix = self.root.uri()
        with tempfile.TemporaryDirectory(prefix="lake-") as tmp:
            local: list[str] = []
            for uri in names:
                if not uri.startswith(prefix):
                    raise ValueError(f"{uri} is not in the lake {prefix}")
                relpath = uri[len(prefix):]
                path = Path(tmp) / relpath
                path.parent.mkdir(parents=True, exist_ok=True)
                self._client().download_file(self.root.bucket, self.root.key(relpath), str(path))
                local.append(str(path))
            yield local
