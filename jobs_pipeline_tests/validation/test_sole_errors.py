"""``sole_errors_by_rule``: per error rule, the records whose only failing error rule it is.

Checked on a crafted feed (a record failing two error rules counts for neither, one failing a
single rule counts for it, warnings never matter, absent required columns fail every record)
and against the plain per-record reference on generated feeds."""

from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from jobs_pipeline.validation.engine import validate_file
from jobs_pipeline.validation.ruleset import Ruleset, ruleset_for
from jobs_pipeline.validation.sources import ReadLimits
from jobs_pipeline_tests.validation.reference import read_csv_rows, rule_fails
from jobs_pipeline_tests.validation.test_agreement import COLUMNS, RULESET, _write, feedgen, row_strategy

CRAFTED = Ruleset.model_validate({
    "name": "sole", "version": "1", "marketplace": "test",
    "rules": [
        {"field": "sku", "kind": "required"},
        {"field": "sku", "kind": "unique"},
        {"field": "price", "kind": "type", "type": "decimal"},
        {"field": "title", "kind": "length", "max": 5},
        {"field": "url", "kind": "https_url", "severity": "warning"},
    ],
})


def reference_sole(rows: list[dict[str, str | None]], ruleset: Ruleset) -> dict[str, int]:
    """Per record, the error rules it fails (plain Python); those failing exactly one count it."""
    seen: dict[str, set[str]] = {r.rule_id: set() for r in ruleset.rules}
    out: dict[str, int] = {}
    for row in rows:
        failed = [r.rule_id for r in ruleset.rules if rule_fails(r, row, seen[r.rule_id])
                  and r.severity == "error"]
        if len(failed) == 1:
            out[failed[0]] = out.get(failed[0], 0) + 1
    return out


def _csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_record_failing_two_error_rules_counts_for_neither(tmp_path: Path) -> None:
    feed = _csv(tmp_path / "feed.csv", "\n".join([
        "sku,price,title,url",
        "A1,9.90,ok,https://a.example",        # valid
        "A2,x,ok,https://a.example",           # price.type alone
        "A3,x,toolongtitle,https://a.example",  # price.type + title.length: neither
        ",9.90,ok,http://a.example",           # sku.required alone (the warning does not matter)
        "A1,9.90,ok,https://a.example",        # sku.unique alone (a repeat)
        "A1,y,ok,https://a.example",           # sku.unique + price.type: neither
        "A5,1,toolongtitle,ftp://x",           # title.length alone
        "A6,2,ok,ftp://x",                     # a warning only: no error at all
    ]) + "\n")
    got = validate_file(feed, CRAFTED, limits=ReadLimits(batch_rows=3))
    assert got.records_error == 6
    assert got.errors_by_rule == {"price.type": 3, "title.length": 2, "sku.required": 1, "sku.unique": 2}
    assert got.sole_errors_by_rule == {"price.type": 1, "sku.required": 1, "sku.unique": 1, "title.length": 1}


def test_one_absent_required_column_is_the_sole_error_of_records_failing_nothing_else(tmp_path: Path) -> None:
    feed = _csv(tmp_path / "feed.csv", "price,title\n9.90,ok\nx,ok\nx,toolongtitle\n1,ok\n")
    got = validate_file(feed, CRAFTED)
    assert got.errors_by_rule == {"sku.required": 4, "price.type": 2, "title.length": 1}
    # Every record fails sku.required: rows 1 and 4 fail it alone; rows 2 and 3 fail more.
    assert got.sole_errors_by_rule == {"sku.required": 2}


def test_two_absent_required_columns_leave_no_sole_error(tmp_path: Path) -> None:
    ruleset = Ruleset.model_validate({
        "name": "two_absent", "version": "1", "marketplace": "test",
        "rules": [{"field": "sku", "kind": "required"}, {"field": "gtin", "kind": "required"},
                  {"field": "price", "kind": "type", "type": "decimal"}, {"field": "title", "kind": "length", "max": 5}],
    })
    feed = _csv(tmp_path / "feed.csv", "price,title\n9.90,ok\nx,ok\n")
    got = validate_file(feed, ruleset)
    assert got.records_error == 2 and got.sole_errors_by_rule == {}


def test_a_feed_without_errors_has_an_empty_map(tmp_path: Path) -> None:
    feed = _csv(tmp_path / "feed.csv", "sku,price,title,url\nA1,1,ok,ftp://x\nA2,2,ok,https://a.example\n")
    got = validate_file(feed, CRAFTED)
    assert got.records_error == 0 and got.records_warning == 1 and got.sole_errors_by_rule == {}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row_strategy, min_size=1, max_size=40),
       dropped=st.sets(st.sampled_from(["gtin", "idx", "sale", "price", "sku"]), max_size=2),
       batch_rows=st.sampled_from([3, 1000]))
def test_sole_errors_equal_the_per_record_reference(tmp_path: Path, rows, dropped, batch_rows) -> None:
    path = tmp_path / "feed.csv"
    _write(path, rows, [c for c in COLUMNS if c not in dropped])
    got = validate_file(path, RULESET, limits=ReadLimits(batch_rows=batch_rows))
    assert got.sole_errors_by_rule == reference_sole(read_csv_rows(path, RULESET), RULESET)
    assert sum(got.sole_errors_by_rule.values()) <= got.records_error


def test_google_merchant_feed_sole_errors_equal_the_reference(tmp_path: Path) -> None:
    path = feedgen.generate(tmp_path / "gm.csv", 3000, seed=5, bad_share=0.3)
    for category, region in (("apparel", "BR"), ("electronics", "US")):
        ruleset = ruleset_for("google_merchant", category=category, region=region)
        got = validate_file(path, ruleset, limits=ReadLimits(batch_rows=1000))
        expected = reference_sole(read_csv_rows(path, ruleset), ruleset)
        assert got.sole_errors_by_rule == expected
        assert sum(expected.values()) > 0 and any(v < got.errors_by_rule[k] for k, v in expected.items())
