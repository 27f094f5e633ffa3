"""A seeded quality database (events -> job_runs -> every mart for every day), built once
per session and copied for tests that change it."""

import shutil
from pathlib import Path

import pytest

from jobs_pipeline.warehouse import anomalies, marts
from jobs_pipeline.warehouse.connection import connect
from jobs_pipeline.warehouse.tables import build_job_runs
from jobs_pipeline_tests.warehouse.history import History, build_history, load_history

#: Days judged for anomalies: those with 7 same-weekday weeks of history before them.
FIRST_JUDGED = 49


@pytest.fixture(scope="session")
def history() -> History:
    return build_history(seed=42)


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory: pytest.TempPathFactory, history: History) -> Path:
    path = tmp_path_factory.mktemp("marts") / "quality.duckdb"
    with connect(path) as con:
        load_history(con, history)
        build_job_runs(con)
        for day in history.days:
            for mart in marts.MARTS.values():
                marts.refresh_day(con, mart, day)
        for day in history.days[FIRST_JUDGED:]:
            anomalies.refresh_day(con, day)
    return path


@pytest.fixture
def db_copy(seeded_db: Path, tmp_path: Path) -> Path:
    target = tmp_path / "quality.duckdb"
    shutil.copy(seeded_db, target)
    return target
