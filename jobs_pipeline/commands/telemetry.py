"""``jobs-pipeline telemetry replay``: the command; the replay itself is :mod:`jobs_pipeline.telemetry.replay`."""

import argparse
import json
import sys
from dataclasses import asdict
from datetime import date
from pathlib import Path

from jobs_pipeline.telemetry.emitter import TelemetryEmitter
from jobs_pipeline.telemetry.replay import REPLAY_TARGETS


def cmd_telemetry_replay(args: argparse.Namespace) -> int:
    from jobs_pipeline.jobs.compose import load_checked_settings
    from jobs_pipeline.telemetry.factory import build_sink
    from jobs_pipeline.telemetry.replay import replay

    settings = load_checked_settings()
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
