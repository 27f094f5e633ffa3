"""The code location loads, `dg check defs` and `dagster definitions validate` pass, and the
business core imports neither Dagster, Celery nor the adapters (defs, worker, cli)."""

import ast
import fnmatch
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "jobs_pipeline"
# The business core. demo/ is not in it: it runs Dagster (the demo materialises the assets).
CORE = ("domain", "jobs", "validation", "landing", "queue", "telemetry", "warehouse", "storage")
# Not a folder, but every part of the core reads its configuration from it.
CORE_FILES = ("settings.py",)
FORBIDDEN = ("dagster", "dagster_*", "celery", "kombu")
ADAPTERS = ("jobs_pipeline.defs", "jobs_pipeline.worker", "jobs_pipeline.cli")
# The client libraries a queue backend's own module may import, by backend name.
BACKEND_CLIENT_LIBS = {"celery": {"celery", "kombu"}}
MIN_CORE_FILES = 40


def test_definitions_hold_the_job_sensor_schedule_and_assets():
    from jobs_pipeline.definitions import defs

    loaded = defs.load_fn() if hasattr(defs, "load_fn") else defs
    assert isinstance(loaded, dg.Definitions)
    assert loaded.resolve_job_def("validate_feed") is not None
    assert loaded.resolve_sensor_def("landing_sensor") is not None
    assert loaded.resolve_schedule_def("quality_tables_daily") is not None
    keys = {k.to_user_string() for k in loaded.resolve_all_asset_keys()}
    assert {"job_events", "job_runs", "marketplace_quality"} <= keys


def _module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, root: Path = ROOT) -> set[str]:
    """Every module ``path`` imports, absolute, at any depth of the file (functions included);
    ``from a import b`` counts as ``a.b``; ``import_module("x")`` with a literal counts too."""
    module = _module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names |= {base if a.name == "*" else f"{base}.{a.name}" for a in node.names}
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and getattr(node.func, "id", getattr(node.func, "attr", None)) in ("import_module", "__import__")):
            names.add(node.args[0].value)
    return names


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _forbidden(name: str) -> str | None:
    root = name.split(".")[0]
    return next((f for f in FORBIDDEN if fnmatch.fnmatchcase(root, f)), None)


def _offences(module: str, names: set[str], allowances: dict[str, set[str]]) -> list[str]:
    out = []
    for name in sorted(names):
        lib = _forbidden(name)
        if lib and name.split(".")[0] not in allowances.get(module, set()):
            out.append(f"{module}: {name} (no {lib} in the core)")
        if any(_within(name, adapter) for adapter in ADAPTERS):
            out.append(f"{module}: {name} (the core does not import its adapters)")
        if (_within(module, "jobs_pipeline.domain") and _within(name, "jobs_pipeline")
                and not _within(name, "jobs_pipeline.domain")):
            out.append(f"{module}: {name} (domain imports nothing of the project outside domain)")
    return out


def _backend_allowances() -> dict[str, set[str]]:
    """Module of each queue backend (from the registry) -> the forbidden libraries it may use."""
    from jobs_pipeline.queue.registry import QUEUE_BACKENDS

    assert set(BACKEND_CLIENT_LIBS) <= set(QUEUE_BACKENDS), f"unknown backends in {BACKEND_CLIENT_LIBS}"
    return {QUEUE_BACKENDS[name].partition(":")[0]: libs for name, libs in BACKEND_CLIENT_LIBS.items()}


def _core_files() -> dict[str, list[Path]]:
    files: dict[str, list[Path]] = {}
    for folder in CORE:
        target = PACKAGE / folder
        assert target.is_dir(), f"core folder jobs_pipeline/{folder} is missing (renamed? update CORE)"
        files[folder] = sorted(target.rglob("*.py"))
        assert any(p.name != "__init__.py" for p in files[folder]), f"jobs_pipeline/{folder} holds no module"
    for name in CORE_FILES:
        assert (PACKAGE / name).is_file(), f"jobs_pipeline/{name} is missing (update CORE_FILES)"
        files[name] = [PACKAGE / name]
    return files


def test_business_core_imports_neither_dagster_nor_celery():
    """Nor the adapters (defs, worker, cli); domain/ imports nothing of the project but itself."""
    files = _core_files()
    allowances = _backend_allowances()
    for module in allowances:
        assert (ROOT / (module.replace(".", "/") + ".py")).is_file(), f"{module} (queue registry) is not a file"
    checked = [p for paths in files.values() for p in paths]
    listing = "\n".join(str(p.relative_to(ROOT)) for p in checked)
    assert {p.relative_to(PACKAGE).parts[0] for p in checked} == {*CORE, *CORE_FILES}, listing
    assert len(checked) >= MIN_CORE_FILES, f"only {len(checked)} core files checked:\n{listing}"
    offenders = [o for path in checked for o in _offences(_module_name(path), _imports(path), allowances)]
    assert offenders == [], "\n".join(offenders) + f"\n(checked {len(checked)} files:\n{listing})"


def test_the_import_scan_sees_nested_relative_and_literal_dynamic_imports(tmp_path):
    probe = tmp_path / "jobs_pipeline" / "domain" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text("from . import errors\n"
                     "from ..jobs import service\n"
                     "def f():\n"
                     "    import dagster_aws.s3\n"
                     "    from celery import Celery\n"
                     "    importlib.import_module('kombu')\n", encoding="utf-8")
    names = _imports(probe, tmp_path)
    assert names == {"jobs_pipeline.domain.errors", "jobs_pipeline.jobs.service", "dagster_aws.s3",
                     "celery.Celery", "kombu"}
    assert {_forbidden(n) for n in names} == {None, "dagster_*", "celery", "kombu"}
    offences = _offences("jobs_pipeline.domain.probe", names | {"jobs_pipeline.cli"}, {})
    assert len(offences) == 6 and sum("outside domain" in o for o in offences) == 2
    assert _offences("jobs_pipeline.queue.celery_publisher", {"celery.Celery", "kombu", "dagster"},
                     _backend_allowances()) == ["jobs_pipeline.queue.celery_publisher: dagster (no dagster in the core)"]


def test_dg_check_defs_and_dagster_definitions_validate(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "JOBS_PIPELINE_DATA_DIR": str(tmp_path / "data")}
    bin_dir = Path(sys.executable).parent
    for cmd in ([str(bin_dir / "dg"), "check", "defs"],
                [str(bin_dir / "dagster"), "definitions", "validate", "-w", "workspace.yaml"]):
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
