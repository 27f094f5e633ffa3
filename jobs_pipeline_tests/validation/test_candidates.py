"""The streaming pass's cheap tests are supersets of the exact rules (``fails`` implies
``may_fail``): what keeps the counts exact. Also the pieces they rest on: the GTIN check
against the reference's, the coupon prefix ranges, ``unique`` by hash then by value, and the
CSV chunk setting."""

import os
import string
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings, strategies as st

from jobs_pipeline.settings import SettingsError, load_settings
from jobs_pipeline.validation import engine as eng, expressions as ex
from jobs_pipeline.validation.candidates import Candidates, fails_every_missing
from jobs_pipeline.validation.reader import CSV_CHUNK_VARIABLE, limit_csv_chunks
from jobs_pipeline.validation.ruleset import COUPON_PREFIXES, Rule, ruleset_for
from jobs_pipeline.validation.sources import limits_from_settings
from jobs_pipeline_tests.validation.reference import _gtin_ok, rule_fails
from jobs_pipeline_tests.validation.test_agreement import COLUMNS, RULESET, VALUES

GM = ruleset_for("google_merchant", category="electronics", region="BR")
BLANKS = [None, "", " ", "\t", "  \u00a0 "]
# Characters that sit on the edges of the rules: signs, exponents, separators, accents
# (2-byte), a 3-byte dash, ASCII and Unicode whitespace.
ALPHABET = string.digits + "abcABC.-+e:/?#_ \t\u00a0\u2003é\u2013ç"
value = st.one_of(st.sampled_from(BLANKS), st.text(ALPHABET, max_size=16),
                  st.sampled_from([v for vs in VALUES.values() for v in vs]))


def _prepared(frame: pl.DataFrame, cands: Candidates) -> pl.DataFrame:
    for stage in cands.prepare():
        frame = frame.with_columns(stage)
    return frame


def _superset_holds(rules: list[Rule], rows: list[dict[str, str | None]]) -> None:
    columns = sorted({c for r in rows for c in r})
    frame = pl.DataFrame(rows, schema={c: pl.String for c in columns})
    cands = Candidates(rules, set(columns), exact_missing={r.field for r in rules if r.kind == "unique"})
    for rule in rules:
        if rule.kind == "unique":
            continue
        got = _prepared(frame, cands).select(
            ex.fails(rule, set(columns)).alias("exact"), cands.may_fail(rule).alias("may"))
        missed = got.with_row_index().filter(pl.col("exact") & ~pl.col("may"))
        assert missed.is_empty(), (rule.rule_id, [rows[i] for i in missed["index"]])
        assert got["may"].null_count() == 0


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.fixed_dictionaries({c: value for c in COLUMNS}), min_size=1, max_size=30))
def test_every_kind_superset(rows) -> None:
    _superset_holds(RULESET.rules, rows)


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(st.fixed_dictionaries({f: value for f in GM.fields}), min_size=1, max_size=30))
def test_google_merchant_superset(rows) -> None:
    _superset_holds(GM.rules, rows)


def test_the_superset_matches_the_reference_on_the_edges() -> None:
    """Hand-picked values where the cheap test and the exact one part ways."""
    rows = [{"title": "ççççççççç", "qty": "2e3", "url": "https://a.example/\u00a0x", "gtin": "-0000000",
             "sku": "  ", "price": "1e3", "sale": "-1e3", "cond": "NEW", "idx": "FALSE", "since": "2023-02-30",
             "active": "t"}]
    for rule in RULESET.rules:
        if rule.kind == "unique":
            continue
        exact = pl.DataFrame(rows).select(ex.fails(rule, set(rows[0]))).item()
        assert exact == rule_fails(rule, rows[0], set()), rule.rule_id
    _superset_holds(RULESET.rules, rows)


def test_strict_rules_fail_every_blank_value() -> None:
    frame = pl.DataFrame({"v": BLANKS}, schema={"v": pl.String})
    strict = [Rule(field="v", kind="type", type=t) for t in ("integer", "decimal", "boolean", "date")] + [
        Rule(field="v", kind="https_url"), Rule(field="v", kind="gtin"),
        Rule(field="v", kind="enum", values=["a", "b"])]
    for rule in strict:
        assert fails_every_missing(rule)
        cands = Candidates([rule], {"v"})
        assert _prepared(frame, cands).select(cands.may_fail(rule)).to_series().all(), rule.kind
    assert not fails_every_missing(Rule(field="v", kind="enum", values=["a", " "]))
    assert not fails_every_missing(Rule(field="v", kind="regex", pattern=".*"))


def _gtin_value() -> st.SearchStrategy[str]:
    digits = st.text("0123456789", min_size=6, max_size=15)
    return st.one_of(digits, st.builds(lambda s, p: p + s, digits, st.sampled_from(["+", "-", " ", "0", "98", "05"])),
                     st.builds(lambda s: s + "x", digits))


@settings(max_examples=300, deadline=None)
@given(values=st.lists(_gtin_value(), min_size=1, max_size=50))
def test_gtin_check_equals_the_reference(values) -> None:
    rule = Rule(field="gtin", kind="gtin")
    got = pl.DataFrame({"gtin": values}).select(ex.gtin_bad(pl.col("gtin"), rule).fill_null(True)).to_series()
    assert got.to_list() == [not _gtin_ok(v, COUPON_PREFIXES) for v in values]


@given(values=st.lists(st.one_of(st.none(), st.text(ALPHABET, max_size=4)), min_size=1, max_size=20),
       listed=st.lists(st.text(ALPHABET, max_size=4), max_size=ex.ONE_OF_EQUALITIES + 2))
def test_one_of_equals_is_in_nulls_included(values, listed) -> None:
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    got = frame.select(ex.one_of(pl.col("v"), listed)).to_series().to_list()
    assert got == frame.select(pl.col("v").is_in(listed)).to_series().to_list()


def test_coupon_prefixes_become_merged_ranges() -> None:
    assert ex._prefix_ranges(["981", "982", "983", "984", "99", "05"]) == [
        (5 * 10**11, 6 * 10**11), (981 * 10**10, 985 * 10**10), (99 * 10**11, 100 * 10**11)]
    with pytest.raises(ValueError, match="banned_prefixes"):
        Rule(field="gtin", kind="gtin", banned_prefixes=["98a"])


def test_unique_is_decided_by_value_when_hashes_collide(tmp_path: Path) -> None:
    """Two different values with the same hash: only the real repeat fails."""
    h = eng._hash("sku")
    records = pl.LazyFrame({"sku": ["A", "B", "C", "A", None], h: [7, 7, 9, 7, None]},
                           schema={"sku": pl.String, h: pl.UInt64})
    spill = eng._UniqueValues(["sku"], tmp_path / "unique.arrow")
    pl.collect_all([spill.sink(records)])
    assert spill.repeats("sku").rows() == [(4, "A")]


def test_csv_chunk_setting_reaches_polars_and_is_checked(monkeypatch, data_dir) -> None:
    monkeypatch.delenv(CSV_CHUNK_VARIABLE, raising=False)
    limit_csv_chunks(1 << 20)
    assert os.environ[CSV_CHUNK_VARIABLE] == str(1 << 20)
    with pytest.raises(ValueError):
        limit_csv_chunks(0)
    monkeypatch.setenv("FEED_CSV_CHUNK_BYTES", str(2 << 20))
    assert limits_from_settings(load_settings()).csv_chunk_bytes == 2 << 20
    monkeypatch.setenv("FEED_CSV_CHUNK_BYTES", "100")
    with pytest.raises(SettingsError, match="(?i)feed_csv_chunk_bytes"):
        load_settings()
