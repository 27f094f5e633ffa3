"""landing_sensor: the plan as a pure function, then the real sensor with a Dagster instance."""

import json
import os
import time
from pathlib import Path

import dagster as dg
import pytest

from jobs_pipeline.defs.feeds.landing_sensor import landing_sensor
from jobs_pipeline.defs.feeds.validate_feeds import validate_feeds
from jobs_pipeline.landing.files import context_from_relpath, scan_landing
from jobs_pipeline.landing.plan import plan_tick
from jobs_pipeline_tests.dagster_helpers import batch_feeds, resources_for
from jobs_pipeline_tests.feeds import land


OLD = time.time() - 3600


def put(root: Path, relpath: str, text: str = "id,title\n1,x\n", mtime: float | None = OLD) -> Path:
    return land(root, relpath, text, mtime)


def tick(settings, instance, cursor=None, **landing):
    resources = resources_for(settings, **landing)
    ctx = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"landing": resources["landing"]})
    return landing_sensor(ctx)


# -- the plan, as a pure function ------------------------------------------------------------

def test_context_comes_from_the_path():
    ctx = context_from_relpath("google_merchant/electronics/br/feed.csv", tier="pro")
    assert (ctx.partition_key, ctx.tier.value) == ("google_merchant:electronics:BR", "pro")
    with pytest.raises(ValueError, match="expected <marketplace>"):
        context_from_relpath("google_merchant/feed.csv")


def test_temporary_names_are_never_listed(tmp_path):
    for name in ["a.csv.part", ".hidden.csv", "~lock.csv", "b.tmp", "c.csv"]:
        put(tmp_path, f"m/c/r/{name}")
    assert [f.relpath for f in scan_landing(tmp_path)] == ["m/c/r/c.csv"]


def test_a_file_still_growing_waits_until_it_is_stable(tmp_path):
    path = put(tmp_path, "m/c/r/f.csv", mtime=None)
    now = time.time()
    first = plan_tick(list(scan_landing(tmp_path)), None, now=now)
    assert first.launches == [] and len(first.waiting) == 1
    with path.open("a") as fh:
        fh.write("2,y\n")  # still being written
    second = plan_tick(list(scan_landing(tmp_path)), first.cursor, now=now + 1)
    assert second.launches == []
    third = plan_tick(list(scan_landing(tmp_path)), second.cursor, now=now + 2)  # unchanged since last tick
    assert [l.file.relpath for l in third.launches] == ["m/c/r/f.csv"]


def test_at_most_k_files_per_tick_and_the_rest_later(tmp_path):
    for i in range(5):
        put(tmp_path, f"m/c/r/f{i}.csv")
    files = list(scan_landing(tmp_path))
    first = plan_tick(files, None, max_files=2)
    second = plan_tick(files, first.cursor, max_files=2)
    third = plan_tick(files, second.cursor, max_files=2)
    launched = [l.file.relpath for p in (first, second, third) for l in p.launches]
    assert sorted(launched) == sorted(f.relpath for f in files) and len(first.launches) == 2


def test_cursor_stays_small_and_forgets_removed_files(tmp_path):
    paths = [put(tmp_path, f"m/c/r/f{i}.csv") for i in range(50)]
    plan = plan_tick(list(scan_landing(tmp_path)), None, max_files=100)
    assert len(plan.cursor) < 50 * 20 + 100
    for p in paths[:40]:
        p.unlink()
    plan = plan_tick(list(scan_landing(tmp_path)), plan.cursor)
    assert len(json.loads(plan.cursor)["done"]) == 10


# -- the real sensor -------------------------------------------------------------------------

def test_new_file_gives_one_run_request_and_same_file_none(settings, instance):
    put(settings.landing_dir, "google_merchant/electronics/BR/feed.csv")
    first = tick(settings, instance)
    [request] = first.run_requests
    assert request.tags["marketplace"] == "google_merchant" and request.tags["tier"] == "free"
    [config] = batch_feeds([request])
    assert (config["category"], config["region"]) == ("electronics", "BR")
    dg.validate_run_config(validate_feeds, request.run_config)
    again = tick(settings, instance, cursor=first.cursor)
    assert again.run_requests == []


def test_changed_file_runs_again_with_a_new_run_key(settings, instance):
    path = put(settings.landing_dir, "amazon/toys/US/feed.csv")
    first = tick(settings, instance)
    put(settings.landing_dir, "amazon/toys/US/feed.csv", text="sku,title\n1,x\n2,y\n", mtime=OLD + 60)
    second = tick(settings, instance, cursor=first.cursor)
    assert len(second.run_requests) == 1
    assert second.run_requests[0].run_key != first.run_requests[0].run_key
    assert path.exists()


def test_half_written_file_waits(settings, instance):
    put(settings.landing_dir, "amazon/toys/US/upload.csv.part")
    put(settings.landing_dir, "amazon/toys/US/fresh.csv", mtime=None)
    result = tick(settings, instance, settle_seconds=300)
    assert result.run_requests == []


def test_bad_paths_are_reported_not_fatal(settings, instance):
    put(settings.landing_dir, "stray.csv")
    put(settings.landing_dir, "a/b/feed.csv")
    put(settings.landing_dir, "bad:name/c/r/feed.csv")
    put(settings.landing_dir, "amazon/toys/US/good.csv")
    result = tick(settings, instance)
    assert [r.tags["marketplace"] for r in result.run_requests] == ["amazon"]
    assert tick(settings, instance, cursor=result.cursor).run_requests == []  # reported once


def test_an_undecodable_name_is_reported_once_escaped_and_the_others_launch(settings, instance, capfd):
    """A Latin-1 name from an SMB/SFTP upload: bytes that are not UTF-8 (a str with surrogate
    escapes in Python) once made every tick raise UnicodeEncodeError."""
    put(settings.landing_dir, "amazon/toys/US/good.csv")
    folder = os.fsencode(settings.landing_dir / "amazon" / "toys" / "US")
    fd = os.open(folder + b"/feed-\xe9t\xe9.csv", os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, b"id,title\n1,x\n")
    os.close(fd)
    os.utime(folder + b"/feed-\xe9t\xe9.csv", (OLD, OLD))
    capfd.readouterr()
    first = tick(settings, instance)
    assert [Path(f["path"]).name for f in batch_feeds(first.run_requests)] == [
        "good.csv"]
    err = capfd.readouterr().err
    assert err.count("feed-\\xe9t\\xe9.csv") == 1 and "not valid UTF-8" in err
    again = tick(settings, instance, cursor=first.cursor)
    assert again.run_requests == [] and "feed-" not in capfd.readouterr().err  # reported once
    json.loads(again.cursor)
    assert os.path.exists(folder + b"/feed-\xe9t\xe9.csv")  # skipped: left in place for the seller


@pytest.mark.parametrize("segment", [".", "..", "..."])
def test_dot_only_segments_are_unusable_paths(segment):
    for relpath in [f"{segment}/toys/US/f.csv", f"amazon/{segment}/US/f.csv", f"amazon/toys/{segment}/f.csv"]:
        with pytest.raises(ValueError, match="dots alone"):
            context_from_relpath(relpath)
    with pytest.raises(ValueError, match="empty folder name"):
        context_from_relpath("amazon//US/feed.csv")  # an empty step is refused, never collapsed


def test_a_symlink_is_never_followed_and_reported_once(settings, instance, tmp_path, capfd):
    secret = tmp_path / "elsewhere" / "secret.csv"
    secret.parent.mkdir()
    secret.write_text("id,title\n1,the secret\n")
    os.utime(secret, (OLD, OLD))
    outside_dir = tmp_path / "elsewhere_dir" / "US"
    outside_dir.mkdir(parents=True)
    put(outside_dir.parent, "US/feed.csv")
    put(settings.landing_dir, "amazon/toys/US/good.csv")
    (settings.landing_dir / "amazon/toys/US/linked.csv").symlink_to(secret)
    (settings.landing_dir / "amazon/toys/DE").symlink_to(outside_dir, target_is_directory=True)
    capfd.readouterr()
    first = tick(settings, instance)
    paths = [f["path"] for f in batch_feeds(first.run_requests)]
    assert [Path(p).name for p in paths] == ["good.csv"]
    err = capfd.readouterr().err
    assert err.count("amazon/toys/US/linked.csv: a symbolic link") == 1
    assert err.count("amazon/toys/DE: a symbolic link") == 1
    assert tick(settings, instance, cursor=first.cursor).run_requests == []
    assert "symbolic link" not in capfd.readouterr().err  # once, not every tick
    assert secret.exists() and (outside_dir / "feed.csv").exists()


def test_a_fifo_is_never_opened_and_feeds_only_lists_regular_files(settings, instance):
    put(settings.landing_dir, "amazon/toys/US/good.csv")
    os.mkfifo(settings.landing_dir / "amazon/toys/US/pipe.csv")
    (settings.landing_dir / "amazon/toys/US/link.csv").symlink_to(settings.landing_dir / "amazon/toys/US/good.csv")
    assert [f.relpath for f in scan_landing(settings.landing_dir)] == ["amazon/toys/US/good.csv"]  # feeds only
    plan = plan_tick(list(scan_landing(settings.landing_dir, unusable=True)), None, settle_seconds=0)
    assert [l.file.relpath for l in plan.launches] == ["amazon/toys/US/good.csv"]
    # in change-time order, which the two entries may or may not share: compared as a set
    assert sorted(reason.split(": ")[1][:16] for _, reason in plan.unusable) == ["a symbolic link;", "not a regular fi"]


def test_missing_landing_folder_is_not_an_error(settings, instance):
    result = tick(settings, instance)
    assert result.run_requests == [] and result.cursor is not None
