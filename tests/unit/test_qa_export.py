"""Corrected turns as training examples: grouped per flow and intent, each once, masked text left out, and
written in the flows' own YAML shape (the bundle schema reads the intents back)."""

from __future__ import annotations

from datetime import UTC, datetime

import yaml

from voicebot.dialog.schema import IntentDef
from voicebot.qa.export import by_flow, flow_yaml
from voicebot.store.qa import Example


def test_examples_are_grouped_per_flow_and_intent_once_each() -> None:
    examples = [Example("banking", "lost_card", "block my card"), Example("retail", "order", "where is it"),
                Example("banking", "lost_card", "Block  my CARD"),  # the same words again
                Example("banking", "check_balance", "my balance"), Example("banking", "lost_card", "card ****1234"),
                Example("banking", "", "no intent"), Example("banking", "lost_card", "   ")]
    assert by_flow(examples) == {"banking": {"check_balance": ["my balance"], "lost_card": ["block my card"]},
                                 "retail": {"order": ["where is it"]}}


def test_the_yaml_is_in_the_flows_examples_format() -> None:
    text = flow_yaml("banking", {"lost_card": ["block my card", "I lost my wallet: Visa & all"]},
                     datetime(2026, 11, 2, 9, 30, tzinfo=UTC))
    assert text.startswith("# Corrected utterances for flow 'banking'") and "2026-11-02 09:30" in text
    data = yaml.safe_load(text)
    assert data == {"intents": {"lost_card": {"examples": ["block my card", "I lost my wallet: Visa & all"]}}}
    read = IntentDef.model_validate(data["intents"]["lost_card"])  # as a bundle's intent reads it
    assert read.examples == ["block my card", "I lost my wallet: Visa & all"]
