"""The CLI's progress bar on stderr: records read, MB/s and ETA, fed by the ``job.progress``
events the service emits (the emitter is wrapped; the engine knows nothing of it). Shown only
when stderr is a terminal and the output is not ``--json``."""

import os
import sys
import time
from typing import IO, Any

BAR_WIDTH = 24
SAMPLE_BYTES = 256 * 1024


def wanted(*, quiet: bool, as_json: bool, stream: IO[str] | None = None) -> bool:
    """A bar only for a person watching: not asked away, not JSON, stderr a terminal."""
    stream = stream if stream is not None else sys.stderr
    return not quiet and not as_json and stream.isatty()


def bytes_per_record(path: str) -> float | None:
    """Average line length of the file's first ``SAMPLE_BYTES`` (plain text only; None for a
    compressed or binary file, whose size says nothing of its records)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(SAMPLE_BYTES)
    except OSError:
        return None
    if not head or head[:2] == b"\x1f\x8b" or head[:4] in (b"PK\x03\x04", b"PAR1") or b"\x00" in head[:4096]:
        return None
    lines = head.count(b"\n")
    return len(head) / lines if lines > 1 else None


class ProgressBar:
    """``[#####-----]  420,000 records  38.2 MB/s  ETA 0:07`` rewritten in place on ``stream``."""

    def __init__(self, path: str, stream: IO[str] | None = None, clock: Any = time.monotonic) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.started = clock()
        self.size = os.path.getsize(path) if os.path.isfile(path) else 0
        self.per_record = bytes_per_record(path)
        self.shown = False

    def line(self, records: int) -> str:
        elapsed = max(self.clock() - self.started, 1e-6)
        parts = [f"{records:,} records"]
        if self.per_record:
            done = min(records * self.per_record, self.size)
            parts.append(f"{done / elapsed / 1e6:.1f} MB/s")
            if self.size:
                share = done / self.size
                left = elapsed * (1 - share) / share if share > 0 else 0
                filled = int(BAR_WIDTH * share)
                parts.insert(0, "[" + "#" * filled + "-" * (BAR_WIDTH - filled) + "]")
                parts.append(f"ETA {int(left) // 60}:{int(left) % 60:02d}")
        else:
            parts.append(f"{records / elapsed:,.0f} records/s")
        return "  ".join(parts)

    def update(self, records: int) -> None:
        self.stream.write("\r" + self.line(records) + "\033[K")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.shown = False


class ProgressEmitter:
    """A telemetry emitter that forwards every event and moves ``bar`` on ``job.progress``."""

    def __init__(self, inner: Any, bar: ProgressBar) -> None:
        self.inner = inner
        self.bar = bar

    def emit(self, event: Any) -> None:
        self.inner.emit(event)
        if str(getattr(event.type, "value", event.type)) == "job.progress":
            self.bar.update(int(event.metrics.get("records_processed", 0)))

    def flush(self) -> None:
        self.inner.flush()

    def close(self) -> None:
        self.bar.close()
        self.inner.close()
