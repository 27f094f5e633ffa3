"""The ``landing`` resource: the local folder where sellers' files arrive, and its quarantine."""

import dagster as dg


class LandingZoneResource(dg.ConfigurableResource):
    """Where sellers' files arrive (``<marketplace>/<category>/<region>/<file>``)."""

    landing_dir: str
    quarantine_dir: str
    tier: str = "free"
    max_files_per_tick: int = 200
    max_files_per_run: int = 100  # files per validate_feeds run (one step each)
    settle_seconds: float = 30.0
