"""First start of the local Superset, unattended and idempotent (``make bi-setup``; ``make bi`` runs it first).

Run with the BI virtualenv's Python and ``SUPERSET_CONFIG_PATH=bi/superset_config.py``::

    .venv-bi/bin/python bi/bootstrap.py --snapshot /abs/path/quality.snapshot.duckdb

1. ``superset db upgrade`` and ``superset init`` (once per Superset version: a stamp file in
   ``SUPERSET_HOME`` remembers it);
2. the admin user from ``SUPERSET_ADMIN_USERNAME`` / ``SUPERSET_ADMIN_PASSWORD`` (local defaults
   ``admin`` / ``admin``), created when missing and never printed; an existing user is left alone;
3. the versioned export in ``bi/exports/`` (database, datasets, charts, the "Feed quality"
   dashboard) imported with the database URI pointed at the read-only snapshot. A stamp holds the
   hash of what was imported: an unchanged export and path import nothing, so a re-run changes
   nothing (and keeps edits made in the UI until the export itself changes).
"""

import argparse
import hashlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXPORTS = HERE / "exports"
#: The placeholder in ``exports/databases/*.yaml`` replaced by the snapshot's path at import.
SNAPSHOT_PLACEHOLDER = "{{QUALITY_SNAPSHOT_PATH}}"


def snapshot_uri(snapshot: Path) -> str:
    """The read-only DuckDB URI of the snapshot (never the writers' file)."""
    return f"duckdb:///{snapshot}?access_mode=read_only"


def render_exports(snapshot: Path) -> dict[str, str]:
    """The export bundle (path inside the bundle -> YAML), the database URI filled in."""
    contents = {}
    for path in sorted(EXPORTS.rglob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        contents[path.relative_to(EXPORTS).as_posix()] = text.replace(
            SNAPSHOT_PLACEHOLDER, str(snapshot))
    if not contents:
        raise SystemExit(f"no export files under {EXPORTS}")
    return contents


def rescope_native_filters(metadata: dict, chart_ids: list[int]) -> bool:
    """Set each native filter's stored ``chartsInScope`` from its scope: the dashboard's charts
    that ``scope.excluded`` leaves in. Superset 6.1's import maps ``excluded`` to the install's
    chart ids but keeps ``chartsInScope`` as exported, which is wrong wherever the ids differ (an
    install that held other charts first). The page works it out again; the API and a later
    export would not. Returns whether anything changed."""
    changed = False
    for native in metadata.get("native_filter_configuration", []):
        if "chartsInScope" not in native:
            continue
        excluded = set(native.get("scope", {}).get("excluded", []))
        in_scope = [i for i in sorted(chart_ids) if i not in excluded]
        if native["chartsInScope"] != in_scope:
            native["chartsInScope"], changed = in_scope, True
    return changed


def _rescope_imported(bundle: dict[str, str]) -> None:
    """:func:`rescope_native_filters` on every dashboard of the bundle, as imported."""
    import json
    import uuid

    from superset import db
    from superset.models.dashboard import Dashboard

    uuids = [uuid.UUID(m.group(1).strip()) for name, text in bundle.items() if name.startswith("dashboards/")
             if (m := re.search(r"(?m)^uuid: (.+)$", text))]
    for dashboard in db.session.query(Dashboard).filter(Dashboard.uuid.in_(uuids)).all():
        metadata = json.loads(dashboard.json_metadata or "{}")
        if rescope_native_filters(metadata, [chart.id for chart in dashboard.slices]):
            dashboard.json_metadata = json.dumps(metadata)
    db.session.commit()


def _superset(*args: str, log: Path) -> None:
    started = time.monotonic()
    with log.open("a", encoding="utf-8") as out:
        done = subprocess.run([str(Path(sys.executable).with_name("superset")), *args],
                              stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode:
        raise SystemExit(f"superset {' '.join(args)} failed (exit {done.returncode}); see {log}")
    print(f"superset {' '.join(args)}: {time.monotonic() - started:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshot", required=True, type=Path, help="the published read-only snapshot")
    parser.add_argument("--skip-import", action="store_true",
                        help="only upgrade, init and the admin user (bi/build_assets.py starts from there)")
    args = parser.parse_args(argv)
    snapshot = args.snapshot.expanduser().resolve()
    os.environ.setdefault("SUPERSET_CONFIG_PATH", str(HERE / "superset_config.py"))
    os.environ.setdefault("FLASK_APP", "superset")

    import importlib.util
    if importlib.util.find_spec("superset") is None:
        raise SystemExit("apache-superset is not installed here: run me with .venv-bi/bin/python (make bi-venv)")
    import superset_config  # noqa: F401  (creates SUPERSET_HOME)

    home = Path(superset_config.DATA_DIR)
    log = home / "setup.log"
    from importlib.metadata import version
    schema_stamp = home / f".schema-{version('apache-superset')}"
    if not schema_stamp.exists():
        _superset("db", "upgrade", log=log)
        _superset("init", log=log)
        schema_stamp.write_text("db upgrade + init done\n", encoding="utf-8")

    contents = {} if args.skip_import else render_exports(snapshot)
    digest = hashlib.sha256("\0".join(f"{k}\0{v}" for k, v in contents.items()).encode()).hexdigest()
    import_stamp = home / ".imported"

    from flask import g
    from superset.app import create_app

    app = create_app()
    with app.app_context():
        from superset.extensions import security_manager

        username = os.environ.get("SUPERSET_ADMIN_USERNAME") or "admin"
        user = security_manager.find_user(username=username)
        if user is None:
            user = security_manager.add_user(
                username, "Superset", "Admin", f"{username}@localhost",
                security_manager.find_role("Admin"),
                password=os.environ.get("SUPERSET_ADMIN_PASSWORD") or "admin")
            if not user:
                raise SystemExit(f"could not create the admin user {username!r}")
            print(f"admin user {username!r} created")
        if args.skip_import:
            pass
        elif import_stamp.exists() and import_stamp.read_text(encoding="utf-8").strip() == digest:
            print("dashboards up to date (bi/exports unchanged)")
        else:
            from superset.commands.importers.v1.assets import ImportAssetsCommand

            # The assets importer overwrites every object of the bundle (the dashboard importer
            # would leave existing charts, datasets and the database as they were); it wants the
            # bundle's metadata to say "assets" rather than the export's "Dashboard".
            bundle = dict(contents)
            bundle["metadata.yaml"] = re.sub(r"(?m)^type: .*$", "type: assets", bundle["metadata.yaml"])
            g.user = user
            ImportAssetsCommand(bundle).run()
            _rescope_imported(bundle)
            import_stamp.write_text(digest + "\n", encoding="utf-8")
            print(f"imported {len(contents)} export files from {EXPORTS.relative_to(HERE.parent)}")
    if not snapshot.exists():
        print(f"warning: no snapshot at {snapshot} yet: charts show data after `make demo` "
              "or a materialisation publishes it", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
