"""The console script: exit 0 with metrics on a processed file, 2 with one line on an unusable one."""

import io
import json
import subprocess
import sys

import pytest

from jobs_pipeline.cli import main
from jobs_pipeline.demo.samples import DEMO_FEEDS, write_sample


def test_validate_prints_metrics_and_exits_0_even_with_bad_records(tmp_path, data_dir, capsys):
    spec = DEMO_FEEDS[0]
    path = write_sample(tmp_path, spec)
    code = main(["validate", str(path), "--marketplace", spec.marketplace, "--region", spec.region, "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["metrics"]["records_total"] == spec.rows
    assert out["metrics"]["records_error"] == spec.expected_errors
    assert out["partition_key"] == f"{spec.marketplace}:unknown:{spec.region}"


@pytest.mark.parametrize("content", [b"", None])
def test_unusable_file_exits_2_with_one_line_on_stderr(tmp_path, data_dir, capsys, content):
    path = tmp_path / "feed.csv"
    if content is not None:
        path.write_bytes(content)
    assert main(["validate", str(path), "--marketplace", "google_merchant"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err


def test_console_script_is_installed(tmp_path, data_dir):
    spec = DEMO_FEEDS[2]
    path = write_sample(tmp_path, spec)
    proc = subprocess.run([sys.executable, "-m", "jobs_pipeline.cli", "validate", str(path),
                           "--marketplace", spec.marketplace], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"{spec.rows} total" in proc.stdout


@pytest.mark.parametrize(("option", "value"), [("--marketplace", "x y"), ("--region", "x y"), ("--category", "a/b")])
def test_a_bad_context_option_is_named_with_its_reason(tmp_path, data_dir, capsys, option, value):
    path = write_sample(tmp_path, DEMO_FEEDS[0])
    args = {"--marketplace": "google_merchant", option: value}
    argv = ["validate", str(path)] + [x for kv in args.items() for x in kv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {option} {value!r}: ") and "\n" not in err
    assert "validation error" not in err and "valid key segment" in err


def test_validate_sends_its_events_to_telemetry_sinks(tmp_path, data_dir, capsys):
    """The data_dir fixture sets TELEMETRY_SINKS=lake: the run's events land in the lake."""
    spec = DEMO_FEEDS[0]
    path = write_sample(tmp_path, spec)
    assert main(["validate", str(path), "--marketplace", spec.marketplace, "--json"]) == 0
    job_id = json.loads(capsys.readouterr().out)["job_id"]
    events = [json.loads(line) for part in (data_dir / "lake").glob("date=*/part-*.jsonl")
              for line in part.read_text().splitlines()]
    mine = [e for e in events if e["job_id"] == job_id]
    assert [e["type"] for e in mine][0] == "job.started" and mine[-1]["type"] == "job.completed"


def test_submit_refuses_the_memory_backend_naming_the_variables(tmp_path, data_dir, capsys):
    path = write_sample(tmp_path, DEMO_FEEDS[0])
    assert main(["submit", str(path), "--marketplace", "google_merchant"]) == 2
    err = capsys.readouterr().err
    assert "QUEUE_BACKEND is 'memory'" in err
    for variable in ("QUEUE_BACKEND=celery", "CELERY_BROKER_URL", "SQS_QUEUE_FREE_URL"):
        assert variable in err


def test_submit_publishes_through_the_configured_backend(tmp_path, data_dir, capsys, monkeypatch):
    monkeypatch.setenv("QUEUE_BACKEND", "celery")
    monkeypatch.setenv("CELERY_BROKER_URL", "memory://")
    path = write_sample(tmp_path, DEMO_FEEDS[0])
    assert main(["submit", str(path), "--marketplace", "google_merchant", "--tier", "pro", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["backend"] == "celery" and out["queue"] == "pro" and out["feed_uri"] == str(path.resolve())
    assert len(out["job_id"]) == 36


def test_submit_refuses_a_missing_file(tmp_path, data_dir, capsys, monkeypatch):
    monkeypatch.setenv("QUEUE_BACKEND", "celery")
    monkeypatch.setenv("CELERY_BROKER_URL", "memory://")
    assert main(["submit", str(tmp_path / "nope.csv"), "--marketplace", "google_merchant"]) == 2
    assert "no such file" in capsys.readouterr().err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_only(tmp_path, data_dir, capsys, monkeypatch):
    from jobs_pipeline.demo.samples import SampleFeed

    monkeypatch.setenv("PROGRESS_EVERY_RECORDS", "500")
    spec = SampleFeed(marketplace="google_merchant", category="apparel", region="BR", rows=3000, bad_every=10)
    path = write_sample(tmp_path, spec)
    argv = ["validate", str(path), "--marketplace", "google_merchant"]
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(argv) == 0
    shown = terminal.getvalue()
    assert "records" in shown and "MB/s" in shown and "ETA" in shown and "3,000 records" in shown
    for quiet in (["--quiet"], ["--json"]):
        terminal = _Terminal()
        monkeypatch.setattr(sys, "stderr", terminal)
        assert main(argv + quiet) == 0
        assert terminal.getvalue() == ""
    monkeypatch.undo()
    capsys.readouterr()


def test_no_progress_bar_when_piped(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("PROGRESS_EVERY_RECORDS", "100")
    spec = DEMO_FEEDS[0]
    path = write_sample(tmp_path, spec)
    proc = subprocess.run([sys.executable, "-m", "jobs_pipeline.cli", "validate", str(path),
                           "--marketplace", spec.marketplace], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stderr == ""


def test_progress_line_reads_records_rate_and_eta(tmp_path):
    from jobs_pipeline.commands.progress import ProgressBar

    path = tmp_path / "f.csv"
    path.write_text("a,b\n" + "x,y\n" * 1000)  # 4 bytes a record
    now = [0.0]
    bar = ProgressBar(str(path), stream=io.StringIO(), clock=lambda: now[0])
    now[0] = 1.0
    line = bar.line(500)
    assert line.startswith("[") and "500 records" in line and "MB/s" in line and "ETA 0:01" in line


def test_blank_lines_are_a_file_note_not_records(tmp_path, data_dir, capsys):
    from jobs_pipeline_tests.corpus.hostile import blank_lines

    path = blank_lines(tmp_path)
    assert main(["validate", str(path), "--marketplace", "google_merchant", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["metrics"]["records_total"] == 2
    assert out["file_warnings"] == ["5 blank line(s) skipped: a line with no value is not a record"]
    assert main(["validate", str(path), "--marketplace", "google_merchant"]) == 0
    assert "  note: 5 blank line(s) skipped" in capsys.readouterr().out
