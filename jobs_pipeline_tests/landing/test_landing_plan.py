"""plan_tick's cursor over a real landing folder: bounded at 10,000 files, and still no version
twice, a changed file again, a settling file waits, a folder moved in whole is not missed."""

import json
import os
import shutil
import time
from pathlib import Path

from jobs_pipeline.landing.files import scan_landing
from jobs_pipeline.landing.plan import plan_tick
from jobs_pipeline_tests.feeds import land


OLD = time.time() - 86_400
LATER = 3_600.0


def put(root: Path, relpath: str, text: str = "id,title\n1,x\n", mtime: float | None = OLD) -> Path:
    return land(root, relpath, text, mtime)


def ticks(root: Path, cursor: str | None, n: int, **kwargs) -> tuple[list[str], list[str], str | None]:
    """``n`` ticks, the mark kept right behind the clock (no margin); the relpaths launched and
    every cursor. Then a short pause: a later change gets a later (coarse-clock) change time."""
    launched, cursors = [], []
    for _ in range(n):
        now = time.time()
        plan = plan_tick(list(scan_landing(root)), cursor, now=now, margin_s=0.0, **kwargs)
        launched += [launch.file.relpath for launch in plan.launches]
        cursor = plan.cursor
        cursors.append(cursor)
    time.sleep(0.05)
    return launched, cursors, cursor


def test_the_cursor_stays_bounded_with_10000_files_and_nothing_runs_twice(tmp_path):
    for i in range(10_000):
        put(tmp_path, f"m{i % 5}/c{i % 7}/BR/feed-{i:05d}.csv")
    launched, cursors, cursor = ticks(tmp_path, None, 6, max_files=2_500)
    assert len(launched) == len(set(launched)) == 10_000
    assert max(len(c) for c in cursors) < 4_000  # a digest per file would be 190 KB
    again, _, cursor = ticks(tmp_path, cursor, 2, max_files=2_500)
    assert again == []
    put(tmp_path, "m1/c1/BR/feed-00036.csv", text="id,title\n1,x\n2,y\n")  # changed
    changed, _, _ = ticks(tmp_path, cursor, 2, max_files=2_500)
    assert changed == ["m1/c1/BR/feed-00036.csv"]


def test_a_settling_file_waits_and_is_not_passed_by_the_mark(tmp_path):
    put(tmp_path, "amazon/toys/US/a.csv")
    growing = put(tmp_path, "amazon/toys/US/growing.csv", mtime=None)
    now = time.time() + LATER
    first = plan_tick(list(scan_landing(tmp_path)), None, now=now, settle_seconds=LATER + 60)
    assert [l.file.relpath for l in first.launches] == ["amazon/toys/US/a.csv"] and first.waiting
    assert json.loads(first.cursor)["mark"] < growing.stat().st_ctime_ns
    with growing.open("a") as fh:
        fh.write("2,y\n")
    second = plan_tick(list(scan_landing(tmp_path)), first.cursor, now=now + 1, settle_seconds=LATER + 60)
    assert second.launches == [] and second.waiting
    third = plan_tick(list(scan_landing(tmp_path)), second.cursor, now=now + 2, settle_seconds=LATER + 60)
    assert [l.file.relpath for l in third.launches] == ["amazon/toys/US/growing.csv"]


def test_a_copy_keeping_an_old_mtime_still_runs(tmp_path):
    landing = tmp_path / "landing"
    put(landing, "amazon/toys/US/a.csv")
    _, _, cursor = ticks(landing, None, 1)
    put(landing, "amazon/toys/US/b.csv", mtime=OLD - 86_400)  # like rsync -t / cp -p
    launched, _, _ = ticks(landing, cursor, 1)
    assert launched == ["amazon/toys/US/b.csv"]


def test_a_folder_moved_in_whole_is_not_missed(tmp_path):
    landing, staging = tmp_path / "landing", tmp_path / "staging"
    put(landing, "amazon/toys/US/a.csv")
    put(staging, "DE/b.csv")
    put(staging, "US/c.csv")
    _, _, cursor = ticks(landing, None, 1)
    assert json.loads(cursor)["mark"] > (staging / "DE/b.csv").stat().st_ctime_ns  # b and c look old
    os.rename(staging / "DE", landing / "amazon/toys/DE")  # a new folder
    shutil.rmtree(landing / "amazon/toys/US")
    os.rename(staging / "US", landing / "amazon/toys/US")  # the same name, another folder
    launched, _, cursor = ticks(landing, cursor, 1, max_files=1)  # capped: one now, one later
    launched += ticks(landing, cursor, 3, max_files=1)[0]
    assert sorted(launched) == ["amazon/toys/DE/b.csv", "amazon/toys/US/c.csv"]


def test_a_previous_cursor_version_keeps_its_digests(tmp_path):
    files = [put(tmp_path, f"amazon/toys/US/f{i}.csv") for i in range(3)]
    landed = list(scan_landing(tmp_path))
    v1 = json.dumps({"v": 1, "done": [f.digest for f in landed[:2]], "pending": {}})
    launched, _, _ = ticks(tmp_path, v1, 2)
    assert launched == [files[2].relative_to(tmp_path).as_posix()]
