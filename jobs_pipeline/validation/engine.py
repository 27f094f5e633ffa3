"""Vectorised validation with polars: every rule is a column expression, never a Python loop
per record.

One streaming pass flags the records that may fail (:mod:`.candidates`) and checks only those
with the exact rules, a batch at a time, while counting progress and spilling ``unique``'s
hashes; counts, report and sample then come from the failing rows (docs/validation.md).
"""

import csv
import dataclasses
import tempfile
from collections.abc import Callable
from pathlib import Path

import polars as pl

from jobs_pipeline.domain.errors import FeedFormatError
from jobs_pipeline.validation import expressions as ex
from jobs_pipeline.validation.candidates import Candidates, missing_column
from jobs_pipeline.validation.columns import map_columns
from jobs_pipeline.domain.errors import FeedStructureError
from jobs_pipeline.validation.reader import csv_rows, delimiter_of, first_ragged_row, limit_csv_chunks, open_table
from jobs_pipeline.validation.report import REPORT_VALUE_CHARS, ErrorReportWriter
from jobs_pipeline.validation.result import RecordError, ValidationResult
from jobs_pipeline.validation.ruleset import Rule, Ruleset
from jobs_pipeline.validation.sources import PlainFeed, ReadLimits, full_encoding, plain_feed, transcode_to_utf8

ROW = "__row"
BLANK = "__blank"
SOLE = "__sole"  # the record fails exactly one error rule
REPORT_SLICE_RECORDS = 50_000
SAMPLE_VALUE_CHARS = 120


def _flag(i: int) -> str:
    return f"__r{i}"


def _hash(field: str) -> str:
    return f"__hash:{field}"


def _any(names: list[str]) -> pl.Expr:
    return pl.any_horizontal([pl.col(n) for n in names]) if names else pl.lit(False)


def _owned(name: str) -> pl.Expr:
    """The string column with its own buffers (see :meth:`_Pass.__call__`)."""
    return (pl.col(name) + pl.lit("")).alias(name)


class _UniqueValues:
    """``unique`` across the whole file, in bounded memory.

    The stream itself writes each record's 64-bit hash of every ``unique`` field (null when
    the value is missing) and the value to a spill file: polars writes it in the same pass,
    no Python per batch. After the pass the hashes are read back (8 bytes a record) and
    sorted; only the records whose hash repeats have their values read, and among those
    polars finds the exact repeats by value, so a hash collision cannot count a duplicate
    that is not one.
    """

    def __init__(self, fields: list[str], path: Path) -> None:
        self.fields = fields
        self.path = path

    def sink(self, records: pl.LazyFrame) -> pl.LazyFrame:
        """The (lazy) sink of the spill file, for :func:`polars.collect_all`."""
        return records.select(*[pl.col(_hash(f)) for f in self.fields], *self.fields).sink_ipc(self.path, lazy=True)

    def repeats(self, field: str) -> pl.DataFrame:
        """(row, value) of each present value of ``field`` that an earlier record already had,
        in record order."""
        empty = pl.DataFrame(schema={ROW: pl.Int64, field: pl.String})
        hashes = pl.scan_ipc(self.path).select(_hash(field)).collect().to_series()
        keys = hashes.drop_nulls().sort()  # sorted: a repeat sits next to its twin (cheaper than hashing)
        repeated = keys.filter(keys == keys.shift(1))
        del keys
        if not len(repeated):
            return empty
        involved = hashes.is_in(repeated.unique().implode()).fill_null(False).arg_true()
        del hashes
        values = (pl.scan_ipc(self.path).select(field).with_row_index(ROW, offset=1)
                  .filter(pl.col(ROW).is_in((involved + 1).implode())).collect())
        return values.filter(~pl.col(field).is_first_distinct()).select(pl.col(ROW).cast(pl.Int64), _owned(field))


class _Pass:
    """State of one validation pass over a table.

    polars streams the file and computes, per record, a cheap test that is True wherever
    some rule may fail (:mod:`.candidates`); it keeps only those candidates (a few percent)
    and hands them to :meth:`_check` ``check_rows`` at a time, which runs the exact rules and
    keeps the rows that really fail, with the values of their failing fields. In the same
    pass polars hands the record count to :meth:`_count` (progress) and writes ``unique``'s
    hashes and values to a spill file (:class:`_UniqueValues`). Once the pass is over,
    :meth:`finish` adds ``unique``'s repeats and derives the counts (all zero on a row that
    fails nothing), the report and the sample from the failing rows.
    """

    def __init__(self, rules: list[Rule], present: set[str], report: ErrorReportWriter | None,
                 sample_limit: int, on_progress: Callable[[int], None] | None, workdir: Path) -> None:
        self.rules = rules
        self.present = present
        self.report = report
        self.sample_limit = sample_limit
        self.on_progress = on_progress
        self.unique_idx = [i for i, r in enumerate(rules) if r.kind == "unique" and r.field in present]
        self.unique_fields = sorted({rules[i].field for i in self.unique_idx})
        # Rules whose failures on every record come from an absent column: file-level only.
        self.absent_idx = {i for i, r in enumerate(rules) if r.kind == "required" and r.field not in present}
        err = [_flag(i) for i, r in enumerate(rules) if r.severity == "error"]
        warn = [_flag(i) for i, r in enumerate(rules) if r.severity == "warning"]
        by_field: dict[tuple[str, str], list[str]] = {}
        for i, r in enumerate(rules):
            by_field.setdefault((r.severity, r.field), []).append(_flag(i))
        self.by_field = by_field
        is_error = _any(err)
        self.error_idx = [i for i, r in enumerate(rules) if r.severity == "error"]
        # Per failing row, whether it fails exactly one error rule (:data:`SOLE`, computed once
        # a row in :meth:`finish`); that rule's ``sole:`` count is its flag masked by it.
        # (Booleans summed as they are: a cast first measured ~1.6x slower, bench/sole_errors_bench.py.)
        self.sole = (pl.sum_horizontal([pl.col(f) for f in err]) == 1) if err else pl.lit(False)
        self.aggregates = [
            is_error.sum().alias("error"),
            (_any(warn) & ~is_error).sum().alias("warning"),
            *[pl.col(_flag(i)).sum().alias(f"rule:{i}") for i in range(len(rules))],
            *[_any(names).sum().alias(f"field:{s}:{f}") for (s, f), names in by_field.items()],
            *[(pl.col(_flag(i)) & pl.col(SOLE)).sum().alias(f"sole:{i}") for i in self.error_idx],
        ]
        self.reportable = [i for i in range(len(rules)) if i not in self.absent_idx]
        # Fields whose value the report shows: every present field a reportable rule is on.
        self.value_fields = sorted({rules[i].field for i in self.reportable if rules[i].field in present})
        # In the stream: every rule but ``unique`` (decided after the pass) and the absent
        # required columns (they fail every record: counted, not streamed).
        self.streamed = [i for i in range(len(rules)) if i not in self.unique_idx and i not in self.absent_idx]
        self.field_flags: dict[str, list[str]] = {}
        for i in self.streamed:
            self.field_flags.setdefault(rules[i].field, []).append(_flag(i))
        # Every field the exact rules read: their own, ``compare``'s other, conditions.
        read = set(self.value_fields) | set(self.unique_fields)
        for i in self.streamed:
            r = rules[i]
            read |= {r.other} if r.other else set()
            read |= set(r.when or {}) | set(r.unless or {})
        self.read_fields = sorted(read & present)
        self.candidates = Candidates(rules, present, exact_missing=set(self.unique_fields))
        self.exact = [ex.fails(rules[i], present).alias(_flag(i)) for i in self.streamed]
        self.total = 0
        self.blank_lines: list[pl.Series] = []  # line numbers of the lines with no value
        self.failing: list[pl.DataFrame] = []
        self.unique = _UniqueValues(self.unique_fields, workdir / "unique.arrow") if self.unique_fields else None
        self.totals: dict[str, int] = {}
        self.sample: list[RecordError] = []

    def run(self, frame: pl.LazyFrame, check_rows: int, progress_rows: int) -> None:
        """The streaming pass: one read of the file feeding, in one polars graph (the read and
        the tests are shared): the candidates, filtered and numbered in the stream, to
        :meth:`_check` ``check_rows`` at a time; the row count to :meth:`_count`
        ``progress_rows`` at a time; and ``unique``'s spill file."""
        c = self.candidates
        tests = [c.may_fail(self.rules[i]) for i in self.streamed if not c.covered(self.rules[i])]
        candidate = pl.any_horizontal(tests) if tests else pl.lit(False)
        # A line with no value at all (blank, or only delimiters) is not a record: it is never
        # a candidate, and the stream numbers lines (it keeps file order); the few failing rows
        # are renumbered as records after the pass (:meth:`_renumber`), which costs nothing in
        # the stream (filtering before numbering measured ~25% slower).
        records = frame.with_columns(pl.all_horizontal(pl.all().is_null()).alias(BLANK)).with_row_index(ROW, offset=1)
        for stage in c.prepare():
            records = records.with_columns(stage)
        records = records.with_columns(
            *[pl.when(~pl.col(missing_column(f))).then(pl.col(f).hash(seed=0)).alias(_hash(f))
              for f in self.unique_fields])
        # Kept strings are rebuilt (``+ ""``): polars string views point into the buffers the
        # text was read into, so keeping a few rows as they are would keep all of it alive
        # (measured 3.2 GB peak RSS instead of under 1 GB at 10M rows).
        candidates = records.filter(candidate & ~pl.col(BLANK)).select(pl.col(ROW).cast(pl.Int64), *map(_owned, self.read_fields))
        outputs = [candidates.sink_batches(self._check, chunk_size=check_rows, lazy=True),
                   records.select(ROW, BLANK).sink_batches(self._count, chunk_size=progress_rows, lazy=True)]
        if self.unique is not None:
            outputs.append(self.unique.sink(records))
        pl.collect_all(outputs, engine="streaming")

    def _count(self, lines: pl.DataFrame) -> None:
        blank = lines.filter(pl.col(BLANK)).get_column(ROW)
        if len(blank):
            self.blank_lines.append(blank.cast(pl.Int64))
        self.total += lines.height - len(blank)
        if self.on_progress is not None:
            self.on_progress(self.total)

    def _check(self, candidates: pl.DataFrame) -> None:
        """The exact rules on ``check_rows`` candidates (polars' fixed cost per expression is
        paid once per batch of candidates); the rows that really fail are kept, with the
        values of their failing fields."""
        flags = [_flag(i) for i in self.streamed]
        # A value is kept only where a rule on its field failed (the report shows no other),
        # but ``unique`` fields keep theirs: a record may turn out to be a repeat after the
        # pass. Kept values are copied (``+ ""``) once masked: views into the candidates'
        # buffers would keep every candidate's text alive (10M rows: ~700 bytes a failing row).
        kept = [pl.col(f) if f in self.unique_fields else pl.when(_any(self.field_flags.get(f, []))).then(pl.col(f))
                for f in self.value_fields]
        failing = (candidates.lazy().select(ROW, *self.exact, *self.value_fields)
                   .filter(_any(flags))
                   .select(ROW, *flags, *[(v + pl.lit("")).alias(f) for v, f in zip(kept, self.value_fields, strict=True)])
                   .collect())
        if failing.height:
            self.failing.append(failing)

    def _merge_repeats(self, failing: pl.DataFrame, field: str, repeats: pl.DataFrame) -> pl.DataFrame:
        """``failing`` with ``field``'s ``unique`` flags set on the repeated records, and a row
        for each repeated record that failed nothing else (both frames in record order)."""
        flags = [_flag(i) for i in self.unique_idx if self.rules[i].field == field]
        failing = failing.with_columns(pl.col(ROW).is_in(repeats.get_column(ROW).implode()).alias(f) for f in flags)
        new = repeats.filter(~pl.col(ROW).is_in(failing.get_column(ROW).implode()))
        if not new.height:
            return failing
        # The new rows in ``failing``'s shape: this field's flags set, the other flags unset.
        new = new.select(pl.col(c) if c in (ROW, field)
                         else pl.lit(c in flags if dtype == pl.Boolean else None, dtype).alias(c)
                         for c, dtype in failing.schema.items())
        return failing.merge_sorted(new, key=ROW)

    @property
    def blank(self) -> int:
        return sum(len(s) for s in self.blank_lines)

    def _renumber(self, failing: pl.DataFrame) -> pl.DataFrame:
        """Line numbers -> record numbers: minus the blank lines before each (vectorised)."""
        if not self.blank_lines:
            return failing
        blank = pl.concat(self.blank_lines)
        before = blank.search_sorted(failing.get_column(ROW), side="left")
        return failing.with_columns((pl.col(ROW) - before.cast(pl.Int64)).alias(ROW))

    def _count_absent(self) -> None:
        """An absent required column fails its rule on every record (never streamed).

        So every record fails it: with one such error rule, the records failing no streamed
        error rule fail it alone; with two or more, no record fails a single error rule."""
        if not self.absent_idx:
            return
        t, total = self.totals, self.total
        absent_errors = [i for i in self.absent_idx if self.rules[i].severity == "error"]
        if absent_errors:
            for i in self.error_idx:
                t[f"sole:{i}"] = 0
            if len(absent_errors) == 1:
                t[f"sole:{absent_errors[0]}"] = total - t["error"]  # ``error`` still counts streamed rules only
        for i in self.absent_idx:
            t[f"rule:{i}"] = total
            t[f"field:{self.rules[i].severity}:{self.rules[i].field}"] = total
        if any(self.rules[i].severity == "error" for i in self.absent_idx):
            t["error"], t["warning"] = total, 0
        else:  # an absent warning: every record without an error is a warning record
            t["warning"] = total - t["error"]

    def finish(self) -> None:
        """Counts, report and sample from the failing rows, once the pass is over."""
        rules = self.rules
        flag_schema = {_flag(i): pl.Boolean for i in self.streamed}
        empty = pl.DataFrame(schema={ROW: pl.Int64, **flag_schema, **{f: pl.String for f in self.value_fields}})
        failing = pl.concat(self.failing, how="vertical", rechunk=False) if self.failing else empty
        self.failing = []
        # ``failing`` is in record order (the stream keeps file order); so are the repeats,
        # which are merged in without a join or a sort.
        for field in self.unique_fields:
            failing = self._merge_repeats(failing, field, self.unique.repeats(field))
        failing = self._renumber(failing)
        failing = failing.with_columns([pl.lit(False).alias(_flag(i)) for i in range(len(rules))
                                        if _flag(i) not in failing.columns])
        sums = failing.with_columns(self.sole.alias(SOLE)).select(self.aggregates).row(0, named=True)
        self.totals = {k: int(v or 0) for k, v in sums.items()}
        self.totals["total"] = self.total
        self._count_absent()
        if self.report is None and self.sample_limit <= 0:
            return
        # Report rows in record then rule order. Each slice of failing records (sorted by
        # record) is sorted by rule on its own, so the report never exists whole in memory:
        # polars streams the slices into the files one after the other.
        reported = [i for i in self.reportable if self.totals[f"rule:{i}"]]
        if not reported:
            return
        if self.report is not None:
            self.report.write(pl.concat([self._report_rows(failing.slice(start, REPORT_SLICE_RECORDS), reported)
                                         for start in range(0, failing.height, REPORT_SLICE_RECORDS)]))
        if self.sample_limit > 0:  # a record fails at least one rule: the first N records hold the first N rows
            for r in self._report_rows(failing.head(self.sample_limit), reported).head(self.sample_limit).collect(
                    ).iter_rows(named=True):
                value = r["value"]
                self.sample.append(RecordError(row=r["row"], field=r["field"], rule=r["rule"],
                                               severity=r["severity"], message=r["message"],
                                               value=None if value is None else value[:SAMPLE_VALUE_CHARS]))

    def _report_rows(self, failing: pl.DataFrame, reported: list[int]) -> pl.LazyFrame:
        parts = []
        for i in reported:
            rule = self.rules[i]
            value = pl.col(rule.field).str.slice(0, REPORT_VALUE_CHARS) if rule.field in self.present \
                else pl.lit(None, dtype=pl.String)
            parts.append(failing.lazy().filter(pl.col(_flag(i))).select(
                pl.col(ROW).alias("row"), pl.lit(i, dtype=pl.Int32).alias("__i"),
                pl.lit(rule.field).alias("field"), pl.lit(rule.rule_id).alias("rule"),
                pl.lit(rule.severity).alias("severity"), value.cast(pl.String).alias("value"),
                pl.lit(ex.message(rule)).alias("message")))
        return pl.concat(parts).sort("row", "__i").drop("__i")


def validate_file(
    path: Path | str,
    ruleset: Ruleset,
    *,
    on_progress: Callable[[int], None] | None = None,
    progress_every: int = 100_000,
    sample_limit: int = 20,
    report_dir: Path | str | None = None,
    limits: ReadLimits | None = None,
) -> ValidationResult:
    """Validate one feed file. Raises ``FeedError`` subclasses when the file is unusable.

    Candidate records (those a cheap test says may fail) reach Python ``limits.batch_rows``
    at a time (the memory budget); ``on_progress`` is called every ``progress_every``
    records. With ``report_dir``, the full error report is written there.
    """
    options = _Options(on_progress, max(1, progress_every), sample_limit, report_dir, limits or ReadLimits())
    with plain_feed(path, options.limits) as feed:
        try:
            return _validate(feed, ruleset, options)
        except _ReaderFailed:
            encoding = full_encoding(feed.path, feed.original.name)
            if encoding != "utf-8" and feed.encoding in ("utf-8", "utf-8-sig"):
                retry = transcode_to_utf8(feed, encoding, feed.workdir or feed.path.parent)
                try:
                    return _validate(retry, ruleset, options)
                except _ReaderFailed as again:
                    raise FeedFormatError(f"{feed.original.name}: cannot be read as {again.fmt}") from None
            raise _explain(feed) from None


@dataclasses.dataclass(frozen=True)
class _Options:
    """What :func:`validate_file` was asked for, handed down as one."""

    on_progress: Callable[[int], None] | None
    progress_every: int
    sample_limit: int
    report_dir: Path | str | None
    limits: ReadLimits


class _ReaderFailed(Exception):
    def __init__(self, fmt: str) -> None:
        self.fmt = fmt


def _explain(feed: PlainFeed) -> FeedFormatError:
    """Why polars could not read a text feed that opened fine: the first ragged record."""
    label = feed.original.name
    if feed.feed_format in ("csv", "tsv"):
        sep = delimiter_of(feed)
        try:
            with feed.path.open("r", encoding="utf-8", errors="replace", newline="") as fh:
                header = next(csv_rows(fh, sep), [])
            ragged = first_ragged_row(feed.path, sep, len(header))
        except csv.Error as exc:
            return FeedFormatError(f"{label}: cannot be read as {feed.feed_format} ({exc})")
        if ragged:
            return FeedStructureError(
                f"{label}: record {ragged[0]} has {ragged[1]} fields but the header has {len(header)} (ragged rows)")
    return FeedFormatError(f"{label}: cannot be read as {feed.feed_format}")


def _validate(feed: PlainFeed, ruleset: Ruleset, options: _Options) -> ValidationResult:
    # Scratch space of the pass (``unique``'s spilled values), next to the feed's own.
    with tempfile.TemporaryDirectory(prefix="pass-", dir=feed.workdir) as scratch:
        return _validate_in(feed, ruleset, options, Path(scratch))


def _validate_in(feed: PlainFeed, ruleset: Ruleset, options: _Options, scratch: Path) -> ValidationResult:
    table = open_table(feed)
    label = feed.original.name
    cmap = map_columns(table.columns, ruleset, label)
    frame = table.frame.rename(cmap.renames) if cmap.renames else table.frame
    rules = ruleset.rules
    report = ErrorReportWriter(Path(options.report_dir)) if options.report_dir is not None else None
    state = _Pass(rules, cmap.present, report, options.sample_limit, options.on_progress, scratch)
    fmt = f"{table.feed_format}+{feed.compression}" if feed.compression else table.feed_format
    result = ValidationResult(feed_format=fmt, encoding=table.encoding, columns=table.columns)
    for i in sorted(state.absent_idx):
        r = rules[i]
        msg = f"required column {r.field!r} is missing: every record fails {r.rule_id}"
        (result.file_errors if r.severity == "error" else result.file_warnings).append(msg)
        if report is not None:
            report.write_file_level(r.field, r.rule_id, r.severity, msg)
    if ruleset.unknown_columns == "warning":
        for name in cmap.unknown:
            result.file_warnings.append(f"unknown column {name!r}: no {ruleset.ref} rule reads it")
    limit_csv_chunks(options.limits.csv_chunk_bytes)
    try:
        state.run(frame, check_rows=options.limits.batch_rows, progress_rows=options.progress_every)
    except pl.exceptions.PolarsError:
        if report is not None:
            report.abort()
        raise _ReaderFailed(table.feed_format) from None
    total = state.total
    if state.blank:
        result.file_warnings.append(f"{state.blank} blank line(s) skipped: a line with no value is not a record")
    if total:
        state.finish()
    totals = state.totals
    if total == 0:
        if report is not None:
            report.abort()
        raise FeedStructureError(f"{label}: no records (header only?)")
    if report is not None:
        report.close()
        result.error_report_paths = [str(report.parquet_path), str(report.csv_path)]
    result.records_total = total
    result.records_error = totals["error"]
    result.records_warning = totals["warning"]
    result.records_valid = total - result.records_error
    for i, r in enumerate(rules):
        count = totals[f"rule:{i}"]
        if count:
            target = result.errors_by_rule if r.severity == "error" else result.warnings_by_rule
            target[r.rule_id] = target.get(r.rule_id, 0) + count
        sole = totals.get(f"sole:{i}", 0)
        if sole:
            result.sole_errors_by_rule[r.rule_id] = result.sole_errors_by_rule.get(r.rule_id, 0) + sole
    for (sev, field) in state.by_field:
        count = totals[f"field:{sev}:{field}"]
        if count:
            (result.errors_by_field if sev == "error" else result.warnings_by_field)[field] = count
    result.sample = state.sample
    return result
