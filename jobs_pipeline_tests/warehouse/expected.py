"""Plain pandas recomputations of the marts from ``job_events`` (the test oracle).

Deliberately written without the mart SQL: the final event of a job is the latest event of
its highest attempt (a terminal one first); the job counts only when that event is terminal
(a later attempt still running makes it unfinished). Its day is the UTC date of its last event.
"""

import json
from datetime import timedelta

import pandas as pd

TERMINAL = ("job.completed", "job.failed")


def final_events(events: pd.DataFrame) -> pd.DataFrame:
    ev = events.copy()
    ev["terminal"] = ev["event_type"].isin(TERMINAL)
    ev = ev.sort_values(["job_id", "attempt", "terminal", "sequence", "ts"],
                        ascending=[True, False, False, False, False])
    final = ev.groupby("job_id", sort=False).head(1).copy()
    last_ts = events.groupby("job_id")["ts"].max()
    final["day"] = final["job_id"].map(last_ts).dt.tz_convert("UTC").dt.date
    final["hour"] = final["job_id"].map(last_ts).dt.tz_convert("UTC").dt.floor("h").dt.tz_localize(None)
    final = final[final["terminal"]].copy()
    for col in ("records_total", "records_valid", "records_error", "records_warning", "payload_size_bytes"):
        final[col] = final[col].fillna(0)
    final["ruleset"] = final["ruleset"].fillna("default")
    return final


def marketplace_quality_daily(final: pd.DataFrame) -> pd.DataFrame:
    g = final.groupby(["day", "marketplace", "category", "region"])
    out = g.agg(jobs=("job_id", "size"),
                jobs_completed=("event_type", lambda s: int((s == "job.completed").sum())),
                jobs_failed=("event_type", lambda s: int((s == "job.failed").sum())),
                records_total=("records_total", "sum"), records_valid=("records_valid", "sum"),
                records_error=("records_error", "sum"), records_warning=("records_warning", "sum"),
                payload_size_bytes=("payload_size_bytes", "sum")).reset_index()
    out["error_rate"] = (out["records_error"] / out["records_total"]).where(out["records_total"] > 0, 0.0)
    out["warning_rate"] = (out["records_warning"] / out["records_total"]).where(out["records_total"] > 0, 0.0)
    return out


def error_counts(final: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for r in final.itertuples():
        fields = json.loads(r.errors_by_field) if isinstance(r.errors_by_field, str) else {}
        rules = json.loads(r.metrics).get("errors_by_rule", {}) if isinstance(r.metrics, str) else {}
        for kind, counts in (("field", fields), ("rule", rules)):
            for name, n in counts.items():
                rows.append((r.day, r.marketplace, r.ruleset, kind, name, int(n)))
    return pd.DataFrame(rows, columns=["day", "marketplace", "ruleset", "kind", "name", "n"])


def field_error_hotspots(final: pd.DataFrame, day) -> pd.DataFrame:
    counts = error_counts(final)
    keys = ["marketplace", "ruleset", "kind", "name"]
    today = counts[counts["day"] == day].groupby(keys)["n"].sum().reset_index(name="errors")
    today = today[today["errors"] > 0]
    lo = day - timedelta(days=7)
    prev = counts[(counts["day"] >= lo) & (counts["day"] < day)].groupby(keys)["n"].sum().rename("errors_prev_7d")
    out = today.merge(prev.reset_index(), on=keys, how="left").fillna({"errors_prev_7d": 0})
    out["share"] = out["errors"] / out.groupby(["marketplace", "ruleset", "kind"])["errors"].transform("sum")
    return out


def region_latency_daily(final: pd.DataFrame, day) -> pd.DataFrame:
    f = final[final["day"] == day].copy()
    all_rows = f.assign(marketplace="(all)")
    both = pd.concat([f, all_rows])
    g = both.groupby(["region", "marketplace"])
    out = g.agg(jobs=("job_id", "size"),
                processing_p50_ms=("processing_time_ms", lambda s: s.quantile(0.5)),
                processing_p95_ms=("processing_time_ms", lambda s: s.quantile(0.95)),
                processing_p99_ms=("processing_time_ms", lambda s: s.quantile(0.99)),
                latency_p95_ms=("latency_ms", lambda s: s.quantile(0.95))).reset_index()
    peak = both.groupby(["region", "marketplace", "hour"]).size().groupby(["region", "marketplace"]).max()
    out["peak_jobs_per_hour"] = out.set_index(["region", "marketplace"]).index.map(peak)
    return out
