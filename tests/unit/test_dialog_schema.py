"""The published JSON Schema is current and accepts the repository's flows."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

from voicebot.dialog.schema import SCHEMA_PATH, json_schema

ROOT = Path(__file__).resolve().parents[2]


def test_published_schema_matches_the_models():
    assert (
        json.loads(SCHEMA_PATH.read_text()) == json_schema()
    ), "flow.schema.json is stale: run python -m voicebot.dialog.schema"


def test_flows_validate_against_the_json_schema():
    schema = json.loads(SCHEMA_PATH.read_text())
    for path in sorted((ROOT / "dialogs").glob("*.yaml")):
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)


def test_json_schema_rejects_an_unknown_top_level_key():
    schema = json.loads(SCHEMA_PATH.read_text())
    bad = {"flows": {"main": {"steps": [{"say": "hi"}]}}, "bakend": "x"}
    try:
        jsonschema.validate(bad, schema)
    except jsonschema.ValidationError as exc:
        assert "bakend" in exc.message
    else:
        raise AssertionError("an unknown key passed the schema")


def test_list_examples_are_carried_to_the_nlu_and_must_name_a_value():
    import pytest
    from pydantic import ValidationError

    from voicebot.dialog.loader import load_bundle
    from voicebot.dialog.schema import SlotTypeDef

    retail = load_bundle(ROOT / "dialogs" / "retail.yaml")[0]
    assert "it arrived in pieces" in retail.slot_types["return_reason"].examples["damaged"]
    values = {"damaged": ["broken"]}
    spec = SlotTypeDef(kind="list", values=values, examples={"damaged": ["it arrived in pieces"]})
    assert spec.examples == {"damaged": ["it arrived in pieces"]}
    with pytest.raises(ValidationError, match="examples for values the list does not have: damagd"):
        SlotTypeDef(kind="list", values=values, examples={"damagd": ["it arrived in pieces"]})
