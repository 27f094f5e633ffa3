"""Resource fields named like :class:`Settings` fields, and where a deployment reads a value.

A resource turns its fields into a ``Settings`` (over the defaults, never the environment: a
resource is its configuration) and hands it to the same factories the worker and the CLI use.
"""

from typing import Any

import dagster as dg

from jobs_pipeline.settings import Settings, SettingsError

#: The settings defaults, without reading the environment.
DEFAULTS = Settings.model_construct()


def as_settings(resource: dg.ConfigurableResource, **update: Any) -> Settings:
    """``resource``'s fields that are settings fields, plus ``update``, over the defaults."""
    fields = {name: getattr(resource, name) for name in type(resource).model_fields if name in Settings.model_fields}
    unknown = sorted(set(update) - set(Settings.model_fields))
    if unknown:
        raise SettingsError(f"{unknown[0].upper()}: not a setting; resource {type(resource).__name__}")
    return DEFAULTS.model_copy(update={**fields, **update})


def env_or(var: str, is_set: object, value: Any, from_env: bool) -> Any:
    """Staging/prod read a *set* variable at launch (``dg.EnvVar``, hidden in the UI); an unset
    one keeps its settings default, so a variable with a default stays optional everywhere."""
    return dg.EnvVar(var) if from_env and is_set else value
