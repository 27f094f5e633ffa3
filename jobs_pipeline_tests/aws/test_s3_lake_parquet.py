"""With an S3 lake, ``job_events`` and the daily marts also land as hive-partitioned Parquet
(one object per table and UTC day), read back by ``pyarrow.dataset`` as another engine would,
equal to the DuckDB tables, and rewritten in place (same keys) by a re-run."""

from datetime import timedelta

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
from pyarrow.fs import S3FileSystem

from jobs_pipeline.defs.quality import marts as mart_defs
from jobs_pipeline.defs.quality import tables as table_defs
from jobs_pipeline.defs.resources.warehouse import DuckDBWarehouseResource
from jobs_pipeline.telemetry.s3_lake import S3LakeTelemetryEmitter
from jobs_pipeline_tests.aws.harness import REGION
from jobs_pipeline_tests.telemetry.events_factory import stream

TABLES = [table_defs.job_events, table_defs.job_runs, table_defs.marketplace_quality]
MARTS = [mart_defs.marketplace_quality_daily, mart_defs.field_error_hotspots, mart_defs.region_latency_daily]


def _dataset(moto_server, bucket: str, table: str) -> pa.Table:
    fs = S3FileSystem(endpoint_override=moto_server.endpoint_url, access_key="testing", secret_key="testing",
                      region=REGION)
    part = ds.partitioning(pa.schema([("day", pa.date32())]), flavor="hive")
    return ds.dataset(f"{bucket}/lake/tables/{table}", filesystem=fs, format="parquet", partitioning=part).to_table()


def _rows(table: pa.Table, columns: list[str]) -> list[tuple]:
    return sorted(zip(*(table.column(c).to_pylist() for c in columns)), key=repr)


def test_events_and_marts_land_as_partitioned_parquet_equal_to_duckdb(aws_env, moto_server, s3, bucket, tmp_path):
    lake = f"s3://{bucket}/lake"
    emitter = S3LakeTelemetryEmitter(lake)
    events = stream(6, "pq") + [e.model_copy(update={"timestamp": e.timestamp + timedelta(days=1)})
                                for e in stream(4, "pq-next")]
    for event in events:
        emitter.emit(event)
    emitter.close()
    days = sorted({e.timestamp.date() for e in events})
    warehouse = DuckDBWarehouseResource(path=str(tmp_path / "quality.duckdb"), lake_dir=lake)

    def build() -> list[str]:
        with dg.instance_for_test() as instance:
            assert dg.materialize(TABLES, resources={"warehouse": warehouse}, instance=instance).success
            for day in days:
                assert dg.materialize(MARTS, partition_key=day.isoformat(), resources={"warehouse": warehouse},
                                      instance=instance).success
        return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="lake/tables/")["Contents"])

    keys = build()
    assert keys == sorted(f"lake/tables/{t}/day={d.isoformat()}/part-0.parquet"
                          for t in ("job_events", "marketplace_quality_daily", "field_error_hotspots",
                                    "region_latency_daily") for d in days)

    events_pq = _dataset(moto_server, bucket, "job_events")
    with duckdb.connect(warehouse.path, read_only=True) as con:
        cols = [r[0] for r in con.execute("DESCRIBE job_events").fetchall()]
        want = con.sql(f"""SELECT {', '.join(f'"{c}"::VARCHAR AS "{c}"' if c in ('event_id', 'job_id', 'metrics',
                                     'errors_by_field') else f'"{c}"' for c in cols)},
                                      CAST(timezone('UTC', ts) AS DATE) AS day FROM job_events""").to_arrow_table()
        assert events_pq.num_rows == len(events) == want.num_rows
        assert _rows(events_pq, [*cols, "day"]) == _rows(want, [*cols, "day"])
        for mart in ("marketplace_quality_daily", "field_error_hotspots", "region_latency_daily"):
            got = _dataset(moto_server, bucket, mart)
            mart_cols = [r[0] for r in con.execute(f"DESCRIBE {mart}").fetchall()]
            assert got.num_rows == con.execute(f"SELECT count(*) FROM {mart}").fetchall()[0][0] > 0
            assert _rows(got, mart_cols) == _rows(con.sql(f"SELECT * FROM {mart}").to_arrow_table(), mart_cols)

    # a re-run (nothing new to ingest, the same mart days again) rewrites the same objects only
    assert build() == keys
    assert _dataset(moto_server, bucket, "job_events").num_rows == len(events)
