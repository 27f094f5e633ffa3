"""One sensor tick over the landing folder, as a pure function (no Dagster).

The cursor stays small: the 16-hex digests of file versions already handled (pruned to
files still present) and the last observation of files still settling.
"""

import json
import time
from dataclasses import dataclass, field
from typing import Any

from jobs_pipeline.domain.model import JobContext
from jobs_pipeline.landing.files import LandedFile, context_from_relpath

CURSOR_VERSION = 1


@dataclass
class Launch:
    file: LandedFile
    context: JobContext


@dataclass
class TickPlan:
    launches: list[Launch] = field(default_factory=list)
    unusable: list[tuple[LandedFile, str]] = field(default_factory=list)
    waiting: list[LandedFile] = field(default_factory=list)
    cursor: str = ""


def parse_cursor(raw: str | None) -> dict[str, Any]:
    try:
        data = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        data = {}
    if not isinstance(data, dict) or data.get("v") != CURSOR_VERSION:
        data = {}
    return {"v": CURSOR_VERSION, "done": list(data.get("done", [])), "pending": dict(data.get("pending", {}))}


def plan_tick(
    files: list[LandedFile],
    cursor: str | None,
    *,
    tier: str = "free",
    max_files: int = 20,
    settle_seconds: float = 30.0,
    now: float | None = None,
) -> TickPlan:
    """Decide which files to launch now. A file is ready when its size and mtime are the same
    as at the previous tick, or it has not been modified for ``settle_seconds``."""
    state = parse_cursor(cursor)
    done = set(state["done"])
    pending: dict[str, str] = state["pending"]
    now = time.time() if now is None else now
    plan = TickPlan()
    present_digests: set[str] = set()
    new_pending: dict[str, str] = {}

    for f in files:
        present_digests.add(f.digest)
        if f.digest in done:
            continue
        observed = f"{f.size}:{f.mtime_ns}"
        settled = pending.get(f.relpath) == observed or (now - f.mtime_ns / 1e9) >= settle_seconds
        if not settled:
            new_pending[f.relpath] = observed
            plan.waiting.append(f)
            continue
        try:
            context = context_from_relpath(f.relpath, tier=tier)
        except ValueError as exc:
            plan.unusable.append((f, str(exc).splitlines()[0]))
            done.add(f.digest)  # reported once, not every tick
            continue
        if len(plan.launches) >= max_files:
            new_pending[f.relpath] = observed  # ready; launched on a later tick
            continue
        plan.launches.append(Launch(file=f, context=context))
        done.add(f.digest)

    plan.cursor = json.dumps(
        {"v": CURSOR_VERSION, "done": sorted(done & present_digests), "pending": new_pending},
        separators=(",", ":"),
    )
    return plan
