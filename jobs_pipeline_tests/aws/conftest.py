"""A fresh bucket per test on the session's moto server, and the resources pointing at it."""

import uuid
from typing import Any

import boto3
import pytest

from jobs_pipeline_tests.aws.harness import REGION


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, moto_server) -> str:
    """``AWS_ENDPOINT_URL`` as a deployment would set it: every client reaches moto."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint_url)
    return moto_server.endpoint_url


@pytest.fixture
def s3(moto_server) -> Any:
    return boto3.client("s3", endpoint_url=moto_server.endpoint_url, region_name=REGION)


@pytest.fixture
def bucket(s3) -> str:
    name = f"feeds-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name
