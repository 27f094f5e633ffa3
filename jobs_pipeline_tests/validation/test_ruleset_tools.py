"""Team-owned rulesets and the ``rules`` commands: JOBS_PIPELINE_RULESETS_DIR beside the shipped
rulesets (a shipped name@version with other rules refused), ``rules list``, ``rules lint``,
``rules diff``; rule messages name only the checks a rule applies, bounds as written."""

import json
from pathlib import Path

import pytest
import yaml

from jobs_pipeline.cli import main
from jobs_pipeline.domain.errors import RulesetError
from jobs_pipeline.validation import expressions as ex
from jobs_pipeline.validation.ruleset import (RULESETS_DIR, Rule, RulesetFile, load_ruleset, parse_ruleset,
                                              use_extra_rulesets)
from jobs_pipeline.validation.ruleset_diff import diff_rulesets

TEAM = {"name": "team_shop", "version": "1", "marketplace": "team_shop",
        "rules": [{"field": "id", "kind": "required"}, {"field": "title", "kind": "length", "min": 3, "max": 150}]}


@pytest.fixture(autouse=True)
def _shipped_only():
    yield
    use_extra_rulesets([])


@pytest.fixture
def team_dir(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "team-rulesets"
    folder.mkdir()
    monkeypatch.setenv("JOBS_PIPELINE_RULESETS_DIR", str(folder))
    return folder


def test_gtin_message_names_only_the_checks_the_rule_applies() -> None:
    no_prefixes = Rule(field="gtin", kind="gtin", banned_prefixes=[])
    assert "coupon" not in ex.message(no_prefixes) and "prefix" not in ex.message(no_prefixes)
    assert ex.message(Rule(field="gtin", kind="gtin")).endswith("and no coupon prefix")
    assert ex.message(Rule(field="gtin", kind="gtin", banned_prefixes=["2"])).endswith("and no prefix 2")


def test_numbers_print_as_written() -> None:
    rs = parse_ruleset(yaml.safe_dump({**TEAM, "rules": [
        {"field": "title", "kind": "length", "min": 3, "max": 150},
        {"field": "price", "kind": "range", "min": 0.5, "max": 1000}]}), "t.yaml")
    length, price = rs.rules
    assert ex.message(length) == "title must have at least 3 and at most 150 characters"
    assert ex.message(price) == "price must be a number >= 0.5 and <= 1000"
    assert length.model_dump(exclude_defaults=True)["min"] == 3 and isinstance(length.min, int)


def test_rules_show_prints_integers_as_integers(capsys, data_dir) -> None:
    assert main(["rules", "show", "google_merchant"]) == 0
    out = capsys.readouterr().out
    assert '"max": 150' in out and "150.0" not in out


def test_team_folder_rulesets_sit_beside_the_shipped_ones(team_dir: Path, capsys) -> None:
    (team_dir / "team_shop.yaml").write_text(yaml.safe_dump(TEAM))
    assert main(["rules", "list", "--json"]) == 0
    listed = {r["ruleset"]: r for r in json.loads(capsys.readouterr().out)}
    assert listed["team_shop@1"]["origin"] == str(team_dir / "team_shop.yaml")
    assert listed["google_merchant@2"]["origin"] == "shipped" and listed["team_shop@1"]["marketplace"] == "team_shop"
    assert main(["rules", "list"]) == 0
    text = capsys.readouterr().out
    assert "team_shop@1" in text and "shipped" in text


def test_a_team_ruleset_validates_a_feed(team_dir: Path, tmp_path: Path, capsys) -> None:
    (team_dir / "team_shop.yaml").write_text(yaml.safe_dump(TEAM))
    feed = tmp_path / "feed.csv"
    feed.write_text("id,title\n1,ok title\n,x\n")
    assert main(["validate", str(feed), "--marketplace", "team_shop", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)["metrics"]
    assert metrics["ruleset"] == "team_shop@1" and metrics["records_error"] == 1


def test_a_file_claiming_a_shipped_version_with_other_rules_is_refused(team_dir: Path, capsys) -> None:
    shipped = yaml.safe_load((RULESETS_DIR / "shopee.yaml").read_text())
    (team_dir / "same.yaml").write_text(yaml.safe_dump(shipped))  # the same content: fine
    assert main(["rules", "list"]) == 0
    capsys.readouterr()
    shipped["rules"] = shipped["rules"][1:]
    (team_dir / "same.yaml").write_text(yaml.safe_dump(shipped))
    assert main(["rules", "list"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ruleset file ") and "same.yaml" in err
    assert f"claims the shipped shopee@{shipped['version']} with different rules" in err
    # and the shipped rulesets stay usable in the process
    assert load_ruleset("shopee").rules


def test_two_team_files_with_one_ref_are_refused() -> None:
    text = yaml.safe_dump(TEAM)
    with pytest.raises(RulesetError, match="team_shop@1 is defined twice"):
        use_extra_rulesets([RulesetFile("/x/a.yaml", text), RulesetFile("/x/b.yaml", text)])


def test_rulesets_dir_must_be_a_folder(tmp_path: Path, data_dir: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("JOBS_PIPELINE_RULESETS_DIR", str(tmp_path / "missing"))
    assert main(["rules", "list"]) == 2
    assert "JOBS_PIPELINE_RULESETS_DIR" in capsys.readouterr().err


BAD = {"name": "bad", "version": "1", "marketplace": "bad", "rules": [
    {"field": "title", "kind": "length", "min": 10, "max": 5},
    {"field": "sku", "kind": "regex", "pattern": "([a-z"},
    {"field": "sku2", "kind": "regex", "pattern": "(?=a)b"},
    {"field": "color", "kind": "enum", "values": ["red", "blue", "red"]},
    {"field": "price", "kind": "spelling"},
    {"field": "launch", "kind": "type", "type": "date"},
    {"field": "price", "kind": "compare", "op": "<=", "other": "launch"},
    {"field": "stock", "kind": "range", "min": 3, "max": 1},
], "overrides": {"region": {"BR": [{"field": "pricee", "kind": "required"}]}}}


def test_lint_lists_every_problem_and_exits_2(tmp_path: Path, capsys) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(BAD, sort_keys=False))
    assert main(["rules", "lint", str(path)]) == 2
    lines = capsys.readouterr().out.splitlines()
    expected = [
        "rule #1 (field 'title'): impossible bounds",
        "rule #2 (field 'sku'): pattern does not compile",
        "rule #3 (field 'sku2'): pattern cannot run in the engine",
        "rule #4 (field 'color'): values listed twice: red",
        "rule #5 (field 'price'): kind: Input should be",
        "rule #7 (field 'price'): compare needs numbers but field 'launch' is a date",
        "rule #8 (field 'stock'): impossible bounds",
        "overrides region BR rule #1 (field 'pricee'): overrides field 'pricee'",
    ]
    assert len(lines) == len(expected)
    for line, start in zip(lines, expected, strict=True):
        assert line.startswith(f"{path}: {start}")


def test_lint_passes_the_shipped_rulesets_and_says_nothing(capsys) -> None:
    files = sorted(str(p) for p in RULESETS_DIR.iterdir())
    assert main(["rules", "lint", *files]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(("text", "problem"), [
    ("name: [", "not valid YAML"),
    ("- a\n- b\n", "top level: expected a mapping"),
    (yaml.safe_dump({**TEAM, "rules": [{"field": "t", "kind": "length", "min": 2.5}]}), "not a whole number"),
    (yaml.safe_dump({**TEAM, "rules": [{"field": "t", "kind": "length", "max": 5, "pattern": "x"}]}),
     "pattern mean(s) nothing to kind 'length'"),
])
def test_lint_problems(tmp_path: Path, capsys, text: str, problem: str) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(text)
    assert main(["rules", "lint", str(path)]) == 2
    assert problem in capsys.readouterr().out


def test_diff_lists_added_removed_and_changed_effective_rules(capsys, data_dir) -> None:
    d = diff_rulesets(load_ruleset("google_merchant@1"), load_ruleset("google_merchant@2"), "electronics", "BR")
    assert "price.decimal_range" in {r.rule_id for r in d.removed}
    assert {"price.range", "gtin.required", "currency.iso4217"} <= {r.rule_id for r in d.added}
    changed = {old.rule_id: params for old, _, params in d.changed}
    assert changed["brand.length"]["severity"] == ("warning", "error")
    assert main(["rules", "diff", "google_merchant@1", "google_merchant@2", "--category", "electronics",
                 "--region", "BR"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "google_merchant@1 -> google_merchant@2 (category:electronics, region:BR)"
    assert any(line.startswith("+ gtin.required") for line in out)
    assert any(line.startswith("- price.decimal_range") for line in out)
    assert "~ brand.length brand length: severity: warning -> error" in out


def test_diff_of_a_version_with_itself_is_empty(capsys, data_dir) -> None:
    assert main(["rules", "diff", "amazon@2", "amazon@2"]) == 0
    assert "no change in the effective rules" in capsys.readouterr().out
