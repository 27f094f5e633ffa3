"""``rules backtest``: both versions in one read of each feed give the counts each version gives
on its own (checked against the plain per-record reference), the two-read fallback agrees, and
the command finds the marketplace's feeds landed since a date."""

import json
import os
from pathlib import Path

import pytest
import yaml

from jobs_pipeline.cli import main
from jobs_pipeline.demo.samples import SampleFeed, write_sample
from jobs_pipeline.validation import backtest as bt
from jobs_pipeline.validation.ruleset import RULESETS_DIR, Ruleset, parse_ruleset, ruleset_for
from jobs_pipeline_tests.validation.reference import read_csv_rows, reference_counts, rule_fails

SPEC = SampleFeed(marketplace="google_merchant", category="electronics", region="BR", rows=1500, bad_every=7)


def _new_version() -> Ruleset:
    """google_merchant@3: titles of at most 20 characters, no availability check, an extra field
    required (absent from the feed: every record fails it)."""
    data = yaml.safe_load((RULESETS_DIR / "google_merchant.yaml").read_text())
    data["version"] = "3"
    rules = [r for r in data["rules"] if r.get("kind") != "enum" or r.get("field") != "availability"]
    for r in rules:
        if r.get("field") == "title" and r.get("kind") == "length":
            r["max"] = 20
    data["rules"] = rules
    return parse_ruleset(yaml.safe_dump(data), "google_merchant.v3.yaml")


def _with_required(rs: Ruleset, field: str) -> Ruleset:
    data = rs.model_dump(exclude_defaults=True)
    data["rules"].append({"field": field, "kind": "required", "severity": "error"})
    return Ruleset.model_validate(data)


def _error_records(path: Path, ruleset: Ruleset) -> set[int]:
    rows = read_csv_rows(path, ruleset)
    seen: dict[str, set[str]] = {r.rule_id: set() for r in ruleset.rules}
    return {n for n, row in enumerate(rows, start=1)
            for r in ruleset.rules if r.severity == "error" and rule_fails(r, row, seen[r.rule_id])}


@pytest.fixture
def feed(tmp_path: Path) -> bt.Feed:
    return bt.Feed(write_sample(tmp_path, SPEC), SPEC.category, SPEC.region, "feed-a")


def _check_against_reference(result: bt.Backtest, feed: bt.Feed, old: Ruleset, new: Ruleset) -> None:
    eff_old, eff_new = old.effective(feed.category, feed.region), new.effective(feed.category, feed.region)
    ref_old = reference_counts(read_csv_rows(feed.path, eff_old), eff_old)
    ref_new = reference_counts(read_csv_rows(feed.path, eff_new), eff_new)
    outcome = result.feeds[0]
    assert outcome.problem is None and outcome.records == SPEC.rows
    assert (outcome.old_errors, outcome.new_errors) == (ref_old.records_error, ref_new.records_error)
    errs_old, errs_new = _error_records(feed.path, eff_old), _error_records(feed.path, eff_new)
    assert outcome.newly_failing == len(errs_new - errs_old) > 0
    assert outcome.no_longer_failing == len(errs_old - errs_new)
    for version, ref in (("old", ref_old), ("new", ref_new)):
        by_rule = {rule: getattr(c, version) for (_, rule, sev), c in result.rules.items() if sev == "error"}
        assert {k: v for k, v in by_rule.items() if v} == ref.errors_by_rule
        by_field = {f: getattr(c, version) for f, c in result.fields.items()}
        assert {k: v for k, v in by_field.items() if v} == ref.errors_by_field


def test_one_read_gives_each_versions_own_counts(feed: bt.Feed) -> None:
    old, new = ruleset_for("google_merchant"), _new_version()
    result = bt.backtest([feed], old, new)
    assert result.feeds[0].reads == 1
    _check_against_reference(result, feed, old, new)
    assert result.rules[("title", "title.length", "error")].delta > 0
    assert result.rules[("availability", "availability.enum", "error")].new == 0


def test_two_reads_when_one_ruleset_cannot_serve_both(feed: bt.Feed, monkeypatch) -> None:
    monkeypatch.setattr(bt, "mergeable", lambda a, b: False)
    monkeypatch.setattr(bt, "mergeable_for", lambda columns, a, b: False)
    old, new = ruleset_for("google_merchant"), _new_version()
    result = bt.backtest([feed], old, new)
    assert result.feeds[0].reads == 2
    _check_against_reference(result, feed, old, new)


def test_an_absent_required_column_fails_every_record_of_that_version(feed: bt.Feed) -> None:
    old = ruleset_for("google_merchant")
    new = _with_required(old, "shipping_weight")
    result = bt.backtest([feed], old, new)
    outcome = result.feeds[0]
    assert outcome.new_errors == SPEC.rows and outcome.newly_failing == SPEC.rows - outcome.old_errors
    change = result.rules[("shipping_weight", "shipping_weight.required", "error")]
    assert (change.old, change.new, change.feeds) == (0, SPEC.rows, {"feed-a"})


def test_mergeable_decides_from_the_columns_when_aliases_differ() -> None:
    v1, v2 = ruleset_for("google_merchant", "google_merchant@1"), ruleset_for("google_merchant")
    assert not bt.mergeable(v1, v2)  # v2 reads ``preco`` as price, v1 does not know it
    assert bt.mergeable_for(["id", "title", "price"], v1, v2)
    assert not bt.mergeable_for(["id", "title", "preco"], v1, v2)


def test_cli_backtests_the_feeds_landed_since_a_date(tmp_path: Path, data_dir: Path, capsys) -> None:
    landing = data_dir / "landing"
    recent = write_sample(landing, SPEC)
    old_spec = SampleFeed(marketplace="google_merchant", category="apparel", region="US", rows=300, bad_every=5)
    stale = write_sample(landing, old_spec)
    os.utime(stale, (946_684_800, 946_684_800))  # 2000-01-01
    write_sample(landing, SampleFeed(marketplace="amazon", category="x", region="US", rows=50, bad_every=5))
    assert main(["rules", "backtest", "google_merchant@2", "--against", "google_merchant@1",
                 "--since", "2001-01-01", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [f["label"] for f in out["feeds"]] == [str(recent)]
    assert out["old"] == "google_merchant@1" and out["new"] == "google_merchant@2"
    rules = {(r["field"], r["rule"]): r for r in out["rules"]}
    assert rules[("price", "price.decimal_range")]["new"] == 0 and rules[("price", "price.decimal_range")]["old"] > 0
    assert main(["rules", "backtest", "google_merchant@2", "--against", "google_merchant@1",
                 "--since", "1999-01-01"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("google_merchant@1 -> google_merchant@2: 2 feed(s) re-validated")
    assert "records failing, by rule:" in text


def test_cli_backtest_refuses_a_bad_date_and_other_marketplaces(data_dir: Path, capsys) -> None:
    assert main(["rules", "backtest", "google_merchant@2", "--against", "google_merchant@1", "--since", "May"]) == 2
    assert "--since 'May': expected a date YYYY-MM-DD" in capsys.readouterr().err
    assert main(["rules", "backtest", "google_merchant@2", "--against", "amazon@2", "--since", "2020-01-01"]) == 2
    assert "is for google_merchant but amazon@2 for amazon" in capsys.readouterr().err
