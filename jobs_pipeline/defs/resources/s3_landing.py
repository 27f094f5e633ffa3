"""The S3 side of the landing zone as a Dagster resource, on dagster-aws's ``S3Resource``.

What the S3 landing sensor and ``validate_feed`` need: where feeds land, where unusable ones
are copied, the per-tick bounds and the size limit. Present in every deployment, inert unless
``landing_uri`` is ``s3://``. Credentials are never fields: the default AWS chain applies.
"""

from typing import Any

import dagster as dg
from dagster_aws.s3 import S3Resource

from jobs_pipeline.jobs.service import JobOutcome
from jobs_pipeline.landing.quarantine import quarantines
from jobs_pipeline.settings import Settings
from jobs_pipeline.storage import log_redaction
from jobs_pipeline.storage.s3_objects import quarantine_object
from jobs_pipeline.storage.uri import S3Uri, is_s3_uri, split_object_uri

GIB = 1024**3


class S3LandingResource(dg.ConfigurableResource):
    """``s3://bucket/prefix/<marketplace>/<category>/<region>/<file>`` landing area."""

    s3: S3Resource
    landing_uri: str = ""
    quarantine_uri: str = ""  # default: s3://<landing bucket>/quarantine/
    reports_uri: str = ""  # JOBS_PIPELINE_REPORTS_URI: never listed as feeds if under the landing prefix
    tier: str = "free"
    max_files_per_tick: int = 200
    max_files_per_run: int = 100  # files per validate_feeds run (one step each)
    max_keys_per_tick: int = 5000
    page_size: int = 1000
    max_seen: int = 20_000
    max_object_bytes: int = 2 * GIB

    @property
    def enabled(self) -> bool:
        return is_s3_uri(self.landing_uri)

    @property
    def root(self) -> S3Uri:
        return S3Uri.parse(self.landing_uri)

    @property
    def quarantine(self) -> S3Uri:
        return S3Uri.parse(self.quarantine_uri or f"s3://{self.root.bucket}/quarantine/")

    def get_client(self) -> Any:
        log_redaction.install()  # botocore DEBUG logs would print the session token
        return self.s3.get_client()

    def excluded_key_prefixes(self) -> list[str]:
        """Quarantine copies and error reports must never be picked up as feeds if they sit
        under the landing prefix."""
        places = [self.quarantine]
        if is_s3_uri(self.reports_uri):
            places.append(S3Uri.parse(self.reports_uri))
        return [p.prefix for p in places if p.bucket == self.root.bucket and p.prefix]

    def quarantine_unusable(self, outcome: JobOutcome, log: Any) -> str | None:
        """Copy an S3 feed that failed as unusable (a ``FeedError``) to quarantine, with its reason."""
        error = outcome.error
        if outcome.ok or error is None or not is_s3_uri(outcome.job.feed_uri) or not self.enabled:
            return None
        if not quarantines(error.error_type):
            return None
        bucket, key = split_object_uri(outcome.job.feed_uri)
        relpath = key[len(self.root.prefix):] if key.startswith(self.root.prefix) else key
        try:
            uri = quarantine_object(self.get_client(), bucket, key, self.quarantine, relpath,
                                    f"{error.error_type}: {error.message}")
        except Exception as exc:  # the outcome stands; the original object is untouched
            log.error(f"cannot quarantine {outcome.job.feed_uri}: {type(exc).__name__}")
            return None
        log.warning(f"unusable feed copied to {uri} ({error.error_type})")
        return uri


def s3_landing_resource(settings: Settings, *, from_env: bool) -> S3LandingResource:
    """Built from ``JOBS_PIPELINE_LANDING_URI`` and ``AWS_ENDPOINT_URL``; staging/prod read the
    landing URI at launch (``dg.EnvVar``)."""
    landing = settings.landing_uri if is_s3_uri(settings.landing_uri) else ""
    return S3LandingResource(
        s3=S3Resource(endpoint_url=settings.aws_endpoint_url, region_name=settings.aws_region_name),
        landing_uri=dg.EnvVar("JOBS_PIPELINE_LANDING_URI") if from_env and landing else landing,
        tier=settings.jobs_pipeline_landing_tier,
        reports_uri=settings.reports_uri if is_s3_uri(settings.reports_uri) else "",
        max_object_bytes=settings.feed_max_file_bytes,  # FEED_MAX_FILE_BYTES, the validator's own limit
    )
