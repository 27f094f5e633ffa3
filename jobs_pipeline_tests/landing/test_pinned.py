"""A landed file is read as the sensor saw it: opened once from the landing root without
following links, then read from that open file however its path changes before the run ends."""

import os
from pathlib import Path

import pytest

from jobs_pipeline.domain.errors import FeedFormatError, FeedNotFoundError, LandedLinkError
from jobs_pipeline.domain.model import JobContext, ValidationJob
from jobs_pipeline.landing.pinned import open_landed, pinned_feed, under_landing
from jobs_pipeline.validation.engine import validate_file
from jobs_pipeline.validation.ruleset import ruleset_for

FEED = "id,title,price\n1,Shoe,10.00\n2,Hat,5.00\n"
SECRET = "id,title,price\n" + "".join(f"{i},secret {i},1.00\n" for i in range(7))


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    folder = tmp_path / "landing" / "amazon" / "toys" / "US"
    folder.mkdir(parents=True)
    (folder / "feed.csv").write_text(FEED)
    (tmp_path / "secret.csv").write_text(SECRET)
    return tmp_path / "landing"


def _read(fd: int) -> str:
    try:
        return os.read(fd, 1 << 16).decode()
    finally:
        os.close(fd)


def test_under_landing_judges_the_text_of_the_path(tmp_path: Path) -> None:
    root = tmp_path / "landing"
    assert under_landing(root / "a" / "f.csv", root) == Path("a/f.csv")
    assert under_landing(root / "a" / ".." / ".." / "x.csv", root) is None  # normalised first
    assert under_landing(tmp_path / "x.csv", root) is None and under_landing(root, root) is None


def test_open_landed_opens_a_regular_file(landing: Path) -> None:
    assert _read(open_landed(landing, Path("amazon/toys/US/feed.csv"))) == FEED


@pytest.mark.parametrize("plant", ["file_link", "folder_link", "fifo", "folder_as_file"])
def test_open_landed_refuses_links_and_special_files(landing: Path, plant: str) -> None:
    folder = landing / "amazon" / "toys" / "US"
    secret = landing.parent / "secret.csv"
    relative = Path("amazon/toys/US/feed.csv")
    if plant == "file_link":
        (folder / "feed.csv").unlink()
        (folder / "feed.csv").symlink_to(secret)
    elif plant == "folder_link":
        os.rename(folder, landing.parent / "moved")
        (landing.parent / "moved" / "feed.csv").unlink()
        os.rename(secret, landing.parent / "moved" / "feed.csv")
        folder.symlink_to(landing.parent / "moved", target_is_directory=True)
    elif plant == "fifo":
        (folder / "feed.csv").unlink()
        os.mkfifo(folder / "feed.csv")  # opening must not wait for a writer
    else:
        relative = Path("amazon/toys/US/feed.csv/inner.csv")
    with pytest.raises(LandedLinkError) as info:
        open_landed(landing, relative)
    assert info.value.reason.startswith(relative.as_posix())


def test_open_landed_refuses_dot_dot_and_reports_a_vanished_file(landing: Path) -> None:
    with pytest.raises(LandedLinkError):
        open_landed(landing, Path("amazon/../../secret.csv"))
    with pytest.raises(FeedNotFoundError) as info:
        open_landed(landing, Path("amazon/toys/US/gone.csv"))
    assert not isinstance(info.value, LandedLinkError) and "moved or deleted" in info.value.reason


def test_an_unreadable_landed_file_is_the_same_typed_error_as_anywhere() -> None:
    """Root reads every file but a write-only sysctl: a real EACCES, no mocking."""
    folder = Path("/proc/sys/vm")
    try:
        (folder / "compact_memory").open("rb").close()
        pytest.skip("this machine lets us read it")
    except PermissionError:
        pass
    except OSError:
        pytest.skip("no such file here")
    with pytest.raises(FeedFormatError) as info:
        open_landed(folder, Path("compact_memory"))
    assert info.value.reason == "compact_memory: cannot be read (Permission denied)"


class _Service:
    validator = staticmethod(validate_file)


def _job(path: Path) -> ValidationJob:
    return ValidationJob(feed_uri=str(path), context=JobContext(marketplace="google_merchant"))


def test_a_swap_after_the_open_changes_nothing(landing: Path) -> None:
    """The validator reads the file opened before the swap, under the feed's own name."""
    path = landing / "amazon" / "toys" / "US" / "feed.csv"
    with pinned_feed(_job(path), _Service(), landing) as job:
        assert job.feed_uri != str(path) and Path(job.feed_uri).name == "feed.csv"
        path.unlink()
        path.symlink_to(landing.parent / "secret.csv")  # the attacker's swap, after the open
        result = validate_file(job.feed_uri, ruleset_for("google_merchant"))
        assert result.records_total == 2 and Path(job.feed_uri).read_text() == FEED
    assert not Path(job.feed_uri).exists()  # the private link goes with the context


def test_a_link_fails_through_the_validator_and_other_paths_pass_as_given(landing: Path, tmp_path: Path) -> None:
    path = landing / "amazon" / "toys" / "US" / "feed.csv"
    path.unlink()
    path.symlink_to(landing.parent / "secret.csv")
    service = _Service()
    with pinned_feed(_job(path), service, landing) as job:
        assert Path(job.feed_uri).name == "feed.csv" and not Path(job.feed_uri).exists()
        with pytest.raises(LandedLinkError):
            service.validator(Path(job.feed_uri), None)
    outside = tmp_path / "secret.csv"  # not under landing: an operator's own path, read as given
    for uri in (str(outside), "s3://bucket/amazon/feed.csv"):
        other = _Service()
        with pinned_feed(_job(path).model_copy(update={"feed_uri": uri}), other, landing) as job:
            assert job.feed_uri == uri and other.validator is validate_file
