"""``jobs-pipeline telemetry replay``: re-send the lake's stored events to a sink.

For backfilling a new sink or repairing one after an incident. Events keep their original id
and CloudEvents ``source`` (stored in each lake line), so a receiver that de-duplicates by
(source, id) counts each once however often a range is replayed. Lines written before the lake
stored a source go out under ``--legacy-source`` (default: this command's own source)."""

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
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
    """(stored source or ``None``, event), the first copy of each id only (as ``job_events``)."""
    seen: set[str] = set()
    for path in files:
        stats.files += 1
        with path.open("rb") as fh:
            for line in fh:
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


def cmd_telemetry_replay(args: argparse.Namespace) -> int:
    from jobs_pipeline.settings import load_settings
    from jobs_pipeline.telemetry.factory import build_sink

    settings = load_settings()
    lake = Path(args.lake_dir) if args.lake_dir else settings.lake_dir
    if args.to == "http":  # the CloudEvents source travels with each event: one sender per source
        from jobs_pipeline.telemetry.config import http_config

        http_config(settings, "replay", url=args.url)  # no URL: fail now, not at the first event
        def emitter_for(source: str | None) -> TelemetryEmitter:
            return build_sink("http", settings=settings, component="replay", http_url=args.url,
                              source=source or args.legacy_source)
    else:
        single = build_sink(args.to, lake_dir=lake, settings=settings, component="replay")

        def emitter_for(source: str | None) -> TelemetryEmitter:
            return single
    stats = replay(lake, emitter_for, date.fromisoformat(args.since),
                   date.fromisoformat(args.until) if args.until else None, timeout_s=args.timeout)
    print(json.dumps({"to": args.to, **asdict(stats)}))
    if not stats.delivered:
        print("error: not everything was delivered in time; the rest is kept in TELEMETRY_SPOOL_DIR "
              "and sent by the next run", file=sys.stderr)
        return 1
    return 0


def add_telemetry_parser(sub) -> None:
    """``telemetry replay --since DATE [--until DATE] --to http|duckdb|log``."""
    telemetry = sub.add_parser("telemetry", help="telemetry maintenance")
    tsub = telemetry.add_subparsers(dest="telemetry_command", required=True)
    r = tsub.add_parser("replay", help="re-send stored lake events to a sink (e.g. backfill a data lake)")
    r.add_argument("--since", required=True, help="first day, YYYY-MM-DD")
    r.add_argument("--until", default=None, help="last day, YYYY-MM-DD (default: today)")
    r.add_argument("--to", required=True, choices=REPLAY_TARGETS)
    r.add_argument("--url", default=None, help="collector URL (default TELEMETRY_HTTP_URL)")
    r.add_argument("--lake-dir", default=None, help="lake folder (default JOBS_PIPELINE_LAKE_DIR)")
    r.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for delivery")
    r.add_argument("--legacy-source", default=None,
                   help="CloudEvents source for lake lines written before the lake stored one "
                        "(default: TELEMETRY_SOURCE or urn:jobs-pipeline:<deployment>:replay)")
    r.set_defaults(func=cmd_telemetry_replay)
