"""The real Celery worker app with a gate in the validator, for the worker-killed test.

The first delivery of a job records its pid and blocks (until the test kills that process);
later deliveries validate normally. Everything else is ``jobs_pipeline.worker`` unchanged.
"""

import os
import time
from pathlib import Path

from jobs_pipeline import worker
from jobs_pipeline.validation.engine import validate_file

GATE = Path(os.environ["TEST_GATE_DIR"])
_original = worker.build_service


def gated_validate(path, *args, **kwargs):
    deliveries = GATE / "deliveries"
    first = not deliveries.exists()
    with deliveries.open("a") as f:
        f.write(f"{os.getpid()}\n")
    if first:
        while True:  # the test SIGKILLs this process here, mid-job
            time.sleep(0.1)
    return validate_file(path, *args, **kwargs)


def build_service(settings):
    service = _original(settings)
    service.validator = gated_validate
    return service


worker.build_service = build_service
app = worker.app
