"""The Celery worker refuses to start on a team ruleset the loader refuses (not at its first task)."""

import os
import subprocess
import sys


def test_a_refused_team_ruleset_stops_the_worker_at_start(tmp_path, data_dir):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "bad.yaml").write_text('name: amazon\nversion: "9"\nmarketplace: amazon\nrules: []\n')
    env = {**os.environ, "CELERY_BROKER_URL": "redis://127.0.0.1:1/0", "QUEUE_BACKEND": "celery",
           "JOBS_PIPELINE_RULESETS_DIR": str(tmp_path / "rules")}
    proc = subprocess.run([sys.executable, "-c", "import jobs_pipeline.worker"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "RulesetError: ruleset file" in proc.stderr and "bad.yaml" in proc.stderr
