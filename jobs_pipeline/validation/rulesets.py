"""Marketplace rulesets as data: one YAML file per ruleset under ``jobs_pipeline/rulesets``.

A ruleset is ``name@version``; every rule has a field, a kind, parameters and a severity.
Loading validates the file with pydantic and names the file and rule when it is wrong.
"""

from functools import cache
from pathlib import Path
from typing import Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from jobs_pipeline.errors import RulesetError

RULESETS_DIR = Path(__file__).resolve().parent.parent / "rulesets"

RuleKind = Literal["required", "length", "decimal_range", "enum", "https_url", "regex"]


class Rule(BaseModel):
    """One check on one field. Non-``required`` rules skip missing values."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str
    kind: RuleKind
    severity: Literal["error", "warning"] = "error"
    id: str | None = None
    message: str | None = None
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    values: list[str] | None = None
    pattern: str | None = None

    @model_validator(mode="after")
    def _params(self) -> Self:
        needs = {"length": ("max",), "enum": ("values",), "regex": ("pattern",)}
        for param in needs.get(self.kind, ()):
            if getattr(self, param) is None:
                raise ValueError(f"rule kind {self.kind!r} on field {self.field!r} needs {param!r}")
        if self.kind == "decimal_range" and self.min is None and self.max is None:
            raise ValueError(f"decimal_range on field {self.field!r} needs 'min' or 'max'")
        return self

    @property
    def rule_id(self) -> str:
        return self.id or f"{self.field}.{self.kind}"


class Ruleset(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: str
    marketplace: str
    description: str = ""
    rules: list[Rule] = Field(min_length=1)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def fields(self) -> list[str]:
        return list(dict.fromkeys(r.field for r in self.rules))


def _read(path: Path) -> Ruleset:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Ruleset.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RulesetError(f"ruleset file {path.name}: {where}: {first['msg']}") from None
    except yaml.YAMLError as exc:
        raise RulesetError(f"ruleset file {path.name}: not valid YAML ({exc})") from None


@cache
def _all() -> dict[str, Ruleset]:
    found: dict[str, Ruleset] = {}
    for path in sorted(RULESETS_DIR.glob("*.yaml")):
        rs = _read(path)
        found[rs.ref] = rs
    return found


def load_ruleset(ref: str) -> Ruleset:
    """``name@version`` or ``name`` (the highest version)."""
    name, _, version = ref.partition("@")
    rulesets = _all()
    if version:
        if ref in rulesets:
            return rulesets[ref]
    else:
        versions = sorted((rs for rs in rulesets.values() if rs.name == name), key=lambda r: r.version)
        if versions:
            return versions[-1]
    raise RulesetError(f"unknown ruleset {ref!r}; known: {', '.join(sorted(rulesets))}")


def ruleset_for(marketplace: str, ref: str | None = None) -> Ruleset:
    """The ruleset a job uses: an explicit ``ref``, else the marketplace's latest one."""
    if ref:
        return load_ruleset(ref)
    candidates = sorted((rs for rs in _all().values() if rs.marketplace == marketplace), key=lambda r: r.version)
    if not candidates:
        known = sorted({rs.marketplace for rs in _all().values()})
        raise RulesetError(f"no ruleset for marketplace {marketplace!r}; known marketplaces: {', '.join(known)}")
    return candidates[-1]
