"""``jobs-pipeline rules backtest``: what a new ruleset version would change on feeds already
seen. Each feed is read once: the two versions' effective rules, tagged ``old:``/``new:``, run
as one ruleset (the engine shares the read and the candidate tests), and the per-version counts
come from the error report (one row per failing record and rule). When the versions map
columns differently (aliases), one ruleset cannot serve both and the feed is read twice."""

import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from jobs_pipeline.domain.errors import JobsPipelineError
from jobs_pipeline.validation.engine import validate_file
from jobs_pipeline.validation.ruleset import Ruleset, normalise_name
from jobs_pipeline.validation.sources import ReadLimits

OLD, NEW = "old", "new"
TAG = ":"


@dataclass(frozen=True)
class Feed:
    """A feed to re-validate: a local path and the category and region its rules depend on."""

    path: Path
    category: str | None = None
    region: str | None = None
    label: str = ""


@dataclass
class Change:
    """Records failing one rule (or with an error on one field) under each version."""

    old: int = 0
    new: int = 0
    feeds: set[str] = field(default_factory=set)  # feeds where the count differs

    @property
    def delta(self) -> int:
        return self.new - self.old


@dataclass
class FeedOutcome:
    label: str
    records: int = 0
    old_errors: int = 0  # records with at least one error
    new_errors: int = 0
    newly_failing: int = 0  # records with no error under the old version and one under the new
    no_longer_failing: int = 0
    reads: int = 0
    counts_changed: bool = False  # some rule or field count differs between the versions
    problem: str | None = None  # the feed could not be validated (unusable file)

    @property
    def affected(self) -> bool:
        return bool(self.newly_failing or self.no_longer_failing or self.counts_changed)


@dataclass
class Backtest:
    old: str
    new: str
    feeds: list[FeedOutcome] = field(default_factory=list)
    #: (field, rule id, severity) -> records failing it
    rules: dict[tuple[str, str, str], Change] = field(default_factory=dict)
    #: field -> records with an error on it
    fields: dict[str, Change] = field(default_factory=dict)

    @property
    def records_affected(self) -> int:
        return sum(f.newly_failing + f.no_longer_failing for f in self.feeds)


def backtest(feeds: Iterable[Feed], old: Ruleset, new: Ruleset, *, limits: ReadLimits | None = None,
             on_feed: Callable[[FeedOutcome], None] | None = None) -> Backtest:
    """Re-validate every feed under ``old`` and ``new`` (base rulesets: each feed's category and
    region overrides are applied here)."""
    out = Backtest(old=old.ref, new=new.ref)
    for feed in feeds:
        outcome = FeedOutcome(label=feed.label or str(feed.path))
        try:
            per_version = _run(feed, old.effective(feed.category, feed.region),
                               new.effective(feed.category, feed.region), limits, outcome)
        except JobsPipelineError as exc:
            outcome.problem = exc.reason
        else:
            _tally(out, outcome, per_version)
        out.feeds.append(outcome)
        if on_feed is not None:
            on_feed(outcome)
    return out


@dataclass
class _Counts:
    by_rule: dict[tuple[str, str, str], int]
    by_field: dict[str, int]
    error_rows: pl.Series


def mergeable(a: Ruleset, b: Ruleset) -> bool:
    """True when one ruleset holding both versions' rules maps every column as each would."""
    ma, mb = _aliases(a), _aliases(b)
    fa, fb = set(a.fields), set(b.fields)
    for alias in ma.keys() | mb.keys():
        if alias in ma and alias in mb:
            if ma[alias] != mb[alias]:
                return False
            continue
        target, other_fields = (ma[alias], fb) if alias in ma else (mb[alias], fa)
        if target in other_fields or alias in other_fields:
            return False
    return not (set(ma) & fb) and not (set(mb) & fa)


def mergeable_for(columns: list[str], a: Ruleset, b: Ruleset) -> bool:
    """True when, for a file with these (normalised) columns, the merged ruleset hands each
    version's rules the columns that version alone would: every column either lands on the
    same field or on fields neither version's rules read."""
    both = merged(a, b)
    try:
        together = _targets(columns, both)
        return all(together[c] == alone[c] or (together[c] not in rs.fields and alone[c] not in rs.fields)
                   for rs in (a, b) for alone in [_targets(columns, rs)] for c in columns)
    except ValueError:
        return False


def _targets(columns: list[str], rs: Ruleset) -> dict[str, str]:
    """Column -> the field it is read as (the engine's :func:`.columns.map_columns` rule)."""
    alias_of = _aliases(rs)
    targets = {c: c if c in rs.fields or c not in alias_of else alias_of[c] for c in columns}
    if len(set(targets.values())) < len(targets):
        raise ValueError("two columns mean one field")
    return targets


def csv_header(path: Path) -> list[str] | None:
    """The normalised column names of a plain CSV/TSV file (None for any other format: the
    caller then decides from the rulesets alone)."""
    import csv

    try:
        with open(path, "rb") as fh:
            head = fh.read(64 * 1024)
    except OSError:
        return None
    if not head or head[:2] == b"\x1f\x8b" or head[:4] in (b"PK\x03\x04", b"PAR1") or head.lstrip()[:1] in (b"{", b"["):
        return None
    first = head.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace")
    delimiter = max(",;\t|", key=first.count)
    return [normalise_name(c) for c in next(csv.reader([first], delimiter=delimiter), [])]


def merged(a: Ruleset, b: Ruleset) -> Ruleset:
    """Both versions' rules in one ruleset, ids tagged ``old:``/``new:``."""
    rules = [r.model_copy(update={"id": f"{OLD}{TAG}{r.rule_id}"}) for r in a.rules]
    rules += [r.model_copy(update={"id": f"{NEW}{TAG}{r.rule_id}"}) for r in b.rules]
    aliases = {k: sorted(set(a.aliases.get(k, [])) | set(b.aliases.get(k, []))) for k in a.aliases.keys() | b.aliases.keys()}
    return Ruleset(name="backtest", version=f"{a.version}+{b.version}", marketplace=b.marketplace,
                   aliases=aliases, unknown_columns="ignore", rules=rules)


def _aliases(rs: Ruleset) -> dict[str, str]:
    return {normalise_name(alias): normalise_name(canonical) for canonical, names in rs.aliases.items()
            for alias in names}


def _run(feed: Feed, old: Ruleset, new: Ruleset, limits: ReadLimits | None,
         outcome: FeedOutcome) -> dict[str, _Counts]:
    with tempfile.TemporaryDirectory(prefix="backtest-") as tmp:
        columns = None if mergeable(old, new) else csv_header(feed.path)
        if columns is None and mergeable(old, new) or columns is not None and mergeable_for(columns, old, new):
            result = validate_file(feed.path, merged(old, new), sample_limit=0, report_dir=tmp, limits=limits)
            outcome.reads, outcome.records = 1, result.records_total
            report = _report(tmp)
            counts = {}
            for tag in (OLD, NEW):
                prefix = f"{tag}{TAG}"
                part = report.filter(pl.col("rule").str.starts_with(prefix)).with_columns(
                    pl.col("rule").str.strip_prefix(prefix))
                counts[tag] = _counts(part, result.records_total)
            return counts
        counts = {}
        for tag, rs in ((OLD, old), (NEW, new)):
            sub = Path(tmp) / tag
            result = validate_file(feed.path, rs, sample_limit=0, report_dir=sub, limits=limits)
            outcome.reads += 1
            outcome.records = result.records_total
            counts[tag] = _counts(_report(sub), result.records_total)
        return counts


def _report(directory: Path | str) -> pl.DataFrame:
    return pl.read_parquet(Path(directory) / "errors.parquet", columns=["row", "field", "rule", "severity"])


def _counts(report: pl.DataFrame, total: int) -> _Counts:
    """Per rule, per field and the records in error, from one version's report rows. A
    file-level row (no record number: a required column is absent) fails every record."""
    everyone = pl.int_range(1, total + 1, eager=True, dtype=pl.Int64)
    file_level = report.filter(pl.col("row").is_null())
    records = report.filter(pl.col("row").is_not_null())
    by_rule: dict[tuple[str, str, str], int] = {}
    for fld, rule, sev, n in records.group_by("field", "rule", "severity").len().iter_rows():
        by_rule[(fld, rule, sev)] = n
    for fld, rule, sev in file_level.select("field", "rule", "severity").iter_rows():
        by_rule[(fld, rule, sev)] = total
    errors = records.filter(pl.col("severity") == "error")
    by_field = dict(errors.group_by("field").agg(pl.col("row").n_unique()).iter_rows())
    absent = file_level.filter(pl.col("severity") == "error")
    for fld in absent.get_column("field").to_list():
        by_field[fld] = total
    rows = everyone if absent.height else errors.get_column("row").unique()
    return _Counts(by_rule=by_rule, by_field=by_field, error_rows=rows)


def _tally(out: Backtest, outcome: FeedOutcome, counts: dict[str, _Counts]) -> None:
    old, new = counts[OLD], counts[NEW]
    outcome.old_errors, outcome.new_errors = old.error_rows.len(), new.error_rows.len()
    outcome.newly_failing = new.error_rows.filter(~new.error_rows.is_in(old.error_rows.implode())).len()
    outcome.no_longer_failing = old.error_rows.filter(~old.error_rows.is_in(new.error_rows.implode())).len()
    if _add_changes(out.rules, outcome.label, old.by_rule, new.by_rule):
        outcome.counts_changed = True
    _add_changes(out.fields, outcome.label, old.by_field, new.by_field)


def _add_changes(changes: dict, label: str, old: dict, new: dict) -> bool:
    """Add one feed's old and new counts per key to ``changes``; whether any count differs."""
    differs = False
    for key in old.keys() | new.keys():
        change = changes.setdefault(key, Change())
        a, b = old.get(key, 0), new.get(key, 0)
        change.old += a
        change.new += b
        if a != b:
            change.feeds.add(label)
            differs = True
    return differs


def render(result: Backtest) -> list[str]:
    """The backtest as text: totals, then per field and per rule the counts that change."""
    usable = [f for f in result.feeds if f.problem is None]
    lines = [f"{result.old} -> {result.new}: {len(usable)} feed(s) re-validated, "
             f"{sum(f.affected for f in usable)} affected, {sum(f.records for f in usable):,} records, "
             f"{sum(f.newly_failing for f in usable):,} newly failing, "
             f"{sum(f.no_longer_failing for f in usable):,} no longer failing"]
    lines += [f"  skipped {f.label}: {f.problem}" for f in result.feeds if f.problem is not None]
    changed_fields = sorted(((k, c) for k, c in result.fields.items() if c.delta), key=lambda kc: -abs(kc[1].delta))
    if changed_fields:
        lines.append("records with an error, by field (old -> new, change, feeds affected):")
        lines += [f"  {fld}: {c.old:,} -> {c.new:,} ({c.delta:+,}) in {len(c.feeds)} feed(s)" for fld, c in changed_fields]
    changed_rules = sorted(((k, c) for k, c in result.rules.items() if c.delta), key=lambda kc: -abs(kc[1].delta))
    if changed_rules:
        lines.append("records failing, by rule:")
        lines += [f"  {fld} {rule} [{sev}]: {c.old:,} -> {c.new:,} ({c.delta:+,}) in {len(c.feeds)} feed(s)"
                  for (fld, rule, sev), c in changed_rules]
    if not changed_fields and not changed_rules:
        lines.append("no error count changes")
    return lines


def as_json(result: Backtest) -> dict:
    return {
        "old": result.old, "new": result.new,
        "feeds": [vars(f) for f in result.feeds],
        "fields": {k: {"old": c.old, "new": c.new, "delta": c.delta, "feeds": sorted(c.feeds)}
                   for k, c in sorted(result.fields.items())},
        "rules": [{"field": k[0], "rule": k[1], "severity": k[2], "old": c.old, "new": c.new, "delta": c.delta,
                   "feeds": sorted(c.feeds)} for k, c in sorted(result.rules.items())],
    }
