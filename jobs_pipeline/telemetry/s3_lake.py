"""The event lake on S3: one object per writer and flush, never appended to.

Events are buffered in memory and each flush writes one atomic ``PutObject`` per day under a
key unique to this writer, so readers see only complete objects and two runs never collide.
A failed put keeps the buffer and the next flush retries the same key (no duplicates).
Lines as in the local lake (:func:`~jobs_pipeline.telemetry.lake.lake_line`, with ``source``)."""

import os
import socket
import threading
import uuid
from typing import Any

from jobs_pipeline.storage.client import s3_client
from jobs_pipeline.storage.uri import S3Uri
from jobs_pipeline.telemetry.cloudevents import DEFAULT_SOURCE
from jobs_pipeline.telemetry.events import TelemetryEvent
from jobs_pipeline.telemetry.lake import lake_line

PART_PREFIX = "part-"
PART_SUFFIX = ".jsonl"


class S3LakeTelemetryEmitter:
    def __init__(self, lake_uri: str, *, client: Any | None = None, source: str = DEFAULT_SOURCE) -> None:
        self.root = S3Uri.parse(lake_uri)
        self._client = client
        self.source = source
        host = socket.gethostname().replace("-", "").replace(".", "")[:16] or "host"
        self.writer_id = f"{host}-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._lock = threading.Lock()
        self._buffers: dict[str, list[str]] = {}
        self._seq = 0

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = s3_client()
        return self._client

    def emit(self, event: TelemetryEvent) -> None:
        line = lake_line(event, self.source)  # the local lake's gate and line format
        day = event.timestamp.strftime("%Y-%m-%d")
        with self._lock:
            self._buffers.setdefault(day, []).append(line)

    def flush(self) -> None:
        """Write one object per day with buffered events; later events go to new objects."""
        with self._lock:
            for day in sorted(self._buffers):
                lines = self._buffers[day]
                key = self.root.key(f"date={day}/{PART_PREFIX}{self.writer_id}-{self._seq:06d}{PART_SUFFIX}")
                self.client.put_object(Bucket=self.root.bucket, Key=key, Body=("\n".join(lines) + "\n").encode(),
                                       ContentType="application/x-ndjson")
                del self._buffers[day]
                self._seq += 1

    def close(self) -> None:
        self.flush()
