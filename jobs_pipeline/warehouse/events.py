"""``job_events``: every lake event exactly once.

Ingestion is incremental (only lake files not yet recorded in ``lake_files``) and
de-duplicated by ``event_id`` (inside the new files and against the table), in one
transaction with the file bookkeeping, so re-ingesting, replaying or a redelivered job
never changes the counts.
"""

from dataclasses import dataclass
from pathlib import Path

import duckdb

from jobs_pipeline.warehouse.connection import scalar

from jobs_pipeline.telemetry.lake import PART_GLOB

JOB_EVENTS_DDL = """
CREATE TABLE IF NOT EXISTS job_events (
    event_id UUID PRIMARY KEY,
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


#: Moves the staged ``_new_events`` (columns as read from the lake, plus ``filename``) into
#: ``job_events``: new ids only, one row per id. Shared by the lake ingestion and the DuckDB
#: emitter, so both paths give the same rows.
INSERT_STAGED_SQL = """
            INSERT INTO job_events
            WITH parsed AS (  -- parse each JSON document once, not once per extracted field
                SELECT n.*,
                       json_transform(metrics, '{"records_total": "BIGINT", "records_valid": "BIGINT",
                           "records_error": "BIGINT", "records_warning": "BIGINT",
                           "payload_size_bytes": "BIGINT", "processing_time_ms": "DOUBLE",
                           "latency_ms": "DOUBLE", "error_rate": "DOUBLE", "warning_rate": "DOUBLE",
                           "errors_by_field": "JSON"}') AS m,
                       json_transform(error, '{"error_type": "VARCHAR", "message": "VARCHAR",
                           "classification": "VARCHAR", "delay_s": "DOUBLE"}') AS x
                FROM _new_events n
                WHERE NOT EXISTS (SELECT 1 FROM job_events e WHERE e.event_id = n.event_id)
                QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY "timestamp", filename) = 1
            )
            SELECT event_id, type, job_id, task, "timestamp", marketplace, category, region,
                   partition_key, attempt, sequence, ruleset, tier,
                   m.records_total, m.records_valid, m.records_error, m.records_warning,
                   m.payload_size_bytes, m.processing_time_ms, m.latency_ms, m.error_rate,
                   m.warning_rate, m.errors_by_field,
                   x.error_type, x.message, x.classification, x.delay_s,
                   metrics, filename, now()
            FROM parsed
"""


@dataclass(frozen=True)
class IngestStats:
    files: int
    events_read: int
    events_inserted: int


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(JOB_EVENTS_DDL)


def new_lake_files(con: duckdb.DuckDBPyConnection, lake_dir: Path) -> list[str]:
    ensure_schema(con)
    present = sorted(str(p) for p in Path(lake_dir).glob(PART_GLOB))
    if not present:
        return []
    known = {row[0] for row in con.execute("SELECT path FROM lake_files").fetchall()}
    return [p for p in present if p not in known]


def ingest_lake(con: duckdb.DuckDBPyConnection, lake_dir: Path | str, *, max_files: int = 10_000) -> IngestStats:
    """Load new lake files into ``job_events``; safe to run any number of times."""
    if str(lake_dir).startswith("s3://"):  # S3 lake (issue 8): new objects, then ingest_files
        from jobs_pipeline.storage.s3_lake_ingest import ingest_s3_lake

        return ingest_s3_lake(con, str(lake_dir), max_files=max_files)
    return ingest_files(con, new_lake_files(con, Path(lake_dir))[:max_files])


def ingest_files(con: duckdb.DuckDBPyConnection, files: list[str], *, sources: list[str] | None = None) -> IngestStats:
    """Load the given lake files; ``sources`` (e.g. their ``s3://`` URIs) are recorded instead
    of the local paths in ``source_file`` and ``lake_files``."""
    if not files:
        return IngestStats(0, 0, 0)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _new_events AS
            SELECT * FROM read_json(?, format='newline_delimited', columns={_READ_COLUMNS},
                                    filename=true)""",
            [files],
        )
        if sources is not None:  # downloaded copies: record where they came from
            con.execute("""UPDATE _new_events SET filename = m.source
                           FROM (SELECT unnest(?::VARCHAR[]) AS local, unnest(?::VARCHAR[]) AS source) m
                           WHERE _new_events.filename = m.local""", [files, sources])
            files = list(sources)
        read = scalar(con, "SELECT count(*) FROM _new_events")
        before = scalar(con, "SELECT count(*) FROM job_events")
        con.execute(INSERT_STAGED_SQL)
        after = scalar(con, "SELECT count(*) FROM job_events")
        con.execute(
            """INSERT INTO lake_files (path, events)
               SELECT f.path, coalesce(c.n, 0) FROM unnest(?) AS f(path)
               LEFT JOIN (SELECT filename, count(*) AS n FROM _new_events GROUP BY 1) c
                 ON c.filename = f.path""",
            [files],
        )
        con.execute("DROP TABLE _new_events")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return IngestStats(files=len(files), events_read=read, events_inserted=after - before)


def duplicate_event_ids(con: duckdb.DuckDBPyConnection) -> int:
    return scalar(con, "SELECT count(*) FROM (SELECT event_id FROM job_events GROUP BY 1 HAVING count(*) > 1)")
