"""Each class of validation problem, reported with its line, and the `voicebot validate` command."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from voicebot.cli import app
from voicebot.dialog.loader import load_bundle

BASE = """\
intents:
  order_status:
    examples: [where is my order, order status, track my order, has my order shipped, my delivery]
slot_types:
  order_number: {kind: digits, min_length: 6, max_length: 6}
flows:
  main:
    steps:
      - id: menu
        menu:
          prompt: "How can I help?"
      - end: "Bye"
  orders:
    intent: order_status
    steps:
      - ask: order_number
        prompt: "Order number?"
      - say: "Order {digits:slots.order_number} is on its way."
"""


def problems_for(tmp_path: Path, text: str):
    path = tmp_path / "b.yaml"
    path.write_text(text)
    bundle, problems = load_bundle(path)
    return bundle, [(p.line, p.message, p.severity) for p in problems]


def only_error(tmp_path: Path, text: str, fragment: str) -> int:
    bundle, found = problems_for(tmp_path, text)
    assert bundle is None
    hits = [line for line, msg, sev in found if fragment in msg and sev == "error"]
    assert hits, found
    return hits[0]


def test_base_is_valid(tmp_path):
    bundle, found = problems_for(tmp_path, BASE)
    assert bundle is not None and found == []


def test_unknown_step(tmp_path):
    assert only_error(tmp_path, BASE.replace('- say: "Order', '- sya: "Order'), "unknown step") == 18


def test_missing_slot_in_a_prompt(tmp_path):
    text = BASE.replace("slots.order_number} is", "slots.order_id} is")
    assert only_error(tmp_path, text, "missing slot 'order_id'") == 18


def test_missing_slot_type(tmp_path):
    text = BASE.replace("      - ask: order_number\n", "      - ask: order_number\n        type: order_nr\n")
    assert only_error(tmp_path, text, "missing slot type 'order_nr'") == 17


def test_unreachable_step_and_flow(tmp_path):
    text = (
        BASE.replace('      - end: "Bye"', '      - end: "Bye"\n      - say: "never"')
        + "  orphan:\n    steps:\n      - say: hi\n"
    )
    assert only_error(tmp_path, text, "unreachable step") == 13
    assert only_error(tmp_path, text, "unreachable flow 'orphan'") == 20


def test_intent_with_too_few_examples(tmp_path):
    text = BASE.replace(", has my order shipped, my delivery", "")
    assert only_error(tmp_path, text, "has 3 example(s); at least 5") == 2


def test_bad_regex(tmp_path):
    text = BASE.replace("slot_types:\n", 'slot_types:\n  ref: {kind: regex, pattern: "[A-Z"}\n')
    assert only_error(tmp_path, text, "bad regex in slot type 'ref'") == 5


def test_unknown_goto_target_and_flow_and_intent(tmp_path):
    text = BASE.replace('      - end: "Bye"', "      - goto: nowhere\n      - flow: nothing")
    only_error(tmp_path, text, "unknown goto target 'nowhere'")
    only_error(tmp_path, text, "unknown flow 'nothing'")
    text = BASE.replace("intent: order_status", "intent: order_stats")
    only_error(tmp_path, text, "unknown intent 'order_stats'")


def test_bad_condition_and_unknown_say_as_tag(tmp_path):
    text = BASE.replace(
        '      - end: "Bye"', '      - branch:\n          - if: "slots.x >"\n            goto: menu'
    )
    assert only_error(tmp_path, text, "bad expression") == 13
    text = BASE.replace("{digits:slots.order_number}", "{digitz:slots.order_number}")
    only_error(tmp_path, text, "unknown say-as tag 'digitz'")


def test_reserved_intent_name(tmp_path):
    text = BASE.replace(
        "  order_status:\n    examples",
        "  help:\n    examples: [a, b, c, d, e]\n  order_status:\n    examples",
    )
    only_error(tmp_path, text, "reserved")


def test_every_problem_is_reported_at_once(tmp_path):
    text = BASE.replace('- say: "Order', '- sya: "Order').replace(", has my order shipped, my delivery", "")
    _, found = problems_for(tmp_path, text)
    messages = " | ".join(m for _, m, _ in found)
    assert "unknown step" in messages and "at least 5" in messages


def test_validate_command_prints_file_line_col_and_fails(tmp_path):
    (tmp_path / "b.yaml").write_text(BASE.replace('- say: "Order', '- sya: "Order'))
    result = CliRunner().invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    assert f"{tmp_path / 'b.yaml'}:18:9: error: unknown step" in result.output


def test_validate_command_json_and_success(tmp_path):
    (tmp_path / "b.yaml").write_text(BASE)
    result = CliRunner().invoke(app, ["validate", str(tmp_path), "--json"])
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["bundles"] == ["b"] and report["errors"] == 0


def test_dtmf_option_must_be_a_list_value(tmp_path):
    text = BASE.replace(
        "slot_types:\n", "slot_types:\n  topic: {kind: list, values: {a: [x], b: [y]}}\n"
    ).replace(
        "      - ask: order_number\n",
        '      - ask: topic\n        prompt: "Topic?"\n'
        '        dtmf: {options: {"1": a, "2": c}}\n      - ask: order_number\n',
    )
    assert only_error(tmp_path, text, "'c' is not a value of list type 'topic'") == 19
