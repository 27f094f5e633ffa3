"""The numbers behind the dashboard, against the marts they come from: error rate per
marketplace, region and category with the anomalies on their series, latency over time,
hot spots with share and trend, the bounded anomaly list and its full table beside the page,
partial days (from the marts' ``is_partial`` or from the clock), and "what to fix first"."""

import csv
import json
import re
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import duckdb
import pytest

from jobs_pipeline.warehouse import dashboard
from jobs_pipeline.warehouse.connection import connect
from jobs_pipeline.warehouse.dashboard import TOP_ANOMALIES, load_dashboard_data, write_dashboard
from jobs_pipeline.warehouse.marts import MARKETPLACE_QUALITY_DAILY, ensure_mart
from jobs_pipeline.warehouse.recommendations import refresh_recommendations
from jobs_pipeline_tests.warehouse.history import CATEGORIES, MARKETPLACES, REGIONS, History

PARTIAL_MARTS = ("marketplace_quality_daily", "field_error_hotspots", "region_latency_daily")


def _at(day: date, hour: int = 6) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def _after(history: History) -> datetime:
    """A clock after the history: every day of it is over."""
    return _at(history.days[-1] + timedelta(days=2))


def _embedded(page: Path) -> dict:
    text = page.read_text(encoding="utf-8")
    found = re.search(r'<script type="application/json" id="dashboard-data">(.*?)</script>', text, re.S)
    return json.loads(found.group(1).replace("<\\/", "</"))


def test_error_rate_by_marketplace_region_and_category_equals_the_mart(seeded_db: Path, history: History) -> None:
    with connect(seeded_db, read_only=True) as con:
        data = load_dashboard_data(con, now=_after(history))
        mart = con.execute("SELECT day, marketplace, region, category, records_total, records_error, jobs "
                           "FROM marketplace_quality_daily").fetchall()
    expected_keys = {"marketplace": set(MARKETPLACES), "region": set(REGIONS), "category": set(CATEGORIES)}
    for position, dim in enumerate(("marketplace", "region", "category")):
        sums: dict = defaultdict(lambda: [0, 0, 0])
        for row in mart:
            s = sums[(row[0], row[1 + position])]
            s[0], s[1], s[2] = s[0] + row[4], s[1] + row[5], s[2] + row[6]
        rows = data["error_rate"][dim]
        assert {r["key"] for r in rows} == expected_keys[dim]
        assert {r["day"] for r in rows} == set(history.days)  # 63 days, inside the 90-day window
        assert len(rows) == len(sums)
        for r in rows:
            total, errors, jobs = sums[(r["day"], r["key"])]
            assert (r["records_total"], r["records_error"], r["jobs"]) == (total, errors, jobs)
            assert r["error_rate"] == pytest.approx(errors / total)
            assert r["is_partial"] is False


def test_anomalies_are_marked_on_the_series_of_their_key(seeded_db: Path, history: History) -> None:
    with connect(seeded_db, read_only=True) as con:
        data = load_dashboard_data(con, now=_after(history))
    for dim, position in (("marketplace", 0), ("category", 1), ("region", 2)):
        marks = {(m["day"], m["key"], m["metric"]) for m in data["anomaly_marks"][dim]}
        assert marks == {(day, key.split(":")[position], metric) for day, key, metric, _ in history.injected}
        series = {(r["day"], r["key"]) for r in data["error_rate"][dim]}
        assert all((m["day"], m["key"]) in series for m in data["anomaly_marks"][dim])  # on a drawn point


def test_keys_beyond_the_line_limit_fold_into_one_record_weighted_line(tmp_path: Path) -> None:
    day = date(2026, 5, 4)
    with connect(tmp_path / "q.duckdb") as con:
        ensure_mart(con, MARKETPLACE_QUALITY_DAILY)
        regions = [f"R{i:02d}" for i in range(dashboard.MAX_SERIES + 3)]  # R00 smallest ... R10 largest
        for i, region in enumerate(regions):
            total, errors = 100 * (i + 1), i + 1
            con.execute("""INSERT INTO marketplace_quality_daily BY NAME SELECT $day AS day, 'amazon' AS marketplace,
                'fashion' AS category, $region AS region, 'amazon:fashion:' || $region AS partition_key, 1 AS jobs,
                1 AS jobs_completed, 0 AS jobs_failed, $total AS records_total, $total - $errors AS records_valid,
                $errors AS records_error, 0 AS records_warning, $errors / $total AS error_rate, 0.0 AS warning_rate,
                0 AS payload_size_bytes, now() AS refreshed_at""" + (", false AS is_partial" if "is_partial" in {
                    c[0] for c in con.execute("DESCRIBE marketplace_quality_daily").fetchall()} else ""),
                {"day": day, "region": region, "total": total, "errors": errors})
        data = load_dashboard_data(con, now=_at(day + timedelta(days=1)))
    rows = {r["key"]: r for r in data["error_rate"]["region"]}
    assert len(rows) == dashboard.MAX_SERIES
    other = rows.pop("other (4)")  # the four smallest: R00..R03
    assert set(rows) == set(regions[4:])
    assert (other["records_total"], other["records_error"]) == (100 + 200 + 300 + 400, 1 + 2 + 3 + 4)
    assert other["error_rate"] == pytest.approx(10 / 1000)


def test_latency_is_p50_p95_over_time_per_region(seeded_db: Path, history: History) -> None:
    with connect(seeded_db, read_only=True) as con:
        data = load_dashboard_data(con, now=_after(history))
        mart = {(d, r): (p50, p95, l50, l95) for d, r, p50, p95, l50, l95 in con.execute(
            "SELECT day, region, processing_p50_ms, processing_p95_ms, latency_p50_ms, latency_p95_ms "
            "FROM region_latency_daily WHERE marketplace = '(all)'").fetchall()}
    assert len(data["latency"]) == len(mart) == len(history.days) * len(REGIONS)
    for r in data["latency"]:
        assert (r["processing_p50_ms"], r["processing_p95_ms"], r["latency_p50_ms"],
                r["latency_p95_ms"]) == mart[(r["day"], r["region"])]
        assert r["latency_p95_ms"] >= r["latency_p50_ms"]


def test_hot_spots_carry_share_trend_and_history(seeded_db: Path, history: History) -> None:
    with connect(seeded_db, read_only=True) as con:
        data = load_dashboard_data(con, now=_after(history))
        hs = data["hotspots"]
        assert hs["day"] == history.days[-1] and hs["is_partial"] is False
        for kind in ("field", "rule"):
            mart = con.execute("""SELECT marketplace, ruleset, name, errors, share, trend_vs_prev_7d
                                  FROM field_error_hotspots WHERE day = $day AND kind = $kind
                                  ORDER BY errors DESC, marketplace, ruleset, name""",
                               {"day": hs["day"], "kind": kind}).fetchall()
            rows = hs[kind]
            assert 0 < len(rows) <= dashboard.TOP_HOTSPOTS
            assert [(r["marketplace"], r["ruleset"], r["name"], r["errors"], r["share"], r["trend_vs_prev_7d"])
                    for r in rows] == mart[:dashboard.TOP_HOTSPOTS]
            for r in rows:
                assert 0 < r["share"] <= 1
                past = dict(con.execute("""SELECT day, errors FROM field_error_hotspots WHERE kind = $kind AND
                    marketplace = $m AND ruleset = $rs AND name = $n""", {"kind": kind, "m": r["marketplace"],
                                                                         "rs": r["ruleset"], "n": r["name"]}).fetchall())
                days = [hs["day"] - timedelta(days=i) for i in range(dashboard.HOTSPOT_HISTORY_DAYS - 1, -1, -1)]
                assert r["history"] == [past.get(d, 0) for d in days]
                assert r["history"][-1] == r["errors"]
    assert any(r["trend_vs_prev_7d"] is not None for r in hs["field"])


def test_partial_days_from_the_clock_when_the_marts_do_not_say(db_copy: Path, history: History) -> None:
    last = history.days[-1]
    with connect(db_copy) as con:
        for table in PARTIAL_MARTS:  # an older snapshot: no is_partial column
            con.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS is_partial")
        during = load_dashboard_data(con, now=_at(last, 6))
        after = load_dashboard_data(con, now=_at(last + timedelta(days=1), 0))
    assert during["partial_days"] == [last] and after["partial_days"] == []
    for dim in ("marketplace", "region", "category"):
        assert {r["day"] for r in during["error_rate"][dim] if r["is_partial"]} == {last}
    assert {r["day"] for r in during["latency"] if r["is_partial"]} == {last}
    assert during["hotspots"]["day"] == last - timedelta(days=1)  # the newest complete day
    assert after["hotspots"]["day"] == last


def test_partial_days_from_the_marts_is_partial_column(db_copy: Path, history: History) -> None:
    last, earlier = history.days[-1], history.days[-10]
    with connect(db_copy) as con:
        for table in PARTIAL_MARTS:
            con.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS is_partial BOOLEAN DEFAULT false")
            con.execute(f"UPDATE {table} SET is_partial = day IN ($a, $b)", {"a": last, "b": earlier})
        data = load_dashboard_data(con, now=_after(history))  # the clock alone would flag nothing
    assert data["partial_days"] == [earlier, last]
    assert {r["day"] for r in data["error_rate"]["region"] if r["is_partial"]} == {earlier, last}
    assert {r["day"] for r in data["latency"] if r["is_partial"]} == {earlier, last}
    assert data["hotspots"]["day"] == last - timedelta(days=1)


def _add_anomalies(con: duckdb.DuckDBPyConnection, day: date, n: int) -> None:
    for i in range(n):
        con.execute("""INSERT INTO quality_anomaly_scores (anomaly_id, day, partition_key, marketplace, category,
            region, metric, status, direction, value, baseline, scale, score, threshold, training_points)
            VALUES ($id, $day, $key, 'amazon', 'fashion', 'BR', 'records_total', 'anomaly', 'drop', 10, 100, 5,
                    $score, 3, 8)""",
                    {"id": f"extra-{i}", "day": day, "key": f"amazon:fashion:X{i:02d}", "score": -(3.5 + i)})


def test_the_anomaly_list_is_bounded_and_the_full_table_is_written_beside_the_page(
        db_copy: Path, history: History, tmp_path: Path) -> None:
    last = history.days[-1]
    with connect(db_copy) as con:
        _add_anomalies(con, last - timedelta(days=1), 30)
        _add_anomalies(con, last - timedelta(days=30), 1)  # in the window, not open
        scores = [abs(s) for (s,) in con.execute(
            "SELECT score FROM quality_anomalies WHERE day > $d", {"d": last - timedelta(days=7)}).fetchall()]
        page, data = write_dashboard(con, tmp_path / "out" / "dash.html", now=_after(history))
    assert data["anomalies_open"] == len(scores) == 33 and data["anomalies_total"] == 34
    assert len(data["anomalies"]) == TOP_ANOMALIES
    assert [abs(a["score"]) for a in data["anomalies"]] == sorted(scores, reverse=True)[:TOP_ANOMALIES]
    embedded = _embedded(page)
    assert len(embedded["anomalies"]) == TOP_ANOMALIES and "anomalies_window" not in embedded
    csv_path, table_path = dashboard.anomaly_files(page)
    assert embedded["links"] == {"anomalies_html": table_path.name, "anomalies_csv": csv_path.name}
    with csv_path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 34 and {r["anomaly_id"] for r in rows} >= {f"extra-{i}" for i in range(30)}
    assert table_path.read_text().count("<tr><td>") == 34
    assert f'href="{csv_path.name}"' not in page.read_text()  # links are built by the script from the JSON


def test_page_embeds_the_data_with_partial_days_and_every_series(seeded_db: Path, history: History,
                                                                 tmp_path: Path) -> None:
    last = history.days[-1]
    with connect(seeded_db, read_only=True) as con:
        page, data = write_dashboard(con, tmp_path / "dash.html", now=_at(last, 6))
    embedded = _embedded(page)
    assert embedded["partial_days"] == [last.isoformat()]
    assert set(embedded["error_rate"]) == {"marketplace", "region", "category"}
    assert {r["key"] for r in embedded["error_rate"]["category"]} == set(CATEGORIES)
    assert [r["day"] for r in embedded["error_rate"]["region"] if r["is_partial"]] == [last.isoformat()] * len(REGIONS)
    assert len(embedded["latency"]) == len(data["latency"]) and embedded["hotspots"]["field"][0]["share"] > 0


def test_what_to_fix_first_is_absent_in_older_snapshots(seeded_db: Path, history: History) -> None:
    with connect(seeded_db, read_only=True) as con:
        rec = load_dashboard_data(con, now=_after(history))["recommendations"]
    assert rec["available"] is False and rec["rules"] == [] and rec["latency"] == []


@pytest.fixture
def with_recommendations(db_copy: Path, history: History) -> Path:
    with connect(db_copy) as con:  # the seeded events predate sole_errors_by_rule: give some
        con.execute("""UPDATE job_runs SET sole_errors_by_rule = CAST(json_object(
            'price_positive', CAST(coalesce(CAST(errors_by_rule->>'price_positive' AS BIGINT), 0) // 2 AS BIGINT),
            'gtin_checksum', CAST(coalesce(CAST(errors_by_rule->>'gtin_checksum' AS BIGINT), 0) // 3 AS BIGINT))
            AS JSON) WHERE errors_by_rule IS NOT NULL""")
        for day in history.days[-9:]:
            refresh_recommendations(con, day)
    return db_copy


def test_what_to_fix_first_shows_the_top_rules_per_key_and_latency_outliers(with_recommendations: Path,
                                                                            history: History) -> None:
    last = history.days[-1]
    with connect(with_recommendations, read_only=True) as con:
        rec = load_dashboard_data(con, now=_at(last, 6))["recommendations"]
        table = con.execute("""SELECT partition_key, rule, rank, sole_errors, errors, feeds_affected_share,
                                      trend_vs_prev_7d FROM quality_recommendations WHERE day = $d""",
                            {"d": last - timedelta(days=1)}).fetchall()
        outliers = con.execute("""SELECT marketplace, region, excess_ms FROM latency_outliers
                                  WHERE day = $d AND excess_ms > 0 ORDER BY excess_ms DESC""",
                               {"d": last - timedelta(days=1)}).fetchall()
    assert rec["available"] and rec["day"] == last - timedelta(days=1) and rec["is_partial"] is False
    by_key = defaultdict(list)
    for r in rec["rules"]:
        by_key[r["partition_key"]].append(r)
    assert len(by_key) == len(MARKETPLACES) * len(CATEGORIES) * len(REGIONS)
    expected = {(k, rule): (rank, sole, errors, share, trend) for k, rule, rank, sole, errors, share, trend in table}
    for key, rules in by_key.items():
        assert [r["rank"] for r in rules] == sorted(r["rank"] for r in rules)
        assert len(rules) == min(dashboard.TOP_RECOMMENDATIONS, sum(1 for k, *_ in table if k == key))
        assert rules[0]["rule"] == "price_positive" and rules[0]["sole_errors"] > 0
        for r in rules:
            assert (r["rank"], r["sole_errors"], r["errors"], r["feeds_affected_share"],
                    r["trend_vs_prev_7d"]) == expected[(key, r["rule"])]
    # keys with the most to gain first
    firsts = [rules[0]["sole_errors"] for rules in by_key.values()]
    assert firsts == sorted(firsts, reverse=True)
    assert [(r["marketplace"], r["region"], r["excess_ms"]) for r in rec["latency"]] == outliers
    assert outliers  # the seeded BR regions are slower than their marketplaces
