"""``job_events``: every lake event exactly once.

Ingestion is incremental: ``lake_files`` records, per lake file, the byte offset up to which
its complete lines were ingested (the lake appends to a file per writer and day, see
:mod:`jobs_pipeline.telemetry.lake`), and each run reads only the bytes past it, in one
transaction with those rows, until nothing that had landed is left (:func:`ingest_lake`;
:func:`lake_backlog` counts what is still waiting). Rows are de-duplicated by ``event_id``,
keeping one copy chosen by a fixed rule whatever the batches (:data:`KEPT_COPY_ORDER`), so
re-ingesting, replaying or a redelivered job never changes the table. Uniqueness rests on
serialised writers (:data:`WRITE_LOCK`, DuckDB's file lock, the ``duckdb_writer`` pool): see
:func:`insert_new_events`.
"""

import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb

from jobs_pipeline.telemetry.lake import complete_end
from jobs_pipeline.warehouse.connection import scalar, transaction
from jobs_pipeline.warehouse.lake_source import ByteRange, FileListSource, LakeFile, LakeSource, LocalLakeSource

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
    events BIGINT NOT NULL,  -- lines ingested from the file so far
    ingested_at TIMESTAMPTZ NOT NULL DEFAULT now(),  -- last read
    bytes BIGINT,  -- offset past the last complete line ingested; NULL: a whole file (before offsets)
    size BIGINT    -- the file's size when last read (a torn tail that never grows is not new)
);
"""

#: Columns ``lake_files`` gained with byte offsets (older databases get them, NULL, in ensure_schema).
_LAKE_FILES_ADDED = {"bytes": "BIGINT", "size": "BIGINT"}

_READ_COLUMNS = """{
    'event_id': 'UUID', 'type': 'VARCHAR', 'job_id': 'UUID', 'task': 'VARCHAR',
    'timestamp': 'TIMESTAMPTZ', 'marketplace': 'VARCHAR', 'category': 'VARCHAR',
    'region': 'VARCHAR', 'partition_key': 'VARCHAR', 'attempt': 'INTEGER',
    'sequence': 'INTEGER', 'ruleset': 'VARCHAR', 'tier': 'VARCHAR', 'metrics': 'JSON',
    'error': 'JSON', 'schema_version': 'INTEGER'
}"""

#: Lake files and bytes per transaction: bound one transaction's size on a large backlog; each
#: batch commits with its own ``lake_files`` rows, so an interruption only leaves later bytes new.
BATCH_FILES = 5_000
BATCH_BYTES = 64 << 20

#: Listing rounds of one :func:`ingest_lake`: what landed while a round ran is read by the next.
INGEST_ROUNDS = 3

#: Which copy of an ``event_id`` the table keeps: the earliest ``ts``; on a tie the smallest
#: ``source_file`` (name order); then the earliest line of that file (``rid``: a file's lines
#: are appended in file order, and an earlier offset is always ingested first). The same copy
#: whatever the batches or the order files arrive in (for copies within the dedup window).
KEPT_COPY_ORDER = "ts, source_file, rid"

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

#: The rows that must go after this transaction appended its batch (``rowid > $last``): for every
#: id the batch repeats or the table held before (looked for only where ``__SCOPE__``, constant
#: ``ts`` ranges: see :func:`scope_of`), every copy but the first by :data:`KEPT_COPY_ORDER`,
#: held rows included (an earlier copy arriving later replaces the held one). Returns the batch
#: size (a check that ``rowid > $last`` is exactly this batch), the doomed rowids, and the UTC
#: days of the held rows among them (days whose rows changed).
_DUPLICATES_SQL = """
WITH batch AS (
    SELECT rowid AS rid, event_id, ts, source_file FROM job_events WHERE rowid > $last
), held AS (
    SELECT rowid AS rid, event_id, ts, source_file FROM job_events
    WHERE rowid <= $last AND (__SCOPE__) AND event_id IN (SELECT event_id FROM batch)
), repeated AS (
    SELECT event_id FROM batch GROUP BY event_id HAVING count(*) > 1
), contested AS (
    SELECT * FROM held
    UNION ALL
    SELECT * FROM batch
    WHERE event_id IN (SELECT event_id FROM repeated) OR event_id IN (SELECT event_id FROM held)
), doomed AS (
    SELECT rid, ts FROM contested
    QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY __ORDER__) > 1
)
SELECT (SELECT count(*) FROM batch),
       coalesce((SELECT list(rid) FROM doomed), []),
       coalesce((SELECT list(DISTINCT CAST(timezone('UTC', ts) AS DATE)) FROM doomed WHERE rid <= $last), [])
""".replace("__ORDER__", KEPT_COPY_ORDER)

_HAS_LEGACY_KEY_SQL = """
SELECT count(*) FROM duckdb_constraints()
WHERE database_name = current_database() AND schema_name = current_schema()
  AND table_name = 'job_events' AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')
"""


@dataclass(frozen=True)
class IngestStats:
    files: int  # files with new bytes read
    events_read: int
    events_inserted: int
    days: tuple[date, ...] = ()  # UTC days whose rows may have changed (events read, copies replaced)
    bytes_read: int = 0

    def __add__(self, other: "IngestStats") -> "IngestStats":
        return IngestStats(self.files + other.files, self.events_read + other.events_read,
                           self.events_inserted + other.events_inserted,
                           tuple(sorted({*self.days, *other.days})), self.bytes_read + other.bytes_read)


@dataclass(frozen=True)
class Backlog:
    """Lake files with bytes not yet read into ``job_events``, and those bytes."""

    files: int
    bytes: int


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the tables; migrate a schema-1 ``job_events`` (``event_id`` primary key).

    Call it outside a transaction. The migration copies the table into the new definition
    (same columns, same rows, same order), drops the old one and renames, in one transaction;
    views over ``job_events`` bind by name and keep working."""
    con.execute(JOB_EVENTS_DDL)
    if scalar(con, _HAS_LEGACY_KEY_SQL):
        _migrate_from_primary_key(con)
    have = {r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE database_name = "
                                      "current_database() AND schema_name = current_schema() AND "
                                      "table_name = 'lake_files'").fetchall()}
    for column, kind in _LAKE_FILES_ADDED.items():
        if column not in have:  # a database from before byte offsets: its rows are whole files
            con.execute(f"ALTER TABLE lake_files ADD COLUMN {column} {kind}")


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


def resolve_duplicates(con: duckdb.DuckDBPyConnection, last: int, appended: int, *,
                       window_days: int = DEDUP_WINDOW_DAYS, days: list[date] | None = None) -> tuple[int, list[date]]:
    """Keep one row per id among the batch (``rowid > last``) and the rows held in scope, the
    first by :data:`KEPT_COPY_ORDER`; returns the rows deleted and the UTC days of the held
    rows among them. Raises (so the caller rolls back) if ``rowid > last`` is not the batch.

    Held ids are looked for on the batch's own UTC days, ``window_days`` either side: a copy
    with the same timestamp (a redelivered or replayed file, a late event, however late) is
    always on its own day; only a copy re-emitted with a new timestamp (a job redelivered more
    than ``window_days`` later) could slip through, which ``job_events_unique_ids`` counts."""
    if not appended:
        return 0, []
    scope = scope_of(batch_days(con, last) if days is None else days, window_days)
    batch, doomed, held_days = con.execute(_DUPLICATES_SQL.replace("__SCOPE__", scope), {"last": last}).fetchall()[0]
    if batch != appended:
        raise RuntimeError(f"job_events: {batch} rows after rowid {last}, {appended} appended; rolled back")
    if doomed:
        scalar(con, "DELETE FROM job_events WHERE rowid IN (SELECT unnest($rids))", {"rids": doomed})
    return len(doomed), list(held_days)


def drop_duplicates(con: duckdb.DuckDBPyConnection, last: int, appended: int, *,
                    window_days: int = DEDUP_WINDOW_DAYS, days: list[date] | None = None) -> int:
    """:func:`resolve_duplicates`, returning the rows deleted only."""
    return resolve_duplicates(con, last, appended, window_days=window_days, days=days)[0]


def insert_new_events(con: duckdb.DuckDBPyConnection, source_sql: str, params: dict, *,
                      window_days: int = DEDUP_WINDOW_DAYS) -> int:
    """New ids only, one row per id, inside the caller's transaction (hold :data:`WRITE_LOCK`);
    returns the rows added.

    Schema 2 has no ``event_id`` index: the batch is appended as read, then, for each id the
    batch repeats or the table already held, every copy but the first by
    :data:`KEPT_COPY_ORDER` (earliest ``ts``, then ``source_file``, then line) is deleted
    again, a held row included when the batch brings an earlier copy. Duplicates are rare, so
    this costs one semi-join instead of an ART index that every insert maintains (about half
    the insert time) and that grows with the table. Uniqueness therefore rests on serialised
    writers: one writing process per file (DuckDB's lock; the Dagster ``duckdb_writer`` pool
    has limit 1) and, within a process, :data:`WRITE_LOCK`, held by every write here and by
    the DuckDB emitter. The ``job_events_unique_ids`` check (:func:`duplicate_event_ids`)
    keeps watching; a schema-1 database is migrated by :func:`ensure_schema`. Held ids are
    looked for on the batch's days only (see :func:`drop_duplicates`)."""
    last, appended = append_batch(con, source_sql, params)
    return appended - drop_duplicates(con, last, appended, window_days=window_days)


def _bookkeeping(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int | None, int | None]]:
    return {r[0]: (r[1], r[2]) for r in con.execute("SELECT path, bytes, size FROM lake_files").fetchall()}


def pending_ranges(known: dict[str, tuple[int | None, int | None]], listing: list[LakeFile]) -> list[ByteRange]:
    """What is new in ``listing`` given the ``lake_files`` rows ``known``: a file never read
    (from 0), or one that grew since it was last read (from the stored offset). A row without
    an offset is a whole file ingested before offsets existed; a file whose size did not
    change since it was read holds at most a torn tail (a line its writer never finished)."""
    out = []
    for f in listing:
        row = known.get(f.name)
        if row is None:
            if f.size > 0:
                out.append(ByteRange(f.name, 0, f.size))
        elif row[0] is not None and f.size > (row[1] if row[1] is not None else row[0]):
            out.append(ByteRange(f.name, row[0], f.size))
    return out


def lake_backlog(con: duckdb.DuckDBPyConnection, source: LakeSource) -> Backlog:
    """Files of the lake with bytes ``job_events`` has not read yet (works read-only)."""
    known = _bookkeeping(con) if scalar(con, "SELECT count(*) FROM duckdb_tables() WHERE table_name = "
                                             "'lake_files' AND schema_name = current_schema()") else {}
    if known and "size" not in {r[0] for r in con.execute("DESCRIBE lake_files").fetchall()}:
        known = {path: (None, None) for path in known}  # before offsets: every recorded file is whole
    ranges = pending_ranges(known, source.listing())
    return Backlog(len(ranges), sum(r.end - r.start for r in ranges))


def new_lake_files(con: duckdb.DuckDBPyConnection, source: LakeSource) -> list[str]:
    """The source's part files with bytes not yet ingested, in the source's order."""
    ensure_schema(con)
    return [r.name for r in pending_ranges(_bookkeeping(con), source.listing())]


def _batches(ranges: list[ByteRange], batch_files: int, batch_bytes: int) -> Iterator[list[ByteRange]]:
    batch: list[ByteRange] = []
    size = 0
    for r in ranges:
        if batch and (len(batch) >= batch_files or size + (r.end - r.start) > batch_bytes):
            yield batch
            batch, size = [], 0
        batch.append(r)
        size += r.end - r.start
    if batch:
        yield batch


def ingest_lake(con: duckdb.DuckDBPyConnection, source: LakeSource | str | os.PathLike, *,
                max_files: int | None = None, window_days: int = DEDUP_WINDOW_DAYS,
                batch_files: int = BATCH_FILES, batch_bytes: int = BATCH_BYTES,
                rounds: int = INGEST_ROUNDS) -> IngestStats:
    """Load everything new in the lake into ``job_events``; safe to run any number of times.

    Lists the lake, reads every file's new complete lines in batches (one transaction each),
    and lists again, up to ``rounds`` times, while something new landed meanwhile; what lands
    after that is :func:`lake_backlog`. ``max_files`` caps the files read (tests; None: all).
    ``source`` is a :class:`LakeSource` (see :func:`~jobs_pipeline.warehouse.lake_source.lake_source`)
    or a local lake folder."""
    if isinstance(source, (str, os.PathLike)):
        source = LocalLakeSource.folder(source)
    total = IngestStats(0, 0, 0)
    for _ in range(max(1, rounds)):
        with WRITE_LOCK:  # one reader of the offsets at a time in this process
            ensure_schema(con)
            ranges = pending_ranges(_bookkeeping(con), source.listing())
            if max_files is not None:
                ranges = ranges[:max(0, max_files - total.files)]
            if not ranges:
                break
            for batch in _batches(ranges, batch_files, batch_bytes):
                total = total + _ingest_batch(con, source, batch, window_days=window_days)
    return total


def ingest_files(con: duckdb.DuckDBPyConnection, files: list[str], *, sources: list[str] | None = None,
                 batch_files: int = BATCH_FILES, window_days: int = DEDUP_WINDOW_DAYS) -> IngestStats:
    """Load the new bytes of the given local lake files, ``batch_files`` per transaction;
    ``sources`` (the names of copies in their lake) are recorded instead of the local paths in
    ``source_file`` and ``lake_files``."""
    files = [str(f) for f in files]
    names = [str(n) for n in sources] if sources is not None else files
    if len(names) != len(files):
        raise ValueError("ingest_files: one source per file")
    if not files:
        return IngestStats(0, 0, 0)
    source = FileListSource(tuple(files), tuple(names))
    total = IngestStats(0, 0, 0)
    with WRITE_LOCK:
        ensure_schema(con)
        for batch in _batches(pending_ranges(_bookkeeping(con), source.listing()), batch_files, BATCH_BYTES):
            total = total + _ingest_batch(con, source, batch, window_days=window_days)
    return total


#: ``job_events`` rows from one file of tagged lines: each line names its range (``_f``).
_TAGGED_SOURCE = ("(SELECT r.* EXCLUDE (_f), list_extract($names, r._f + 1) AS filename FROM read_json($batch, "
                  "format='newline_delimited', columns=__COLUMNS__) r)")
#: ``job_events`` rows from one copy per range, recorded under the range's name.
_COPIES_SOURCE = ("(SELECT r.* REPLACE (f.name AS filename) FROM read_json($batch, format='newline_delimited', "
                  "columns=__COLUMNS__, filename=true) r "
                  "LEFT JOIN (SELECT unnest($batch) AS path, unnest($names) AS name) f ON f.path = r.filename)")
_TAGGED_COLUMNS = _READ_COLUMNS[:-1].rstrip() + ", '_f': 'INTEGER'\n}"

#: Up to this many ranges of local files, each is copied by the kernel into its own batch file
#: (no bytes through Python); more (a lake of one file per flush, S3) are read and tagged into
#: one file, since DuckDB pays a fixed cost per file it opens.
COPY_MAX_RANGES = 64

#: The longest lake line: an event is held under 64 KiB (docs/events.md), plus its source.
_TAIL_BYTES = 256 << 10


def _tag_lines(chunk: bytes, index: int) -> tuple[bytes, int]:
    """``chunk``'s lines, each with ``"_f":index`` as its first key, and their count.

    One ``bytes.replace``, no loop per line: every line of the lake is a JSON object (starts
    with ``{``); a line that is not is left untagged and fails the batch (NULL ``source_file``
    or bad JSON), so a corrupt file is never counted as read."""
    if not chunk:
        return b"", 0
    prefix = b'\n{"_f":%d,' % index
    tagged = (b"\n" + chunk).replace(b"\n{", prefix)
    return tagged[1:], tagged.count(prefix)


def _complete_end_of(fd: int, start: int, end: int) -> int:
    """The offset past the last newline in ``[start, end)`` of ``fd`` (``start`` if none)."""
    pos = end
    while pos > start:
        block = os.pread(fd, min(_TAIL_BYTES, pos - start), max(start, pos - _TAIL_BYTES))
        if not block:
            return start
        cut = block.rfind(b"\n")
        if cut >= 0:
            return pos - len(block) + cut + 1
        pos -= len(block)
    return start


def _stage_copies(source: LakeSource, ranges: list[ByteRange], tmp: Path) -> tuple[str, dict, list[int]]:
    """Each range's complete lines copied file to file by the kernel (``copy_file_range``)."""
    paths, names, ends = [], [], []
    for i, r in enumerate(ranges):
        try:
            src = os.open(source.local_path(r.name), os.O_RDONLY)
        except FileNotFoundError:  # an empty file its writer removed after a failed flush
            ends.append(r.start)
            continue
        try:
            complete = _complete_end_of(src, r.start, r.end)
            ends.append(complete)
            if complete == r.start:
                continue
            dest = tmp / f"{i:05d}.jsonl"
            with dest.open("wb") as out:
                offset, left = r.start, complete - r.start
                while left:
                    done = os.copy_file_range(src, out.fileno(), left, offset)
                    if not done:
                        raise RuntimeError(f"{r.name}: shorter than listed ({offset} of {complete} bytes)")
                    offset, left = offset + done, left - done
            paths.append(str(dest))
            names.append(r.name)
        finally:
            os.close(src)
    return (_COPIES_SOURCE.replace("__COLUMNS__", _READ_COLUMNS) if paths else "",
            {"batch": paths, "names": names}, ends)


def _stage_tagged(source: LakeSource, ranges: list[ByteRange], tmp: Path) -> tuple[str, dict, list[int]]:
    """All ranges' complete lines in one file, each line tagged with its range."""
    ends, lines = [], 0
    batch_file = tmp / "batch.jsonl"
    with batch_file.open("wb") as out:
        for i, (r, chunk) in enumerate(zip(ranges, source.read(ranges), strict=True)):
            complete = complete_end(chunk)
            tagged, count = _tag_lines(chunk[:complete], i)
            out.write(tagged)
            ends.append(r.start + complete)
            lines += count
    return (_TAGGED_SOURCE.replace("__COLUMNS__", _TAGGED_COLUMNS) if lines else "",
            {"batch": str(batch_file), "names": [r.name for r in ranges]}, ends)


def _ingest_batch(con: duckdb.DuckDBPyConnection, source: LakeSource, ranges: list[ByteRange], *,
                  window_days: int) -> IngestStats:
    """One transaction: the ranges' complete lines (new ids only) and their ``lake_files`` rows."""
    names = [r.name for r in ranges]
    with tempfile.TemporaryDirectory(prefix="lake-batch-") as tmp:
        copies = len(ranges) <= COPY_MAX_RANGES and hasattr(source, "local_path")
        sql, params, ends = (_stage_copies if copies else _stage_tagged)(source, ranges, Path(tmp))
        with transaction(con):
            if sql:
                last, appended = append_batch(con, sql, params)
            else:
                last, appended = scalar(con, "SELECT coalesce(max(rowid), -1) FROM job_events"), 0
            # every line read is in the batch until duplicates go: count them per file now
            per_file = dict(con.execute("SELECT source_file, count(*) FROM job_events WHERE rowid > $last "
                                        "GROUP BY 1", {"last": last}).fetchall())
            if sum(per_file.values()) != appended or not per_file.keys() <= set(names):
                raise RuntimeError(f"lake batch: rows from {sorted(set(per_file) - set(names))[:3]} "
                                   "not attributed to a given file; rolled back")
            scalar(con, """INSERT INTO lake_files (path, events, bytes, size)
                           SELECT unnest($names), unnest($counts), unnest($ends), unnest($sizes)
                           ON CONFLICT (path) DO UPDATE SET events = lake_files.events + excluded.events,
                               bytes = excluded.bytes, size = excluded.size, ingested_at = now()""",
                   {"names": names, "counts": [per_file.get(n, 0) for n in names], "ends": ends,
                    "sizes": [r.end for r in ranges]})
            days = batch_days(con, last)
            deleted, replaced_days = resolve_duplicates(con, last, appended, window_days=window_days, days=days)
    return IngestStats(sum(1 for r, e in zip(ranges, ends) if e > r.start), appended, appended - deleted,
                       tuple(sorted({*days, *replaced_days})), sum(e - r.start for r, e in zip(ranges, ends)))


def duplicate_event_ids(con: duckdb.DuckDBPyConnection) -> int:
    return scalar(con, "SELECT count(*) FROM (SELECT event_id FROM job_events GROUP BY 1 HAVING count(*) > 1)")
