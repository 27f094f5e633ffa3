"""Marketplace rulesets as data: one YAML (or JSON) file per ``name@version``, shipped under
``jobs_pipeline/validation/rulesets`` or added by a team (:func:`use_extra_rulesets`), validated
by pydantic on load (an error names the file, the rule and the parameter).
:meth:`Ruleset.effective` applies the category then region ``overrides``.
"""

import json
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from jobs_pipeline.domain.errors import RulesetError

RULESETS_DIR = Path(__file__).resolve().parent / "rulesets"
RULESET_SUFFIXES = (".yaml", ".yml", ".json")

RuleKind = Literal[
    "required", "type", "range", "length", "regex", "enum", "https_url", "gtin", "unique",
    "compare", "required_if", "decimal_range",
]
ValueType = Literal["integer", "decimal", "boolean", "date"]
CompareOp = Literal["<", "<=", "==", "!=", ">=", ">"]

#: GS1 prefixes Google Merchant Center rejects as coupon codes (answer/6286302), read on the
#: 13-digit form (the last 13 digits of the value left-padded to 14).
COUPON_PREFIXES = ["981", "982", "983", "984", "99", "05"]

# Parameters each kind needs (checked on load so a job never meets a half-defined rule).
_NEEDS: dict[str, tuple[str, ...]] = {
    "type": ("type",), "enum": ("values",), "regex": ("pattern",), "compare": ("op", "other"),
    "required_if": ("when",),
}


class Rule(BaseModel):
    """One check on one field. Every kind except ``required``/``required_if`` passes on a
    missing value (empty or only spaces): absence is the business of ``required``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str
    kind: RuleKind
    severity: Literal["error", "warning"] = "error"
    id: str | None = None
    message: str | None = None
    #: ``range``/``decimal_range``: numeric bounds; ``length``: character-count bounds. An
    #: integer stays one (``min: 3`` prints as ``3``).
    min: int | float | None = None
    max: int | float | None = None
    min_exclusive: bool = False
    max_exclusive: bool = False
    values: list[str] | None = None
    pattern: str | None = Field(None, description="Matched against the whole value (implicit ^…$).")
    type: ValueType | None = None
    op: CompareOp | None = None
    other: str | None = Field(None, description="compare: the other field (e.g. sale_price <= price).")
    #: required_if: required when every ``when`` field holds one of its values (compared
    #: trimmed and lower-cased) and no ``unless`` field does.
    when: dict[str, list[str]] | None = None
    unless: dict[str, list[str]] | None = None
    banned_prefixes: list[str] | None = Field(None, description="gtin: default COUPON_PREFIXES.")
    unconfirmed: bool = Field(False, description="The limit is not confirmed by the marketplace's docs.")

    @model_validator(mode="after")
    def _params(self) -> Self:
        for param in _NEEDS.get(self.kind, ()):
            if getattr(self, param) is None:
                raise ValueError(f"rule kind {self.kind!r} needs {param!r}")
        if self.kind in ("length", "range", "decimal_range") and self.min is None and self.max is None:
            raise ValueError(f"rule kind {self.kind!r} needs 'min' or 'max'")
        if self.banned_prefixes is not None and not all(p.isascii() and p.isdigit() and 1 <= len(p) <= 13
                                                         for p in self.banned_prefixes):
            raise ValueError("banned_prefixes must be strings of 1 to 13 digits")
        if self.kind == "regex":
            import re

            try:
                re.compile(self.pattern or "")
            except re.error as exc:
                raise ValueError(f"pattern does not compile: {exc}") from None
        return self

    @property
    def rule_id(self) -> str:
        return self.id or f"{self.field}.{self.kind}"

    @property
    def prefixes(self) -> list[str]:
        return COUPON_PREFIXES if self.banned_prefixes is None else self.banned_prefixes

    @property
    def fields_read(self) -> list[str]:
        """Every column this rule looks at."""
        names = [self.field]
        if self.other:
            names.append(self.other)
        for cond in (self.when or {}), (self.unless or {}):
            names.extend(cond)
        return names


class Overrides(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    category: dict[str, list[Rule]] = Field(default_factory=dict)
    region: dict[str, list[Rule]] = Field(default_factory=dict)


class Ruleset(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: str
    marketplace: str
    description: str = ""
    #: canonical field -> other names sellers use (normalised like columns: ``Preço`` -> ``preco``).
    aliases: dict[str, list[str]] = Field(default_factory=dict)
    #: Severity of a file-level note about a column no rule knows (never counted per record).
    unknown_columns: Literal["warning", "ignore"] = "warning"
    rules: list[Rule] = Field(min_length=1)
    overrides: Overrides = Field(default_factory=Overrides)
    #: Set by :meth:`effective`: which overrides were applied, e.g. ``["category:electronics"]``.
    applied: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        ids = [r.rule_id for r in self.rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate rule ids {dupes}: give each rule a distinct 'id'")
        return self

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def fields(self) -> list[str]:
        """Every field a rule reads, in first-mention order (the known columns)."""
        names: list[str] = []
        for r in self.rules:
            names.extend(r.fields_read)
        return list(dict.fromkeys(names))

    def effective(self, category: str | None = None, region: str | None = None) -> "Ruleset":
        """The ruleset with the category's then the region's overrides applied. A rule with
        the id of an existing rule replaces it in place; other rules are appended."""
        rules = {r.rule_id: r for r in self.rules}
        applied: list[str] = []
        for scope, table, key in (("category", self.overrides.category, (category or "").lower()),
                                  ("region", self.overrides.region, (region or "").upper())):
            matches = {k.lower() if scope == "category" else k.upper(): v for k, v in table.items()}
            if key in matches:
                applied.append(f"{scope}:{key}")
                for rule in matches[key]:
                    rules[rule.rule_id] = rule
        return self.model_copy(update={"rules": list(rules.values()), "overrides": Overrides(),
                                       "applied": applied})


def _rule_hint(data: object, loc: tuple) -> str:
    """``rule #3 (field 'price')`` (or ``overrides region BR rule #1 (field 'currency')``)
    for a pydantic error location that points inside a list of rules."""
    try:
        i = next(k for k, part in enumerate(loc) if isinstance(part, int))
        container = data
        for part in loc[:i]:
            container = container[part]  # type: ignore[index]
        rule = container[loc[i]]  # type: ignore[index]
        field = rule.get("field") if isinstance(rule, dict) else None
        scope = " ".join(str(p) for p in loc[:i] if p != "rules")
        return f"{scope + ' ' if scope else ''}rule #{loc[i] + 1} (field {field!r})"
    except (StopIteration, LookupError, TypeError, ValueError):
        return ""


def parse_ruleset(text: str, label: str) -> Ruleset:
    """Check one ruleset's text (JSON when ``label`` ends in ``.json``, else YAML);
    :class:`RulesetError` names ``label``, the rule and the parameter."""
    data: object = None
    try:
        data = json.loads(text) if label.endswith(".json") else yaml.load(text, Loader=_YamlLoader)
        return Ruleset.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise RulesetError(f"ruleset file {label}: {error_location(data, tuple(first['loc']))}: {first['msg']}") from None
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        kind = "JSON" if label.endswith(".json") else "YAML"
        raise RulesetError(f"ruleset file {label}: not valid {kind} ({exc})") from None


def error_location(data: object, loc: tuple) -> str:
    """``rule #3 (field 'price'): max`` for a pydantic error location (the top-level path
    when it points at no rule)."""
    hint = _rule_hint(data, loc)
    if hint and isinstance(loc[-1], int):  # the rule as a whole (a check across its parameters)
        return hint
    param = str(loc[-1]) if loc else "?"
    return f"{hint}: {param}" if hint else ".".join(str(p) for p in loc) or "top level"


_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built in: ~10x faster


def read_ruleset_file(path: Path) -> Ruleset:
    """Load and check one ruleset file; :class:`RulesetError` names file, rule and parameter."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesetError(f"ruleset file {path.name}: cannot be read ({type(exc).__name__})") from None
    return parse_ruleset(text, path.name)


def _version_key(version: str) -> tuple:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in version.split("."))


SHIPPED = "shipped"


@dataclass(frozen=True)
class RulesetFile:
    """A ruleset file from outside the package: where it was found and its text."""

    origin: str  # a path or an s3:// URI, shown by ``rules list`` and in errors
    text: str

    @property
    def label(self) -> str:
        return self.origin.rstrip("/").rsplit("/", 1)[-1]


_extra: list[RulesetFile] = []
_loaded: dict[str, tuple[Ruleset, str]] | None = None


def use_extra_rulesets(files: Iterable[RulesetFile]) -> None:
    """Rulesets a team keeps outside the package (``JOBS_PIPELINE_RULESETS_DIR``), found beside
    the shipped ones from now on. Checked now: a bad file raises :class:`RulesetError`."""
    global _loaded
    files = list(files)
    if files == _extra and _loaded is not None:
        return
    _extra[:] = files
    _loaded = None
    try:
        _registry()
    except RulesetError:
        _extra.clear()  # the shipped rulesets stay usable; the caller reports the bad file
        raise


def _registry() -> dict[str, tuple[Ruleset, str]]:
    """Every ruleset by ``name@version`` with its origin (``shipped``, or its file's location)."""
    global _loaded
    if _loaded is not None:
        return _loaded
    found: dict[str, tuple[Ruleset, str]] = {}
    for path in sorted(p for p in RULESETS_DIR.iterdir() if p.suffix in RULESET_SUFFIXES):
        rs = read_ruleset_file(path)
        if rs.ref in found:
            raise RulesetError(f"ruleset file {path.name}: {rs.ref} is defined twice")
        found[rs.ref] = (rs, SHIPPED)
    for file in _extra:
        rs = parse_ruleset(file.text, file.origin)
        if rs.ref in found:
            known, origin = found[rs.ref]
            if origin != SHIPPED:
                raise RulesetError(f"ruleset file {file.origin}: {rs.ref} is defined twice (also in {origin})")
            if known != rs:
                raise RulesetError(f"ruleset file {file.origin}: claims the shipped {rs.ref} with different rules; "
                                   "give it a new version")
            continue  # the same content as the shipped one: nothing new
        found[rs.ref] = (rs, file.origin)
    _loaded = found
    return found


def _all() -> dict[str, Ruleset]:
    return {ref: rs for ref, (rs, _) in _registry().items()}


def list_rulesets() -> list[tuple[Ruleset, str]]:
    """Every ruleset and its origin, by name then version."""
    return sorted(_registry().values(), key=lambda item: (item[0].name, _version_key(item[0].version)))


def _latest(rulesets: list[Ruleset]) -> Ruleset | None:
    return max(rulesets, key=lambda r: _version_key(r.version), default=None)


def load_ruleset(ref: str) -> Ruleset:
    """``name@version`` or ``name`` (its highest version)."""
    name, _, version = ref.partition("@")
    rulesets = _all()
    found = rulesets.get(ref) if version else _latest([rs for rs in rulesets.values() if rs.name == name])
    if found is None:
        raise RulesetError(f"unknown ruleset {ref!r}; known: {', '.join(sorted(rulesets))}")
    return found


def ruleset_for(marketplace: str, ref: str | None = None, *, category: str | None = None,
                region: str | None = None) -> Ruleset:
    """The ruleset a job uses: an explicit ``ref``, else the marketplace's latest one, with
    the overrides for ``category`` and ``region`` applied."""
    if ref:
        return load_ruleset(ref).effective(category, region)
    latest = _latest([rs for rs in _all().values() if rs.marketplace == marketplace])
    if latest is None:
        known = sorted({rs.marketplace for rs in _all().values()})
        raise RulesetError(f"no ruleset for marketplace {marketplace!r}; known marketplaces: {', '.join(known)}")
    return latest.effective(category, region)


def normalise_name(name: str) -> str:
    """Column-name normal form: accents removed, lower case, runs of anything other than a
    letter or digit become one ``_`` (``" Preço  Unitário"`` -> ``preco_unitario``)."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    out, sep = [], False
    for c in plain:
        if c.isalnum():
            if sep and out:
                out.append("_")
            out.append(c)
            sep = False
        else:
            sep = True
    return "".join(out)
