"""Feeds through the real Dagster daemon, as ``make dev`` runs it: a burst of N feeds landed at
once (three marketplaces) until every one has ``job.completed`` in the event lake and counts in
``marketplace_quality``; then single feeds on an idle instance (landing -> ``job.completed``);
Dagster CPU-seconds per feed (all processes of ``dagster dev``).

    .venv/bin/python bench/pipeline_bench.py [--feeds 200] [--rows 1000] [--sensor landing|s3|sqs]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from feedgen import generate  # noqa: E402

from jobs_pipeline_tests.defs.dev_server import DagsterDev  # noqa: E402
from jobs_pipeline_tests.services import free_port  # noqa: E402

MARKETS = [("google_merchant", "apparel", "US"), ("amazon", "electronics", "US"), ("mercado_livre", "home", "AR")]
BUCKET = "bench-landing"


class Lander:
    """Puts staged feed files where the chosen sensor finds them."""

    def __init__(self, mode: str, data: Path, endpoint: str | None) -> None:
        self.mode, self.data = mode, data
        self.landing = data / "landing"
        if mode != "landing":
            import boto3

            kw = {"endpoint_url": endpoint, "region_name": "us-east-1", "aws_access_key_id": "x",
                  "aws_secret_access_key": "x"}
            self.s3, self.sqs = boto3.client("s3", **kw), boto3.client("sqs", **kw)
            if mode == "s3":
                self.s3.create_bucket(Bucket=BUCKET)
            else:
                self.queues = {t: self.sqs.create_queue(QueueName=f"bench-jobs-{t}")["QueueUrl"]
                               for t in ("pro", "free")}

    def env(self) -> dict[str, str]:
        if self.mode == "s3":
            return {"JOBS_PIPELINE_LANDING_URI": f"s3://{BUCKET}/landing"}
        if self.mode == "sqs":
            return {"QUEUE_BACKEND": "sqs", "SQS_QUEUE_PRO_URL": self.queues["pro"],
                    "SQS_QUEUE_FREE_URL": self.queues["free"], "PUBLISH_OUTCOMES": "false"}
        return {}

    def land(self, staged: list[Path], tag: str) -> float:
        """Land every staged file at once; returns the time the last one landed."""
        if self.mode == "landing":
            now = time.time()
            for i, path in enumerate(staged):
                m, c, r = MARKETS[i % len(MARKETS)]
                target = self.landing / m / c / r / f"{tag}-{path.name}"
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, target)
                os.utime(target, (now, now))  # written just now, as an upload would be
        elif self.mode == "s3":
            from concurrent.futures import ThreadPoolExecutor

            def put(item):
                i, path = item
                m, c, r = MARKETS[i % len(MARKETS)]
                self.s3.put_object(Bucket=BUCKET, Key=f"landing/{m}/{c}/{r}/{tag}-{path.name}", Body=path.read_bytes())
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(put, enumerate(staged)))
        else:
            import json

            from jobs_pipeline.domain.model import JobContext, ValidationJob

            for i, path in enumerate(staged):  # both tiers: a job message carries its tier
                m, c, r = MARKETS[i % len(MARKETS)]
                tier = "pro" if i % 2 else "free"
                job = ValidationJob(feed_uri=str(path), context=JobContext(marketplace=m, category=c, region=r,
                                                                           tier=tier))
                self.sqs.send_message(QueueUrl=self.queues[tier], MessageBody=json.dumps(job.to_message()))
        return time.time()


def stage(folder: Path, n: int, rows: int, tag: str) -> list[Path]:
    return [generate(folder / f"{tag}-{i:04d}.csv", rows=rows, seed=hash((tag, i)) % 10**6) for i in range(n)]


def quality_counts(data: Path) -> int:
    """Materialise job_events -> job_runs -> marketplace_quality (as the daemon's automation would) and
    return the jobs counted."""
    import dagster as dg

    from jobs_pipeline.defs.quality.tables import job_events, job_runs, marketplace_quality
    from jobs_pipeline.defs.resources.deployments import resources_for
    from jobs_pipeline.jobs.compose import load_checked_settings
    from jobs_pipeline.warehouse.connection import connect

    settings = load_checked_settings()
    with dg.DagsterInstance.get() as instance:
        dg.materialize([job_events, job_runs, marketplace_quality], instance=instance,
                       resources=resources_for(settings),
                       run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}})
    with connect(settings.duckdb_path, read_only=True) as con:
        return int(con.sql("SELECT coalesce(sum(jobs), 0) FROM marketplace_quality").fetchall()[0][0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--idle", type=int, default=5, help="single feeds landed one at a time on an idle instance")
    parser.add_argument("--sensor", choices=["landing", "s3", "sqs"], default="landing")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="pipeline-bench-"))
    data = work / "data"
    os.environ.update(DAGSTER_HOME=str(work / "home"), JOBS_PIPELINE_DATA_DIR=str(data))
    moto = None
    endpoint = None
    if args.sensor != "landing":
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        port = free_port()
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        moto.start()
        endpoint = f"http://127.0.0.1:{port}"
        os.environ.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x",
                          AWS_DEFAULT_REGION="us-east-1")
    lander = Lander(args.sensor, data, endpoint)
    os.environ.update(lander.env())
    staged = stage(work / "staging", args.feeds, args.rows, "burst")
    singles = [stage(work / "staging", 1, args.rows, f"idle{k}") for k in range(args.idle)]

    dev = DagsterDev(work / "home", data, free_port(), env=lander.env())
    try:
        ready = dev.start()
        print(f"dagster dev ready in {ready:.1f}s ({args.sensor} sensor); {args.feeds} feeds x {args.rows} rows")
        time.sleep(8)  # the first sensor ticks and the daemon's start-up work
        cpu0 = dev.cpu_seconds()
        landed = lander.land(staged, "burst")
        done: dict = {}
        while time.time() - landed < args.timeout and len(done) < args.feeds:
            time.sleep(0.5)
            done = dev.terminal()
        finished = time.time()
        cpu = dev.cpu_seconds() - cpu0
        counted = quality_counts(data)
        counted_at = time.time()
        completed = sum(1 for events in done.values() if [e["type"] for e in events] == ["job.completed"])
        print(f"burst: {completed}/{args.feeds} completed exactly once in {finished - landed:.1f}s; "
              f"{counted} counted in marketplace_quality {counted_at - landed:.1f}s after landing")
        print(f"Dagster CPU: {cpu:.1f}s for {args.feeds} feeds = {cpu / max(1, args.feeds):.2f} CPU-s per feed")

        latencies = []
        for k, single in enumerate(singles):
            time.sleep(3 + 2.3 * k)  # idle, and a different phase of the sensor's interval each time
            before = set(dev.terminal())
            t0 = lander.land(single, f"idle{k}")
            while time.time() - t0 < 120:
                new = set(dev.terminal()) - before
                if new:
                    latencies.append(time.time() - t0)
                    break
                time.sleep(0.2)
        if latencies:
            print(f"idle single feed: landing -> job.completed median {statistics.median(latencies):.1f}s "
                  f"(min {min(latencies):.1f}s, max {max(latencies):.1f}s, n={len(latencies)})")
    finally:
        dev.stop()
        if moto is not None:
            moto.stop()
    print(f"work folder: {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
