"""Error reports on S3: ``s3://bucket/<prefix>/<job_id>/errors.parquet`` and ``errors.csv``.

The validator writes into a private temporary folder; ``publish`` uploads each file (managed
multipart transfer) and the folder is removed whatever happens. A re-run has the same job id
and overwrites the same keys, so a report never exists twice."""

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jobs_pipeline.storage.client import s3_client
from jobs_pipeline.storage.s3_objects import upload_file
from jobs_pipeline.storage.uri import S3Uri

CONTENT_TYPES = {".parquet": "application/vnd.apache.parquet", ".csv": "text/csv; charset=utf-8"}


class S3ReportStore:
    def __init__(self, uri: str, *, client: Any | None = None, endpoint_url: str | None = None,
                 region: str | None = None) -> None:
        self.root = S3Uri.parse(uri)
        self._client = client
        self._endpoint_url = endpoint_url
        self._region = region

    @property
    def location(self) -> str:
        return str(self.root)

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = s3_client(endpoint_url=self._endpoint_url, region=self._region)
        return self._client

    @contextmanager
    def staging(self, job_id: str) -> Iterator[Path]:
        tmp = Path(tempfile.mkdtemp(prefix=f"report-{job_id[:8]}-"))
        try:
            yield tmp / job_id
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def publish(self, job_id: str, files: Sequence[Path]) -> list[str]:
        uris = []
        for path in map(Path, files):
            extra = {"ContentType": CONTENT_TYPES[path.suffix]} if path.suffix in CONTENT_TYPES else None
            uris.append(upload_file(self.client, path, self.root, f"{job_id}/{path.name}", extra_args=extra))
            path.unlink()  # the local copy is temporary (the folder goes at the end of staging anyway)
        return uris
