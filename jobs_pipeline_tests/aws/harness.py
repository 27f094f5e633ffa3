"""Helpers for the S3 tests: resources on moto, bulk uploads, a sensor driver."""

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dagster as dg
from dagster_aws.s3 import S3Resource

from jobs_pipeline.defs.feeds.s3_landing_sensor import build_s3_landing_sensor
from jobs_pipeline.defs.resources.s3_landing import S3LandingResource

REGION = "us-east-1"


def landing_resource(moto_server, bucket: str, **overrides: Any) -> S3LandingResource:
    return S3LandingResource(s3=S3Resource(endpoint_url=moto_server.endpoint_url, region_name=REGION),
                             landing_uri=f"s3://{bucket}/landing", **overrides)


def put_many(s3, bucket: str, items: Iterable[tuple[str, bytes]], threads: int = 8) -> None:
    """Upload many small objects concurrently (moto answers one request at a time per thread)."""
    items = list(items)
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda kv: s3.put_object(Bucket=bucket, Key=kv[0], Body=kv[1]), items))


class SensorDriver:
    """Evaluates ``s3_landing_sensor`` tick after tick, carrying the cursor like the daemon."""

    def __init__(self, instance: dg.DagsterInstance, resource: S3LandingResource) -> None:
        self.instance = instance
        self.resource = resource
        self.sensor = build_s3_landing_sensor()
        self.cursor: str | None = None

    def tick(self) -> dg.SensorResult:
        with dg.build_sensor_context(instance=self.instance, cursor=self.cursor,
                                     resources={"s3_landing": self.resource}) as context:
            result = self.sensor(context)
        self.cursor = result.cursor
        return result

    def run_keys(self) -> list[str]:
        return [r.run_key for r in self.tick().run_requests or []]
