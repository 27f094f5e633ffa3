"""``quality_recommendations`` and ``latency_outliers`` equal an independent recomputation.

Feeds are generated with random faults; the real validator checks them and real job events
(``job.started``, ``job.completed`` with its metrics, ``job.failed``) go through the lake into
``job_events`` and ``job_runs``. The expected tables are recomputed in plain Python from the
per-record reference of the validation tests (which rules each record fails), never from the
validator's counts. Some jobs carry events of an older validator (no ``sole_errors_by_rule``).
"""

import csv
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import dagster as dg
import pytest

from jobs_pipeline.defs.quality import recommendations as reco_defs
from jobs_pipeline.defs.resources.warehouse import DuckDBWarehouseResource
from jobs_pipeline.domain.model import JobContext, ValidationJob
from jobs_pipeline.jobs.metrics import MetricsCollector
from jobs_pipeline.telemetry.events import ErrorInfo, EventType, make_event
from jobs_pipeline.telemetry.lake import LakeTelemetryEmitter
from jobs_pipeline.validation.engine import validate_file
from jobs_pipeline.warehouse import recommendations as reco
from jobs_pipeline.warehouse.connection import connect
from jobs_pipeline.warehouse.events import ingest_lake
from jobs_pipeline.warehouse.tables import build_job_runs
from jobs_pipeline_tests.validation.reference import read_csv_rows, rule_fails
from jobs_pipeline_tests.validation.test_agreement import COLUMNS, RULESET, VALUES

KEYS = [("amazon", "toys", "BR"), ("amazon", "toys", "US"), ("amazon", "toys", "MX"),
        ("shopee", "toys", "BR"), ("shopee", "home", "BR")]
#: Latency range per region (ms): MX is slow, so it should top amazon's outliers most days.
LATENCY = {"BR": (100, 500), "US": (50, 300), "MX": (800, 3000)}
START = date(2026, 10, 5)
DAYS = [START + timedelta(days=i) for i in range(12)]


@dataclass
class Job:
    day: date
    key: tuple[str, str, str]
    status: str
    measured: bool
    latency_ms: float | None
    records_total: int = 0
    records_error: int = 0
    errors: dict[str, int] = field(default_factory=dict)  # records failing each error rule
    sole: dict[str, int] = field(default_factory=dict)    # records failing only that error rule


def _reference(rows: list[dict[str, str | None]]) -> tuple[dict[str, int], dict[str, int], int]:
    """Per record, the error rules it fails (the plain reference): per-rule and sole counts."""
    seen: dict[str, set[str]] = {r.rule_id: set() for r in RULESET.rules}
    errors: dict[str, int] = defaultdict(int)
    sole: dict[str, int] = defaultdict(int)
    in_error = 0
    for row in rows:
        failed = [r.rule_id for r in RULESET.rules if rule_fails(r, row, seen[r.rule_id]) and r.severity == "error"]
        for rule in failed:
            errors[rule] += 1
        if len(failed) == 1:
            sole[failed[0]] += 1
        in_error += bool(failed)
    return dict(errors), dict(sole), in_error


def _feed(path: Path, rng: random.Random) -> list[dict[str, str | None]]:
    rows = [{c: rng.choice(VALUES[c]) for c in COLUMNS} for _ in range(rng.randint(1, 30))]
    rows = [r for r in rows if any(r.values())]
    if not rows:
        rows = [{c: VALUES[c][0] for c in COLUMNS}]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        w.writerows([r[c] for c in COLUMNS] for r in rows)
    return read_csv_rows(path, RULESET)


def _emit_job(lake: LakeTelemetryEmitter, folder: Path, rng: random.Random, day: date, key, n: int,
              at: datetime | None = None) -> Job:
    mkt, cat, reg = key
    ts = at or datetime.combine(day, time(8 + n, rng.randint(0, 59), rng.randint(0, 59)), UTC)
    latency = float(rng.randint(*LATENCY[reg]))
    job = ValidationJob(feed_uri="f", context=JobContext(marketplace=mkt, category=cat, region=reg),
                        enqueued_at=ts - timedelta(milliseconds=latency))
    collector = MetricsCollector(job, ruleset=RULESET.ref, now=lambda: ts).start()
    lake.emit(make_event(job, EventType.STARTED, attempt=1, sequence=0, metrics=collector.snapshot(),
                         timestamp=ts - timedelta(milliseconds=latency / 2)))
    if rng.random() < 0.1:  # a feed that could not be read: a finished job without records
        lake.emit(make_event(job, EventType.FAILED, attempt=1, sequence=1, metrics=collector.snapshot(),
                             error=ErrorInfo(error_type="FeedFormatError", message="unreadable"), timestamp=ts))
        return Job(day, key, "failed", True, None)
    path = folder / f"{job.job_id}.csv"
    rows = _feed(path, rng)
    metrics = collector.collect(validate_file(path, RULESET)).model_dump(mode="json")
    measured = rng.random() >= 0.15
    if not measured:  # an event of a validator from before sole_errors_by_rule
        del metrics["sole_errors_by_rule"]
    lake.emit(make_event(job, EventType.COMPLETED, attempt=1, sequence=1, metrics=metrics, timestamp=ts))
    errors, sole, in_error = _reference(rows)
    return Job(day, key, "completed", measured, latency, len(rows), in_error, errors, sole if measured else {})


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Job]]:
    tmp = tmp_path_factory.mktemp("reco")
    rng = random.Random(18)
    lake = LakeTelemetryEmitter(tmp / "lake", fsync=False)
    (tmp / "feeds").mkdir()
    jobs = [_emit_job(lake, tmp / "feeds", rng, day, key, n)
            for day in DAYS for key in KEYS for n in range(rng.randint(0, 3))]
    lake.flush()
    db = tmp / "quality.duckdb"
    with connect(db) as con:
        ingest_lake(con, tmp / "lake")
        build_job_runs(con)
    return db, jobs


def _quantile_cont(values: list[float], q: float) -> float | None:
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def expected_recommendations(jobs: list[Job], day: date) -> dict[tuple, dict]:
    on_day = [j for j in jobs if j.day == day]
    before = [j for j in jobs if day - timedelta(days=7) <= j.day < day]
    out = {}
    for key in {j.key for j in on_day}:
        mine = [j for j in on_day if j.key == key]
        total, in_error = sum(j.records_total for j in mine), sum(j.records_error for j in mine)
        errors, sole, affected = defaultdict(int), defaultdict(int), defaultdict(int)
        for j in mine:
            for rule, n in j.errors.items():
                errors[rule] += n
                affected[rule] += 1
            for rule, n in j.sole.items():
                sole[rule] += n
        prev = defaultdict(int)
        for j in before:
            if j.key == key:
                for rule, n in j.sole.items():
                    prev[rule] += n
        for rule in errors:
            rank = 1 + sum((sole[o], errors[o]) > (sole[rule], errors[rule]) for o in errors)
            out[(*key, rule)] = {
                "partition_key": ":".join(key), "rank": rank, "sole_errors": sole[rule], "errors": errors[rule],
                "records_total": total, "records_error": in_error,
                "error_rate": in_error / total if total else 0.0,
                "error_rate_if_fixed": max(in_error - sole[rule], 0) / total if total else 0.0,
                "feeds": len(mine), "feeds_affected": affected[rule], "feeds_affected_share": affected[rule] / len(mine),
                "feeds_unmeasured": sum(1 for j in mine if j.records_error and not j.measured),
                "sole_errors_prev_7d": prev[rule], "avg_prev_7d": prev[rule] / 7,
                "trend_vs_prev_7d": sole[rule] / (prev[rule] / 7) - 1 if prev[rule] else None,
                "is_partial": False,
            }
    return out


def expected_latency(jobs: list[Job], day: date) -> dict[tuple, dict]:
    on_day = [j for j in jobs if j.day == day]
    out = {}
    for mkt in {j.key[0] for j in on_day}:
        overall = _quantile_cont([j.latency_ms for j in on_day if j.key[0] == mkt and j.latency_ms is not None], 0.95)
        rows = {}
        for reg in {j.key[2] for j in on_day if j.key[0] == mkt}:
            mine = [j for j in on_day if j.key[0] == mkt and j.key[2] == reg]
            p95 = _quantile_cont([j.latency_ms for j in mine if j.latency_ms is not None], 0.95)
            excess = None if p95 is None or overall is None else p95 - overall
            rows[reg] = {"jobs": len(mine), "latency_p95_ms": p95, "marketplace_latency_p95_ms": overall,
                         "excess_ms": excess,
                         "excess_ratio": p95 / overall if excess is not None and overall > 0 else None,
                         "is_partial": False}
        known = [r["excess_ms"] for r in rows.values() if r["excess_ms"] is not None]
        for reg, r in rows.items():
            e = r["excess_ms"]
            r["rank"] = 1 + (len(known) if e is None else sum(x > e for x in known))
            out[(mkt, reg)] = r
    return out


def _table(con, table: str, key: tuple[str, ...], day: date) -> dict[tuple, dict]:
    cur = con.execute(f"SELECT * FROM {table} WHERE day = $day", {"day": day})
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r)) for r in cur.fetchall()]
    return {tuple(r[k] for k in key if k != "day"): {k: v for k, v in r.items() if k not in key and
                                                       k not in ("refreshed_at",)} for r in rows}


def _approx(expected: dict[tuple, dict]) -> dict[tuple, dict]:
    return {k: {c: (pytest.approx(v) if isinstance(v, float) else v) for c, v in row.items()}
            for k, row in expected.items()}


def test_every_day_equals_the_independent_recomputation(world, tmp_path: Path) -> None:
    db, jobs = world
    assert any(not j.measured and j.records_error for j in jobs) and any(j.status == "failed" for j in jobs)
    ranked = 0
    target = tmp_path / "quality.duckdb"  # the module's database stays as ingested
    target.write_bytes(db.read_bytes())
    with connect(target) as con:
        for day in DAYS:
            counts = reco.refresh_recommendations(con, day)
            got = _table(con, "quality_recommendations", reco.QUALITY_RECOMMENDATIONS.key, day)
            want = expected_recommendations(jobs, day)
            assert got == _approx(want), day
            assert counts["quality_recommendations"] == len(want)
            lat = _table(con, "latency_outliers", reco.LATENCY_OUTLIERS.key, day)
            assert lat == _approx(expected_latency(jobs, day)), day
            assert reco.check_figures(con, day) == {"duplicate_keys": 0, "rows_out_of_range": 0,
                                                     "reconcile_difference": 0}
            ranked += len(want)
    # The data exercise what the table is for: ties, trends, rules fixed by nothing alone.
    all_rows = [r for day in DAYS for r in expected_recommendations(jobs, day).values()]
    assert ranked > 100
    assert any(r["sole_errors"] == 0 for r in all_rows) and any(r["sole_errors"] > 0 for r in all_rows)
    assert any(r["trend_vs_prev_7d"] is not None for r in all_rows)
    assert any(r["feeds_unmeasured"] for r in all_rows)
    assert any(0 < r["feeds_affected_share"] < 1 for r in all_rows)


def test_a_rerun_replaces_the_day_and_today_is_partial(world, tmp_path: Path) -> None:
    db, jobs = world
    today = datetime.now(UTC).date()
    lake = LakeTelemetryEmitter(tmp_path / "lake", fsync=False)
    (tmp_path / "feeds").mkdir()
    rng = random.Random(5)
    extra = [_emit_job(lake, tmp_path / "feeds", rng, today, KEYS[0], 0, at=datetime.now(UTC) - timedelta(seconds=1))
             for _ in range(3)]
    lake.flush()
    target = tmp_path / "quality.duckdb"
    target.write_bytes(db.read_bytes())
    with connect(target) as con:
        ingest_lake(con, tmp_path / "lake")
        build_job_runs(con)
        reco.refresh_recommendations(con, today)
        first = con.execute("SELECT count(*) FROM quality_recommendations WHERE day = $d", {"d": today}).fetchall()
        reco.refresh_recommendations(con, today)
        got = _table(con, "quality_recommendations", reco.QUALITY_RECOMMENDATIONS.key, today)
        partial = con.execute("SELECT DISTINCT is_partial FROM latency_outliers WHERE day = $d", {"d": today}).fetchall()
    want = {k: {**v, "is_partial": True} for k, v in expected_recommendations(extra, today).items()}
    assert first[0][0] == len(want) and got == _approx(want)
    assert partial == [(True,)]


def test_the_asset_materialises_a_partition_with_checks_and_metadata(world, tmp_path: Path) -> None:
    db, jobs = world
    target = tmp_path / "quality.duckdb"
    target.write_bytes(db.read_bytes())
    day = DAYS[9]
    resources = {"warehouse": DuckDBWarehouseResource(path=str(target), lake_dir=str(tmp_path / "lake"))}
    with dg.instance_for_test() as instance:
        result = dg.materialize([reco_defs.quality_recommendations, *reco_defs.recommendation_checks],
                                partition_key=day.isoformat(), resources=resources, instance=instance)
        assert result.success
        checks = result.get_asset_check_evaluations()
        assert sorted(c.check_name for c in checks) == ["rates_in_range", "reconciles_with_job_runs", "unique_keys"]
        assert all(c.passed for c in checks)
        meta = result.asset_materializations_for_node("quality_recommendations")[0].metadata
    want = expected_recommendations(jobs, day)
    by_key = {r["partition_key"]: r for r in want.values()}
    assert meta["dagster/row_count"].value == len(want) == meta["rules_ranked"].value
    assert meta["sole_errors"].value == sum(r["sole_errors"] for r in want.values())
    assert meta["records_error"].value == sum(r["records_error"] for r in by_key.values())
    assert meta["partition_keys"].value == len(by_key)
    assert meta["top_rule_sole_errors"].value == max(r["sole_errors"] for r in want.values())
    assert meta["latency_regions"].value == len(expected_latency(jobs, day))
    assert 0 <= meta["fixable_alone_share"].value <= 1
    with connect(target, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM quality_recommendations").fetchall()[0][0] == len(want)
        assert con.execute("SELECT count(DISTINCT day) FROM latency_outliers").fetchall()[0][0] == 1
    assert reco_defs.quality_recommendations.partitions_def == reco_defs.DAILY


def test_a_failing_check_is_reported(world, tmp_path: Path) -> None:
    db, _ = world
    target = tmp_path / "quality.duckdb"
    target.write_bytes(db.read_bytes())
    day = DAYS[4]
    with connect(target) as con:
        reco.refresh_recommendations(con, day)
        con.execute("UPDATE quality_recommendations SET errors = errors + 1, feeds_affected = feeds + 1 "
                    "WHERE day = $d AND rank = 1", {"d": day})
        figures = reco.check_figures(con, day)
    assert figures["duplicate_keys"] == 0
    assert figures["rows_out_of_range"] > 0 and figures["reconcile_difference"] > 0


def test_the_code_location_holds_the_asset_its_checks_and_its_job() -> None:
    from jobs_pipeline.definitions import defs

    loaded = defs.load_fn() if hasattr(defs, "load_fn") else defs
    assert "quality_recommendations" in {k.to_user_string() for k in loaded.resolve_all_asset_keys()}
    # Finalised with the marts (marts_daily) and rebuilt with them when job_runs changes.
    assert dg.AssetKey("quality_recommendations") in loaded.resolve_job_def("marts_job").asset_layer.executable_asset_keys
    # A changed day and the 7 after it (their trend reads it) are rebuilt by the changed-days sensor.
    from datetime import date as _date

    from jobs_pipeline.defs.quality.late_days import plan_runs
    plan = plan_runs([_date(2026, 3, 2)], _date(2026, 3, 20))
    assert [(first, last) for names, first, last in plan if "quality_recommendations" in names] == [
        (_date(2026, 3, 2), _date(2026, 3, 2)), (_date(2026, 3, 3), _date(2026, 3, 9))]
    checks = {k.name for k in loaded.resolve_asset_graph().asset_check_keys
              if k.asset_key == dg.AssetKey("quality_recommendations")}
    assert checks == {"unique_keys", "rates_in_range", "reconciles_with_job_runs"}
    spec = next(iter(reco_defs.quality_recommendations.specs))
    assert spec.freshness_policy == reco_defs.FRESHNESS and spec.group_name == reco_defs.GROUP


def test_a_partition_range_is_one_run_equal_to_the_recomputation(world, tmp_path: Path) -> None:
    db, jobs = world
    target = tmp_path / "quality.duckdb"
    target.write_bytes(db.read_bytes())
    first, last = DAYS[7], DAYS[11]
    resources = {"warehouse": DuckDBWarehouseResource(path=str(target), lake_dir=str(tmp_path / "lake"))}
    tags = {"dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat()}
    with dg.instance_for_test() as instance:
        result = dg.materialize([reco_defs.quality_recommendations, *reco_defs.recommendation_checks],
                                tags=tags, resources=resources, instance=instance)
        assert result.success
        checks = result.get_asset_check_evaluations()
        assert len(checks) == 3 and all(c.passed for c in checks)
        assert all(c.metadata["days"].value == 5 for c in checks)
        meta = result.asset_materializations_for_node("quality_recommendations")[0].metadata
    want = {day: expected_recommendations(jobs, day) for day in DAYS[7:12]}
    assert meta["days"].value == 5
    assert meta["dagster/row_count"].value == sum(len(w) for w in want.values())
    assert meta["sole_errors"].value == sum(r["sole_errors"] for w in want.values() for r in w.values())
    with connect(target, read_only=True) as con:
        for day, w in want.items():
            assert _table(con, "quality_recommendations", reco.QUALITY_RECOMMENDATIONS.key, day) == _approx(w)
        assert {r[0] for r in con.execute("SELECT DISTINCT day FROM latency_outliers").fetchall()} == set(want)
