"""Vectorised validation with polars: every rule is a column expression, never a Python loop
per record.

The file is streamed in batches (``progress_every`` records): each batch computes one
boolean column per rule, the counts are sums over those columns, and only the few failing
rows needed for the sample are ever turned into Python objects.
"""

from collections.abc import Callable
from pathlib import Path

import polars as pl

from jobs_pipeline.errors import FeedFormatError
from jobs_pipeline.validation.reader import open_feed
from jobs_pipeline.validation.result import RecordError, ValidationResult
from jobs_pipeline.validation.rulesets import Rule, Ruleset

ROW = "__row"
SAMPLE_VALUE_CHARS = 120
HTTPS_URL = r"^https://[A-Za-z0-9.\-]+(:[0-9]+)?(/[^\s]*)?$"
DECIMAL = r"^[0-9]+(\.[0-9]+)?$"


def _missing(col: pl.Expr) -> pl.Expr:
    return col.is_null() | (col.str.strip_chars() == "")


def _fails(rule: Rule, columns: set[str]) -> pl.Expr:
    """True where ``rule`` fails. Rules other than ``required`` pass on missing values."""
    if rule.field not in columns:
        return pl.lit(rule.kind == "required")
    col = pl.col(rule.field)
    present = ~_missing(col)
    match rule.kind:
        case "required":
            return ~present
        case "length":
            bad = col.str.len_chars() > int(rule.max)  # characters, not bytes
        case "enum":
            bad = ~col.is_in(rule.values)
        case "https_url":
            bad = ~col.str.contains(HTTPS_URL)
        case "regex":
            bad = ~col.str.contains(rule.pattern)
        case "decimal_range":
            number = col.cast(pl.Float64, strict=False)
            bad = ~col.str.contains(DECIMAL)
            if rule.min is not None:
                bad = bad | ((number <= rule.min) if rule.min_exclusive else (number < rule.min))
            if rule.max is not None:
                bad = bad | (number > rule.max)
        case _:  # pragma: no cover - guarded by the Rule model
            raise ValueError(rule.kind)
    return (present & bad.fill_null(True)).fill_null(False)


def _message(rule: Rule) -> str:
    if rule.message:
        return rule.message
    return {
        "required": f"{rule.field} is required",
        "length": f"{rule.field} is longer than {int(rule.max or 0)} characters",
        "enum": f"{rule.field} must be one of {', '.join(rule.values or [])}",
        "https_url": f"{rule.field} must be an https URL",
        "regex": f"{rule.field} has an invalid format",
        "decimal_range": f"{rule.field} must be a decimal number"
        + (f" {'>' if rule.min_exclusive else '>='} {rule.min:g}" if rule.min is not None else "")
        + (f" <= {rule.max:g}" if rule.max is not None else ""),
    }[rule.kind]


def _flag(i: int) -> str:
    return f"__r{i}"


def _any(names: list[str]) -> pl.Expr:
    return pl.any_horizontal([pl.col(n) for n in names]) if names else pl.lit(False)


def validate_file(
    path: Path | str,
    ruleset: Ruleset,
    *,
    on_progress: Callable[[int], None] | None = None,
    progress_every: int = 100_000,
    sample_limit: int = 20,
) -> ValidationResult:
    """Validate one feed file. Raises ``FeedError`` subclasses when the file is unusable."""
    table = open_feed(path)
    columns = set(table.columns)
    rules = ruleset.rules
    flags = [_fails(rule, columns).alias(_flag(i)) for i, rule in enumerate(rules)]
    err_idx = [i for i, r in enumerate(rules) if r.severity == "error"]
    warn_idx = [i for i, r in enumerate(rules) if r.severity == "warning"]
    by_field: dict[tuple[str, str], list[str]] = {}
    for i, r in enumerate(rules):
        by_field.setdefault((r.severity, r.field), []).append(_flag(i))

    is_error = _any([_flag(i) for i in err_idx])
    is_warning = _any([_flag(i) for i in warn_idx]) & ~is_error
    aggregates = [
        pl.len().alias("total"),
        is_error.sum().alias("error"),
        is_warning.sum().alias("warning"),
        *[pl.col(_flag(i)).sum().alias(f"rule:{i}") for i in range(len(rules))],
        *[_any(names).sum().alias(f"field:{sev}:{field}") for (sev, field), names in by_field.items()],
    ]
    value_cols = sorted(columns & set(ruleset.fields))
    lazy = table.frame.with_row_index(ROW, offset=1).select(pl.col(ROW), *[pl.col(c) for c in value_cols], *flags)

    result = ValidationResult(feed_format=table.feed_format, encoding=table.encoding, columns=table.columns)
    missing_required = sorted({r.field for r in rules if r.kind == "required" and r.field not in columns})
    for name in missing_required:
        result.file_errors.append(f"required column {name!r} is missing: every record fails {name}.required")

    totals: dict[str, int] = {}
    try:
        for batch in lazy.collect_batches(chunk_size=progress_every):
            sums = batch.select(aggregates).row(0, named=True)
            for key, value in sums.items():
                totals[key] = totals.get(key, 0) + int(value or 0)
            if len(result.sample) < sample_limit:
                _sample(batch, rules, value_cols, result, sample_limit)
            if on_progress is not None:
                on_progress(totals["total"])
    except pl.exceptions.PolarsError as exc:
        raise FeedFormatError(f"{Path(path).name}: unreadable as {table.feed_format}: {type(exc).__name__}") from None

    total = totals.get("total", 0)
    if total == 0:
        raise FeedFormatError(f"{Path(path).name}: no records (header only?)")
    result.records_total = total
    result.records_error = totals["error"]
    result.records_warning = totals["warning"]
    result.records_valid = total - result.records_error
    for i, r in enumerate(rules):
        count = totals[f"rule:{i}"]
        if count:
            target = result.errors_by_rule if r.severity == "error" else result.warnings_by_rule
            target[r.rule_id] = target.get(r.rule_id, 0) + count
    for (sev, field), _ in by_field.items():
        count = totals[f"field:{sev}:{field}"]
        if count:
            (result.errors_by_field if sev == "error" else result.warnings_by_field)[field] = count
    return result


def _sample(batch: pl.DataFrame, rules: list[Rule], value_cols: list[str], result: ValidationResult, limit: int) -> None:
    """Add the first failing values of this batch to the sample (at most ``limit`` in all)."""
    failing = batch.filter(_any([_flag(i) for i in range(len(rules))])).head(limit - len(result.sample))
    for row in failing.iter_rows(named=True):  # at most `limit` rows: not the hot path
        for i, rule in enumerate(rules):
            if len(result.sample) >= limit:
                return
            if row[_flag(i)]:
                value = row.get(rule.field) if rule.field in value_cols else None
                result.sample.append(
                    RecordError(
                        row=row[ROW],
                        field=rule.field,
                        rule=rule.rule_id,
                        severity=rule.severity,
                        value=None if value is None else str(value)[:SAMPLE_VALUE_CHARS],
                        message=_message(rule),
                    )
                )
