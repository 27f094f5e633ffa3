"""Local event lake: JSON lines under ``<lake>/date=YYYY-MM-DD/``, lock-free.

Each emitter instance owns its files (the name carries host, pid and a random writer id),
so no two processes ever write one file. Events go to a hidden ``.inflight`` file; ``flush``
renames it atomically to ``part-<writer>-<n>.jsonl``, complete by construction. A line is the
event plus ``source``, its CloudEvents source (:func:`lake_line`; replay re-sends it as is).
"""

import json
import os
import socket
import threading
import uuid
from pathlib import Path
from typing import IO

from jobs_pipeline.telemetry.cloudevents import DEFAULT_SOURCE
from jobs_pipeline.telemetry.events import TelemetryEvent, require_valid

PART_GLOB = "date=*/part-*.jsonl"
#: The key of a lake line holding the event's CloudEvents ``source`` (not an event field).
SOURCE_KEY = "source"


def lake_line(event: TelemetryEvent, source: str) -> str:
    """One lake line: the validated event's JSON plus its ``source`` (ingestion ignores it)."""
    body = require_valid(event).model_dump_json()
    return f'{body[:-1]},"{SOURCE_KEY}":{json.dumps(source)}}}'


def read_lake_line(raw: bytes | str) -> tuple[str | None, TelemetryEvent]:
    """The ``source`` (``None`` in lines written before the lake stored it) and the event."""
    data = json.loads(raw)
    source = data.pop(SOURCE_KEY, None)
    return source, TelemetryEvent.model_validate(data)


class LakeTelemetryEmitter:
    """``source``: the CloudEvents source the other sinks of this process send (the factory
    gives it; :data:`DEFAULT_SOURCE` as for a default HTTP sink)."""

    def __init__(self, root: Path | str, *, fsync: bool = True, source: str = DEFAULT_SOURCE) -> None:
        self.root = Path(root)
        self.fsync = fsync
        self.source = source
        host = socket.gethostname().replace("-", "").replace(".", "")[:16] or "host"
        self.writer_id = f"{host}-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._lock = threading.Lock()
        self._open: dict[str, tuple[Path, IO[str]]] = {}
        self._seq = 0

    def _file_for(self, day: str) -> IO[str]:
        entry = self._open.get(day)
        if entry is None:
            folder = self.root / f"date={day}"
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".inflight-{self.writer_id}-{self._seq:06d}.jsonl"
            self._seq += 1
            entry = (tmp, tmp.open("w", encoding="utf-8"))
            self._open[day] = entry
        return entry[1]

    def emit(self, event: TelemetryEvent) -> None:
        line = lake_line(event, self.source)
        day = event.timestamp.strftime("%Y-%m-%d")
        with self._lock:
            self._file_for(day).write(line + "\n")

    def flush(self) -> None:
        """Publish every in-flight file (atomic rename); later events start new files.

        A file that cannot be published (disk full) is dropped from the open set, so later
        events start a fresh file, and the first error is raised after trying all."""
        with self._lock:
            entries, self._open = list(self._open.values()), {}
            first: BaseException | None = None
            for tmp, handle in entries:
                try:
                    handle.flush()
                    if self.fsync:
                        os.fsync(handle.fileno())
                    handle.close()
                    os.replace(tmp, tmp.with_name(tmp.name.replace(".inflight-", "part-", 1)))
                except OSError as exc:
                    first = first or exc
                    try:
                        handle.close()
                    except OSError:
                        pass
            if first is not None:
                raise first

    def close(self) -> None:
        self.flush()

    def __del__(self) -> None:  # best effort: never leave events invisible
        try:
            self.flush()
        except Exception:
            pass
