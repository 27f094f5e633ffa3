"""``jobs-pipeline``: the command line.

``validate`` exits 0 when the file was processed (even with bad records) and 2 with a
one-line reason on stderr when the file is unusable, an argument or the configuration is
wrong. Commands import what they use when they run (start-up is most of a small validation).
"""

import argparse
import json
import sys
from collections.abc import Sequence

EXIT_UNUSABLE = 2
#: The option each job-context field comes from, to name it in an error.
CONTEXT_OPTIONS = {"marketplace": "--marketplace", "category": "--category", "region": "--region",
                   "ruleset": "--ruleset", "tier": "--tier"}


class UsageError(Exception):
    """A bad argument, said in one line."""


def _print_metrics(outcome, as_json: bool, sinks: str) -> None:
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
    for line in outcome.file_warnings:
        print(f"  note: {line}")
    if m.error_report_uri:
        print(f"  error report: {m.error_report_uri}")
    for s in outcome.sample[:10]:
        print(f"  row {s.row}: {s.field} [{s.rule}] {s.message} (value {s.value!r})")
    print(f"  events: TELEMETRY_SINKS={sinks}")


def job_context(args: argparse.Namespace):
    """The job's context from the options; a bad value is a :class:`UsageError` naming the option."""
    from pydantic import ValidationError

    from jobs_pipeline.domain.model import JobContext

    values = {k: getattr(args, k) for k in CONTEXT_OPTIONS if getattr(args, k, None) is not None}
    try:
        return JobContext(**values)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]) if err["loc"] else ""
        option = CONTEXT_OPTIONS.get(name, name)
        reason = err["msg"].removeprefix("Value error, ")
        raise UsageError(f"{option} {values.get(name)!r}: {reason}") from None


def cmd_validate(args: argparse.Namespace) -> int:
    from jobs_pipeline.domain.retry import NeverRetry
    from jobs_pipeline.jobs import compose
    from jobs_pipeline.queue.memory import InMemoryQueuePublisher
    from jobs_pipeline.telemetry.factory import build_emitter

    settings = compose.load_checked_settings()
    context = job_context(args)
    # TELEMETRY_SINKS like every job (the events reach the lake); nothing published; one attempt.
    emitter = build_emitter(settings.sinks, lake_dir=settings.lake_uri, settings=settings, component="cli")
    bar = None
    from jobs_pipeline.commands import progress as cli_progress

    if cli_progress.wanted(quiet=args.quiet, as_json=args.json):
        bar = cli_progress.ProgressBar(args.path)
        emitter = cli_progress.ProgressEmitter(emitter, bar)
    service = compose.build_service(settings, publisher=InMemoryQueuePublisher(), emitter=emitter,
                                    retry_policy=NeverRetry(), component="cli")
    try:
        outcome = service.run(service.create_job(args.path, context))
    finally:
        if bar is not None:
            bar.close()
        emitter.close()
    if not outcome.ok:
        print(f"error: {outcome.error.message}", file=sys.stderr)
        return EXIT_UNUSABLE
    _print_metrics(outcome, args.json, settings.telemetry_sinks)
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    from pathlib import Path

    from jobs_pipeline.jobs import compose
    from jobs_pipeline.storage.uri import is_s3_uri
    from jobs_pipeline.telemetry.memory import InMemoryTelemetryEmitter

    settings = compose.load_checked_settings()
    context = job_context(args)
    if settings.queue_backend == "memory" and not settings.queue_rollout_backend:
        raise UsageError("QUEUE_BACKEND is 'memory': no worker would ever see this job. Set QUEUE_BACKEND=celery "
                         "and CELERY_BROKER_URL, or QUEUE_BACKEND=sqs and SQS_QUEUE_FREE_URL, SQS_QUEUE_PRO_URL "
                         "(and their SQS_OUTCOME_QUEUE_*_URL); see docs/queue-migration.md")
    uri = args.path
    if not is_s3_uri(uri):
        path = Path(uri).expanduser()
        if not path.is_file():
            raise UsageError(f"{uri}: no such file")
        uri = str(path.resolve())  # the worker reads the same path: a shared disk, or use s3://
    service = compose.build_service(settings, emitter=InMemoryTelemetryEmitter(), component="cli")
    job, receipt = service.submit(uri, context)
    if args.json:
        print(json.dumps({"job_id": str(job.job_id), "backend": receipt.backend, "queue": receipt.queue,
                          "message_id": receipt.message_id, "feed_uri": uri}, indent=2))
    else:
        print(f"job {job.job_id} queued on {receipt.backend} queue {receipt.queue!r}  ({uri})")
    return 0


def _rules(name: str):
    def run(args: argparse.Namespace) -> int:
        from jobs_pipeline.commands import rules as cli_rules

        return getattr(cli_rules, name)(args)

    return run


def cmd_demo(args: argparse.Namespace) -> int:
    from jobs_pipeline.demo.run import run_demo

    return run_demo()


def _context_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("path")
    p.add_argument("--marketplace", required=True)
    p.add_argument("--category", default="unknown")
    p.add_argument("--region", default="unknown")
    p.add_argument("--ruleset", default=None, help="name@version (default: the marketplace's latest)")
    p.add_argument("--tier", default="free", choices=["free", "pro"])
    p.add_argument("--json", action="store_true", help="print the outcome as JSON")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jobs-pipeline", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    v = sub.add_parser("validate", help="validate one feed file and print its metrics")
    _context_options(v)
    v.add_argument("--quiet", "-q", action="store_true", help="no progress bar on stderr")
    v.set_defaults(func=cmd_validate)

    s = sub.add_parser("submit", help="queue one feed for the workers (QUEUE_BACKEND) and print its job id")
    _context_options(s)
    s.set_defaults(func=cmd_submit)

    rules = sub.add_parser("rules", help="list, show, lint, diff and backtest marketplace rulesets")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    ls = rules_sub.add_parser("list", help="every ruleset: name@version, marketplace, origin")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_rules("cmd_list"))
    show = rules_sub.add_parser("show", help="print the effective ruleset for a category and region")
    show.add_argument("name", help="name or name@version, e.g. google_merchant")
    show.add_argument("--category", default=None)
    show.add_argument("--region", default=None)
    show.set_defaults(func=_rules("cmd_show"))
    lint = rules_sub.add_parser("lint", help="check ruleset files; exit 2 listing every problem")
    lint.add_argument("files", nargs="+", metavar="FILE")
    lint.set_defaults(func=_rules("cmd_lint"))
    diff = rules_sub.add_parser("diff", help="effective rules added, removed and changed between two versions")
    diff.add_argument("old", metavar="NAME@A")
    diff.add_argument("new", metavar="NAME@B")
    diff.add_argument("--category", default=None)
    diff.add_argument("--region", default=None)
    diff.set_defaults(func=_rules("cmd_diff"))
    bt = rules_sub.add_parser("backtest", help="how error counts on feeds seen since DATE would change")
    bt.add_argument("new", metavar="NAME@NEW")
    bt.add_argument("--against", required=True, metavar="NAME@OLD")
    bt.add_argument("--since", required=True, metavar="DATE", help="YYYY-MM-DD (UTC): feeds landed since then")
    bt.add_argument("--json", action="store_true")
    bt.set_defaults(func=_rules("cmd_backtest"))

    d = sub.add_parser("demo", help="run the demo end to end on embedded defaults")
    d.set_defaults(func=cmd_demo)

    from jobs_pipeline.commands.telemetry import add_telemetry_parser

    add_telemetry_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from jobs_pipeline.domain.errors import JobsPipelineError
    from jobs_pipeline.settings import SettingsError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except (JobsPipelineError, SettingsError) as exc:
        print(f"error: {exc.reason}", file=sys.stderr)
        return EXIT_UNUSABLE
    except ValueError as exc:  # any other bad argument
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return EXIT_UNUSABLE
    except BrokenPipeError:  # output piped into e.g. head, which stopped reading
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
