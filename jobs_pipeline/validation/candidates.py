"""Cheap supersets of each rule's failures, for the streaming pass.

Each rule gets a test that is True wherever the exact rule (:func:`.expressions.fails`) is and
costs less; only the records it flags are checked exactly. ``fails ⇒ may_fail`` is what keeps
the counts exact (docs/validation.md, "Streaming and memory").
"""

import polars as pl

from jobs_pipeline.validation import expressions as ex
from jobs_pipeline.validation.ruleset import Rule

#: Kinds whose unmasked test fails every missing value (null, empty, blank).
_STRICT_KINDS = frozenset({"type", "https_url", "gtin"})


def fails_every_missing(rule: Rule) -> bool:
    """Whether :func:`may_fail` of ``rule`` is True on every missing value of its field."""
    if rule.kind == "enum":
        return all(v.strip() != "" for v in rule.values or [])
    return rule.kind in _STRICT_KINDS


def _strict_column(field: str) -> str:
    return f"__strict:{field}"


def _number_column(field: str) -> str:
    return f"__gtin_number:{field}"


def missing_column(field: str) -> str:
    """Name of the column :meth:`Candidates.prepare` adds for a field of ``exact_missing``."""
    return f"__missing:{field}"


class Candidates:
    """The superset tests of one ruleset on the columns a file has."""

    def __init__(self, rules: list[Rule], columns: set[str], exact_missing: set[str] = frozenset()) -> None:
        self.rules = rules
        self.columns = columns
        #: Fields whose exact "missing" the caller needs too (``unique`` keys): one column each.
        self.exact_missing = sorted(set(exact_missing) & columns)
        # The enum values of each field: a condition on such a field can rule values out.
        self.enums: dict[str, list[str]] = {}
        for r in rules:
            if r.kind == "enum" and r.field in columns:
                self.enums.setdefault(r.field, []).extend(r.values or [])
        self._strict: dict[str, Rule] = {}
        for r in rules:
            if r.field in columns and r.field not in self._strict and fails_every_missing(r):
                self._strict[r.field] = r

    def prepare(self) -> list[list[pl.Expr]]:
        """Columns to add, stage after stage, before :meth:`may_fail`'s tests: a GTIN field's
        integer value, then each field's test that fails every missing value, computed once
        though its rule, ``required`` and ``required_if`` all use it (polars does not share
        such subexpressions between or within the tests by itself: measured twice the cost)."""
        numbers = [ex.gtin_number(pl.col(r.field)).alias(_number_column(r.field))
                   for r in self.rules if r.kind == "gtin" and r.field in self.columns]
        return [list({e.meta.output_name(): e for e in numbers}.values()),
                [*[self._unmasked(rule).alias(_strict_column(field)) for field, rule in self._strict.items()],
                 *[ex.missing(pl.col(field)).alias(missing_column(field)) for field in self.exact_missing]]]

    def maybe_missing(self, field: str) -> pl.Expr:
        """True on every missing value of a present ``field``."""
        if field in self._strict:
            return pl.col(_strict_column(field))
        if field in self.exact_missing:
            return pl.col(missing_column(field))
        return ex.missing(pl.col(field))

    def covered(self, rule: Rule) -> bool:
        """A ``required`` rule whose failures another rule's test already includes."""
        return rule.kind == "required" and rule.field in self._strict

    def may_fail(self, rule: Rule) -> pl.Expr:
        """True wherever ``fails(rule)`` is True; never null."""
        if rule.kind == "required_if":
            return self._required_if(rule)
        if rule.field not in self.columns:
            return pl.lit(rule.kind == "required")
        if rule.kind == "required":
            return self.maybe_missing(rule.field)
        if self._strict.get(rule.field) is rule:
            return pl.col(_strict_column(rule.field))
        return self._unmasked(rule)

    def _unmasked(self, rule: Rule) -> pl.Expr:
        col = pl.col(rule.field)
        match rule.kind:
            case "gtin":  # fails every missing value: null too
                return ex.gtin_bad(col, rule, n=pl.col(_number_column(rule.field))).fill_null(True)
            case "length" if rule.min is None and rule.max is not None:
                return (col.str.len_bytes() > int(rule.max)).fill_null(False)
            case "range":
                return (~ex.in_range(col.cast(pl.Float64, strict=False), rule)).fill_null(False)
            case "compare":
                if rule.other not in self.columns:
                    return pl.lit(False)
                right = pl.col(rule.other).cast(pl.Float64, strict=False)
                return (~ex.compare(col.cast(pl.Float64, strict=False), rule.op or "<=", right)).fill_null(False)
            case _:
                # A rule that fails every blank value must fail null too (it stands in for
                # ``required``, see :meth:`maybe_missing`); any other rule excuses null.
                return ex.fails(rule, self.columns, masked=False, null_fails=fails_every_missing(rule))

    def _holds(self, field: str, values: list[str]) -> pl.Expr:
        """True wherever the exact condition (trimmed, lower-cased value listed) may hold."""
        if field not in self.columns:
            return pl.lit(False)
        wanted = {v.strip().lower() for v in values}
        listed = self.enums.get(field)
        if listed:
            ruled_out = [v for v in listed if v.strip().lower() not in wanted]
            return pl.col(field).is_not_null() & ~ex.one_of(pl.col(field), ruled_out)
        return ex.holds(field, values)

    def _required_if(self, rule: Rule) -> pl.Expr:
        cond = pl.all_horizontal([self._holds(f, vs) for f, vs in (rule.when or {}).items()]) \
            if rule.when else pl.lit(True)
        if rule.unless:
            # A value written exactly as listed surely holds: those records surely pass.
            surely = [ex.one_of(pl.col(f), vs).fill_null(False) for f, vs in rule.unless.items() if f in self.columns]
            if surely:
                cond = cond & ~pl.any_horizontal(surely)
        absent = self.maybe_missing(rule.field) if rule.field in self.columns else pl.lit(True)
        return (cond & absent).fill_null(False)
