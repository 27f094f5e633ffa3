"""An independent, plain per-record implementation of the ruleset semantics (no polars):
``csv.DictReader`` rows in, the same counts out. It shares only the ``Rule`` data model
with the engine; every check is re-derived from the rule kinds' documentation."""

import csv
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from jobs_pipeline.validation.ruleset import Rule, Ruleset, normalise_name

_INT = re.compile(r"-?[0-9]+")
_DEC = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_URL = re.compile(r"https://[A-Za-z0-9.\-]+(:[0-9]{1,5})?([/?#][^\s]*)?")


@dataclass
class RefCounts:
    records_total: int = 0
    records_error: int = 0
    records_warning: int = 0
    errors_by_field: dict[str, int] = field(default_factory=dict)
    warnings_by_field: dict[str, int] = field(default_factory=dict)
    errors_by_rule: dict[str, int] = field(default_factory=dict)
    warnings_by_rule: dict[str, int] = field(default_factory=dict)

    @property
    def records_valid(self) -> int:
        return self.records_total - self.records_error


def _missing(v: str | None) -> bool:
    return v is None or v.strip() == ""


def _num(v: str) -> float | None:
    return float(v) if _DEC.fullmatch(v) else None


def _gtin_ok(v: str, prefixes: list[str]) -> bool:
    if not v.isascii() or not v.isdigit() or len(v) not in (8, 12, 13, 14):
        return False
    digits = v.zfill(14)
    body, check = digits[:13], int(digits[13])
    weighted = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(body))
    if (10 - weighted % 10) % 10 != check:
        return False
    return not any(digits[1:].startswith(p) for p in prefixes)


def _date_ok(v: str) -> bool:
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", v):
        return False
    try:
        datetime.strptime(v, "%Y-%m-%d")
        return True
    except ValueError:
        return False


def _in_bounds(x: float, r: Rule) -> bool:
    if r.min is not None and (x <= r.min if r.min_exclusive else x < r.min):
        return False
    if r.max is not None and (x >= r.max if r.max_exclusive else x > r.max):
        return False
    return True


def rule_fails(r: Rule, row: dict[str, str | None], seen: set[str]) -> bool:
    v = row.get(r.field)
    if r.kind == "required":
        return _missing(v)
    if r.kind == "required_if":
        def holds(name: str, values: list[str]) -> bool:
            x = row.get(name)
            return x is not None and x.strip().lower() in [w.strip().lower() for w in values]
        when = all(holds(k, vs) for k, vs in (r.when or {}).items())
        unless = any(holds(k, vs) for k, vs in (r.unless or {}).items())
        return when and not unless and _missing(v)
    if _missing(v):
        return False
    assert v is not None
    if r.kind == "type":
        return not {"integer": lambda s: bool(_INT.fullmatch(s)), "decimal": lambda s: bool(_DEC.fullmatch(s)),
                    "boolean": lambda s: s.lower() in ("true", "false", "yes", "no"), "date": _date_ok}[r.type](v)
    if r.kind == "range":
        x = _num(v)
        return x is not None and not _in_bounds(x, r)
    if r.kind == "length":
        n = len(v)
        return (r.min is not None and n < r.min) or (r.max is not None and n > r.max)
    if r.kind == "enum":
        return v not in (r.values or [])
    if r.kind == "regex":
        return re.fullmatch(r.pattern or "", v) is None
    if r.kind == "https_url":
        return _URL.fullmatch(v) is None
    if r.kind == "gtin":
        return not _gtin_ok(v, r.prefixes)
    if r.kind == "unique":
        dup = v in seen
        seen.add(v)
        return dup
    if r.kind == "compare":
        other = row.get(r.other or "")
        a, b = _num(v), (_num(other) if other is not None and not _missing(other) else None)
        if a is None or b is None:
            return False
        return not {"<": a < b, "<=": a <= b, "==": a == b, "!=": a != b, ">=": a >= b, ">": a > b}[r.op]
    raise AssertionError(r.kind)


def reference_counts(rows: list[dict[str, str | None]], ruleset: Ruleset) -> RefCounts:
    out = RefCounts()
    seen: dict[str, set[str]] = {r.rule_id: set() for r in ruleset.rules}
    for row in rows:
        out.records_total += 1
        failed = [r for r in ruleset.rules if rule_fails(r, row, seen[r.rule_id])]
        errors = [r for r in failed if r.severity == "error"]
        warnings = [r for r in failed if r.severity == "warning"]
        if errors:
            out.records_error += 1
        elif warnings:
            out.records_warning += 1
        for bucket_rule, bucket_field, group in ((out.errors_by_rule, out.errors_by_field, errors),
                                                 (out.warnings_by_rule, out.warnings_by_field, warnings)):
            for r in group:
                bucket_rule[r.rule_id] = bucket_rule.get(r.rule_id, 0) + 1
            for f in {r.field for r in group}:
                bucket_field[f] = bucket_field.get(f, 0) + 1
    return out


def read_csv_rows(path: Path, ruleset: Ruleset) -> list[dict[str, str | None]]:
    """UTF-8 CSV rows keyed by canonical field name (normalised names, then aliases); a line
    with no value (blank, or only delimiters) is not a record."""
    alias = {normalise_name(a): c for c, names in ruleset.aliases.items() for a in names}
    with Path(path).open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = [normalise_name(h) for h in next(reader)]
        keys = [h if h in ruleset.fields else alias.get(h, h) for h in header]
        return [{k: (None if x == "" else x) for k, x in zip(keys, rec)} for rec in reader if any(rec)]
