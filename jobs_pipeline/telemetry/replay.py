"""``jobs-pipeline telemetry replay``: re-send the lake's stored events to a sink.

For backfilling a new sink or repairing one after an incident. Events keep their original
deterministic ids, so a receiver that de-duplicates counts each once however often a range is
replayed."""

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

from jobs_pipeline.telemetry.events import TelemetryEvent
from jobs_pipeline.telemetry.lake import PART_GLOB

#: Sinks a replay may target (replaying the lake into itself would only copy files).
REPLAY_TARGETS = ("http", "duckdb", "log")


@dataclass
class ReplayStats:
    files: int = 0
    events: int = 0
    duplicates_skipped: int = 0
    delivered: bool = True


def lake_files(lake_dir: Path, since: date, until: date | None = None) -> list[Path]:
    """Part files of the partitions ``since <= day <= until``, oldest first."""
    out = []
    for path in sorted(Path(lake_dir).glob(PART_GLOB)):
        day = date.fromisoformat(path.parent.name.removeprefix("date="))
        if day >= since and (until is None or day <= until):
            out.append(path)
    return out


def lake_events(files: list[Path], stats: ReplayStats) -> Iterator[TelemetryEvent]:
    seen: set[str] = set()
    for path in files:
        stats.files += 1
        with path.open("rb") as fh:
            for line in fh:
                if not line.strip():
                    continue
                event = TelemetryEvent.model_validate_json(line)
                key = str(event.event_id)
                if key in seen:
                    stats.duplicates_skipped += 1
                    continue
                seen.add(key)
                yield event


def replay(lake_dir: Path, emitter, since: date, until: date | None = None, *, timeout_s: float = 300.0) -> ReplayStats:
    """Emit the range's events into ``emitter``, then wait (up to ``timeout_s``) for delivery."""
    stats = ReplayStats()
    for event in lake_events(lake_files(lake_dir, since, until), stats):
        emitter.emit(event)
        stats.events += 1
    emitter.flush()
    drain = getattr(emitter, "drain", None)
    if drain is not None:
        stats.delivered = drain(timeout_s)
    emitter.close()
    return stats


def cmd_telemetry_replay(args: argparse.Namespace) -> int:
    from jobs_pipeline.settings import load_settings
    from jobs_pipeline.telemetry.factory import build_sink

    settings = load_settings()
    lake = Path(args.lake_dir) if args.lake_dir else settings.lake_dir
    emitter = build_sink(args.to, lake_dir=lake, settings=settings, component="replay", http_url=args.url)
    stats = replay(lake, emitter, date.fromisoformat(args.since),
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
    r.set_defaults(func=cmd_telemetry_replay)
