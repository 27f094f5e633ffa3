"""``job_events`` from an S3 lake: the local ingestion, fed with new objects downloaded.

DuckDB's S3 support (httpfs) is an extension downloaded at run time, which locked-down
hosts cannot do; boto3 is already needed. So new part objects (those whose ``s3://`` URI is
not yet in ``lake_files``) are downloaded to a temporary folder and loaded by the same
:func:`jobs_pipeline.warehouse.events.ingest_files`, recorded under their ``s3://`` URIs.
Dedup by ``event_id`` and the file bookkeeping are therefore exactly the local lake's.
"""

import fnmatch
import tempfile
from pathlib import Path
from typing import Any

import duckdb

from jobs_pipeline.storage.client import s3_client
from jobs_pipeline.storage.uri import S3Uri
from jobs_pipeline.telemetry.lake import PART_GLOB
from jobs_pipeline.warehouse.events import IngestStats, ensure_schema, ingest_files


def new_lake_objects(con: duckdb.DuckDBPyConnection, client: Any, root: S3Uri) -> list[str]:
    """Relative paths (``date=…/part-….jsonl``) of lake objects not ingested yet, in key order."""
    ensure_schema(con)
    known = {row[0] for row in con.execute("SELECT path FROM lake_files WHERE starts_with(path, ?)",
                                           [root.uri()]).fetchall()}
    fresh: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=root.bucket, Prefix=root.prefix + "date="):
        for obj in page.get("Contents", []):
            relpath = obj["Key"][len(root.prefix):]
            if fnmatch.fnmatch(relpath, PART_GLOB) and root.uri(relpath) not in known:
                fresh.append(relpath)
    return fresh


def ingest_s3_lake(con: duckdb.DuckDBPyConnection, lake_uri: str, *, max_files: int = 10_000,
                   client: Any | None = None) -> IngestStats:
    """Load new S3 lake objects into ``job_events``; safe to run any number of times."""
    root = S3Uri.parse(lake_uri)
    client = client or s3_client()
    relpaths = new_lake_objects(con, client, root)[:max_files]
    if not relpaths:
        return IngestStats(0, 0, 0)
    with tempfile.TemporaryDirectory(prefix="lake-") as tmp:
        local: list[str] = []
        for relpath in relpaths:
            path = Path(tmp) / relpath
            path.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(root.bucket, root.key(relpath), str(path))
            local.append(str(path))
        return ingest_files(con, local, sources=[root.uri(r) for r in relpaths])
