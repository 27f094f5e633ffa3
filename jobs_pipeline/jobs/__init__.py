"""Validation jobs as a service: :class:`~.service.JobService`, its metrics and report store, and
:mod:`.compose`, the one place a service is built from settings."""
