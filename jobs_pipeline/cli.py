"""``jobs-pipeline``: the command line.

``validate`` exits 0 when the file was processed (even with bad records) and 2 with a
one-line reason on stderr when the file is unusable or the configuration is wrong.
Each subcommand lives in its own small function; ``build_parser`` wires them.
"""

import argparse
import json
import sys
from collections.abc import Sequence

from jobs_pipeline.domain.errors import JobsPipelineError
from jobs_pipeline.settings import SettingsError

EXIT_UNUSABLE = 2


def _print_metrics(outcome, as_json: bool) -> None:
    summary = outcome.summary()
    if as_json:
        print(json.dumps(summary, indent=2, default=str))
        return
    m = outcome.metrics
    print(f"job {summary['job_id']}  {summary['partition_key']}  ruleset {m.ruleset}")
    print(f"records: {m.records_total} total, {m.records_valid} valid, {m.records_error} error, "
          f"{m.records_warning} warning")
    print(f"error_rate {m.error_rate:.4f}  warning_rate {m.warning_rate:.4f}  "
          f"processing {m.processing_time_ms:.1f} ms  {m.payload_size_bytes} bytes")
    for field, count in sorted(m.errors_by_field.items(), key=lambda kv: -kv[1]):
        print(f"  {field}: {count} record(s) with errors")
    for line in outcome.file_errors:
        print(f"  file: {line}")
    if m.error_report_uri:
        print(f"  error report: {m.error_report_uri}")
    for s in outcome.sample[:10]:
        print(f"  row {s.row}: {s.field} [{s.rule}] {s.message} (value {s.value!r})")


def cmd_validate(args: argparse.Namespace) -> int:
    from jobs_pipeline.domain.model import JobContext
    from jobs_pipeline.domain.retry import NeverRetry
    from jobs_pipeline.jobs import compose
    from jobs_pipeline.queue.memory import InMemoryQueuePublisher
    from jobs_pipeline.telemetry.memory import InMemoryTelemetryEmitter

    settings = compose.load_checked_settings()
    context = JobContext(marketplace=args.marketplace, category=args.category, region=args.region,
                         ruleset=args.ruleset, tier=args.tier)
    # Same report location and read limits as the worker and the Dagster runs; nothing published,
    # events kept in memory, one attempt.
    service = compose.build_service(settings, publisher=InMemoryQueuePublisher(),
                                    emitter=InMemoryTelemetryEmitter(), retry_policy=NeverRetry())
    outcome = service.run(service.create_job(args.path, context))
    if not outcome.ok:
        print(f"error: {outcome.error.message}", file=sys.stderr)
        return EXIT_UNUSABLE
    _print_metrics(outcome, args.json)
    return 0


def cmd_rules_show(args: argparse.Namespace) -> int:
    from jobs_pipeline.validation.ruleset import load_ruleset

    effective = load_ruleset(args.name).effective(args.category, args.region)
    print(json.dumps(effective.model_dump(mode="json", exclude_defaults=True), indent=2, ensure_ascii=False))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from jobs_pipeline.demo.run import run_demo

    return run_demo()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jobs-pipeline", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    v = sub.add_parser("validate", help="validate one feed file and print its metrics")
    v.add_argument("path")
    v.add_argument("--marketplace", required=True)
    v.add_argument("--category", default="unknown")
    v.add_argument("--region", default="unknown")
    v.add_argument("--ruleset", default=None, help="name@version (default: the marketplace's latest)")
    v.add_argument("--tier", default="free", choices=["free", "pro"])
    v.add_argument("--json", action="store_true", help="print the full outcome as JSON")
    v.set_defaults(func=cmd_validate)

    rules = sub.add_parser("rules", help="inspect marketplace rulesets")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    show = rules_sub.add_parser("show", help="print the effective ruleset for a category and region")
    show.add_argument("name", help="name or name@version, e.g. google_merchant")
    show.add_argument("--category", default=None)
    show.add_argument("--region", default=None)
    show.set_defaults(func=cmd_rules_show)

    d = sub.add_parser("demo", help="run the demo end to end on embedded defaults")
    d.set_defaults(func=cmd_demo)

    from jobs_pipeline.telemetry.replay import add_telemetry_parser

    add_telemetry_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (JobsPipelineError, SettingsError) as exc:
        print(f"error: {exc.reason}", file=sys.stderr)
        return EXIT_UNUSABLE
    except ValueError as exc:  # bad arguments (e.g. an invalid marketplace name)
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return EXIT_UNUSABLE


if __name__ == "__main__":
    sys.exit(main())
