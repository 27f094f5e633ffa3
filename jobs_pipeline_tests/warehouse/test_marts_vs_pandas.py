"""Each mart's numbers equal a plain pandas recomputation from ``job_events``, on a seeded
history of 63 days x 12 partition keys (failures, retries, jobs crossing midnight)."""

from pathlib import Path

import pandas as pd
import pytest

from jobs_pipeline.warehouse.connection import connect
from jobs_pipeline.warehouse.mart_checks import check_day
from jobs_pipeline_tests.warehouse import expected
from jobs_pipeline_tests.warehouse.history import History


@pytest.fixture(scope="module")
def frames(seeded_db: Path) -> dict[str, pd.DataFrame]:
    with connect(seeded_db, read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        return {name: con.execute(f"SELECT * FROM {name}").df()
                for name in ("job_events", "marketplace_quality_daily", "field_error_hotspots",
                             "region_latency_daily")}


@pytest.fixture(scope="module")
def final(frames) -> pd.DataFrame:
    return expected.final_events(frames["job_events"])


def test_history_is_many_days_and_keys(frames, history: History) -> None:
    mq = frames["marketplace_quality_daily"]
    assert mq["day"].nunique() == len(history.days) == 63
    assert mq["partition_key"].nunique() == 12
    assert (frames["job_events"]["event_type"] == "job.failed").any()
    assert (frames["job_events"]["event_type"] == "job.retrying").any()


def test_marketplace_quality_daily_equals_pandas(frames, final) -> None:
    keys = ["day", "marketplace", "category", "region"]
    got = frames["marketplace_quality_daily"].assign(day=lambda d: pd.to_datetime(d["day"]).dt.date)
    want = expected.marketplace_quality_daily(final)
    merged = want.merge(got, on=keys, how="outer", suffixes=("_want", "_got"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"][keys]
    for col in ("jobs", "jobs_completed", "jobs_failed", "records_total", "records_valid", "records_error",
                "records_warning", "payload_size_bytes"):
        assert (merged[f"{col}_want"].astype("int64") == merged[f"{col}_got"].astype("int64")).all(), col
    for col in ("error_rate", "warning_rate"):
        assert (merged[f"{col}_want"] - merged[f"{col}_got"]).abs().max() < 1e-12, col
    assert merged["jobs_failed_got"].sum() > 0


def test_field_error_hotspots_equal_pandas(frames, final, history: History) -> None:
    got_all = frames["field_error_hotspots"].assign(day=lambda d: pd.to_datetime(d["day"]).dt.date)
    keys = ["marketplace", "ruleset", "kind", "name"]
    for day in (history.days[0], history.days[30], history.days[-1]):  # first day, ruleset change, last
        got = got_all[got_all["day"] == day]
        want = expected.field_error_hotspots(final, day)
        merged = want.merge(got, on=keys, how="outer", suffixes=("_want", "_got"), indicator=True)
        assert (merged["_merge"] == "both").all()
        assert (merged["errors_want"] == merged["errors_got"]).all()
        assert (merged["errors_prev_7d_want"] == merged["errors_prev_7d_got"]).all()
        assert (merged["share_want"] - merged["share_got"]).abs().max() < 1e-12
        assert set(got["kind"]) == {"field", "rule"}
    first = got_all[got_all["day"] == history.days[0]]
    assert (first["errors_prev_7d"] == 0).all() and first["trend_vs_prev_7d"].isna().all()


def test_region_latency_daily_equals_pandas(frames, final, history: History) -> None:
    got_all = frames["region_latency_daily"].assign(day=lambda d: pd.to_datetime(d["day"]).dt.date)
    for day in history.days[::9]:
        got = got_all[got_all["day"] == day]
        want = expected.region_latency_daily(final, day)
        merged = want.merge(got, on=["region", "marketplace"], how="outer", suffixes=("_want", "_got"),
                            indicator=True)
        assert (merged["_merge"] == "both").all()
        assert (merged["jobs_want"] == merged["jobs_got"]).all()
        assert (merged["peak_jobs_per_hour_want"] == merged["peak_jobs_per_hour_got"]).all()
        for col in ("processing_p50_ms", "processing_p95_ms", "processing_p99_ms", "latency_p95_ms"):
            assert (merged[f"{col}_want"] - merged[f"{col}_got"]).abs().max() < 1e-6, col
        assert set(got["marketplace"]) >= {"(all)"}


def test_checks_pass_on_every_day(seeded_db: Path, history: History) -> None:
    with connect(seeded_db, read_only=True) as con:
        for table in ("marketplace_quality_daily", "field_error_hotspots", "region_latency_daily"):
            for day in history.days[::7]:
                figures = check_day(con, table, day)
                assert figures["rows"] > 0 and figures["jobs_that_day"] > 0
                bad = {k: v for k, v in figures.items() if k not in ("rows", "jobs_that_day") and v}
                assert not bad, (table, day, bad)


def test_checks_catch_a_broken_mart(db_copy: Path, history: History) -> None:
    day = history.days[10]
    with connect(db_copy) as con:
        con.execute("UPDATE marketplace_quality_daily SET error_rate = 1.5, jobs = jobs + 1 WHERE day = $d "
                    "AND partition_key = 'amazon:fashion:BR'", {"d": day})
        con.execute("INSERT INTO region_latency_daily SELECT * FROM region_latency_daily WHERE day = $d LIMIT 1",
                    {"d": day})
        con.execute("DELETE FROM field_error_hotspots WHERE day = $d", {"d": day})
        mq = check_day(con, "marketplace_quality_daily", day)
        rl = check_day(con, "region_latency_daily", day)
        fe = check_day(con, "field_error_hotspots", day)
    assert mq["rows_out_of_range"] == 1 and mq["reconcile_difference"] > 0
    assert rl["duplicate_keys"] == 1
    assert fe["empty_although_jobs_ran"] == 1


def test_days_are_utc_whatever_the_session_time_zone(db_copy: Path, history: History) -> None:
    from jobs_pipeline.warehouse import marts

    day = history.days[20]
    query = ("SELECT marketplace, category, region, jobs, records_total FROM marketplace_quality_daily "
             "WHERE day = $d ORDER BY ALL")
    with connect(db_copy) as con:
        before = con.execute(query, {"d": day}).fetchall()
        con.execute("SET TimeZone = 'America/Sao_Paulo'")  # UTC-3: a 02:00 UTC job is "yesterday" there
        marts.refresh_day(con, marts.MARKETPLACE_QUALITY_DAILY, day)
        after = con.execute(query, {"d": day}).fetchall()
    assert after == before and len(before) == 12
