"""Vectorised validation with polars: every rule is a column expression, never a Python
loop per record.

One streaming pass: polars reads the file and computes one boolean column per rule; each
batch of ``ReadLimits.batch_rows`` records arrives here, where it is summed into the
counts, its few failing rows go to the error report and the sample, and progress is
reported. Memory is bounded by the batch size, not the file (``unique`` keeps the values
it has seen, one column's worth).

Counting semantics are those of :mod:`jobs_pipeline.metrics`. A required column missing
from the file fails that rule on every record but is reported once, as a file-level
message, not as one report row per record.
"""

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from jobs_pipeline.errors import FeedFormatError
from jobs_pipeline.validation import expressions as ex
from jobs_pipeline.validation.columns import map_columns
from jobs_pipeline.validation.feed_errors import FeedStructureError
from jobs_pipeline.validation.reader import first_ragged_row, open_table
from jobs_pipeline.validation.report import REPORT_VALUE_CHARS, ErrorReportWriter
from jobs_pipeline.validation.result import RecordError, ValidationResult
from jobs_pipeline.validation.rulesets import Rule, Ruleset
from jobs_pipeline.validation.sources import PlainFeed, ReadLimits, full_encoding, plain_feed, transcode_to_utf8

ROW = "__row"
FAILS = "__fails"
REPORT_SLICE_RECORDS = 50_000
BLOOM_BITS_LOG2 = 27
SAMPLE_VALUE_CHARS = 120


def _flag(i: int) -> str:
    return f"__r{i}"


def _hash(field: str) -> str:
    return f"__hash:{field}"


def _key(field: str) -> str:
    return f"__key:{field}"


def _any(names: list[str]) -> pl.Expr:
    return pl.any_horizontal([pl.col(n) for n in names]) if names else pl.lit(False)


def _owned(name: str) -> pl.Expr:
    """The string column with its own buffers (see :meth:`_Pass.__call__`)."""
    return (pl.col(name) + pl.lit("")).alias(name)


class _Pass:
    """State of one validation pass over a table.

    polars computes every rule's flag in its streaming engine; each batch that reaches
    :meth:`__call__` costs Python almost nothing: its failing rows (a few percent, with the
    values of the failing fields only) are kept, the 64-bit hashes and values of ``unique``
    fields are appended, and progress is reported. Everything else happens once, after the
    pass, on the failing rows: ``unique`` repeats (:meth:`_repeats`), the counts (all zero on
    a row that fails nothing), the report and the sample (:meth:`finish`).
    """

    def __init__(self, rules: list[Rule], present: set[str], report: ErrorReportWriter | None,
                 sample_limit: int, on_progress: Callable[[int], None] | None) -> None:
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
        self.aggregates = [
            is_error.sum().alias("error"),
            (_any(warn) & ~is_error).sum().alias("warning"),
            *[pl.col(_flag(i)).sum().alias(f"rule:{i}") for i in range(len(rules))],
            *[_any(names).sum().alias(f"field:{s}:{f}") for (s, f), names in by_field.items()],
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
        # "Is it missing?" costs a string pass per column: the stream computes it only for the
        # fields whose rules are about presence; elsewhere a rule's streamed flag does not
        # excuse a missing value (a superset) and :meth:`finish` masks it on the failing rows.
        self.presence_fields = sorted({r.field for r in rules if r.field in present
                                       and r.kind in ("required", "required_if", "unique")})
        self.recheck = [i for i in self.streamed if rules[i].field in present
                        and rules[i].field not in self.presence_fields and rules[i].kind not in ex.IMPLIES_PRESENT]
        self.total = 0
        self.failing: list[pl.DataFrame] = []
        self.hashes: dict[str, list[np.ndarray]] = {f: [] for f in self.unique_fields}
        self.presence: dict[str, list[np.ndarray]] = {f: [] for f in self.unique_fields}
        self.bloom: dict[str, np.ndarray] = {f: np.zeros(1 << (BLOOM_BITS_LOG2 - 3), dtype=np.uint8)
                                             for f in self.unique_fields}
        self.maybe: dict[str, list[pl.DataFrame]] = {f: [] for f in self.unique_fields}
        self.totals: dict[str, int] = {}
        self.sample: list[RecordError] = []

    def lazy_flags(self, frame: pl.LazyFrame) -> pl.LazyFrame:
        """Per record: the row number, each non-``unique`` rule's flag, whether any failed, the
        value of each field only where one of its rules failed (else null), and for ``unique``
        fields the value and its hash (null when missing)."""
        flags = [ex.fails(self.rules[i], self.present, precomputed=True, masked=i not in self.recheck).alias(_flag(i))
                 for i in self.streamed]
        presence = [(~ex.missing(pl.col(f))).alias(ex.present_column(f)) for f in self.presence_fields]
        # Values pass through as read (no copy); only the failing rows' are kept, in __call__.
        keys = [pl.col(ex.present_column(f)).alias(_key(f)) for f in self.unique_fields]
        hashes = [pl.col(f).hash(seed=0).alias(_hash(f)) for f in self.unique_fields]
        # Batches arrive in file order (``sink_batches`` keeps it): row numbers are added there.
        return (frame.with_columns(presence).with_columns(flags)
                .select(*[pl.col(_flag(i)) for i in self.streamed],
                        _any([_flag(i) for i in self.streamed]).alias(FAILS),
                        *map(pl.col, sorted(set(self.value_fields) | set(self.unique_fields))), *keys, *hashes))

    def __call__(self, batch: pl.DataFrame) -> None:
        # Kept strings are rebuilt (``+ ""``): polars string views point into the buffers the
        # whole batch was read into, so keeping a few rows as they are would keep all of the
        # batch's text alive (10M rows: 3.2 GB peak RSS instead of under 1 GB).
        failing = batch.with_row_index(ROW, offset=self.total + 1).filter(pl.col(FAILS))
        if failing.height:
            self.failing.append(failing.select(pl.col(ROW).cast(pl.Int64), *[_flag(i) for i in self.streamed],
                                               *[pl.when(_any(self.field_flags.get(f, []))).then(_owned(f)).alias(f)
                                                 for f in self.value_fields]))
        for f in self.unique_fields:
            self._remember(f, batch, self.total)
        self.total += batch.height
        if self.on_progress is not None:
            self.on_progress(self.total)

    def _remember(self, field: str, batch: pl.DataFrame, offset: int) -> None:
        """``unique`` state for one batch: every record's 64-bit hash (8 bytes a record) and
        presence, and the value of the records that may repeat an earlier one: those whose
        hash bit was already set in a 2^27-bit filter (16 MB; a few percent of false
        positives at 10M values) or that repeat a hash within the batch. A real repeat is
        always among them, so the report has its value without keeping every value."""
        hashes = batch.get_column(_hash(field))
        h = hashes.to_numpy()
        present = batch.get_column(_key(field)).to_numpy()
        slot = h >> np.uint64(64 - BLOOM_BITS_LOG2)
        byte, bit = (slot >> np.uint64(3)).astype(np.int64), (slot & np.uint64(7)).astype(np.uint8)
        bloom = self.bloom[field]
        maybe = present & (((bloom[byte] >> bit) & 1).astype(bool) | hashes.is_duplicated().to_numpy())
        byte, mask = byte[present], np.left_shift(np.uint8(1), bit[present])
        while len(byte):  # fancy |= keeps one write per byte: repeat for the bits it dropped (np.bitwise_or.at is ~10x slower)
            bloom[byte] |= mask
            lost = (bloom[byte] & mask) == 0
            byte, mask = byte[lost], mask[lost]
        self.hashes[field].append(h)
        self.presence[field].append(present)
        if maybe.any():
            rows = np.flatnonzero(maybe)
            self.maybe[field].append(pl.DataFrame({ROW: rows.astype(np.int64) + offset + 1}).with_columns(
                batch.get_column(field).gather(rows).alias(field) + pl.lit("")))

    def _repeats(self, field: str) -> pl.DataFrame:
        """``unique`` on ``field``: (row, value) of each present value whose 64-bit hash
        already appeared in an earlier record (the first occurrence passes). A hash collision
        (odds ~n²/2⁶⁵: ~3e-6 at 10M distinct values) could only over-count a duplicate."""
        empty = pl.DataFrame(schema={ROW: pl.Int64, field: pl.String})
        if not self.hashes[field]:
            return empty
        h = np.concatenate(self.hashes.pop(field))
        present = np.concatenate(self.presence.pop(field))
        seen = np.sort(h[present])  # a radix sort: ~4x faster than a hash table here
        repeated = np.unique(seen[1:][seen[1:] == seen[:-1]])
        del seen
        if not len(repeated):
            return empty
        hashes = pl.Series(h)
        rows = np.flatnonzero(present & hashes.is_in(pl.Series(repeated)).to_numpy())
        del present
        groups = pl.DataFrame({ROW: rows.astype(np.int64) + 1, "__h": h[rows]})
        del h, hashes
        repeats = groups.filter(~pl.col("__h").is_first_distinct()).select(ROW)
        maybe = pl.concat(self.maybe.pop(field)) if self.maybe[field] else empty
        return repeats.join(maybe, on=ROW, how="left")  # every repeat is among the "maybe" rows

    def _count_absent(self) -> None:
        """An absent required column fails its rule on every record (never streamed)."""
        if not self.absent_idx:
            return
        t, total = self.totals, self.total
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
        if self.recheck:  # streamed as supersets: a missing value does not fail these rules
            failing = failing.with_columns([(pl.col(_flag(i)) & ~ex.missing(pl.col(rules[i].field))).alias(_flag(i))
                                            for i in self.recheck])
        for field in self.unique_fields:
            repeats = self._repeats(field)
            idx = [i for i in self.unique_idx if rules[i].field == field]
            marks = repeats.select(ROW, *[pl.lit(True).alias(_flag(i)) for i in idx], pl.col(field).alias("__v"))
            failing = failing.join(marks, on=ROW, how="full", coalesce=True)
            failing = failing.with_columns(
                [pl.col(_flag(i)).fill_null(False) for i in self.streamed] + [pl.col(_flag(i)).fill_null(False) for i in idx]
                + [pl.coalesce(field, "__v").alias(field) if field in self.value_fields else pl.col(field)]
            ).drop("__v")
        failing = failing.with_columns([pl.lit(False).alias(_flag(i)) for i in range(len(rules))
                                        if _flag(i) not in failing.columns]).sort(ROW)
        sums = failing.select(self.aggregates).row(0, named=True)
        self.totals = {k: int(v or 0) for k, v in sums.items()}
        self.totals["total"] = self.total
        self._count_absent()
        if self.report is None and self.sample_limit <= 0:
            return
        # Report rows in record then rule order, built a slice of failing records at a time
        # (the failing rows are sorted by record), so the report never exists whole in memory.
        reported = [i for i in self.reportable if self.totals[f"rule:{i}"]]
        for start in range(0, failing.height, REPORT_SLICE_RECORDS):
            rows = self._report_rows(failing.slice(start, REPORT_SLICE_RECORDS), reported)
            if rows is None:
                continue
            if self.report is not None:
                self.report.write(rows)
            room = self.sample_limit - len(self.sample)
            for r in rows.head(max(room, 0)).iter_rows(named=True):
                value = r["value"]
                self.sample.append(RecordError(row=r["row"], field=r["field"], rule=r["rule"],
                                               severity=r["severity"], message=r["message"],
                                               value=None if value is None else value[:SAMPLE_VALUE_CHARS]))
            if self.report is None and len(self.sample) >= self.sample_limit:
                break

    def _report_rows(self, failing: pl.DataFrame, reported: list[int]) -> pl.DataFrame | None:
        parts = []
        for i in reported:
            rule = self.rules[i]
            value = pl.col(rule.field).str.slice(0, REPORT_VALUE_CHARS) if rule.field in self.present \
                else pl.lit(None, dtype=pl.String)
            parts.append(failing.filter(pl.col(_flag(i))).select(
                pl.col(ROW).alias("row"), pl.lit(i, dtype=pl.Int32).alias("__i"),
                pl.lit(rule.field).alias("field"), pl.lit(rule.rule_id).alias("rule"),
                pl.lit(rule.severity).alias("severity"), value.cast(pl.String).alias("value"),
                pl.lit(ex.message(rule)).alias("message")))
        rows = pl.concat(parts).sort("row", "__i").drop("__i") if parts else None
        return rows if rows is not None and rows.height else None


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

    ``progress_every`` is also the batch size (the memory budget in records) unless
    ``limits`` says otherwise. With ``report_dir``, the full error report is written there.
    """
    limits = limits or ReadLimits(batch_rows=progress_every)
    if on_progress is not None and progress_every < limits.batch_rows:  # progress at least every N records
        limits = dataclasses.replace(limits, batch_rows=max(1, progress_every))
    with plain_feed(path, limits) as feed:
        try:
            return _validate(feed, ruleset, on_progress, sample_limit, report_dir, limits)
        except _ReaderFailed:
            encoding = full_encoding(feed.path, feed.original.name)
            if encoding != "utf-8" and feed.encoding in ("utf-8", "utf-8-sig"):
                retry = transcode_to_utf8(feed, encoding, feed.workdir or feed.path.parent)
                try:
                    return _validate(retry, ruleset, on_progress, sample_limit, report_dir, limits)
                except _ReaderFailed as again:
                    raise FeedFormatError(f"{feed.original.name}: cannot be read as {again.fmt}") from None
            raise _explain(feed) from None


class _ReaderFailed(Exception):
    def __init__(self, fmt: str) -> None:
        self.fmt = fmt


def _explain(feed: PlainFeed) -> FeedFormatError:
    """Why polars could not read a text feed that opened fine: the first ragged record."""
    label = feed.original.name
    if feed.feed_format in ("csv", "tsv"):
        from jobs_pipeline.validation.reader import sniff_delimiter

        with feed.path.open("r", encoding="utf-8", errors="replace", newline="") as fh:
            head = fh.read(64 * 1024)
        sep = "\t" if feed.feed_format == "tsv" else sniff_delimiter(head)
        import csv
        import io

        header = next(csv.reader(io.StringIO(head), delimiter=sep), [])
        ragged = first_ragged_row(feed.path, sep, len(header))
        if ragged:
            return FeedStructureError(
                f"{label}: record {ragged[0]} has {ragged[1]} fields but the header has {len(header)} (ragged rows)")
    return FeedFormatError(f"{label}: cannot be read as {feed.feed_format}")


def _validate(feed: PlainFeed, ruleset: Ruleset, on_progress, sample_limit: int, report_dir, limits: ReadLimits
              ) -> ValidationResult:
    table = open_table(feed)
    label = feed.original.name
    cmap = map_columns(table.columns, ruleset, label)
    frame = table.frame.rename(cmap.renames) if cmap.renames else table.frame
    rules = ruleset.rules
    report = ErrorReportWriter(Path(report_dir)) if report_dir is not None else None
    state = _Pass(rules, cmap.present, report, sample_limit, on_progress)
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
    try:
        state.lazy_flags(frame).sink_batches(state, chunk_size=limits.batch_rows)
    except pl.exceptions.PolarsError:
        if report is not None:
            report.abort()
        raise _ReaderFailed(table.feed_format) from None
    total = state.total
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
    for (sev, field) in state.by_field:
        count = totals[f"field:{sev}:{field}"]
        if count:
            (result.errors_by_field if sev == "error" else result.warnings_by_field)[field] = count
    result.sample = state.sample
    return result
