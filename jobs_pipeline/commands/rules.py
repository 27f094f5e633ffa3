"""``jobs-pipeline rules ...``: list, show, lint, diff and backtest rulesets, shipped ones and
those of ``JOBS_PIPELINE_RULESETS_DIR``. The backtest finds the marketplace's feeds landed since
a date in the landing area (a folder or ``s3://``) and re-validates them under both versions."""

import argparse
import json
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

EXIT_PROBLEMS = 2


def _settings():
    """Checked settings, with the team's rulesets installed beside the shipped ones."""
    from jobs_pipeline.jobs import compose

    settings = compose.load_checked_settings()
    compose.install_rulesets(settings)
    return settings


def cmd_list(args: argparse.Namespace) -> int:
    from jobs_pipeline.validation.ruleset import list_rulesets

    _settings()
    rows = [(rs.ref, rs.marketplace, origin) for rs, origin in list_rulesets()]
    if args.json:
        print(json.dumps([{"ruleset": r, "marketplace": m, "origin": o} for r, m, o in rows], indent=2))
        return 0
    width = max(len(r) for r, _, _ in rows)
    mwidth = max(len(m) for _, m, _ in rows)
    print(f"{'ruleset':<{width}}  {'marketplace':<{mwidth}}  origin")
    for ref, marketplace, origin in rows:
        print(f"{ref:<{width}}  {marketplace:<{mwidth}}  {origin}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from jobs_pipeline.validation.ruleset import load_ruleset

    _settings()
    effective = load_ruleset(args.name).effective(args.category, args.region)
    print(json.dumps(effective.model_dump(mode="json", exclude_defaults=True), indent=2, ensure_ascii=False))
    return 0


def cmd_lint(args: argparse.Namespace) -> int:
    """Exit 0 when every file is fine, else 2 with one line per problem (on stdout)."""
    from jobs_pipeline.validation.lint import lint_file

    problems = [line for name in args.files for line in lint_file(Path(name))]
    for line in problems:
        print(line)
    return EXIT_PROBLEMS if problems else 0


def cmd_diff(args: argparse.Namespace) -> int:
    from jobs_pipeline.validation.ruleset import load_ruleset
    from jobs_pipeline.validation.ruleset_diff import diff_rulesets, render

    _settings()
    d = diff_rulesets(load_ruleset(args.old), load_ruleset(args.new), args.category, args.region)
    print("\n".join(render(d)))
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    from jobs_pipeline.validation import backtest as bt
    from jobs_pipeline.validation.ruleset import load_ruleset
    from jobs_pipeline.validation.sources import limits_from_settings

    settings = _settings()
    new, old = load_ruleset(args.new), load_ruleset(args.against)
    if new.marketplace != old.marketplace:
        raise ValueError(f"{new.ref} is for {new.marketplace} but {old.ref} for {old.marketplace}")
    since = _since(args.since)
    with tempfile.TemporaryDirectory(prefix="backtest-feeds-") as tmp:
        feeds = landed_feeds(settings, new.marketplace, since, Path(tmp))
        result = bt.backtest(feeds, old, new, limits=limits_from_settings(settings))
    if args.json:
        print(json.dumps(bt.as_json(result), indent=2, default=str))
    else:
        if not result.feeds:
            print(f"no {new.marketplace} feed landed since {since:%Y-%m-%d} in {settings.landing_uri}", file=sys.stderr)
        print("\n".join(bt.render(result)))
    return 0


def _since(text: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
    except ValueError:
        raise ValueError(f"--since {text!r}: expected a date YYYY-MM-DD") from None


def landed_feeds(settings, marketplace: str, since: datetime, workdir: Path) -> Iterator:  # noqa: ANN001
    """The marketplace's feeds in the landing area modified since ``since`` (S3 objects are
    downloaded into ``workdir`` one at a time, as the backtest reaches them)."""
    from jobs_pipeline.landing.files import scan_landing
    from jobs_pipeline.storage.uri import S3Uri, is_s3_uri
    from jobs_pipeline.validation.backtest import Feed

    root = settings.landing_uri
    cutoff = int(since.timestamp() * 1_000_000_000)
    if is_s3_uri(root):
        from jobs_pipeline.landing.s3_listing import list_window
        from jobs_pipeline.storage.client import s3_client
        from jobs_pipeline.storage.s3_objects import download_object

        uri = S3Uri.parse(root).child(marketplace)
        client = s3_client(endpoint_url=settings.aws_endpoint_url, region=settings.aws_region_name)
        files, start = [], ""
        while True:
            window = list_window(client, uri, start_after=start)
            files += window.files
            if window.exhausted or window.last_relpath == start:
                break
            start = window.last_relpath
        top = S3Uri.parse(root)
        for f in files:
            if f.mtime_ns < cutoff:
                continue
            relpath = f"{marketplace}/{f.relpath}"
            context = _context(relpath)
            if context is None:
                continue
            key = top.key(relpath)
            dest = workdir / f.run_key
            dest.mkdir()
            path = download_object(client, top.bucket, key, dest, max_bytes=settings.feed_max_file_bytes)
            yield Feed(path=path, category=context.category, region=context.region, label=str(f.path))
            path.unlink(missing_ok=True)  # validated by now: one download on disk at a time
        return
    for f in scan_landing(Path(root) / marketplace):
        context = _context(f"{marketplace}/{f.relpath}")
        if f.mtime_ns >= cutoff and context is not None:
            yield Feed(path=Path(f.path), category=context.category, region=context.region, label=str(f.path))


def _context(relpath: str):
    from jobs_pipeline.landing.files import context_from_relpath

    try:
        return context_from_relpath(relpath)
    except ValueError:
        return None  # not <marketplace>/<category>/<region>/<file>: no feed
