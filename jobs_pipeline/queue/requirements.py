"""Which settings each queue backend needs, checked at start-up (:mod:`jobs_pipeline.jobs.compose`).

A backend's missing variable (``QUEUE_BACKEND`` or ``QUEUE_ROLLOUT_BACKEND``) fails at start-up,
naming it; the publishers repeat the check in ``from_settings``. With ``sqs`` the outcome queue
URLs are required unless ``PUBLISH_OUTCOMES=false``; an outcome queue equal to a job queue is refused.
"""

from typing import TYPE_CHECKING

from jobs_pipeline.queue.registry import QUEUE_BACKENDS
from jobs_pipeline.settings import SettingsError

if TYPE_CHECKING:
    from jobs_pipeline.settings import Settings

#: backend -> the settings fields (= variable names, lower-case) it cannot run without.
REQUIRED: dict[str, tuple[str, ...]] = {
    "memory": (),
    "celery": ("celery_broker_url",),
    "sqs": ("sqs_queue_free_url", "sqs_queue_pro_url"),
}
#: backend -> the outcome queue fields it needs while ``PUBLISH_OUTCOMES`` is true (memory and
#: Celery derive theirs: ``<job queue>.outcomes``).
REQUIRED_FOR_OUTCOMES: dict[str, tuple[str, ...]] = {
    "sqs": ("sqs_outcome_queue_free_url", "sqs_outcome_queue_pro_url"),
}


def missing_for(settings: "Settings", backend: str) -> list[str]:
    """Upper-case names of the variables ``backend`` needs and that are unset or empty."""
    names = REQUIRED.get(backend, ())
    if getattr(settings, "publish_outcomes", True):
        names += REQUIRED_FOR_OUTCOMES.get(backend, ())
    missing = [name.upper() for name in names if not (getattr(settings, name, None) or "").strip()]
    if backend == "sqs" and not settings.aws_region_name:
        missing.append("AWS_REGION")
    return missing


def require(settings: "Settings", backend: str) -> None:
    missing = missing_for(settings, backend)
    if missing:
        outcomes = (" (or PUBLISH_OUTCOMES=false to publish no feed.validated)"
                    if missing[0].lower() in REQUIRED_FOR_OUTCOMES.get(backend, ()) else "")
        raise SettingsError(
            f"{missing[0]}: required with queue backend {backend!r} but not set; "
            f"set {', '.join(missing)} in the environment{outcomes}"
        )


def check_outcome_queues(settings: "Settings") -> None:
    """Outcome queues must not be job queues (the job consumers would receive outcomes)."""
    names = settings.outcome_queue_names
    urls = {"free": settings.sqs_outcome_queue_free_url, "pro": settings.sqs_outcome_queue_pro_url}
    job_names = {settings.queue_name_free, settings.queue_name_pro}
    job_urls = {settings.sqs_queue_free_url, settings.sqs_queue_pro_url}
    for tier in ("free", "pro"):
        for var, queue, jobs in ((f"QUEUE_NAME_OUTCOMES_{tier.upper()}", names[tier], job_names),
                                 (f"SQS_OUTCOME_QUEUE_{tier.upper()}_URL", urls[tier], job_urls)):
            if queue and queue in jobs:
                raise SettingsError(f"{var}: {queue!r} is also a job queue; outcomes need their own queue "
                                    "(the job consumers must never receive them)")


def check_backend_name(var: str, backend: str) -> None:
    if backend not in QUEUE_BACKENDS:
        raise SettingsError(f"{var}: unknown queue backend {backend!r}; allowed: {', '.join(sorted(QUEUE_BACKENDS))}")


def check_queue_settings(settings: "Settings") -> None:
    """Fail fast on an incomplete queue configuration (primary and rollout backends)."""
    check_backend_name("QUEUE_BACKEND", settings.queue_backend)
    require(settings, settings.queue_backend)
    check_outcome_queues(settings)
    rollout = settings.queue_rollout_backend
    if rollout is None:
        if settings.queue_rollout_percent > 0:
            raise SettingsError("QUEUE_ROLLOUT_BACKEND: QUEUE_ROLLOUT_PERCENT > 0 needs a rollout backend; "
                                "set QUEUE_ROLLOUT_BACKEND or QUEUE_ROLLOUT_PERCENT=0")
        return
    if rollout == settings.queue_backend:
        raise SettingsError(f"QUEUE_ROLLOUT_BACKEND: equals QUEUE_BACKEND ({rollout!r}); "
                            "set a different backend or unset it")
    check_backend_name("QUEUE_ROLLOUT_BACKEND", rollout)
    require(settings, rollout)
