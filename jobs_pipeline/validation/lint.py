"""``jobs-pipeline rules lint``: every problem of a ruleset file before it ships, one line
each (``file: rule #n (field 'x'): problem``): what the loader refuses, and rules that load
but can never behave as meant (impossible bounds, duplicate values, an override of a field no
rule knows, a comparison with a non-numeric field, a pattern the engine cannot run)."""

import json
from collections.abc import Iterator
from pathlib import Path

import yaml
from pydantic import ValidationError

from jobs_pipeline.validation.ruleset import Rule, Ruleset, error_location

NON_NUMERIC_TYPES = {"boolean", "date"}
#: Parameters each kind reads (beyond field, kind, severity, id, message, unconfirmed).
_READS: dict[str, set[str]] = {
    "required": set(), "unique": set(), "https_url": set(),
    "type": {"type"}, "enum": {"values"}, "regex": {"pattern"}, "gtin": {"banned_prefixes"},
    "range": {"min", "max", "min_exclusive", "max_exclusive"},
    "decimal_range": {"min", "max", "min_exclusive", "max_exclusive"},
    "length": {"min", "max"}, "compare": {"op", "other"}, "required_if": {"when", "unless"},
}
_COMMON = {"field", "kind", "severity", "id", "message", "unconfirmed"}


def lint_file(path: Path) -> list[str]:
    """Every problem of one file, each line prefixed with the file's path (none: it is fine)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [f"{path}: cannot be read ({type(exc).__name__})"]
    return [f"{path}: {problem}" for problem in lint_text(text, json_text=path.suffix == ".json")]


def lint_text(text: str, *, json_text: bool = False) -> list[str]:
    try:
        data = json.loads(text) if json_text else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        return [f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"]
    except yaml.YAMLError as exc:  # the parser's own fields, never its message text
        mark, problem = getattr(exc, "problem_mark", None), getattr(exc, "problem", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        return [f"not valid YAML ({problem or type(exc).__name__}{where})"]
    if not isinstance(data, dict):
        return ["top level: expected a mapping of name, version, marketplace, rules..."]
    problems: list[str] = []
    try:
        Ruleset.model_validate(data)
    except ValidationError as exc:
        problems += [f"{error_location(data, tuple(e['loc']))}: {_msg(e['msg'])}" for e in exc.errors()]
    problems += [p for p in _semantic(data) if p not in problems]
    return sorted(problems, key=_order)


def _order(problem: str) -> tuple:
    """Top-level problems first, then by scope and rule number (a stable sort keeps the rest)."""
    scope, sep, rest = problem.partition("rule #")
    if not sep:
        return ("", -1)
    number = rest.split(" ", 1)[0]
    return (scope, int(number) if number.isdigit() else 0)


def _msg(text: str) -> str:
    return text.removeprefix("Value error, ")


def _scopes(data: dict) -> Iterator[tuple[str, list]]:
    """(label prefix, raw rules) of the base rules and of each override."""
    yield "", data.get("rules") if isinstance(data.get("rules"), list) else []
    overrides = data.get("overrides") if isinstance(data.get("overrides"), dict) else {}
    for scope in ("category", "region"):
        table = overrides.get(scope) if isinstance(overrides.get(scope), dict) else {}
        for key, rules in table.items():
            if isinstance(rules, list):
                yield f"overrides {scope} {key} ", rules


def _parsed(raw: list) -> list[tuple[int, Rule]]:
    out = []
    for i, item in enumerate(raw):
        try:
            out.append((i, Rule.model_validate(item)))
        except ValidationError:
            continue  # already reported by the ruleset's own validation
    return out


def _semantic(data: dict) -> list[str]:
    problems: list[str] = []
    base = _parsed(data.get("rules") if isinstance(data.get("rules"), list) else [])
    base_fields = {name for _, r in base for name in r.fields_read}
    for prefix, raw in _scopes(data):
        rules = _parsed(raw)
        scope_rules = [r for _, r in base] + [r for _, r in rules] if prefix else [r for _, r in rules]
        for i, rule in rules:
            where = f"{prefix}rule #{i + 1} (field {rule.field!r})"
            for problem in _rule_problems(rule, raw[i], scope_rules):
                problems.append(f"{where}: {problem}")
            if prefix and rule.field not in base_fields:
                problems.append(f"{where}: overrides field {rule.field!r}, which no base rule knows "
                                "(a typo? add a base rule for it first)")
    return problems


def _rule_problems(rule: Rule, raw: dict, scope_rules: list[Rule]) -> Iterator[str]:
    unused = sorted(k for k in raw if k not in _COMMON and k not in _READS[rule.kind])
    if unused:
        yield f"{', '.join(unused)} mean(s) nothing to kind {rule.kind!r}"
    lo, hi = rule.min, rule.max
    if rule.kind == "length":
        for name, value in (("min", lo), ("max", hi)):
            if value is not None and (value < 0 or value != int(value)):
                yield f"length {name} {value} is not a whole number of characters"
    if rule.kind in ("length", "range", "decimal_range") and lo is not None and hi is not None:
        if lo > hi or (lo == hi and (rule.min_exclusive or rule.max_exclusive)):
            yield f"impossible bounds: no value is within min {lo} and max {hi}"
    if rule.kind == "enum" and rule.values is not None:
        dupes = sorted({v for v in rule.values if rule.values.count(v) > 1})
        if dupes:
            yield f"values listed twice: {', '.join(dupes)}"
        if not rule.values:
            yield "no values: every present value would fail"
    if rule.kind == "regex" and rule.pattern is not None:
        problem = _engine_pattern_problem(rule.pattern)
        if problem:
            yield problem
    if rule.kind == "compare":
        if rule.other == rule.field:
            yield "compares the field with itself"
        for name in (rule.field, rule.other):
            why = _non_numeric(name, scope_rules)
            if why:
                yield f"compare needs numbers but field {name!r} is {why}"


def _non_numeric(field: str | None, rules: list[Rule]) -> str | None:
    for r in rules:
        if r.field != field:
            continue
        if r.kind == "type" and r.type in NON_NUMERIC_TYPES:
            return f"a {r.type} (rule {r.rule_id})"
        if r.kind in ("https_url",):
            return f"a URL (rule {r.rule_id})"
        if r.kind == "enum" and r.values and not all(_is_number(v) for v in r.values):
            return f"one of {', '.join(r.values[:4])}{'...' if len(r.values) > 4 else ''} (rule {r.rule_id})"
    return None


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _engine_pattern_problem(pattern: str) -> str | None:
    """The engine runs patterns with polars (Rust ``regex``): no look-around, no back-references,
    though Python's ``re`` (the loader's check) accepts them."""
    import polars as pl

    try:
        pl.DataFrame({"v": [""]}).select(pl.col("v").str.contains(f"^(?:{pattern})$"))
    except pl.exceptions.PolarsError:
        return "pattern cannot run in the engine (Rust regex: no look-around, no back-references)"
    return None
