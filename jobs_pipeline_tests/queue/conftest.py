"""The ``harness`` fixture: the same contract checked identically on every publisher."""

import pytest

from jobs_pipeline_tests import services
from jobs_pipeline_tests.queue.harness import QUEUE_ENV, Harness, celery_harness, memory_harness, sqs_harness

BACKENDS = ["memory", "celery", "sqs", "sqs-fifo"]


@pytest.fixture(params=BACKENDS)
def harness(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Harness:
    for var in QUEUE_ENV:
        monkeypatch.delenv(var, raising=False)
    name = request.param
    dead = f"http://127.0.0.1:{services.free_port()}"
    if name == "memory":
        h = memory_harness()
    elif name == "celery":
        redis = request.getfixturevalue("redis_server")
        h = celery_harness(redis.url, f"redis://127.0.0.1:{services.free_port()}/0")
    else:
        moto = request.getfixturevalue("moto_server")
        h = sqs_harness(moto.endpoint_url, fifo=name == "sqs-fifo", dead_endpoint=dead)
    yield h
    h.publisher.close()
