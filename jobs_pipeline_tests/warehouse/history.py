"""A seeded event history of many days and partition keys, written straight into
``job_events`` through Arrow, with known injected anomalies.

Jobs start and complete; some fail (no records), some retry once, some end after midnight
(they belong to the day they ended). Volumes and error rates follow a weekly pattern with
small noise, so only the injected days are anomalous.
"""

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import duckdb
import pyarrow as pa

from jobs_pipeline.warehouse.events import ensure_schema

START = date(2026, 3, 2)  # a Monday
DAYS = 63
MARKETPLACES = ("amazon", "shopee", "mercado_livre")
CATEGORIES = ("electronics", "fashion")
REGIONS = ("BR", "US")
FIELDS = ("price", "gtin", "title", "image_url")
RULES = {"price": "price_positive", "gtin": "gtin_checksum", "title": "title_length", "image_url": "image_https"}
VOLUME_WEEK = (1.3, 1.1, 1.0, 1.0, 0.95, 0.6, 0.5)
ERROR_WEEK = (1.2, 1.05, 1.0, 1.0, 1.0, 0.9, 0.9)


@dataclass
class History:
    rows: list[dict] = field(default_factory=list)
    #: (day, partition_key, metric, direction) of each injected anomaly
    injected: set[tuple[date, str, str, str]] = field(default_factory=set)

    @property
    def days(self) -> list[date]:
        return [START + timedelta(days=i) for i in range(DAYS)]


def _event(job_id, etype, ts, mkt, cat, reg, attempt, seq, metrics, error=None, ruleset=None):
    m = metrics or {}
    return {
        "event_id": uuid.uuid5(job_id, f"{etype}|{attempt}|{seq}"), "event_type": etype, "job_id": job_id,
        "task": "validate_feed", "ts": ts, "marketplace": mkt, "category": cat, "region": reg,
        "partition_key": f"{mkt}:{cat}:{reg}", "attempt": attempt, "sequence": seq,
        "ruleset": ruleset, "tier": "free",
        "records_total": m.get("records_total"), "records_valid": m.get("records_valid"),
        "records_error": m.get("records_error"), "records_warning": m.get("records_warning"),
        "payload_size_bytes": m.get("payload_size_bytes"), "processing_time_ms": m.get("processing_time_ms"),
        "latency_ms": m.get("latency_ms"), "error_rate": m.get("error_rate"), "warning_rate": m.get("warning_rate"),
        "errors_by_field": json.dumps(m["errors_by_field"]) if "errors_by_field" in m else None,
        "error_type": error and error[0], "error_message": error and error[1],
        "error_classification": error and error[2], "retry_delay_s": error and 1.0,
        "metrics": json.dumps(m), "source_file": "seeded", "ingested_at": datetime.now(UTC),
    }


def _metrics(rng: random.Random, total: int, rate: float, mkt: str, cat: str, reg: str, ruleset: str) -> dict:
    err = min(total, round(total * rate))
    warn = min(total - err, round(total * 0.02))
    by_field: dict[str, int] = {}
    left = err
    for f in FIELDS[:-1]:
        n = round(left * rng.uniform(0.3, 0.6))
        by_field[f] = n
        left -= n
    by_field[FIELDS[-1]] = left
    by_field = {k: v for k, v in by_field.items() if v > 0}
    return {
        "payload_size_bytes": total * 310, "records_total": total, "records_valid": total - err,
        "records_error": err, "records_warning": warn,
        "errors_by_field": by_field, "warnings_by_field": {},
        "errors_by_rule": {RULES[k]: v for k, v in by_field.items()},
        "processing_time_ms": round(rng.lognormvariate(6.0 if reg == "BR" else 5.3, 0.4), 3),
        "latency_ms": round(rng.lognormvariate(7.0 if reg == "BR" else 6.2, 0.5), 3),
        "error_rate": err / total if total else 0.0, "warning_rate": warn / total if total else 0.0,
        "marketplace": mkt, "category": cat, "region": reg, "ruleset": ruleset, "tier": "free",
    }


def build_history(seed: int = 42) -> History:
    rng = random.Random(seed)
    h = History()
    keys = [(m, c, r) for m in MARKETPLACES for c in CATEGORIES for r in REGIONS]
    base = {k: (rng.uniform(2000, 6000), rng.uniform(0.02, 0.08)) for k in keys}
    # The last week is the one the tests judge; inject three anomalies there.
    spike_key, drop_key, surge_key = keys[0], keys[5], keys[9]
    spike_day, drop_day, surge_day = START + timedelta(days=57), START + timedelta(days=59), START + timedelta(days=60)
    h.injected |= {
        (spike_day, ":".join(spike_key), "error_rate", "spike"),
        (drop_day, ":".join(drop_key), "records_total", "drop"),
        (surge_day, ":".join(surge_key), "records_total", "spike"),
    }
    for day in h.days:
        w = day.weekday()
        for key in keys:
            mkt, cat, reg = key
            volume, err_rate = base[key]
            day_volume = volume * VOLUME_WEEK[w] * rng.uniform(0.97, 1.03)
            day_rate = err_rate * ERROR_WEEK[w] * rng.uniform(0.97, 1.03)
            if (day, key) == (spike_day, spike_key):
                day_rate = day_rate * 4 + 0.05
            if (day, key) == (drop_day, drop_key):
                day_volume *= 0.15
            if (day, key) == (surge_day, surge_key):
                day_volume *= 3
            jobs = 4
            fails = 1 if rng.random() < 0.2 else 0  # an extra job that fails (no records)
            ruleset = f"{mkt}@{1 if day < START + timedelta(days=30) else 2}"
            for j in range(jobs + fails):
                job_id = uuid.UUID(int=rng.getrandbits(128))
                end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
                    hours=rng.choice((2, 9, 9, 10, 14, 20)), minutes=rng.randrange(60), seconds=rng.randrange(60))
                if j == 0 and rng.random() < 0.1:  # crosses midnight: belongs to `day`
                    end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(seconds=5)
                start = end - timedelta(seconds=30)
                total = max(1, round(day_volume / jobs))
                rs = ruleset
                h.rows.append(_event(job_id, "job.started", start, mkt, cat, reg, 1, 0, None, ruleset=rs))
                roll = rng.random()
                if j == jobs:  # fails for good, no records
                    h.rows.append(_event(job_id, "job.failed", end, mkt, cat, reg, 1, 1, None,
                                         error=("SchemaError", "bad header", "permanent"), ruleset=rs))
                    continue
                m = _metrics(rng, total, day_rate, mkt, cat, reg, rs)
                if roll < 0.1:  # retries once
                    h.rows.append(_event(job_id, "job.retrying", start + timedelta(seconds=5), mkt, cat, reg, 1, 1,
                                         None, error=("Timeout", "slow", "transient"), ruleset=rs))
                    h.rows.append(_event(job_id, "job.started", start + timedelta(seconds=10), mkt, cat, reg, 2, 0,
                                         None, ruleset=rs))
                    h.rows.append(_event(job_id, "job.completed", end, mkt, cat, reg, 2, 1, m, ruleset=rs))
                else:
                    h.rows.append(_event(job_id, "job.completed", end, mkt, cat, reg, 1, 1, m, ruleset=rs))
    return h


def load_history(con: duckdb.DuckDBPyConnection, h: History) -> None:
    ensure_schema(con)
    table = pa.Table.from_pylist([{**r, "event_id": str(r["event_id"]), "job_id": str(r["job_id"])} for r in h.rows])
    con.register("seeded_events", table)
    cols = ", ".join(f'"{c}"' for c in h.rows[0])
    con.execute(f"INSERT INTO job_events ({cols}) SELECT {cols} FROM seeded_events")
    con.unregister("seeded_events")
