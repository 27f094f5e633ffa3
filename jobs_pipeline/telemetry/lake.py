"""Local event lake: JSON lines under ``<lake>/date=YYYY-MM-DD/``, lock-free, append-only.

One file per writer and UTC day, not one per flush: a file per job made ingestion pay a
file open and a DuckDB scan per job (~0.9 ms each, docs/benchmarks.md). Each emitter instance
owns its files (the name carries host, pid and a random writer id), so no two processes ever
write one file. ``emit`` only buffers; ``flush`` appends the buffered lines to the day's
``part-<writer>-<n>.jsonl`` with one ``write`` and ``fsync``\\ s it: when it returns the
events are durable and visible, and what a reader sees of a file is always whole lines
followed at most by the part of a line still being written (readers take complete lines only:
:func:`complete_end`). A file rolls over to ``<n+1>`` past ``max_file_bytes``.

A flush that fails (disk full, ``fsync`` error) raises; the file is cut back to its last
durable length and never written again (later events start a new file), so a failed flush
leaves no half line that later lines would follow. Its events are dropped, as before: the job
fails or is retried and emits them again under the same ids. A line is the event plus
``source``, its CloudEvents source (:func:`lake_line`; replay re-sends it as is).
"""

import json
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from jobs_pipeline.telemetry.cloudevents import DEFAULT_SOURCE
from jobs_pipeline.telemetry.events import TelemetryEvent, require_valid

PART_GLOB = "date=*/part-*.jsonl"
#: The key of a lake line holding the event's CloudEvents ``source`` (not an event field).
SOURCE_KEY = "source"
#: A file rolls over past this size (a day of one busy writer stays a few files).
MAX_FILE_BYTES = 256 << 20
#: Files a writer keeps open at once (one per UTC day it is writing; late events open old days).
MAX_OPEN_FILES = 4


def lake_line(event: TelemetryEvent, source: str) -> str:
    """One lake line: the validated event's JSON plus its ``source`` (ingestion ignores it)."""
    body = require_valid(event).model_dump_json()
    return f'{body[:-1]},"{SOURCE_KEY}":{json.dumps(source)}}}'


def read_lake_line(raw: bytes | str) -> tuple[str | None, TelemetryEvent]:
    """The ``source`` (``None`` in lines written before the lake stored it) and the event."""
    data = json.loads(raw)
    source = data.pop(SOURCE_KEY, None)
    return source, TelemetryEvent.model_validate(data)


def complete_end(data: bytes) -> int:
    """The length of ``data``'s complete lines: what a reader may take of a file being written."""
    return data.rfind(b"\n") + 1


def writer_id() -> str:
    host = socket.gethostname().replace("-", "").replace(".", "")[:16] or "host"
    return f"{host}-{os.getpid()}-{uuid.uuid4().hex[:12]}"


@dataclass
class _OpenFile:
    path: Path
    fd: int
    size: int  # durable length: everything before it was flushed (and fsynced)


class LakeTelemetryEmitter:
    """``source``: the CloudEvents source the other sinks of this process send (the factory
    gives it; :data:`DEFAULT_SOURCE` as for a default HTTP sink)."""

    def __init__(self, root: Path | str, *, fsync: bool = True, source: str = DEFAULT_SOURCE,
                 max_file_bytes: int = MAX_FILE_BYTES) -> None:
        self.root = Path(root)
        self.fsync = fsync
        self.source = source
        self.max_file_bytes = max_file_bytes
        self.writer_id = writer_id()
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._pending: dict[str, list[str]] = {}
        self._open: dict[str, _OpenFile] = {}  # by UTC day, least recently used first
        self._seq = 0

    def emit(self, event: TelemetryEvent) -> None:
        line = lake_line(event, self.source)
        day = event.timestamp.strftime("%Y-%m-%d")
        with self._lock:
            self._after_fork()
            self._pending.setdefault(day, []).append(line)

    def _after_fork(self) -> None:
        """A forked child must not append to its parent's files (nor flush its parent's events):
        it takes a writer id of its own at its first emit or flush."""
        if os.getpid() != self._pid:
            self._pid, self.writer_id, self._seq = os.getpid(), writer_id(), 0
            for entry in self._open.values():
                os.close(entry.fd)
            self._open, self._pending = {}, {}

    def _file_for(self, day: str) -> _OpenFile:
        entry = self._open.pop(day, None)
        if entry is None:
            if len(self._open) >= MAX_OPEN_FILES:
                oldest = next(iter(self._open))
                os.close(self._open.pop(oldest).fd)
            folder = self.root / f"date={day}"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"part-{self.writer_id}-{self._seq:06d}.jsonl"
            self._seq += 1
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
            entry = _OpenFile(path, fd, 0)
            if self.fsync:  # the new name is durable too
                try:
                    dir_fd = os.open(folder, os.O_RDONLY)
                    try:
                        os.fsync(dir_fd)
                    finally:
                        os.close(dir_fd)
                except OSError:
                    self._abandon(day, entry)
                    raise
        self._open[day] = entry  # most recently used last
        return entry

    def _append(self, day: str, data: bytes) -> None:
        entry = self._file_for(day)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(entry.fd, view):]
            if self.fsync:
                os.fsync(entry.fd)
        except OSError:
            self._abandon(day, entry)
            raise
        entry.size += len(data)
        if entry.size >= self.max_file_bytes:
            del self._open[day]
            os.close(entry.fd)

    def _abandon(self, day: str, entry: _OpenFile) -> None:
        """Cut a failed file back to its durable length and never write it again."""
        self._open.pop(day, None)
        try:
            os.ftruncate(entry.fd, entry.size)
            if entry.size == 0:
                entry.path.unlink(missing_ok=True)
        except OSError:
            pass  # readers only take complete lines; a torn tail is never completed
        finally:
            os.close(entry.fd)

    def flush(self) -> None:
        """Append every buffered event to its day's file and ``fsync`` it: durable and visible.

        A day whose file cannot be written (disk full) is dropped, later events start a fresh
        file, and the first error is raised after trying all."""
        with self._lock:
            self._after_fork()
            pending, self._pending = self._pending, {}
            first: BaseException | None = None
            for day in sorted(pending):
                try:
                    self._append(day, ("\n".join(pending[day]) + "\n").encode())
                except OSError as exc:
                    first = first or exc
            if first is not None:
                raise first

    def close(self) -> None:
        try:
            self.flush()
        finally:
            with self._lock:
                if os.getpid() == self._pid:
                    for entry in self._open.values():
                        os.close(entry.fd)
                self._open = {}

    def __del__(self) -> None:  # best effort: never leave events invisible
        try:
            self.close()
        except Exception:
            pass
