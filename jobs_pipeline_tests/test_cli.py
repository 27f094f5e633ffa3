"""The console script: exit 0 with metrics on a processed file, 2 with one line on an unusable one."""

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
