"""Re-send the lake's stored events to a sink (``jobs-pipeline telemetry replay``).

For backfilling a new sink or repairing one after an incident. Events keep their original id
and CloudEvents ``source`` (stored in each lake line), so a receiver that de-duplicates by
(source, id) counts each once however often a range is replayed. Lines written before the lake
stored a source go out under ``--legacy-source`` (default: this command's own source)."""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from jobs_pipeline.telemetry.emitter import TelemetryEmitter
from jobs_pipeline.telemetry.events import TelemetryEvent
from jobs_pipeline.telemetry.lake import PART_GLOB, read_lake_line

#: Sinks a replay may target (replaying the lake into itself would only copy files).
REPLAY_TARGETS = ("http", "duckdb", "log")


@dataclass
class ReplayStats:
    files: int = 0
    events: int = 0
    duplicates_skipped: int = 0
    without_source: int = 0  # lines from before the lake stored the source
    delivered: bool = True


def lake_files(lake_dir: Path, since: date, until: date | None = None) -> list[Path]:
    """Part files of the partitions ``since <= day <= until``, oldest first."""
    out = []
    for path in sorted(Path(lake_dir).glob(PART_GLOB)):
        day = date.fromisoformat(path.parent.name.removeprefix("date="))
        if day >= since and (until is None or day <= until):
            out.append(path)
    return out


def lake_events(files: list[Path], stats: ReplayStats) -> Iterator[tuple[str | None, TelemetryEvent]]:
    """(stored source or ``None``, event), the first copy read of each id only (``job_events`` keeps
    the earliest by timestamp; a receiver de-duplicating by id counts either once)."""
    seen: set[str] = set()
    for path in files:
        stats.files += 1
        with path.open("rb") as fh:
            for line in fh:
                if not line.endswith(b"\n"):
                    break  # a line still being written (the lake appends: telemetry.lake)
                if not line.strip():
                    continue
                source, event = read_lake_line(line)
                key = str(event.event_id)
                if key in seen:
                    stats.duplicates_skipped += 1
                    continue
                seen.add(key)
                if source is None:
                    stats.without_source += 1
                yield source, event


def replay(lake_dir: Path, emitter_for: Callable[[str | None], TelemetryEmitter], since: date,
           until: date | None = None, *, timeout_s: float = 300.0) -> ReplayStats:
    """Emit the range's events, each into ``emitter_for(its stored source)`` (one emitter per
    source; the same one for targets without a source), then wait up to ``timeout_s`` for delivery."""
    stats = ReplayStats()
    emitters: dict[str | None, TelemetryEmitter] = {}
    for source, event in lake_events(lake_files(lake_dir, since, until), stats):
        if source not in emitters:
            emitters[source] = emitter_for(source)
        emitters[source].emit(event)
        stats.events += 1
    distinct = list({id(e): e for e in emitters.values()}.values())
    deadline = time.monotonic() + timeout_s
    for emitter in distinct:
        emitter.flush()
    for emitter in distinct:
        drain = getattr(emitter, "drain", None)
        if drain is not None and not drain(max(0.0, deadline - time.monotonic())):
            stats.delivered = False
        emitter.close()
    return stats
