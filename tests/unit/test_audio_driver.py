"""The audio mode's pure parts: test -> caller script, call record -> turn outcomes, skips, demo DB reset."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from voicebot.caller.script import HangUp, SayText, SendDtmf, WaitForBot
from voicebot.designer.audio_tests import (
    SILENCE_TIMEOUT_S,
    DemoDbSnapshot,
    Heard,
    _with_heard,
    caller_script,
    outcomes_from_record,
    skip_reason,
)
from voicebot.designer.conversation_tests import (
    BackendSpec,
    ConversationResult,
    ConversationTest,
    ConversationTurn,
    TurnExpect,
    check_turn,
)


def _test(*turns: ConversationTurn, backend: BackendSpec = BackendSpec("demo")) -> ConversationTest:
    return ConversationTest(name="t", bundle="banking", backend=backend, turns=turns)


START = ConversationTurn("start", "", TurnExpect(bot_says=("Harbor Bank",)))
BALANCE = ConversationTurn(
    "caller", "what's my balance", TurnExpect(intent="check_balance", bot_says=("account number",))
)
KEYED = ConversationTurn("dtmf", "12345678#", TurnExpect(bot_says=("12345678", "is that right")))
SILENCE = ConversationTurn("silence", "", TurnExpect())
AGENT = ConversationTurn(
    "caller", "an agent please",
    TurnExpect(intent="agent", handoff={"queue": "banking", "reason": "caller_request"}),
)


def test_caller_script_waits_for_the_bot_before_every_turn_and_hangs_up() -> None:
    script = caller_script(_test(START, BALANCE, KEYED, SILENCE))
    kinds = [type(s) for s in script.steps]
    assert kinds == [WaitForBot, SayText, WaitForBot, SendDtmf, WaitForBot, WaitForBot, HangUp]
    assert script.steps[1] == SayText("what's my balance")
    assert script.steps[3].digits == "12345678#"
    assert script.steps[5].timeout == SILENCE_TIMEOUT_S  # the silence turn waits for the reprompt


def _record(outcome: str = "abandoned", handoff: dict | None = None) -> dict:
    return {
        "outcome": outcome,
        "handoff": handoff,
        "turns": [
            {"index": 1, "input_kind": "speech", "caller_text": "What's my balance?",
             "intent": "check_balance", "intent_confidence": 0.9, "entities": {}, "state": "verify.account",
             "bot_text": "What's your eight digit account number?",
             "decision": "intent check_balance; goto verify"},
            {"index": 0, "input_kind": "start", "bot_text": "Thanks for calling Harbor Bank.",
             "state": "menu"},
            {"index": 2, "input_kind": "dtmf", "entities": {"dtmf": "12345678"}, "intent": None,
             "bot_text": "That's {digits:12345678}. Is that right?", "state": "verify.confirm"},
        ],
    }


def test_record_turns_map_to_the_test_turns_in_order() -> None:
    mapping = outcomes_from_record(_test(START, BALANCE, KEYED), _record())
    assert mapping.problems == ()
    greeting, balance, keyed = mapping.outcomes
    assert check_turn(START.expect, greeting) == []
    assert balance.intent == "check_balance" and balance.state == "verify.account"
    assert balance.decisions == ("intent check_balance", "goto verify")
    assert check_turn(BALANCE.expect, balance) == []
    assert check_turn(KEYED.expect, keyed) == []  # say-as tags compared as the text mode does
    assert not keyed.ended and keyed.slots is None  # slots are not in the record: not checked
    assert mapping.heard == (
        Heard("speech", "What's my balance?", "check_balance", 0.9),
        Heard("dtmf", "12345678", None, None),
    )


def test_a_misheard_intent_fails_the_turn() -> None:
    record = _record()
    record["turns"][0]["intent"] = None
    mapping = outcomes_from_record(_test(START, BALANCE, KEYED), record)
    assert check_turn(BALANCE.expect, mapping.outcomes[1]) == [
        "intent: expected 'check_balance', got None (0.90)"
    ]


def test_the_handoff_packet_lands_on_the_last_turn() -> None:
    packet = {"queue": "banking", "reason": "caller_request", "priority": 0, "skill": None}
    record = {"outcome": "handoff", "handoff": packet,
              "turns": [{"index": 0, "input_kind": "start", "bot_text": "Hi."},
                        {"index": 1, "input_kind": "speech", "intent": "agent", "intent_confidence": 0.8,
                         "caller_text": "an agent please", "bot_text": "Putting you through."}]}
    mapping = outcomes_from_record(_test(AGENT), record)
    assert mapping.outcomes[0].handoff is None
    last = mapping.outcomes[1]
    assert last.ended and last.handoff is not None and last.handoff.queue == "banking"
    assert check_turn(AGENT.expect, last) == []


def test_missing_and_extra_inputs_are_reported() -> None:
    short = outcomes_from_record(_test(START, BALANCE, KEYED, SILENCE), _record())
    assert len(short.problems) == 1 and "answered 2 of 3" in short.problems[0]
    extra = outcomes_from_record(_test(START, BALANCE), _record())
    assert len(extra.problems) == 1 and "2 caller inputs for 1" in extra.problems[0]
    ended = outcomes_from_record(_test(START, BALANCE, KEYED, SILENCE), _record("completed"))
    assert ended.problems == ()  # the bot ended the call: run_test reports the turns left over


def test_an_entry_whose_first_key_answered_on_its_own_is_one_input() -> None:
    """ "12345678#" keyed at "Did you want to …?": its "1" taken as a yes, then the whole entry as the number
    (``KeyedOn``): one scripted turn, the bot's answer to the entry its outcome."""
    record = _record()
    record["turns"][0]["bot_text"] = "Did you want to check your balance?"
    record["turns"][2]["index"] = 3
    record["turns"].append({"index": 2, "input_kind": "dtmf", "entities": {"dtmf": "1"},
                            "bot_text": "What's your eight digit account number?"})
    mapping = outcomes_from_record(_test(START, BALANCE, KEYED), record)
    assert mapping.problems == ()
    assert check_turn(KEYED.expect, mapping.outcomes[2]) == []
    assert [h.text for h in mapping.heard] == ["What's my balance?", "12345678"]
    # the same two inputs where the test keyed "1" on its own are two turns
    one = ConversationTurn("dtmf", "1", TurnExpect())
    kept = outcomes_from_record(_test(START, BALANCE, one, KEYED), record)
    assert kept.problems == () and [h.text for h in kept.heard] == ["What's my balance?", "1", "12345678"]


def test_tests_that_need_a_canned_backend_are_skipped() -> None:
    assert skip_reason(_test(BALANCE)) is None
    assert skip_reason(_test(BALANCE, backend=BackendSpec("none"))) is None
    assert "fixtures" in (skip_reason(_test(BALANCE, backend=BackendSpec("fixtures", {}))) or "")
    assert "error" in (skip_reason(_test(BALANCE, backend=BackendSpec("error"))) or "")


def test_what_was_heard_follows_each_caller_line() -> None:
    said = [("bot", "Hi"), ("caller", '"what\'s my balance"'), ("bot", "Number?"), ("caller", "DTMF 1")]
    result = ConversationResult(_test(BALANCE, KEYED), True, [], said, 0.0)
    _with_heard(result, [Heard("speech", "what's my balance", "check_balance", 0.91)])
    assert result.transcript == [("bot", "Hi"), ("caller", '"what\'s my balance"'),
                                 ("heard", '"what\'s my balance"  [intent check_balance 0.91]'),
                                 ("bot", "Number?"), ("caller", "DTMF 1"), ("heard", "(nothing)")]


def test_demo_database_is_restored_to_its_seeded_state(tmp_path: Path) -> None:
    live = tmp_path / "demo.db"
    with sqlite3.connect(live) as conn:
        conn.execute("CREATE TABLE cards (id INTEGER, blocked INTEGER)")
        conn.execute("INSERT INTO cards VALUES (1, 0)")
    snapshot = DemoDbSnapshot(live, tmp_path / "seeded.db")
    with sqlite3.connect(live) as conn:
        conn.execute("UPDATE cards SET blocked = 1")
    snapshot.restore()
    with sqlite3.connect(live) as conn:
        assert conn.execute("SELECT blocked FROM cards").fetchall() == [(0,)]
