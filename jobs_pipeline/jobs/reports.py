"""Where a job's full error report ends up: the ``ReportStore`` seam.

The validator writes its report into a local folder (:meth:`ReportStore.staging`); once
validation succeeded the store makes the files final and returns their URIs (``publish``), before
``job.completed``. :class:`LocalReportStore` keeps them in ``<reports_dir>/<job_id>/``; the S3
store (:mod:`jobs_pipeline.jobs.s3_reports`, imported only when chosen) uploads them.
"""

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol, runtime_checkable

from jobs_pipeline.storage.uri import is_s3_uri


@runtime_checkable
class ReportStore(Protocol):
    """A destination for error reports (see the module docstring)."""

    @property
    def location(self) -> str:
        """Where reports go (a folder or ``s3://bucket/prefix/``), for logs and docs."""
        ...

    def staging(self, job_id: str) -> AbstractContextManager[Path]:
        """A local folder the validator writes the job's report into, for the job's duration."""
        ...

    def publish(self, job_id: str, files: Sequence[Path]) -> list[str]:
        """Make the written files final; return their URIs in the same order.

        Raises when they cannot be made final (the job then ends through the retry policy,
        never with a ``job.completed`` naming a report that does not exist)."""
        ...


class LocalReportStore:
    """``<root>/<job_id>/errors.parquet`` and ``errors.csv``, written in place (the default)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser().resolve()

    @property
    def location(self) -> str:
        return str(self.root)

    @contextmanager
    def staging(self, job_id: str) -> Iterator[Path]:
        yield self.root / job_id  # the report writer creates it

    def publish(self, job_id: str, files: Sequence[Path]) -> list[str]:
        return [str(f) for f in files]


def build_report_store(location: str | Path, *, endpoint_url: str | None = None,
                       region: str | None = None) -> ReportStore:
    """A folder gives :class:`LocalReportStore`, ``s3://bucket/prefix`` the S3 store (boto3,
    lazily; ``endpoint_url``/``region`` as for every AWS client of the project)."""
    if is_s3_uri(location):
        from jobs_pipeline.jobs.s3_reports import S3ReportStore

        return S3ReportStore(str(location), endpoint_url=endpoint_url, region=region)
    return LocalReportStore(location)
