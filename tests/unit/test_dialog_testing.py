"""The conversation test runner: file format, expectation checks, backends, the text driver, chat."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from fakes import FakeNlu
from dialogs import correction, example_bundle
from voicebot.designer.chat import chat
from voicebot.dialog.loader import load_bundle
from voicebot.designer.conversation_tests import (
    BackendSpec,
    ConversationTest,
    ConversationTurn,
    TextDriver,
    TurnExpect,
    TurnOutcome,
    check_turn,
    format_results,
    load_tests,
    results_json,
    run_suite,
    run_test,
)
from voicebot.types import Handoff

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bundle():
    return example_bundle()


@pytest.fixture(scope="module")
def nlu(bundle):
    return FakeNlu(bundle.intents, {n: (d.kind, d.values) for n, d in bundle.slot_type_defs.items()})


def test_load_tests_reads_turns_expectations_and_backends():
    tests, problems = load_tests(ROOT / "dialogs", "example")
    assert problems == []
    first = tests[0]
    assert first.bundle == "example" and first.name == "order status by voice, confirmed"
    assert first.caller_id == "+15550111" and first.line == 10
    assert first.backend.mode == "fixtures" and first.backend.fixtures["GET /orders/123456"][0] == 200
    assert [t.kind for t in first.turns] == ["start", "caller", "caller", "caller", "caller", "dtmf"]
    assert first.turns[1].expect.intent == "order_status" and first.turns[5].expect.ends is True
    down = next(t for t in tests if t.name.startswith("backend down"))
    assert down.backend.mode == "error"
    oos = next(t for t in tests if t.name.startswith("out of scope"))
    assert oos.turns[0].expect.intent is None  # `intent: null` = expected out of scope


def test_tests_can_be_chosen_by_a_part_of_their_name():
    everything, _ = load_tests(ROOT / "dialogs")
    chosen, problems = load_tests(ROOT / "dialogs", match="BACKEND DOWN")
    assert problems == [] and 0 < len(chosen) < len(everything)
    assert all("backend down" in t.name.lower() for t in chosen)
    assert {t.bundle for t in load_tests(ROOT / "dialogs", "retail", "backend down")[0]} == {"retail"}


def test_bad_test_file_is_reported(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "x.test.yaml").write_text(
        "bundle: x\ntests:\n  - name: t\n    turns:\n"
        "      - caller: hi\n        dtmf: '1'\n      - caler: hi\n"
    )
    tests, problems = load_tests(tmp_path)
    assert [p.line for p in problems] == [5, 7]
    assert len(tests) == 1 and tests[0].turns == ()


def test_check_turn_lists_every_difference():
    outcome = TurnOutcome(
        ("That's {digits:123456}. Is that right?",),
        Handoff("x", "q"),
        True,
        "agent",
        0.8,
        {"order_number": "123456"},
        "main.menu",
    )
    expect = TurnExpect(
        intent="order_status",
        slots={"order_number": "123457", "pin": "1"},
        bot_says=("one two three", "goodbye"),
        bot_not_says=("right",),
        handoff={"queue": "cards"},
        ends=True,
        state="main.x",
    )
    failures = check_turn(expect, outcome)
    assert failures == [
        "intent: expected 'order_status', got 'agent' (0.80)",
        "slot order_number: expected '123457', got '123456'",
        "slot pin: expected '1', not filled",
        "bot_says: 'goodbye' not in [\"That's {digits:123456}. Is that right?\"]",
        "bot_not_says: 'right' was said",
        "handoff.queue: expected 'cards', got 'q'",
        "ends: expected True, the call did not end (handed off)",
        "state: expected 'main.x', got 'main.menu'",
    ]
    # "one two three" matched the say-as reading of {digits:123456}
    assert check_turn(TurnExpect(bot_says=("one two three",)), outcome) == []


async def test_example_tests_pass_with_the_fake_nlu(bundle, nlu):
    tests, _ = load_tests(ROOT / "dialogs", "example")
    # dates, times and emotions need the real NLU
    tests = [t for t in tests if not t.name.startswith(("callback", "an angry caller"))]
    results = await run_suite(tests, lambda t: TextDriver(bundle, nlu, find_correction=correction))
    assert [r.test.name for r in results if not r.passed] == [], format_results(results)
    report = results_json(results)
    assert report["passed"] == report["total"] == len(tests)


async def test_failing_test_reports_the_turn_and_transcript(bundle, nlu):
    test = ConversationTest(
        "wrong",
        "example",
        turns=(
            ConversationTurn(
                "caller", "where is my order", TurnExpect(intent="complaint", bot_says=("PIN",)), 7
            ),
        ),
    )
    result = await run_test(test, TextDriver(bundle, nlu, find_correction=correction))
    assert not result.passed
    assert result.failures[0].startswith(
        "turn 1 (\"where is my order\", line 7): intent: expected 'complaint'"
    )
    assert ("caller", '"where is my order"') in result.transcript
    assert "FAIL  example: wrong" in format_results([result])


async def test_demo_backend_mode_mounts_the_demo_app_under_the_backend_path(tmp_path, nlu):
    path = tmp_path / "d.yaml"
    path.write_text("""\
backend: http://127.0.0.1:8080/demo
flows:
  main:
    steps:
      - call: {webhook: /health, method: GET}
        on_error: down
      - say: "health {result.ok}"
        goto: bye
      - id: down
        say: "down"
      - id: bye
        end: "bye"
""")
    bundle, problems = load_bundle(path)
    assert bundle is not None, problems
    test = ConversationTest(
        "demo",
        bundle.name,
        backend=BackendSpec("demo"),
        turns=(ConversationTurn("start", "", TurnExpect(bot_says=("health yes",), ends=True)),),
    )
    result = await run_test(test, TextDriver(bundle, nlu))
    assert result.passed, result.failures


async def test_chat_shows_intent_slots_state_and_handoff(bundle, nlu, monkeypatch):
    lines = iter(["where is my order", "#123456#", "", "agent please", "n"])
    out = io.StringIO()
    monkeypatch.setattr(
        "voicebot.designer.chat.TextDriver",
        lambda b, n, backend_url=None: TextDriver(b, n, backend_url, find_correction=correction),
    )
    await chat(
        bundle,
        nlu,
        BackendSpec("none"),
        read=lambda prompt: next(lines),
        console=Console(file=out, width=200, color_system=None),
    )
    text = out.getvalue()
    assert "bot> How can I help you today?" in text
    assert "intent order_status" in text and "state order_status.get_order" in text
    assert '"order_number": "123456"' in text and "slot order_number filled by DTMF" in text
    assert "** handoff queue=example" in text
