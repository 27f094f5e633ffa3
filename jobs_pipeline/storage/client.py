"""A boto3 S3 client for the business core (the Dagster layer passes dagster-aws's instead).

Credentials always come from the default AWS chain (environment, profile, instance or task
role) and are never read, stored or logged here. ``endpoint_url=None`` lets botocore apply
``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3`` itself, which is how development and tests
point everything at a local S3-compatible server. Creating a client installs the log
redaction of :mod:`jobs_pipeline.storage.log_redaction`.
"""

from typing import Any

from jobs_pipeline.storage import log_redaction


def s3_client(*, endpoint_url: str | None = None, region: str | None = None) -> Any:
    import boto3  # only when S3 is chosen

    log_redaction.install()
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url or None, region_name=region or None)
