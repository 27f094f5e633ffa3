"""The production dagster.yaml of docs/deployment.md, on the real local PostgreSQL: a fresh
database per test, ``validate_feed`` executed against it, the run stored there."""

import os
import re
import uuid
from pathlib import Path

import dagster as dg
import pytest
import yaml

from jobs_pipeline.defs.resources.deployments import resources_for
from jobs_pipeline.defs.feeds.validate_feed import validate_feed
from jobs_pipeline.demo.samples import SampleFeed, write_sample
from jobs_pipeline_tests import services

DOC = Path(__file__).resolve().parents[2] / "docs" / "deployment.md"
PG = {"host": os.environ.get("PGHOST", "127.0.0.1"), "port": os.environ.get("PGPORT", "5432"),
      "user": os.environ.get("PGUSER", "postgres")}


def production_config() -> str:
    block = re.search(r"```yaml\n# production-dagster.yaml\n(.*?)```", DOC.read_text(), re.S)
    assert block, "docs/deployment.md lost its production dagster.yaml block"
    return block.group(1)


@pytest.fixture
def fresh_database():
    import psycopg2  # dagster-postgres depends on it: never a skip
    name = f"dagster_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg2.connect(host=PG["host"], port=PG["port"], user=PG["user"], dbname="postgres")
    except psycopg2.OperationalError as exc:
        services.missing_service(f"PostgreSQL at {PG['host']}:{PG['port']} not reachable ({type(exc).__name__})")
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_production_instance_on_postgres_runs_validate_feed(fresh_database, tmp_path, monkeypatch, settings) -> None:
    config = yaml.safe_load(production_config())
    assert {"key": "tier", "value": "pro", "limit": 8} in config["concurrency"]["runs"]["tag_concurrency_limits"]
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(production_config())
    for var, value in {"DAGSTER_PG_HOST": PG["host"], "DAGSTER_PG_PORT": PG["port"], "DAGSTER_PG_USERNAME": PG["user"],
                       "DAGSTER_PG_PASSWORD": "", "DAGSTER_PG_DB": fresh_database}.items():
        monkeypatch.setenv(var, value)
    feed = write_sample(tmp_path / "feeds", SampleFeed("amazon", "electronics", "US", 100, 20))
    job_id = str(uuid.uuid4())
    run_config = {"ops": {"describe_feed": {"config": {
        "path": str(feed), "marketplace": "amazon", "category": "electronics", "region": "US", "tier": "pro",
        "job_id": job_id}}}}
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        result = validate_feed.execute_in_process(run_config=run_config, instance=instance,
                                                  resources=resources_for(settings), tags={"tier": "pro"})
        assert result.success
        stored = instance.get_run_by_id(result.run_id)
        assert stored is not None and stored.is_success and stored.tags["tier"] == "pro"
    import psycopg2

    with psycopg2.connect(host=PG["host"], port=PG["port"], user=PG["user"], dbname=fresh_database) as con:
        cur = con.cursor()
        cur.execute("SELECT count(*) FROM runs WHERE run_id = %s", (result.run_id,))
        assert cur.fetchone()[0] == 1
    con.close()
