"""A published snapshot with known, varied data for the Superset test (and for building charts).

Nine weeks of ``marketplace_quality_daily``, ``field_error_hotspots``, ``region_latency_daily``,
``quality_recommendations`` and ``latency_outliers`` rows for a few partition keys (seeded, so the
numbers are the same every run), one error-rate spike per key over the complete judged days (the
largest on the day before the last), one volume spike, the last day partial (``is_partial``), more
hot spots a day than the tables' top 12, one without history (NULL trend), then the project's own
detector (``anomalies.refresh_day``) judges the last days and the project's ``publish_snapshot``
writes the read-only copy. The marts are created with
their own DDL, so a column added to a mart is picked up (a NOT NULL column unknown here fails
loudly rather than being guessed, except ``is_partial``).

Run it directly to make a snapshot for ``make bi``:
``.venv/bin/python -m jobs_pipeline_tests.bi.sample_snapshot data/sample.snapshot.duckdb``.
"""

import random
import sys
from itertools import product
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from jobs_pipeline.warehouse import anomalies, marts, recommendations
from jobs_pipeline.warehouse.snapshot import publish_snapshot

MARKETPLACES = {"amazon": 0.02, "google_merchant": 0.05, "mercado_livre": 0.08}
CATEGORIES = ("electronics", "apparel")
REGIONS = {"US": 120.0, "BR": 340.0, "AR": 260.0}
#: 5 fields or rules x 3 marketplaces: 15 hot spots of each kind a day, more than the tables' top 12.
FIELDS = ("price", "gtin", "title", "image_link", "description")
RULES = ("price_positive", "gtin_checksum", "title_length", "image_url", "description_length")
DAYS = 63
JUDGED_DAYS = 7
SPIKE_KEY = ("google_merchant", "electronics", "BR")
#: Error-rate spikes of the other keys, one each, spread over the complete judged days, so the
#: anomaly list has more than its top 20 and every line of the error-rate charts has markers.
SPIKE_RATE = 0.3
#: A hot spot with no errors in the previous 7 days (its trend is NULL: "new"), the top rule.
NEW_HOTSPOT = ("google_merchant", "rule", "image_url")
#: A volume spike (records_total four times the usual; a drop scores too low against this sample's
#: wide daily spread) of one key, days back from the day before the last, so the volume chart has
#: an anomaly marker that does not depend on the seed.
VOLUME_SPIKE = (("amazon", "electronics", "US"), 2)


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict], last_day: date) -> None:
    columns = [c for (c,) in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index", [table]).fetchall()]
    for row in rows:
        if "is_partial" in columns:
            row["is_partial"] = row["day"] == last_day
    present = [c for c in columns if c in rows[0]]
    placeholders = ", ".join("?" for _ in present)
    con.executemany(f"INSERT INTO {table} ({', '.join(present)}) VALUES ({placeholders})",
                    [[row[c] for c in present] for row in rows])


def build(database: Path, snapshot: Path, *, last_day: date | None = None, seed: int = 18) -> date:
    """Write the quality database at ``database`` and publish it to ``snapshot``; returns the last day."""
    rng = random.Random(seed)
    last_day = last_day or datetime.now(UTC).date()
    days = [last_day - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    refreshed = datetime.now(UTC)
    quality, hotspots, latency, fixes, outliers = [], [], [], [], []
    # days back from the day before the last (the last is partial, never judged)
    spike_day = {key: i % (JUDGED_DAYS - 1) for i, key in enumerate(product(MARKETPLACES, CATEGORIES, REGIONS))}
    for day in days:
        for region, base_ms in REGIONS.items():
            per_region: list[float] = []
            for marketplace, base_rate in MARKETPLACES.items():
                ms: list[float] = []
                for category in CATEGORIES:
                    jobs = rng.randint(3, 6)
                    total = rng.randint(800, 1200) * jobs
                    rate = base_rate * rng.uniform(0.85, 1.15)
                    key = (marketplace, category, region)
                    if key == VOLUME_SPIKE[0] and day == days[-2 - VOLUME_SPIKE[1]]:
                        total *= 4
                    if key == SPIKE_KEY and day == days[-2]:
                        rate = 0.4
                    elif key != SPIKE_KEY and day == days[-2 - spike_day[key]]:
                        rate = SPIKE_RATE
                    error = round(total * rate)
                    warning = round(total * 0.03)
                    failed = rng.randint(0, 1)
                    quality.append(dict(
                        day=day, marketplace=marketplace, category=category, region=region,
                        partition_key=f"{marketplace}:{category}:{region}", jobs=jobs,
                        jobs_completed=jobs - failed, jobs_failed=failed, records_total=total,
                        records_valid=total - error, records_error=error, records_warning=warning,
                        error_rate=error / total, warning_rate=warning / total,
                        payload_size_bytes=total * 310, refreshed_at=refreshed))
                    ms += [base_ms * rng.uniform(0.6, 2.2) for _ in range(jobs)]
                    fixes += _recommendation_rows(rng, quality[-1], refreshed)
                per_region += ms
                latency.append(_latency_row(day, region, marketplace, ms, refreshed))
            latency.append(_latency_row(day, region, marts.ALL_MARKETPLACES, per_region, refreshed))
        for marketplace in MARKETPLACES:
            rows = [r for r in latency if r["day"] == day and r["marketplace"] == marketplace]
            overall = max(r["latency_p95_ms"] for r in rows) * 0.9
            for rank, row in enumerate(sorted(rows, key=lambda r: -r["latency_p95_ms"]), 1):
                outliers.append(dict(
                    day=day, marketplace=marketplace, region=row["region"], jobs=row["jobs"],
                    latency_p95_ms=row["latency_p95_ms"], marketplace_latency_p95_ms=overall,
                    excess_ms=row["latency_p95_ms"] - overall, excess_ratio=row["latency_p95_ms"] / overall,
                    rank=rank, refreshed_at=refreshed))
            for kind, names in (("field", FIELDS), ("rule", RULES)):
                counts = {name: rng.randint(5, 400) for name in names}
                if (marketplace, kind) == NEW_HOTSPOT[:2]:
                    counts[NEW_HOTSPOT[2]] = 450  # at the top of its table
                total = sum(counts.values())
                for rank, (name, errors) in enumerate(sorted(counts.items(), key=lambda kv: -kv[1]), 1):
                    prev = rng.randint(0, 2000)
                    if (marketplace, kind, name) == NEW_HOTSPOT:
                        prev = 0
                    hotspots.append(dict(
                        day=day, marketplace=marketplace, ruleset=f"{marketplace}@2", kind=kind, name=name,
                        errors=errors, jobs_affected=rng.randint(1, 12), share=errors / total, rank=rank,
                        errors_prev_7d=prev, avg_prev_7d=prev / 7.0,
                        trend_vs_prev_7d=errors / (prev / 7.0) - 1 if prev else None, refreshed_at=refreshed))
    database.unlink(missing_ok=True)
    with duckdb.connect(str(database)) as con:
        for mart, rows in ((marts.MARKETPLACE_QUALITY_DAILY, quality), (marts.FIELD_ERROR_HOTSPOTS, hotspots),
                           (marts.REGION_LATENCY_DAILY, latency)):
            marts.ensure_mart(con, mart)
            _insert(con, mart.table, rows, last_day)
        recommendations.ensure_recommendations(con)
        _insert(con, "quality_recommendations", fixes, last_day)
        _insert(con, "latency_outliers", outliers, last_day)
        for day in days[-JUDGED_DAYS:]:
            anomalies.refresh_day(con, day)
        con.execute("CHECKPOINT")
        publish_snapshot(con, snapshot)
    return last_day


def _recommendation_rows(rng: random.Random, q: dict, refreshed: datetime) -> list[dict]:
    """The rules of one key and day: what fixing each alone brings (sole) beside all it fails."""
    errors = {rule: rng.randint(0, q["records_error"] // 2) for rule in RULES}
    sole = {rule: rng.randint(0, n) for rule, n in errors.items()}
    ranked = sorted(RULES, key=lambda r: (-sole[r], -errors[r]))
    rows = []
    for rule in RULES:
        prev = rng.randint(0, 7 * max(sole[rule], 1))
        affected = rng.randint(1, q["jobs"])
        rows.append(dict(
            day=q["day"], marketplace=q["marketplace"], category=q["category"], region=q["region"],
            partition_key=q["partition_key"], rule=rule, rank=ranked.index(rule) + 1, sole_errors=sole[rule],
            errors=errors[rule], records_total=q["records_total"], records_error=q["records_error"],
            error_rate=q["error_rate"], error_rate_if_fixed=(q["records_error"] - sole[rule]) / q["records_total"],
            feeds=q["jobs"], feeds_affected=affected, feeds_affected_share=affected / q["jobs"], feeds_unmeasured=0,
            sole_errors_prev_7d=prev, avg_prev_7d=prev / 7.0,
            trend_vs_prev_7d=sole[rule] / (prev / 7.0) - 1 if prev else None, refreshed_at=refreshed))
    return rows


def _latency_row(day: date, region: str, marketplace: str, ms: list[float], refreshed: datetime) -> dict:
    def q(p: float) -> float:  # quantile_cont
        s = sorted(ms)
        pos = p * (len(s) - 1)
        lo = int(pos)
        return s[lo] + (s[min(lo + 1, len(s) - 1)] - s[lo]) * (pos - lo)
    hour = datetime.combine(day, datetime.min.time()) + timedelta(hours=14)
    return dict(day=day, region=region, marketplace=marketplace, jobs=len(ms),
                processing_p50_ms=q(0.5) * 0.6, processing_p95_ms=q(0.95) * 0.6, processing_p99_ms=q(0.99) * 0.6,
                latency_p50_ms=q(0.5), latency_p95_ms=q(0.95), latency_p99_ms=q(0.99),
                peak_hour=hour, peak_jobs_per_hour=max(1, len(ms) // 4), refreshed_at=refreshed)


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "data/sample.snapshot.duckdb").resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    print(build(target.with_name(target.name.replace(".snapshot", "") + ".writer.duckdb"), target), target)
