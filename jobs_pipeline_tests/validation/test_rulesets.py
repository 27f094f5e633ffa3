"""Rulesets as data: schema errors name file, rule and parameter; versions; overrides by
category and region; ``jobs-pipeline rules show``."""

import json
from pathlib import Path

import pytest

from jobs_pipeline.cli import main
from jobs_pipeline.domain.errors import RulesetError
from jobs_pipeline.validation.ruleset import RULESETS_DIR, load_ruleset, read_ruleset_file, ruleset_for


def test_shipped_rulesets_load_and_are_versioned() -> None:
    for name in ("google_merchant", "mercado_livre", "amazon", "shopee"):
        rs = load_ruleset(name)
        assert rs.ref == f"{name}@{rs.version}" and rs.rules
    assert load_ruleset("google_merchant").version == "2"
    assert load_ruleset("google_merchant@1").version == "1"
    with pytest.raises(RulesetError, match="unknown ruleset 'google_merchant@9'"):
        load_ruleset("google_merchant@9")


def test_google_merchant_limits_from_the_spec() -> None:
    rules = {r.rule_id: r for r in load_ruleset("google_merchant").rules}
    assert rules["id.length"].max == 50 and rules["title.length"].max == 150
    assert rules["description.length"].max == 5000 and rules["brand.length"].max == 70
    assert rules["link.length"].max == 2000 and rules["image_link.length"].max == 2000
    assert rules["availability.enum"].values == ["in_stock", "out_of_stock", "preorder", "backorder"]
    assert rules["condition.enum"].values == ["new", "refurbished", "used"]
    assert {"981", "982", "983", "984", "99", "05"} == set(rules["gtin.gtin"].prefixes)


def test_unconfirmed_limits_are_marked() -> None:
    for name in ("mercado_livre", "shopee"):
        assert any(r.unconfirmed for r in load_ruleset(name).rules)
    text = (RULESETS_DIR / "shopee.yaml").read_text()
    assert "UNCONFIRMED" in text


def test_overrides_by_category_and_region() -> None:
    base = {r.rule_id for r in ruleset_for("google_merchant").rules}
    eff = ruleset_for("google_merchant", category="electronics", region="br")
    ids = {r.rule_id: r for r in eff.rules}
    assert "gtin.required" not in base and "gtin.required" in ids and "brand.required" in ids
    assert ids["currency.iso4217"].kind == "enum" and ids["currency.iso4217"].values == ["BRL"]
    assert eff.applied == ["category:electronics", "region:BR"] and eff.ref == "google_merchant@2"


@pytest.mark.parametrize("body,where", [
    ({"name": "x", "version": "1", "marketplace": "m", "rules": [{"field": "a", "kind": "required"},
                                                                  {"field": "price", "kind": "lenght"}]},
     "rule #2 (field 'price'): kind"),
    ({"name": "x", "version": "1", "marketplace": "m", "rules": [{"field": "t", "kind": "regex"}]},
     "rule #1 (field 't')"),
    ({"name": "x", "version": "1", "marketplace": "m", "rules": [{"field": "a", "kind": "required"}],
      "overrides": {"region": {"BR": [{"field": "c", "kind": "enum", "valuez": ["BRL"]}]}}},
     "rule #1 (field 'c')"),
])
def test_load_errors_name_file_rule_and_field(tmp_path: Path, body: dict, where: str) -> None:
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(body))
    with pytest.raises(RulesetError) as info:
        read_ruleset_file(path)
    assert "broken.json" in info.value.reason and where in info.value.reason


def test_cli_rules_show_prints_effective_ruleset(capsys) -> None:
    assert main(["rules", "show", "google_merchant", "--category", "electronics", "--region", "BR"]) == 0
    shown = json.loads(capsys.readouterr().out)
    ids = {r.get("id") or f"{r['field']}.{r['kind']}" for r in shown["rules"]}
    assert {"gtin.required", "brand.required", "currency.required", "currency.iso4217"} <= ids
    assert shown["applied"] == ["category:electronics", "region:BR"]


def test_electronics_requires_gtin_and_brand_as_errors() -> None:
    ids = {r.rule_id: r for r in ruleset_for("google_merchant", category="electronics").rules}
    assert ids["gtin.required"].severity == "error" and ids["brand.required"].severity == "error"
