"""Celery app for the retry tests: the real ``jobs_pipeline.worker`` app and task, whose
JobService validator first touches a dependency that fails according to the feed's name.

``<kind>-<n>.csv``: ``refused-2`` is refused (a real ``ConnectionRefusedError`` from a
closed local port) on its first 2 runs then works; ``enoent-1`` opens a missing file (a
real ``FileNotFoundError``, permanent). The state is per feed and per process, so start
the worker with ``--pool solo``: every retry of a task then meets the same dependency.

Run as ``celery -A jobs_pipeline_tests.retry.faulty_worker worker --pool solo ...``.
"""

from pathlib import Path
from typing import Any

from jobs_pipeline import worker
from jobs_pipeline.jobs.service import JobService
from jobs_pipeline.settings import Settings
from jobs_pipeline.validation.engine import validate_file
from jobs_pipeline_tests.retry.harness import RefusedNTimes

app = worker.app


class FaultByFeedName:
    def __init__(self) -> None:
        self.dependencies: dict[str, Any] = {}

    def dependency(self, path: Path):
        kind, _, count = Path(path).stem.partition("-")
        if path not in self.dependencies:
            if kind == "refused":
                self.dependencies[path] = RefusedNTimes(int(count))
            elif kind == "enoent":
                self.dependencies[path] = lambda: Path(path).with_suffix(".missing").open()
            else:
                self.dependencies[path] = lambda: None
        return self.dependencies[path]

    def __call__(self, path: Path, ruleset: Any, **kwargs: Any):
        self.dependency(path)()
        return validate_file(path, ruleset, **kwargs)


_build_service = worker.build_service


def build_service(settings: Settings) -> JobService:
    service = _build_service(settings)
    service.validator = FaultByFeedName()
    return service


worker.build_service = build_service  # worker.service() looks it up at call time
