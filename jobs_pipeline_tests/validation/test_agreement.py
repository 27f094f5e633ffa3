"""The engine's counts equal the per-record reference's exactly (per field and per rule),
on generated feeds with injected faults and on a seeded Google-Merchant-like feed."""

import csv
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from jobs_pipeline.validation.engine import validate_file
from jobs_pipeline.validation.ruleset import Ruleset, ruleset_for
from jobs_pipeline.validation.sources import ReadLimits
from jobs_pipeline_tests.validation.reference import read_csv_rows, reference_counts

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import feedgen  # noqa: E402

RULESET = Ruleset.model_validate({
    "name": "every_kind", "version": "1", "marketplace": "test",
    "rules": [
        {"field": "sku", "kind": "required"},
        {"field": "sku", "kind": "unique"},
        {"field": "qty", "kind": "type", "type": "integer"},
        {"field": "qty", "kind": "range", "min": 0, "max": 1000},
        {"field": "price", "kind": "type", "type": "decimal"},
        {"field": "price", "kind": "range", "min": 0, "min_exclusive": True},
        {"field": "sale", "kind": "compare", "op": "<=", "other": "price"},
        {"field": "active", "kind": "type", "type": "boolean", "severity": "warning"},
        {"field": "since", "kind": "type", "type": "date"},
        {"field": "title", "kind": "length", "min": 2, "max": 10},
        {"field": "title", "kind": "regex", "pattern": "[^!$?]*", "id": "title.banned"},
        {"field": "cond", "kind": "enum", "values": ["new", "used"]},
        {"field": "url", "kind": "https_url", "severity": "warning"},
        {"field": "gtin", "kind": "gtin"},
        {"field": "gtin", "kind": "required_if", "when": {"cond": ["new"]}, "unless": {"idx": ["false"]}},
        {"field": "gtin", "kind": "unique", "severity": "warning", "id": "gtin.unique"},
    ],
})
COLUMNS = ["sku", "qty", "price", "sale", "active", "since", "title", "cond", "url", "gtin", "idx"]

VALUES = {
    "sku": ["A1", "A2", "A3", "B7", "", " ", "\t", "a1"],
    "qty": ["0", "5", "1000", "1001", "-1", "5.0", "+5", "1e3", "2e3", "N/A", "", "007"],
    "price": ["9.90", "0", "0.01", "-2.00", "5.", ".5", "1e3", "N/A", "5,00", "12", ""],
    "sale": ["9.90", "1", "100", "x", ""],
    "active": ["true", "FALSE", "yes", "No", "1", "t", ""],
    "since": ["2024-02-29", "2023-02-29", "2024-13-01", "2024-1-5", "20240101", ""],
    "title": ["ok", "é", "ção ção", "ççççççççç", "ççççççççççç", "Sale!", "ab ", "", "x" * 10],
    "cond": ["new", "used", "New", "new ", "", "NEW"],
    "url": ["https://a.example/p", "http://a.example", "https://a.example?x=1", "https://", "ftp://x", "",
            "https://a.example/p q", "https://a.example/\u00a0x", "https://a.example/ção", "https://ção.example/"],
    "gtin": ["4006381333931", "4006381333932", "9812345678902", "036000291452", "96385074", "12345",
             "00000000000000", "0500000000005", "", "98000000000000000", "+400638133393", "-0000000"],
    "idx": ["true", "false", " FALSE ", "", "no"],
}

row_strategy = st.fixed_dictionaries({c: st.sampled_from(v) for c, v in VALUES.items()})


def _write(path: Path, rows: list[dict[str, str]], columns: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(columns)
        for r in rows:
            w.writerow([r[c] for c in columns])


def assert_agree(path: Path, ruleset: Ruleset, batch_rows: int) -> None:
    got = validate_file(path, ruleset, limits=ReadLimits(batch_rows=batch_rows))
    ref = reference_counts(read_csv_rows(path, ruleset), ruleset)
    assert (got.records_total, got.records_valid, got.records_error, got.records_warning) == \
        (ref.records_total, ref.records_valid, ref.records_error, ref.records_warning)
    assert got.errors_by_rule == ref.errors_by_rule
    assert got.errors_by_field == ref.errors_by_field
    assert got.warnings_by_rule == ref.warnings_by_rule
    assert got.warnings_by_field == ref.warnings_by_field


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row_strategy, min_size=1, max_size=40),
       dropped=st.sets(st.sampled_from(["gtin", "idx", "sale", "price"]), max_size=2),
       batch_rows=st.sampled_from([3, 7, 1000]))
def test_engine_counts_equal_reference(tmp_path: Path, rows, dropped, batch_rows) -> None:
    path = tmp_path / "feed.csv"
    _write(path, rows, [c for c in COLUMNS if c not in dropped])
    assert_agree(path, RULESET, batch_rows)


def test_google_merchant_feed_agrees_with_reference(tmp_path: Path) -> None:
    path = feedgen.generate(tmp_path / "gm.csv", 3000, seed=3, bad_share=0.2)
    for category, region in (("apparel", "BR"), ("electronics", "US")):
        ruleset = ruleset_for("google_merchant", category=category, region=region)
        assert_agree(path, ruleset, batch_rows=1000)
    got = validate_file(path, ruleset_for("google_merchant", region="BR"))
    assert got.records_error > 0 and got.errors_by_rule["gtin.gtin"] > 0 and got.errors_by_rule["price.type"] > 0


def test_cli_metrics_on_a_good_feed_equal_the_reference(tmp_path: Path, settings, capsys) -> None:
    import json

    from jobs_pipeline.cli import main

    path = feedgen.generate(tmp_path / "feed.csv", 1500, seed=11, bad_share=0.1)
    assert main(["validate", str(path), "--marketplace", "google_merchant", "--category", "apparel",
                 "--region", "BR", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)["metrics"]
    ruleset = ruleset_for("google_merchant", category="apparel", region="BR")
    ref = reference_counts(read_csv_rows(path, ruleset), ruleset)
    assert (metrics["records_total"], metrics["records_valid"], metrics["records_error"],
            metrics["records_warning"]) == (ref.records_total, ref.records_valid, ref.records_error,
                                            ref.records_warning)
    assert metrics["errors_by_field"] == ref.errors_by_field and metrics["errors_by_rule"] == ref.errors_by_rule
    assert metrics["ruleset"] == "google_merchant@2" and metrics["encoding"] == "utf-8"
    report = Path(metrics["error_report_uri"])
    assert report.parent.parent == settings.reports_dir and report.exists()
    assert report.with_suffix(".csv").exists()
