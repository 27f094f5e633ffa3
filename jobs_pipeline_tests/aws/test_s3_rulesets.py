"""Team rulesets on S3 (``JOBS_PIPELINE_RULESETS_DIR=s3://bucket/rulesets``) and the backtest
over an S3 landing area, against moto."""

import json

import pytest
import yaml

from jobs_pipeline.cli import main
from jobs_pipeline.demo.samples import SampleFeed, write_sample
from jobs_pipeline.validation.ruleset import RULESETS_DIR, use_extra_rulesets

TEAM = {"name": "team_shop", "version": "1", "marketplace": "team_shop",
        "rules": [{"field": "id", "kind": "required"}]}


@pytest.fixture(autouse=True)
def _shipped_only():
    yield
    use_extra_rulesets([])


@pytest.fixture
def s3_env(monkeypatch, data_dir, aws_env, bucket):
    monkeypatch.setenv("JOBS_PIPELINE_RULESETS_DIR", f"s3://{bucket}/rulesets")
    return bucket


def test_rulesets_on_s3_are_listed_with_their_uri(s3, s3_env, capsys) -> None:
    s3.put_object(Bucket=s3_env, Key="rulesets/team_shop.yaml", Body=yaml.safe_dump(TEAM).encode())
    s3.put_object(Bucket=s3_env, Key="rulesets/README.txt", Body=b"not a ruleset")
    s3.put_object(Bucket=s3_env, Key="rulesets/old/team_shop.yaml", Body=b"not: [read")  # sub-folder: ignored
    assert main(["rules", "list", "--json"]) == 0
    listed = {r["ruleset"]: r["origin"] for r in json.loads(capsys.readouterr().out)}
    assert listed["team_shop@1"] == f"s3://{s3_env}/rulesets/team_shop.yaml"
    assert listed["amazon@2"] == "shipped"


def test_an_s3_file_claiming_a_shipped_version_is_refused(s3, s3_env, capsys) -> None:
    shipped = yaml.safe_load((RULESETS_DIR / "amazon.yaml").read_text())
    shipped["rules"] = shipped["rules"][:1]
    s3.put_object(Bucket=s3_env, Key="rulesets/amazon.yaml", Body=yaml.safe_dump(shipped).encode())
    assert main(["rules", "show", "amazon"]) == 2
    err = capsys.readouterr().err
    assert f"s3://{s3_env}/rulesets/amazon.yaml" in err and "claims the shipped amazon@2" in err


def test_backtest_reads_the_s3_landing_area(data_dir, s3, aws_env, bucket, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("JOBS_PIPELINE_LANDING_URI", f"s3://{bucket}/landing")
    spec = SampleFeed(marketplace="google_merchant", category="apparel", region="BR", rows=400, bad_every=5)
    local = write_sample(tmp_path, spec)
    s3.put_object(Bucket=bucket, Key=f"landing/{spec.relpath}", Body=local.read_bytes())
    s3.put_object(Bucket=bucket, Key="landing/amazon/x/US/f.csv", Body=b"id\n1\n")
    assert main(["rules", "backtest", "google_merchant@2", "--against", "google_merchant@1",
                 "--since", "2020-01-01", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [f["label"] for f in out["feeds"]] == [f"s3://{bucket}/landing/{spec.relpath}"]
    assert out["feeds"][0]["records"] == 400 and out["feeds"][0]["problem"] is None
