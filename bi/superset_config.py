"""Superset's configuration for the local BI server (``make bi``), read through SUPERSET_CONFIG_PATH.

Superset keeps its own metadata (users, charts, dashboards) in SQLite under ``SUPERSET_HOME``
(default ``data/superset``, never committed); the quality data stays in the read-only DuckDB
snapshot it connects to. The secret key signs sessions: taken from ``SUPERSET_SECRET_KEY``, else
generated once into ``SUPERSET_HOME/secret_key`` (so a fresh clone needs no secret in the repo).
"""

import os
import secrets
from pathlib import Path

_HOME = Path(os.environ.get("SUPERSET_HOME") or Path(__file__).resolve().parent.parent / "data" / "superset")
_HOME.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    if os.environ.get("SUPERSET_SECRET_KEY"):
        return os.environ["SUPERSET_SECRET_KEY"]
    path = _HOME / "secret_key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(42), encoding="utf-8")
    return path.read_text(encoding="utf-8").strip()


SECRET_KEY = _secret_key()
SQLALCHEMY_DATABASE_URI = f"sqlite:///{_HOME / 'superset.db'}?check_same_thread=false"
DATA_DIR = str(_HOME)

# Charts read the snapshot at each query (no result cache): a new snapshot shows at the next refresh.
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
# A local, single-user server on 127.0.0.1: no HTTPS redirects or CSP nonces to configure.
TALISMAN_ENABLED = False
# No example data, no telemetry beacons.
SUPERSET_LOAD_EXAMPLES = False
# Keep the read-only connection read-only: no DML from SQL Lab, no file uploads into it.
PREVENT_UNSAFE_DB_CONNECTIONS = True
CONTENT_SECURITY_POLICY_WARNING = False
