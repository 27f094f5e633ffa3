"""Shared fixtures: an isolated data folder and environment per test, a Dagster instance,
and real services (see :mod:`jobs_pipeline_tests.services`)."""

import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from jobs_pipeline.settings import Settings, load_settings
from jobs_pipeline_tests import services
from jobs_pipeline_tests.feeds import write_feed  # noqa: F401  (re-exported for tests)

# Every variable the settings read: a value in the developer's shell never leaks into a test.
ENV_VARS = sorted({name.upper() for name in Settings.model_fields} | {"AWS_ENDPOINT_URL"})


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data folder, with every path variable pointing into it."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    root = tmp_path / "data"
    monkeypatch.setenv("JOBS_PIPELINE_DATA_DIR", str(root))
    monkeypatch.setenv("TELEMETRY_SINKS", "lake")
    return root


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return load_settings()


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture(scope="session")
def redis_server() -> Iterator[services.RedisServer]:
    with services.redis_server() as server:
        yield server


@pytest.fixture(scope="session")
def moto_server() -> Iterator[services.MotoServer]:
    with services.moto_server() as server:
        yield server


@pytest.fixture(autouse=True)
def _no_ambient_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never reach a real AWS account."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
