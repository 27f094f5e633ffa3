"""An unusable landing file fails its run with ``job.failed`` and its one-line reason, is
moved (not deleted) to the quarantine folder next to a reason file, and the sensor carries
on with the other files."""

import shutil
from pathlib import Path

import dagster as dg

from jobs_pipeline.defs.feeds.landing_sensor import landing_sensor
from jobs_pipeline.defs.resources.deployments import resources_for
from jobs_pipeline.defs.resources.landing import LandingZoneResource
from jobs_pipeline.defs.feeds.validate_feeds import validate_feeds
from jobs_pipeline.landing.quarantine import quarantine_file, quarantines
from jobs_pipeline.demo.samples import SampleFeed, write_sample
from jobs_pipeline_tests.dagster_helpers import batch_feeds, file_steps

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def test_quarantine_decision_is_by_type() -> None:
    assert quarantines("FeedFormatError") and quarantines("DecompressionBombError")
    assert not quarantines("FeedNotFoundError") and not quarantines("ConnectionError")


def test_quarantine_file_moves_and_never_overwrites(tmp_path: Path) -> None:
    landing, q = tmp_path / "landing", tmp_path / "q"
    for n in range(2):
        f = landing / "amazon" / "toys" / "US" / "feed.csv"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(f"copy {n}")
        moved = quarantine_file(f, landing, q, "feed.csv: the file is empty\nmore", error_type="FeedFormatError")
        assert moved is not None and not f.exists() and moved.read_text() == f"copy {n}"
    assert sorted(p.name for p in (q / "amazon/toys/US").iterdir()) == [
        "feed.1.csv", "feed.1.csv.reason.txt", "feed.csv", "feed.csv.reason.txt"]
    reason = (q / "amazon/toys/US/feed.csv.reason.txt").read_text().splitlines()
    assert reason[0] == "feed.csv: the file is empty" and reason[1] == "error_type: FeedFormatError"
    outside = tmp_path / "elsewhere.csv"
    outside.write_text("x")
    assert quarantine_file(outside, landing, q, "r") is None and outside.exists()


def test_quarantine_moves_only_the_landed_path_never_a_link_target(tmp_path: Path) -> None:
    landing, q = tmp_path / "landing", tmp_path / "q"
    folder = landing / "amazon" / "toys" / "US"
    folder.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere.csv"
    elsewhere.write_text("not the seller's")
    inside = folder / "real.csv"
    inside.write_text("landed")
    for name, target in [("out.csv", elsewhere), ("in.csv", inside)]:
        link = folder / name
        link.symlink_to(target)
        assert quarantine_file(link, landing, q, "unusable") is None
        assert link.is_symlink() and target.read_text() in {"not the seller's", "landed"}
    assert elsewhere.exists() and inside.exists() and not q.exists()
    (landing / "amazon" / "games").symlink_to(tmp_path, target_is_directory=True)  # a linked folder
    assert quarantine_file(landing / "amazon" / "games" / "elsewhere.csv", landing, q, "r") is None
    assert elsewhere.exists()
    moved = quarantine_file(inside, landing, q, "unusable")
    assert moved == (q / "amazon/toys/US/real.csv").resolve() and moved.read_text() == "landed"


def test_quarantine_under_a_linked_landing_folder(tmp_path: Path) -> None:
    real = tmp_path / "disk" / "landing"
    (real / "amazon/toys/US").mkdir(parents=True)
    (real / "amazon/toys/US/feed.csv").write_text("x")
    alias = tmp_path / "landing"
    alias.symlink_to(real, target_is_directory=True)  # the configured folder may itself be a link
    moved = quarantine_file(alias / "amazon/toys/US/feed.csv", alias, tmp_path / "q", "unusable")
    assert moved is not None and moved.read_text() == "x" and not (real / "amazon/toys/US/feed.csv").exists()


def test_sensor_run_quarantines_unusable_file_and_carries_on(settings, instance) -> None:
    landing = settings.landing_dir
    good = write_sample(landing, SampleFeed("amazon", "toys", "US", 50, 10))
    bad = landing / "amazon" / "toys" / "US" / "zip_many.zip"
    shutil.copy(CORPUS / "zip_many.zip", bad)
    resources = resources_for(settings)
    lz = resources["landing"]
    resources["landing"] = LandingZoneResource(landing_dir=lz.landing_dir, quarantine_dir=lz.quarantine_dir,
                                               tier=lz.tier, settle_seconds=0.0)
    with dg.build_sensor_context(instance=instance, resources={"landing": resources["landing"]}) as ctx:
        ctx.update_cursor(None)
        first = landing_sensor(ctx)
    ctx2_cursor = first.cursor
    requests = batch_feeds(first.run_requests)
    assert len(requests) == 2
    results = {}
    for req in first.run_requests:  # one batch, one step per file
        out = validate_feeds.execute_in_process(run_config=req.run_config, instance=instance, resources=resources,
                                                raise_on_error=False)
        steps = file_steps(out)
        for feed in batch_feeds([req]):
            results[Path(feed["path"]).name] = steps[feed["job_id"]]
    assert results[good.name]["success"]
    failed = results["zip_many.zip"]
    assert not failed["success"]
    outcome = failed["metadata"]
    assert outcome["status"] == "failed" and outcome["error_type"] == "FeedArchiveError"
    assert outcome["error"] == "zip_many.zip: the zip holds 2 files; put exactly one feed in it"
    moved = settings.quarantine_dir / "amazon" / "toys" / "US" / "zip_many.zip"
    assert not bad.exists() and moved.read_bytes() == (CORPUS / "zip_many.zip").read_bytes()
    assert (moved.parent / "zip_many.zip.reason.txt").read_text().startswith(outcome["error"])
    assert good.exists()
    with dg.build_sensor_context(instance=instance, resources={"landing": resources["landing"]},
                                 cursor=ctx2_cursor) as ctx:
        again = landing_sensor(ctx)
    assert not (again.run_requests or [])  # nothing new: the quarantined file is out of landing
