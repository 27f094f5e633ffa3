"""Feed validation: rulesets as data, a vectorised engine, and its result.

The seam every caller uses is :func:`validate_file` (file + ruleset -> counts, errors by
field and rule, a capped sample of failing records).
"""

from jobs_pipeline.validation.engine import validate_file
from jobs_pipeline.validation.result import RecordError, ValidationResult
from jobs_pipeline.validation.rulesets import Rule, Ruleset, load_ruleset, ruleset_for

__all__ = ["RecordError", "Rule", "Ruleset", "ValidationResult", "load_ruleset", "ruleset_for", "validate_file"]
