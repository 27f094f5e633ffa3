"""The code location loads, `dg check defs` and `dagster definitions validate` pass, and the
business core imports neither Dagster nor Celery."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

ROOT = Path(__file__).resolve().parents[2]
CORE = ["jobs", "validation", "telemetry", "queue", "warehouse", "metrics.py", "transient.py", "errors.py",
        "settings.py", "landing.py", "landing_plan.py"]


def test_definitions_hold_the_job_sensor_schedule_and_assets():
    from jobs_pipeline.definitions import defs

    loaded = defs.load_fn() if hasattr(defs, "load_fn") else defs
    assert isinstance(loaded, dg.Definitions)
    assert loaded.resolve_job_def("validate_feed") is not None
    assert loaded.resolve_sensor_def("landing_sensor") is not None
    assert loaded.resolve_schedule_def("quality_tables_daily") is not None
    keys = {k.to_user_string() for k in loaded.resolve_all_asset_keys()}
    assert {"job_events", "job_runs", "marketplace_quality"} <= keys


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_business_core_imports_neither_dagster_nor_celery():
    offenders = []
    for entry in CORE:
        target = ROOT / "jobs_pipeline" / entry
        files = [target] if target.is_file() else sorted(target.rglob("*.py")) if target.exists() else []
        for path in files:
            if path.parent.name == "queue" and path.name.startswith("celery"):
                continue  # the Celery publisher, imported only when QUEUE_BACKEND=celery
            bad = _imports(path) & {"dagster", "celery"} | {n for n in _imports(path) if n.startswith("dagster_")}
            if bad:
                offenders.append(f"{path.relative_to(ROOT)}: {sorted(bad)}")
    assert offenders == []


def test_dg_check_defs_and_dagster_definitions_validate(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "JOBS_PIPELINE_DATA_DIR": str(tmp_path / "data")}
    bin_dir = Path(sys.executable).parent
    for cmd in ([str(bin_dir / "dg"), "check", "defs"],
                [str(bin_dir / "dagster"), "definitions", "validate", "-w", "workspace.yaml"]):
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
