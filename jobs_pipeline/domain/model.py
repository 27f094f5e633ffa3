"""The validation job and its business context.

The partition key ``marketplace:category:region`` groups jobs for analysis and for sharding
consumers; a missing part is ``unknown``, never an empty segment, so the key always has
three non-empty parts (CloudEvents' ``partitionkey`` must be non-empty).
"""

import re
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

UNKNOWN = "unknown"
MESSAGE_SCHEMA_VERSION = 1
_SEGMENT = re.compile(r"^[A-Za-z0-9_.\-]+$")


class Tier(StrEnum):
    FREE = "free"
    PRO = "pro"


def normalise_segment(value: object) -> str:
    """Trimmed, lower-case key segment; ``unknown`` when missing; no ``:`` or spaces allowed, and
    never dots alone (``.``, ``..`` would be path steps in a landing or quarantine path)."""
    text = "" if value is None else str(value).strip().lower()
    if not text:
        return UNKNOWN
    if not _SEGMENT.match(text):
        raise ValueError(f"{value!r} is not a valid key segment (letters, digits, '_', '-', '.')")
    if not text.strip("."):
        raise ValueError(f"{value!r} is not a valid key segment (dots alone are not a name)")
    return text


def partition_key(marketplace: object, category: object, region: object) -> str:
    """``marketplace:category:region`` with ``unknown`` for any missing part."""
    return JobContext(marketplace=marketplace, category=category, region=region).partition_key


class JobContext(BaseModel):
    """Where a feed belongs: marketplace, category, region, the ruleset and the customer tier."""

    model_config = ConfigDict(frozen=True)

    marketplace: str
    category: str = UNKNOWN
    region: str = UNKNOWN
    ruleset: str | None = Field(None, description="name@version; None means the marketplace's default")
    tier: Tier = Tier.FREE

    @field_validator("marketplace", "category", mode="before")
    @classmethod
    def _segment(cls, value: object) -> str:
        return normalise_segment(value)

    @field_validator("region", mode="before")
    @classmethod
    def _region(cls, value: object) -> str:
        """Regions are ISO-style codes, upper-case (``BR``); ``unknown`` stays lower-case."""
        segment = normalise_segment(value)
        return segment if segment == UNKNOWN else segment.upper()

    @property
    def partition_key(self) -> str:
        return f"{self.marketplace}:{self.category}:{self.region}"


def utcnow() -> datetime:
    return datetime.now(UTC)


class ValidationJob(BaseModel):
    """One feed to validate. Immutable: a retry runs the same job with a higher attempt."""

    model_config = ConfigDict(frozen=True)

    job_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    task: str = "validate_feed"
    feed_uri: str
    context: JobContext
    enqueued_at: datetime = Field(default_factory=utcnow)

    @field_validator("enqueued_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    @property
    def partition_key(self) -> str:
        return self.context.partition_key

    @property
    def tier(self) -> Tier:
        return self.context.tier

    def to_message(self) -> dict[str, Any]:
        """The JSON body queues carry (never pickle)."""
        return {"schema_version": MESSAGE_SCHEMA_VERSION, **self.model_dump(mode="json")}

    @classmethod
    def from_message(cls, body: dict[str, Any]) -> "ValidationJob":
        """The job a queue message carries. Its ``job_id`` must be there (a UUID): a made-up
        id would count a redelivered message as a second job (``ValueError`` otherwise)."""
        if not isinstance(body, dict):
            raise TypeError("the message is not a JSON object")
        if body.get("job_id") in (None, ""):
            raise ValueError("the message has no job_id")
        data = {k: v for k, v in body.items() if k != "schema_version"}
        return cls.model_validate(data)
