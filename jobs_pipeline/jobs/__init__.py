"""Validation jobs: the job model (:mod:`.model`) and :class:`~.service.JobService`.

Import from the submodules; this package file stays empty so importing the job model
never pulls in the service and its collaborators (no import cycles).
"""
