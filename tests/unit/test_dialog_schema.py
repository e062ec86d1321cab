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
