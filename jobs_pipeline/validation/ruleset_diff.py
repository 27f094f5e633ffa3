"""``jobs-pipeline rules diff``: the effective rules two ruleset versions apply to one category
and region, matched by rule id: added, removed, and changed (parameter by parameter)."""

from dataclasses import dataclass, field

from jobs_pipeline.validation.ruleset import Rule, Ruleset


@dataclass
class RulesetDiff:
    old: Ruleset
    new: Ruleset
    added: list[Rule] = field(default_factory=list)
    removed: list[Rule] = field(default_factory=list)
    #: (old rule, new rule, {parameter: (old value, new value)})
    changed: list[tuple[Rule, Rule, dict[str, tuple[object, object]]]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def diff_rulesets(old: Ruleset, new: Ruleset, category: str | None = None, region: str | None = None) -> RulesetDiff:
    """What changes between ``old`` and ``new`` once both have the overrides of ``category``
    and ``region`` applied."""
    a, b = old.effective(category, region), new.effective(category, region)
    out = RulesetDiff(old=a, new=b)
    before = {r.rule_id: r for r in a.rules}
    after = {r.rule_id: r for r in b.rules}
    out.removed = [r for rid, r in before.items() if rid not in after]
    out.added = [r for rid, r in after.items() if rid not in before]
    for rid, rule in after.items():
        if rid in before and before[rid] != rule:
            x, y = before[rid].model_dump(), rule.model_dump()
            out.changed.append((before[rid], rule, {k: (x[k], y[k]) for k in x if x[k] != y[k]}))
    return out


def describe(rule: Rule) -> str:
    """A rule in one line: its id, severity and the parameters it sets."""
    params = rule.model_dump(exclude_defaults=True, exclude={"field", "kind", "id", "severity"})
    shown = ", ".join(f"{k}: {v}" for k, v in params.items())
    return f"{rule.rule_id} [{rule.severity}] {rule.field} {rule.kind}" + (f" ({shown})" if shown else "")


def render(d: RulesetDiff) -> list[str]:
    """The diff as text lines: ``+`` added, ``-`` removed, ``~`` changed."""
    scope = ", ".join(d.new.applied) or "no overrides"
    lines = [f"{d.old.ref} -> {d.new.ref} ({scope})"]
    if d.empty:
        return [*lines, "  no change in the effective rules"]
    lines += [f"+ {describe(r)}" for r in d.added]
    lines += [f"- {describe(r)}" for r in d.removed]
    for old, _new, params in d.changed:
        changes = "; ".join(f"{k}: {_show(a)} -> {_show(b)}" for k, (a, b) in params.items())
        lines.append(f"~ {old.rule_id} {old.field} {old.kind}: {changes}")
    return lines


def _show(value: object) -> str:
    return "unset" if value is None else str(value)
