"""Which settings each queue backend needs, checked at start-up (``load_settings``).

A deployment that chose ``QUEUE_BACKEND=sqs`` without ``SQS_QUEUE_PRO_URL`` must fail when
it starts, naming the variable, not at the first publish with a ``None`` URL. The same
check runs for the rollout backend (``QUEUE_ROLLOUT_BACKEND``), and the publishers repeat it
in ``from_settings`` so a publisher built by hand fails the same way.
"""

import os
from typing import TYPE_CHECKING

from jobs_pipeline.errors import SettingsError

if TYPE_CHECKING:
    from jobs_pipeline.settings import Settings

#: backend -> the settings fields (= variable names, lower-case) it cannot run without.
REQUIRED: dict[str, tuple[str, ...]] = {
    "memory": (),
    "celery": ("celery_broker_url",),
    "sqs": ("sqs_queue_free_url", "sqs_queue_pro_url"),
}


def missing_for(settings: "Settings", backend: str) -> list[str]:
    """Upper-case names of the variables ``backend`` needs and that are unset or empty."""
    missing = [name.upper() for name in REQUIRED.get(backend, ())
               if not (getattr(settings, name, None) or "").strip()]
    if backend == "sqs" and not aws_region(settings):
        missing.append("AWS_REGION")
    return missing


def aws_region(settings: "Settings") -> str | None:
    """``AWS_REGION``, else the SDK's own ``AWS_DEFAULT_REGION``."""
    return settings.aws_region or os.environ.get("AWS_DEFAULT_REGION") or None


def require(settings: "Settings", backend: str) -> None:
    missing = missing_for(settings, backend)
    if missing:
        raise SettingsError(
            f"{missing[0]}: required with queue backend {backend!r} but not set; "
            f"set {', '.join(missing)} in the environment"
        )


def check_queue_settings(settings: "Settings") -> None:
    """Fail fast on an incomplete queue configuration (primary and rollout backends)."""
    require(settings, settings.queue_backend)
    rollout = settings.queue_rollout_backend
    if rollout is None:
        if settings.queue_rollout_percent > 0:
            raise SettingsError("QUEUE_ROLLOUT_BACKEND: QUEUE_ROLLOUT_PERCENT > 0 needs a rollout backend; "
                                "set QUEUE_ROLLOUT_BACKEND or QUEUE_ROLLOUT_PERCENT=0")
        return
    if rollout == settings.queue_backend:
        raise SettingsError(f"QUEUE_ROLLOUT_BACKEND: equals QUEUE_BACKEND ({rollout!r}); "
                            "set a different backend or unset it")
    require(settings, rollout)
