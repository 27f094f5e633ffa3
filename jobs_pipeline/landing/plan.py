"""One sensor tick over the landing folder, as a pure function (no Dagster).

The cursor stays bounded whatever the number of files: a high-water ``mark`` of inode change
times, the digests of handled versions changed after it, the digests of files still settling
(at most ``MAX_PENDING``) and the folders already seen (at most ``MAX_FOLDERS``).
"""

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from jobs_pipeline.domain.model import JobContext
from jobs_pipeline.landing.files import LandedFile, context_from_relpath, shown

CURSOR_VERSION = 2
MARGIN_S = 60.0  # the mark stays this far behind the tick (files created during a scan, clock steps)
MAX_PENDING = 1000
MAX_FOLDERS = 5000


@dataclass
class Launch:
    file: LandedFile
    context: JobContext


@dataclass
class TickPlan:
    launches: list[Launch] = field(default_factory=list)
    unusable: list[tuple[LandedFile, str]] = field(default_factory=list)
    waiting: list[LandedFile] = field(default_factory=list)
    deferred: list[LandedFile] = field(default_factory=list)  # ready, held back by ``max_files``
    cursor: str = ""

    @property
    def handled(self) -> list[LandedFile]:
        return [launch.file for launch in self.launches] + [f for f, _ in self.unusable]


def triage(files: Iterable[LandedFile], *, tier: str, max_files: int,
           settled: Callable[[LandedFile], bool]) -> TickPlan:
    """Sort candidate files, in the order given, into launches, unusable, waiting and deferred."""
    plan = TickPlan()
    for f in files:
        if not settled(f):
            plan.waiting.append(f)
            continue
        if f.problem:
            plan.unusable.append((f, f"{shown(f.relpath)}: {f.problem}"))
            continue
        try:
            context = context_from_relpath(f.relpath, tier=tier)
        except ValueError as exc:
            plan.unusable.append((f, str(exc).splitlines()[0]))
            continue
        if len(plan.launches) >= max_files:
            plan.deferred.append(f)
            continue
        plan.launches.append(Launch(file=f, context=context))
    return plan


def parse_cursor(raw: str | None) -> dict[str, Any]:
    """The cursor's state; a previous version's cursor keeps its digests (nothing runs twice)."""
    try:
        data = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        data = {}
    if not isinstance(data, dict) or data.get("v") not in (1, CURSOR_VERSION):
        data = {}
    current = data.get("v") == CURSOR_VERSION
    return {"v": CURSOR_VERSION, "mark": int(data.get("mark", 0)) if current else 0,
            "done": list(data.get("done", [])), "pending": list(data.get("pending", [])) if current else [],
            "folders": list(data.get("folders", [])) if current else []}


def plan_tick(
    files: list[LandedFile],
    cursor: str | None,
    *,
    tier: str = "free",
    max_files: int = 20,
    settle_seconds: float = 30.0,
    now: float | None = None,
    margin_s: float = MARGIN_S,
) -> TickPlan:
    """Decide which files to launch now, oldest change first. A file is ready when its size and
    mtime are the same as at the previous tick, or it has not been modified for ``settle_seconds``.

    Every version changed at or before ``mark``, in a folder already seen, was handled: ``mark``
    only advances past a file once it is handled, and stays ``margin_s`` behind ``now`` (take
    ``now`` before listing). A copy cannot keep an old change time (``cp -p`` and ``rsync -t`` keep
    the mtime only), and a folder moved in whole is new (folders are known by name and inode), so
    its old files are tracked by digest until they are handled."""
    state = parse_cursor(cursor)
    mark, done, observed = state["mark"], set(state["done"]), set(state["pending"])
    folders: dict[str, None] = dict.fromkeys(state["folders"])
    now = time.time() if now is None else now

    def covered(f: LandedFile, mark: int, folders: dict[str, None]) -> bool:
        return f.changed_ns <= mark and f.folder in folders

    candidates = sorted((f for f in files if not covered(f, mark, folders) and f.digest not in done),
                        key=lambda f: (f.changed_ns, f.relpath))
    plan = triage(candidates, tier=tier, max_files=max_files,
                  settled=lambda f: f.digest in observed or (now - f.mtime_ns / 1e9) >= settle_seconds)
    done |= {f.digest for f in plan.handled}

    new_mark, blocked = int((now - margin_s) * 1e9), set()
    for f in plan.waiting + plan.deferred:
        if f.changed_ns <= mark:  # an old file in a folder not seen before: keep the folder new
            blocked.add(f.folder)
        else:
            new_mark = min(new_mark, f.changed_ns - 1)
    new_mark = max(mark, new_mark)
    for f in files:  # the folders seen most recently last; the oldest are forgotten first
        if f.folder not in blocked:
            folders.pop(f.folder, None)
            folders[f.folder] = None
    kept_folders = list(folders)[-MAX_FOLDERS:]
    known = set(kept_folders)

    pending = [f.digest for f in plan.waiting] + [f.digest for f in plan.deferred if f.digest in observed]
    plan.cursor = json.dumps({
        "v": CURSOR_VERSION,
        "mark": new_mark,
        "done": sorted({f.digest for f in files if f.digest in done and not covered(f, new_mark, known)}),
        "pending": pending[:MAX_PENDING],
        "folders": kept_folders,
    }, separators=(",", ":"))
    return plan
