"""One sensor tick over an S3 landing window: :func:`jobs_pipeline.landing.plan.triage` plus
what S3 needs, a paging marker (``after``, back to the top once the end is reached) and a bounded
set of recently seen object-version digests (``max_seen``; the ``run_key`` is the same digest, so
Dagster still deduplicates an evicted one). Why no ``since_last_modified``: docs/deployment.md.
"""

import json
from dataclasses import dataclass, field
from typing import Any

from jobs_pipeline.landing.files import LandedFile
from jobs_pipeline.landing.plan import Launch, triage

S3_CURSOR_VERSION = 1


@dataclass
class S3TickPlan:
    launches: list[Launch] = field(default_factory=list)
    unusable: list[tuple[LandedFile, str]] = field(default_factory=list)
    deferred: list[LandedFile] = field(default_factory=list)
    after: str = ""
    cursor: str = ""


def parse_s3_cursor(raw: str | None) -> dict[str, Any]:
    try:
        data = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        data = {}
    if not isinstance(data, dict) or data.get("s3") != S3_CURSOR_VERSION:
        data = {}
    return {"s3": S3_CURSOR_VERSION, "after": str(data.get("after", "")), "seen": list(data.get("seen", []))}


def plan_s3_tick(
    files: list[LandedFile],
    cursor: str | None,
    *,
    last_relpath: str,
    exhausted: bool,
    tier: str = "free",
    max_files: int = 20,
    max_seen: int = 20_000,
) -> S3TickPlan:
    """Plan one tick over the listed window ``files`` (in key order)."""
    state = parse_s3_cursor(cursor)
    seen: dict[str, None] = dict.fromkeys(state["seen"])
    # an object listed is complete (S3 shows it once fully uploaded): every candidate is settled
    local = triage([f for f in files if f.digest not in seen], tier=tier, max_files=max_files,
                   settled=lambda _f: True)
    handled = {f.digest for f in files if f.digest in seen} | {f.digest for f in local.handled}

    plan = S3TickPlan(launches=local.launches, unusable=local.unusable, deferred=local.deferred)
    if plan.deferred:  # resume just before the first object the cap held back
        index = files.index(plan.deferred[0])
        plan.after = files[index - 1].relpath if index else state["after"]
    else:
        plan.after = "" if exhausted else last_relpath

    for f in files:  # most recently seen last; the oldest are evicted first
        if f.digest in handled:
            seen.pop(f.digest, None)
            seen[f.digest] = None
    kept = list(seen)[-max_seen:] if max_seen > 0 else []
    plan.cursor = json.dumps({"s3": S3_CURSOR_VERSION, "after": plan.after, "seen": kept}, separators=(",", ":"))
    return plan
