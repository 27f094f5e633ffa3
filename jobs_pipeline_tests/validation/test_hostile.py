"""Hostile feeds (``jobs_pipeline_tests/corpus/hostile.py``): each unusable one is refused with a
typed, quarantining error and a one-line reason, in bounded memory; the readable ones are read.
Also: duplicate column names in every format, blank lines, CR-only files, unreadable files,
``FEED_MAX_LINE_BYTES`` and the start-up sweep of temporary feed files."""

import gzip
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jobs_pipeline.cli import EXIT_UNUSABLE, main
from jobs_pipeline.domain import errors as fe
from jobs_pipeline.jobs import compose
from jobs_pipeline.landing.quarantine import quarantines
from jobs_pipeline.settings import load_settings
from jobs_pipeline.validation import sources
from jobs_pipeline.validation.engine import validate_file
from jobs_pipeline.validation.ruleset import ruleset_for
from jobs_pipeline.validation.sources import ReadLimits, limits_from_settings, sweep_temp_feeds
from jobs_pipeline_tests.corpus import hostile

GM = ruleset_for("google_merchant", category="apparel", region="BR")
ROOT = Path(__file__).resolve().parents[2]
PEAK_RSS_BUDGET_MB = 600
SMALL = sorted(set(hostile.UNUSABLE) - set(hostile.BIG))


def _refused(path: Path, limits: ReadLimits | None = None) -> fe.FeedError:
    with pytest.raises(fe.FeedFormatError) as info:
        validate_file(path, GM, limits=limits)
    return info.value


@pytest.mark.parametrize("name", SMALL)
def test_small_hostile_files_are_refused_typed_and_quarantined(name: str, tmp_path: Path) -> None:
    make, cls, word = hostile.UNUSABLE[name]
    exc = _refused(make(tmp_path))
    assert type(exc).__name__ == cls and quarantines(cls)
    assert word in exc.reason and "\n" not in exc.reason


@pytest.mark.parametrize("name", SMALL)
def test_cli_exits_2_with_one_line_and_no_traceback(name: str, tmp_path: Path, settings, capsys, caplog) -> None:
    path = hostile.UNUSABLE[name][0](tmp_path)
    assert main(["validate", str(path), "--marketplace", "google_merchant"]) == EXIT_UNUSABLE == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1 and hostile.UNUSABLE[name][2] in err
    assert "Traceback" not in caplog.text


#: Runs the CLI and writes the process's own peak RSS (VmHWM, kB) to $HWM_OUT at exit. Not
#: ``ru_maxrss`` from ``wait4``: Linux folds the parent's peak into a vfork/exec'd child's, so a
#: large test worker would be measured instead of the CLI.
_CLI_WITH_PEAK = """
import atexit, os, runpy, sys
def _peak():
    with open("/proc/self/status") as status, open(os.environ["HWM_OUT"], "w") as out:
        out.write(next(line for line in status if line.startswith("VmHWM:")).split()[1])
atexit.register(_peak)
sys.argv = ["jobs-pipeline", *sys.argv[1:]]
runpy.run_module("jobs_pipeline.cli", run_name="__main__")
"""


@pytest.mark.parametrize("name", hostile.BIG)
def test_a_huge_line_or_field_is_refused_in_bounded_memory(name: str, tmp_path: Path, settings) -> None:
    """The peak RSS of a fresh CLI process stays in budget (a bound, not a timing)."""
    make, _, word = hostile.UNUSABLE[name]
    path = make(tmp_path)
    hwm = tmp_path / "peak_kb"
    proc = subprocess.run([sys.executable, "-c", _CLI_WITH_PEAK, "validate", str(path),
                           "--marketplace", "google_merchant"], cwd=ROOT, env={**os.environ, "HWM_OUT": str(hwm)},
                          capture_output=True, text=True, timeout=300)
    err = proc.stderr
    peak_mb = int(hwm.read_text()) / 1024
    assert proc.returncode == 2, err
    assert len(err.strip().splitlines()) == 1 and word in err and "Traceback" not in err
    assert peak_mb <= PEAK_RSS_BUDGET_MB, f"{name}: peak RSS {peak_mb:.0f} MB"


def test_a_line_within_the_limit_is_processed(tmp_path: Path) -> None:
    path = hostile.huge_field(tmp_path, mb=2)
    result = validate_file(path, GM)
    assert result.records_total == 3 and result.records_error == 1 and result.errors_by_field == {"title": 1}


def test_the_line_limit_comes_from_the_environment(tmp_path: Path, settings, monkeypatch, capsys) -> None:
    monkeypatch.setenv("FEED_MAX_LINE_BYTES", str(1 << 20))
    assert limits_from_settings(load_settings()).max_line_bytes == 1 << 20
    from jobs_pipeline.defs.resources.job_service import retry_fields

    assert retry_fields(load_settings())["feed_max_line_bytes"] == 1 << 20
    path = hostile.huge_field(tmp_path, mb=2)
    assert main(["validate", str(path), "--marketplace", "google_merchant"]) == 2
    assert "1,048,576 bytes" in capsys.readouterr().err


def test_a_json_array_is_read_whole_so_its_size_is_its_line(tmp_path: Path) -> None:
    exc = _refused(hostile.json_array(tmp_path, mb=3), ReadLimits(max_line_bytes=1 << 20))
    assert isinstance(exc, fe.FeedStructureError) and "JSON Lines" in exc.reason


def test_a_big_quoted_field_made_of_short_lines_is_refused(tmp_path: Path) -> None:
    exc = _refused(hostile.huge_quoted_field(tmp_path, mb=3), ReadLimits(max_line_bytes=1 << 20))
    assert "quoted field" in exc.reason


@pytest.mark.parametrize("name", ["duplicate_exact.csv", "duplicate_keys.jsonl", "duplicate_keys.json"])
def test_exact_duplicate_names_are_refused_not_renamed(name: str) -> None:
    """polars renames a repeated CSV name (``price_duplicated_0``) and keeps one of repeated
    JSON keys: the file's own names decide."""
    exc = _refused(Path(__file__).resolve().parents[1] / "corpus" / name)
    assert isinstance(exc, fe.FeedStructureError) and "duplicate column names: 'price'" in exc.reason


def test_a_normalised_duplicate_in_json_lines_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_text('{"id": "1", "Price": "10.00", "price ": "-5"}\n')
    assert "'Price', 'price '" in _refused(path).reason


@pytest.mark.parametrize("name,total", sorted((n, t) for n, (_, t) in hostile.READABLE.items()))
def test_readable_hostile_files(name: str, total: int, tmp_path: Path) -> None:
    result = validate_file(hostile.READABLE[name][0](tmp_path), GM, sample_limit=5)
    assert result.records_total == total and result.records_error == 0, result.sample


def test_blank_lines_are_not_records_and_are_counted_once(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text(hostile.HEADER + "\n" + hostile.GOOD.format(i=1) + "\n" + hostile.GOOD.format(i=2) + "\n\n\n\n")
    result = validate_file(path, GM)
    assert (result.records_total, result.records_error, result.records_valid) == (2, 0, 2)
    assert result.file_warnings == ["3 blank line(s) skipped: a line with no value is not a record"]


def test_records_after_blank_lines_keep_their_record_numbers(tmp_path: Path) -> None:
    path = hostile.blank_lines(tmp_path)
    path.write_bytes(path.read_bytes().replace(b"2,Camisa 2,https", b"2,Camisa 2,http"))
    result = validate_file(path, GM)
    assert [(s.row, s.rule) for s in result.sample] == [(2, "link.https_url")]
    assert result.file_warnings == ["5 blank line(s) skipped: a line with no value is not a record"]


def test_cr_only_values_keep_their_quoted_line_break(tmp_path: Path) -> None:
    path = hostile.cr_only(tmp_path)
    path.write_bytes(path.read_bytes().replace(b"in_stock,9.90,BRL\r2", b"in stock,9.90,BRL\r2"))
    result = validate_file(path, GM)
    assert result.records_total == 2 and [s.row for s in result.sample] == [1]


def test_a_nul_byte_anywhere_is_refused_and_the_reason_says_where(tmp_path: Path) -> None:
    exc = _refused(hostile.late_nul(tmp_path))
    assert exc.reason.startswith("late_nul.csv: a NUL byte at offset ") and "binary" in exc.reason


def test_an_unreadable_feed_is_a_typed_one_line_error(settings, capsys, caplog) -> None:
    """Root reads every file but a write-only sysctl: a real EACCES, no mocking."""
    path = Path("/proc/sys/vm/compact_memory")
    try:
        path.open("rb").close()
        pytest.skip("this machine lets us read it")
    except PermissionError:
        pass
    except OSError:
        pytest.skip("no such file here")
    exc = _refused(path)
    assert type(exc) is fe.FeedFormatError and "cannot be read" in exc.reason and quarantines("FeedFormatError")
    assert main(["validate", str(path), "--marketplace", "google_merchant"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: compact_memory: cannot be read (Permission denied)" and "Traceback" not in caplog.text


def test_temporary_files_go_to_the_known_folder_and_are_removed(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(sources, "TEMP_ROOT", tmp_path / "temp")
    seen: list[list[str]] = []
    path = tmp_path / "feed.csv.gz"  # expanded to a temporary file
    path.write_bytes(gzip.compress((hostile.HEADER + "\n" + hostile.GOOD.format(i=1) + "\n").encode()))
    validate_file(path, GM, progress_every=1, on_progress=lambda n: seen.append(
        [p.name for p in (tmp_path / "temp").iterdir()]))
    assert seen and all(len(names) == 1 and names[0].startswith("feed-") for names in seen)
    assert list((tmp_path / "temp").iterdir()) == []


def test_the_sweep_removes_only_old_temporary_feed_folders(tmp_path: Path) -> None:
    old, new, other = tmp_path / "feed-old", tmp_path / "feed-new", tmp_path / "keep-me"
    for d in (old, new, other):
        d.mkdir()
        (d / "unzipped-feed.csv").write_text("x")
    past = time.time() - 7200
    os.utime(old, (past, past))
    os.utime(other, (past, past))
    assert sweep_temp_feeds(older_than_s=3600, root=tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feed-new", "keep-me"]
    assert sweep_temp_feeds(older_than_s=3600, root=tmp_path / "absent") == 0


def test_build_service_sweeps_at_start_up(tmp_path: Path, settings, monkeypatch) -> None:
    monkeypatch.setattr(sources, "TEMP_ROOT", tmp_path)
    left = tmp_path / "feed-killed"
    left.mkdir()
    past = time.time() - settings.celery_visibility_timeout_s - 60
    os.utime(left, (past, past))
    from jobs_pipeline.queue.memory import InMemoryQueuePublisher
    from jobs_pipeline.telemetry.memory import InMemoryTelemetryEmitter

    compose.build_service(settings, publisher=InMemoryQueuePublisher(), emitter=InMemoryTelemetryEmitter())
    assert not left.exists()


@pytest.mark.parametrize("layout", ["no quotes at all", "quotes first, then a long unquoted tail"])
def test_long_stretches_outside_quotes_are_not_quoted_fields(layout: str, tmp_path: Path) -> None:
    """The quotes are counted only when a stretch without quotes passes the limit: a feed that
    never quotes, or stops quoting, is read."""
    head = hostile.HEADER + "\n" + ('1,"Camisa, azul",https://x.example/1,in_stock,9.90,BRL\n'
                                    if layout.startswith("quotes") else "")
    path = tmp_path / "f.csv"
    path.write_text(head + "".join(hostile.GOOD.format(i=i) + "\n" for i in range(2, 60_000)))
    result = validate_file(path, GM, limits=ReadLimits(max_line_bytes=1 << 20))
    assert result.records_total == 59_999 - (0 if layout.startswith("quotes") else 1) and result.records_error == 0


def test_a_big_quoted_field_is_found_while_a_feed_is_expanded(tmp_path: Path) -> None:
    plain = hostile.huge_quoted_field(tmp_path, mb=3)
    path = tmp_path / "feed.csv.gz"
    path.write_bytes(gzip.compress(plain.read_bytes(), compresslevel=1))
    exc = _refused(path, ReadLimits(max_line_bytes=1 << 20, max_compression_ratio=10_000))
    assert "quoted field" in exc.reason


def test_repeats_after_blank_lines_are_reported_at_their_record_number(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    row = "a,T,https://x.example/,in_stock,{price},BRL\n"
    path.write_text(hostile.HEADER + "\n\n" + row.format(price="1") + "\n,,,,,\n" + row.format(price="N/A") + "\n")
    result = validate_file(path, GM, report_dir=tmp_path / "rep")
    assert result.records_total == 2 and [(s.row, s.rule) for s in result.sample] == [(2, "id.unique"), (2, "price.type")]
    assert result.file_warnings == ["4 blank line(s) skipped: a line with no value is not a record"]
