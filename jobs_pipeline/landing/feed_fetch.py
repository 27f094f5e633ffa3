"""Giving the validator a local file when the feed is an ``s3://`` object.

The object is streamed (under the size limit) into a private temporary folder and the job runs
on that copy, so metrics and events are those of a local feed. A failed fetch is re-raised by the
validator, so ``JobService.run`` reports and classifies it like any unreadable feed.
"""

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jobs_pipeline.domain.model import ValidationJob
from jobs_pipeline.storage.s3_objects import download_object
from jobs_pipeline.storage.uri import is_s3_uri, split_object_uri


def failing_validator(exc: BaseException) -> Callable[..., Any]:
    """A validator that raises ``exc``: ``JobService.run`` then reports a feed that could not be
    made ready (download, safe open) as ``job.failed`` / ``job.retrying`` like any other."""

    def validator(*_args: Any, **_kwargs: Any) -> Any:
        raise exc

    return validator


@contextmanager
def fetched_feed(job: ValidationJob, service: Any, client: Callable[[], Any], *,
                 max_bytes: int) -> Iterator[ValidationJob]:
    """Yield the job to run: ``job`` itself for a local feed, else a copy on a local file."""
    if not is_s3_uri(job.feed_uri):
        yield job
        return
    bucket, key = split_object_uri(job.feed_uri)
    with tempfile.TemporaryDirectory(prefix="feed-") as tmp:
        try:
            path = download_object(client(), bucket, key, Path(tmp), max_bytes=max_bytes)
        except Exception as exc:  # reported by JobService.run as job.failed / job.retrying
            service.validator = failing_validator(exc)
            yield job
            return
        yield job.model_copy(update={"feed_uri": str(path)})
