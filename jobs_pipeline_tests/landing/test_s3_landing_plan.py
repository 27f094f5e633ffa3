"""plan_s3_tick as a pure function: the per-tick cap resumes at the right key, the seen set
stays bounded, and an evicted object keeps the same run_key (Dagster dedups it)."""

import json

from jobs_pipeline.landing.files import LandedFile
from jobs_pipeline.landing.s3_plan import plan_s3_tick


def obj(i: int, etag: str = "e") -> LandedFile:
    rel = f"amazon/home/US/f{i:03d}.csv"
    return LandedFile(relpath=rel, path=f"s3://b/landing/{rel}", size=10, mtime_ns=1, etag=f"{etag}{i}")


def test_the_cap_resumes_just_before_the_first_object_held_back():
    files = [obj(i) for i in range(10)]
    plan = plan_s3_tick(files, None, last_relpath=files[-1].relpath, exhausted=False, max_files=4)
    assert [launch.file for launch in plan.launches] == files[:4]
    assert plan.after == files[3].relpath and plan.deferred == files[4:]
    rest = plan_s3_tick(files[4:], plan.cursor, last_relpath=files[-1].relpath, exhausted=True, max_files=20)
    assert [launch.file for launch in rest.launches] == files[4:]
    assert rest.after == ""  # the sweep reached the end: start again from the top
    assert plan_s3_tick(files, rest.cursor, last_relpath=files[-1].relpath, exhausted=True).launches == []


def test_a_new_etag_launches_again_and_the_seen_set_is_bounded():
    files = [obj(i) for i in range(5)]
    first = plan_s3_tick(files, None, last_relpath="", exhausted=True, max_seen=3)
    assert len(first.launches) == 5 and len(json.loads(first.cursor)["seen"]) == 3
    changed = [obj(0, etag="new")] + files[1:]
    again = plan_s3_tick(changed, first.cursor, last_relpath="", exhausted=True, max_seen=3)
    relaunched = {launch.file.relpath for launch in again.launches}
    assert obj(0).relpath in relaunched  # re-uploaded
    evicted = [launch.file for launch in again.launches if launch.file != changed[0]]
    assert all(f.run_key in {x.file.run_key for x in first.launches} for f in evicted)  # same run_key
