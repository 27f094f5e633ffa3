"""A boto3 client for the business core (the Dagster layer passes dagster-aws's instead).

Credentials come only from the default AWS chain and are never read or logged here;
``endpoint_url=None`` lets botocore honour ``AWS_ENDPOINT_URL``. Every boto3 client of the
project is made by :func:`aws_client`, which installs :mod:`.log_redaction` first.
"""

from typing import Any

from jobs_pipeline.storage import log_redaction


def aws_client(service: str, *, endpoint_url: str | None = None, region: str | None = None,
               config: Any = None) -> Any:
    """A boto3 client of ``service`` on its own session, with botocore's DEBUG logs redacted."""
    import boto3  # only when an AWS backend is chosen

    log_redaction.install()
    return boto3.session.Session().client(service, endpoint_url=endpoint_url or None, region_name=region or None,
                                          config=config)


def s3_client(*, endpoint_url: str | None = None, region: str | None = None) -> Any:
    return aws_client("s3", endpoint_url=endpoint_url, region=region)
