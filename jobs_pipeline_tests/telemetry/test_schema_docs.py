"""The exported schema is current, and every documented example is a valid event."""

import json
import re
from pathlib import Path

import jsonschema
import pytest

from jobs_pipeline.telemetry.cloudevents import decode
from jobs_pipeline.telemetry.events import EventType
from jobs_pipeline.telemetry.schema import event_json_schema, example_cloudevents, render_schema

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _doc_examples() -> dict[str, dict]:
    text = (DOCS / "events.md").read_text()
    return {m.group(1): json.loads(m.group(2))
            for m in re.finditer(r"### `(job\.\w+)`\s+```json\n(.*?)\n```", text, re.S)}


def test_exported_schema_is_current():
    assert (DOCS / "events.schema.json").read_text() == render_schema(), (
        "regenerate: python -m jobs_pipeline.telemetry.schema docs/events.schema.json")


def test_docs_have_one_valid_example_per_type():
    examples = _doc_examples()
    assert set(examples) == {t.value for t in EventType}
    validator = jsonschema.Draft202012Validator(json.loads((DOCS / "events.schema.json").read_text()))
    for name, ce in examples.items():
        validator.validate(ce)
        event = decode(ce)
        assert event.type.value == name and ce["type"].endswith(f".jobs.{name}.v1")
    assert examples == {k: json.loads(json.dumps(v)) for k, v in example_cloudevents().items()}


def test_schema_rejects_a_half_event():
    validator = jsonschema.Draft202012Validator(event_json_schema())
    ce = json.loads(json.dumps(example_cloudevents()["job.completed"]))
    del ce["data"]["marketplace"]
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(ce)
    ce = json.loads(json.dumps(example_cloudevents()["job.completed"]))
    ce["partitionkey"] = ""
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(ce)
