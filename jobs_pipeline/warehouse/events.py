"""``job_events``: every lake event exactly once.

Ingestion is incremental (only lake files not yet in ``lake_files``) and de-duplicated by
``event_id``, in one transaction with the file bookkeeping, so re-ingesting, replaying or a
redelivered job never changes the counts. Uniqueness rests on serialised writers
(:data:`WRITE_LOCK`, DuckDB's file lock, the ``duckdb_writer`` pool): see :func:`insert_new_events`.
"""

import os
import threading
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb

from jobs_pipeline.warehouse.connection import scalar, transaction
from jobs_pipeline.warehouse.lake_source import LakeSource, LocalLakeSource

JOB_EVENTS_DDL = """
CREATE TABLE IF NOT EXISTS job_events (
    event_id UUID NOT NULL,  -- unique by construction (insert_new_events), no index
    event_type VARCHAR NOT NULL,
    job_id UUID NOT NULL,
    task VARCHAR NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    marketplace VARCHAR NOT NULL,
    category VARCHAR NOT NULL,
    region VARCHAR NOT NULL,
    partition_key VARCHAR NOT NULL,
    attempt INTEGER NOT NULL,
    sequence INTEGER NOT NULL,
    ruleset VARCHAR,
    tier VARCHAR NOT NULL,
    records_total BIGINT,
    records_valid BIGINT,
    records_error BIGINT,
    records_warning BIGINT,
    payload_size_bytes BIGINT,
    processing_time_ms DOUBLE,
    latency_ms DOUBLE,
    error_rate DOUBLE,
    warning_rate DOUBLE,
    errors_by_field JSON,
    error_type VARCHAR,
    error_message VARCHAR,
    error_classification VARCHAR,
    retry_delay_s DOUBLE,
    metrics JSON NOT NULL,
    source_file VARCHAR NOT NULL,
    ingested_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS lake_files (
    path VARCHAR PRIMARY KEY,
    events BIGINT NOT NULL,
    ingested_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
"""

_READ_COLUMNS = """{
    'event_id': 'UUID', 'type': 'VARCHAR', 'job_id': 'UUID', 'task': 'VARCHAR',
    'timestamp': 'TIMESTAMPTZ', 'marketplace': 'VARCHAR', 'category': 'VARCHAR',
    'region': 'VARCHAR', 'partition_key': 'VARCHAR', 'attempt': 'INTEGER',
    'sequence': 'INTEGER', 'ruleset': 'VARCHAR', 'tier': 'VARCHAR', 'metrics': 'JSON',
    'error': 'JSON', 'schema_version': 'INTEGER'
}"""

#: Lake files per transaction: bounds one transaction's size on a large backlog; each batch
#: commits with its own ``lake_files`` rows, so an interruption only leaves later files new.
BATCH_FILES = 1_000

#: UTC days either side of a batch's days where held ids are looked for (``EVENT_DEDUP_WINDOW_DAYS``).
DEDUP_WINDOW_DAYS = 2

#: An event's UTC day, whatever the session's time zone.
EVENT_DAY = "CAST(timezone('UTC', ts) AS DATE)"

#: Serialises writes to ``job_events`` inside one process (see insert_new_events).
WRITE_LOCK = threading.RLock()

#: ``SELECT`` of ``job_events`` rows from ``__SOURCE__``, a relation with the lake's columns
#: (as read with :data:`_READ_COLUMNS`) plus ``filename``. Each ``metrics``/``error`` document
#: is parsed once (``json_transform``), not once per extracted field. Shared by the lake
#: ingestion and the DuckDB emitter, so both paths give the same rows.
_ROWS_SQL = """
SELECT event_id, type, job_id, task, "timestamp", marketplace, category, region,
       partition_key, attempt, sequence, ruleset, tier,
       m.records_total, m.records_valid, m.records_error, m.records_warning,
       m.payload_size_bytes, m.processing_time_ms, m.latency_ms, m.error_rate,
       m.warning_rate, m.errors_by_field,
       x.error_type, x.message, x.classification, x.delay_s,
       metrics, filename, now()
FROM (
    SELECT *,
           json_transform(metrics, '{"records_total": "BIGINT", "records_valid": "BIGINT",
               "records_error": "BIGINT", "records_warning": "BIGINT",
               "payload_size_bytes": "BIGINT", "processing_time_ms": "DOUBLE",
               "latency_ms": "DOUBLE", "error_rate": "DOUBLE", "warning_rate": "DOUBLE",
               "errors_by_field": "JSON"}') AS m,
           json_transform(error, '{"error_type": "VARCHAR", "message": "VARCHAR",
               "classification": "VARCHAR", "delay_s": "DOUBLE"}') AS x
    FROM __SOURCE__
)
"""

#: The rows appended by this transaction (``rowid > $last``) that must go again: ids the table
#: held before (looked for only where ``__SCOPE__``, constant ``ts`` ranges: see
#: :func:`scope_of`), and every copy but the first of an id repeated within the batch. Also
#: counts the batch, as a check that ``rowid > $last`` is exactly this batch.
_DUPLICATES_SQL = """
WITH batch AS (
    SELECT rowid AS rid, event_id, ts, source_file FROM job_events WHERE rowid > $last
), held AS (
    SELECT DISTINCT event_id FROM job_events
    WHERE rowid <= $last AND (__SCOPE__) AND event_id IN (SELECT event_id FROM batch)
), repeated AS (
    SELECT event_id FROM batch GROUP BY event_id HAVING count(*) > 1
), already_held AS (
    SELECT rid FROM batch WHERE event_id IN (SELECT event_id FROM held)
), later_copies AS (
    SELECT rid FROM batch
    WHERE event_id IN (SELECT event_id FROM repeated) AND event_id NOT IN (SELECT event_id FROM held)
    QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY ts, source_file, rid) > 1
)
SELECT (SELECT count(*) FROM batch),
       coalesce((SELECT list(rid) FROM (SELECT rid FROM already_held UNION ALL SELECT rid FROM later_copies)), [])
"""

_HAS_LEGACY_KEY_SQL = """
SELECT count(*) FROM duckdb_constraints()
WHERE database_name = current_database() AND schema_name = current_schema()
  AND table_name = 'job_events' AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')
"""


@dataclass(frozen=True)
class IngestStats:
    files: int
    events_read: int
    events_inserted: int
    days: tuple[date, ...] = ()  # UTC days of the events read (the partitions that may have changed)


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the tables; migrate a schema-1 ``job_events`` (``event_id`` primary key).

    Call it outside a transaction. The migration copies the table into the new definition
    (same columns, same rows, same order), drops the old one and renames, in one transaction;
    views over ``job_events`` bind by name and keep working."""
    con.execute(JOB_EVENTS_DDL)
    if scalar(con, _HAS_LEGACY_KEY_SQL):
        _migrate_from_primary_key(con)


def _migrate_from_primary_key(con: duckdb.DuckDBPyConnection) -> None:
    new_ddl = JOB_EVENTS_DDL.split(";")[0].replace("IF NOT EXISTS job_events", "job_events__v2")
    with WRITE_LOCK, transaction(con):
        con.execute("DROP TABLE IF EXISTS job_events__v2")
        con.execute(new_ddl)
        con.execute("INSERT INTO job_events__v2 BY NAME SELECT * FROM job_events")
        con.execute("DROP TABLE job_events")
        con.execute("ALTER TABLE job_events__v2 RENAME TO job_events")


def append_batch(con: duckdb.DuckDBPyConnection, source_sql: str, params: dict) -> tuple[int, int]:
    """Append every row of ``source_sql`` (see :data:`_ROWS_SQL`) inside the caller's
    transaction; returns ``(last, appended)``: the highest ``rowid`` before, and the row count.
    Follow with :func:`drop_duplicates` in the same transaction."""
    last = scalar(con, "SELECT coalesce(max(rowid), -1) FROM job_events")
    appended = scalar(con, "INSERT INTO job_events " + _ROWS_SQL.replace("__SOURCE__", source_sql), params)
    return last, appended


def batch_days(con: duckdb.DuckDBPyConnection, last: int) -> list[date]:
    """The UTC days of the rows appended after ``rowid`` ``last``, in order."""
    return [r[0] for r in con.execute(f"SELECT DISTINCT {EVENT_DAY} FROM job_events WHERE rowid > $last "
                                      "ORDER BY 1", {"last": last}).fetchall()]


def scope_of(days: list[date], window_days: int = DEDUP_WINDOW_DAYS) -> str:
    """SQL condition on ``ts``: the UTC ``days`` widened by ``window_days`` either side, as
    merged constant ranges (constants, so DuckDB's zone maps skip every other row group)."""
    ranges: list[list[date]] = []
    for day in sorted(set(days)):
        start, end = day - timedelta(days=window_days), day + timedelta(days=window_days + 1)
        if ranges and start <= ranges[-1][1]:
            ranges[-1][1] = max(ranges[-1][1], end)
        else:
            ranges.append([start, end])
    if not ranges:
        return "false"
    return " OR ".join(f"(ts >= TIMESTAMPTZ '{a.isoformat()} 00:00:00+00' AND ts < TIMESTAMPTZ '{b.isoformat()} "
                       "00:00:00+00')" for a, b in ranges)


def drop_duplicates(con: duckdb.DuckDBPyConnection, last: int, appended: int, *,
                    window_days: int = DEDUP_WINDOW_DAYS, days: list[date] | None = None) -> int:
    """Delete the batch's rows whose id was already held or repeats within it; returns the
    rows deleted. Raises (so the caller rolls back) if ``rowid > last`` is not the batch.

    Held ids are looked for on the batch's own UTC days, ``window_days`` either side: a copy
    with the same timestamp (a redelivered or replayed file, a late event, however late) is
    always on its own day; only a copy re-emitted with a new timestamp (a job redelivered more
    than ``window_days`` later) could slip through, which ``job_events_unique_ids`` counts."""
    if not appended:
        return 0
    scope = scope_of(batch_days(con, last) if days is None else days, window_days)
    batch, doomed = con.execute(_DUPLICATES_SQL.replace("__SCOPE__", scope), {"last": last}).fetchall()[0]
    if batch != appended:
        raise RuntimeError(f"job_events: {batch} rows after rowid {last}, {appended} appended; rolled back")
    if doomed:
        scalar(con, "DELETE FROM job_events WHERE rowid IN (SELECT unnest($rids))", {"rids": doomed})
    return len(doomed)


def insert_new_events(con: duckdb.DuckDBPyConnection, source_sql: str, params: dict, *,
                      window_days: int = DEDUP_WINDOW_DAYS) -> int:
    """New ids only, one row per id, inside the caller's transaction (hold :data:`WRITE_LOCK`);
    returns the rows added.

    Schema 2 has no ``event_id`` index: the batch is appended as read, then the rows whose id
    the table already held and all but the first of an id repeated within the batch (earliest
    ``ts``, then ``source_file``, then read order) are deleted again. Duplicates are rare, so
    this costs one semi-join instead of an ART index that every insert maintains (about half
    the insert time) and that grows with the table. Uniqueness therefore rests on serialised
    writers: one writing process per file (DuckDB's lock; the Dagster ``duckdb_writer`` pool
    has limit 1) and, within a process, :data:`WRITE_LOCK`, held by every write here and by
    the DuckDB emitter. The ``job_events_unique_ids`` check (:func:`duplicate_event_ids`)
    keeps watching; a schema-1 database is migrated by :func:`ensure_schema`. Held ids are
    looked for on the batch's days only (see :func:`drop_duplicates`)."""
    last, appended = append_batch(con, source_sql, params)
    return appended - drop_duplicates(con, last, appended, window_days=window_days)


def new_lake_files(con: duckdb.DuckDBPyConnection, source: LakeSource) -> list[str]:
    """The source's part files not yet recorded in ``lake_files``, in the source's order."""
    ensure_schema(con)
    present = source.part_files()
    if not present:
        return []
    known = {row[0] for row in con.execute("SELECT path FROM lake_files").fetchall()}
    return [p for p in present if p not in known]


def ingest_lake(con: duckdb.DuckDBPyConnection, source: LakeSource | str | os.PathLike, *,
                max_files: int = 10_000, window_days: int = DEDUP_WINDOW_DAYS) -> IngestStats:
    """Load new lake files into ``job_events``; safe to run any number of times.

    ``source`` is a :class:`LakeSource` (see :func:`~jobs_pipeline.warehouse.lake_source.lake_source`)
    or a local lake folder."""
    if isinstance(source, (str, os.PathLike)):
        source = LocalLakeSource.folder(source)
    names = new_lake_files(con, source)[:max_files]
    if not names:
        return IngestStats(0, 0, 0)
    with source.fetch(names) as local:
        return ingest_files(con, local, sources=None if local == names else names, window_days=window_days)


def ingest_files(con: duckdb.DuckDBPyConnection, files: list[str], *, sources: list[str] | None = None,
                 batch_files: int = BATCH_FILES, window_days: int = DEDUP_WINDOW_DAYS) -> IngestStats:
    """Load the given lake files, ``batch_files`` per transaction; ``sources`` (the names of
    downloaded copies in their lake) are recorded instead of the local paths in ``source_file``
    and ``lake_files``."""
    files = [str(f) for f in files]
    names = list(sources) if sources is not None else files
    if len(names) != len(files):
        raise ValueError("ingest_files: one source per file")
    total = IngestStats(0, 0, 0)
    if files:
        ensure_schema(con)
    for i in range(0, len(files), max(1, batch_files)):
        read, inserted, days = _ingest_batch(con, files[i:i + batch_files], names[i:i + batch_files],
                                             renamed=sources is not None, window_days=window_days)
        total = IngestStats(total.files + len(files[i:i + batch_files]), total.events_read + read,
                            total.events_inserted + inserted, tuple(sorted({*total.days, *days})))
    return total


def _ingest_batch(con: duckdb.DuckDBPyConnection, files: list[str], names: list[str], *,
                  renamed: bool, window_days: int) -> tuple[int, int, list[date]]:
    """One transaction: the files' events (new ids only) and their ``lake_files`` rows."""
    source = f"read_json($files, format='newline_delimited', columns={_READ_COLUMNS}, filename=true)"
    params: dict = {"files": files}
    if renamed:  # downloaded copies: record where they came from
        source = f"""(SELECT r.* REPLACE (coalesce(f.name, r.filename) AS filename) FROM {source} r
                     LEFT JOIN (SELECT unnest($files) AS path, unnest($names) AS name) f ON f.path = r.filename)"""
        params["names"] = names
    with WRITE_LOCK, transaction(con):
        last, appended = append_batch(con, source, params)
        # every line read is in the batch until drop_duplicates: count them per file now
        per_file = dict(con.execute("SELECT source_file, count(*) FROM job_events WHERE rowid > $last "
                                    "GROUP BY 1", {"last": last}).fetchall())
        if sum(per_file.values()) != appended or not per_file.keys() <= set(names):
            raise RuntimeError(f"lake batch: rows from {sorted(set(per_file) - set(names))[:3]} "
                               "not attributed to a given file; rolled back")
        scalar(con, "INSERT INTO lake_files (path, events) SELECT unnest($names), unnest($counts)",
               {"names": names, "counts": [per_file.get(n, 0) for n in names]})
        days = batch_days(con, last)
        inserted = appended - drop_duplicates(con, last, appended, window_days=window_days, days=days)
    return appended, inserted, days


def duplicate_event_ids(con: duckdb.DuckDBPyConnection) -> int:
    return scalar(con, "SELECT count(*) FROM (SELECT event_id FROM job_events GROUP BY 1 HAVING count(*) > 1)")
