"""What a validation returns: counts (see :mod:`jobs_pipeline.jobs.metrics` for their meaning),
per-field and per-rule tallies, and a capped sample of failing records."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RecordError:
    """One failing value. ``row`` is the 1-based record number (the header is not a record)."""

    row: int
    field: str
    rule: str
    severity: str
    value: str | None
    message: str


@dataclass
class ValidationResult:
    records_total: int = 0
    records_valid: int = 0
    records_error: int = 0
    records_warning: int = 0
    errors_by_field: dict[str, int] = field(default_factory=dict)
    warnings_by_field: dict[str, int] = field(default_factory=dict)
    errors_by_rule: dict[str, int] = field(default_factory=dict)
    warnings_by_rule: dict[str, int] = field(default_factory=dict)
    #: Per error rule, the records whose only failing error-severity rule it is: the records
    #: that fixing that rule alone would make valid (a record failing two counts for neither).
    sole_errors_by_rule: dict[str, int] = field(default_factory=dict)
    sample: list[RecordError] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    #: File-level notes that do not make records invalid (e.g. an unknown extra column).
    file_warnings: list[str] = field(default_factory=list)
    #: The full error report (Parquet, CSV) when the validator was given a report folder.
    error_report_paths: list[str] = field(default_factory=list)
    feed_format: str | None = None
    encoding: str | None = None
    columns: list[str] = field(default_factory=list)
