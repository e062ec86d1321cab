"""Score cards: forms load (and bad ones are refused naming the file), each rule answers from a call record,
reviewers' answers are checked, and the score weighs the answers; the shipped forms load."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from voicebot.config import CHECKOUT
from voicebot.qa.forms import Rule, ScoreForm, auto_answer, auto_answers, load_forms, reviewer_answers, score
from voicebot.store.records import CallRecord, TurnRecord

AT = datetime(2026, 11, 2, tzinfo=UTC)
VERIFY = "webhook POST http://127.0.0.1:8080/demo/banking/verify → HTTP 200"
BALANCE = "webhook GET http://127.0.0.1:8080/demo/banking/accounts/12345678 → HTTP 200"


def turn(index: int, decision: str = "", bot: str = "Okay.", caller: str = "yes", response_ms: float | None = 500,
         state: str = "main") -> TurnRecord:
    return TurnRecord(index=index, recorded_at=AT, caller_text=caller, asr_confidence=0.9, input_kind="speech",
                      intent=None, intent_confidence=None, entities={}, emotion=None, emotion_score=None,
                      bot_text=bot, decision=decision, state=state, barged_in=False, marks={},
                      response_ms=response_ms)


def call(*turns: TurnRecord, outcome: str = "completed", handoff: dict | None = None) -> CallRecord:
    return CallRecord(id="c", caller_id="", flow="banking", started_at=AT, ended_at=AT, outcome=outcome,
                      duration_s=1.0, queue=None, handoff=handoff, turn_count=len(turns), turns=turns)


def rule(**kind) -> Rule:
    return Rule.model_validate(kind)


def test_before_answers_yes_no_or_not_applicable() -> None:
    verified_first = rule(before={"first": "banking/verify → HTTP 200", "then": "banking/accounts/"})
    verified = call(turn(0, "heard 'balance': check_balance"), turn(1, f"DTMF '4567'; {VERIFY}; {BALANCE}"))
    assert auto_answer(verified_first, verified).answer == "yes"  # the same turn, in order
    unverified = call(turn(0, BALANCE), turn(1, VERIFY))
    answered = auto_answer(verified_first, unverified)
    assert answered.answer == "no" and "turn 1" in answered.why
    failed = call(turn(0, VERIFY.replace("200", "401")), turn(1, BALANCE))
    assert auto_answer(verified_first, failed).answer == "no"  # a refused verification is not one
    assert auto_answer(verified_first, call(turn(0, VERIFY))).answer == "na"  # never read a balance
    by_state = rule(before={"first": "state verify", "then": "state balance"})
    assert auto_answer(by_state, call(turn(0, state="verify"), turn(1, state="balance"))).answer == "yes"


def test_never_said_reads_whole_words_on_the_side_asked() -> None:
    rude = rule(never_said={"words": ["stupid", "shut up"], "by": "bot"})
    assert auto_answer(rude, call(turn(0, bot="That is not a stupidity."))).answer == "yes"  # whole words
    said = auto_answer(rude, call(turn(0), turn(1, bot="Please SHUT UP.")))
    assert said.answer == "no" and "turn 2" in said.why
    assert auto_answer(rude, call(turn(0, caller="you stupid bot"))).answer == "yes"  # the caller's words
    either = rule(never_said={"words": ["stupid"], "by": "either"})
    assert auto_answer(either, call(turn(0, caller="you stupid bot"))).answer == "no"


def test_handoff_within_no_matches() -> None:
    quick = rule(handoff_within_no_matches=2)
    missed = [turn(i, f"heard 'mumble': no intent; no-match {i + 1}/2: not understood") for i in range(3)]
    handed = {"queue": "banking", "reason": "no_match"}
    assert auto_answer(quick, call(*missed[:2], outcome="handoff", handoff=handed)).answer == "yes"
    late = auto_answer(quick, call(*missed, outcome="handoff", handoff=handed))
    assert late.answer == "no" and "3 no-matches" in late.why
    assert auto_answer(quick, call(*missed, outcome="abandoned")).answer == "no"  # kept too long, never passed
    assert auto_answer(quick, call(turn(0))).answer == "na"


def test_response_time_and_outcome_rules() -> None:
    fast = rule(response_under_ms=1500)
    assert auto_answer(fast, call(turn(0, response_ms=900), turn(1, response_ms=1400))).answer == "yes"
    slow = auto_answer(fast, call(turn(0, response_ms=900), turn(1, response_ms=2100)))
    assert slow.answer == "no" and "2100 ms" in slow.why
    assert auto_answer(fast, call(turn(0, response_ms=None))).answer == "na"
    contained = rule(outcome_in=["completed"])
    assert [auto_answer(contained, call(outcome=o)).answer for o in ("completed", "handoff")] == ["yes", "no"]


def test_a_rule_has_exactly_one_kind_and_answers_yes_or_no() -> None:
    for bad in ({}, {"outcome_in": ["completed"], "response_under_ms": 5}, {"before": {"first": "(", "then": "x"}}):
        with pytest.raises(ValueError):
            Rule.model_validate(bad)
    with pytest.raises(ValueError, match="kind yes_no"):
        ScoreForm.model_validate({"name": "f", "questions": [{"id": "q", "text": "Q", "kind": "scale",
                                                               "rule": {"outcome_in": ["completed"]}}]})


FORM = ScoreForm.model_validate({"name": "f", "questions": [
    {"id": "handoff", "text": "Quick handoff", "weight": 2, "rule": {"handoff_within_no_matches": 2}},
    {"id": "polite", "text": "Polite", "weight": 1},
    {"id": "tone", "text": "Tone", "kind": "scale", "weight": 1}]})


def test_the_score_weighs_the_answers_and_leaves_out_na() -> None:
    assert score(FORM, {"handoff": "yes", "polite": "no", "tone": "5"}) == 75.0  # (2 + 0 + 1) / 4
    assert score(FORM, {"handoff": "na", "polite": "yes", "tone": "2"}) == 62.5  # (1 + 0.25) / 2
    assert score(FORM, {"handoff": "no"}) == 0.0
    assert score(FORM, {"handoff": "na", "polite": "na"}) is None  # nothing answered: no score


def test_reviewer_answers_cover_the_questions_without_a_rule() -> None:
    answers = reviewer_answers(FORM, {"q_polite": "yes", "q_tone": "4", "q_handoff": "no"})
    assert answers == {"polite": "yes", "tone": "4"}  # a rule question is never taken from the form
    assert reviewer_answers(FORM, {}) == {"polite": "na", "tone": "na"}
    for wrong in ({"q_polite": "6"}, {"q_tone": "yes"}):
        with pytest.raises(ValueError, match="choose one of"):
            reviewer_answers(FORM, wrong)
    assert auto_answers(FORM, call(turn(0)))["handoff"].answer == "na"


def test_forms_load_from_a_directory_and_bad_ones_name_their_file(tmp_path: Path) -> None:
    assert load_forms(tmp_path / "absent") == {}
    (tmp_path / "a.yaml").write_text("name: a\nflows: [banking]\nquestions:\n  - {id: q, text: Q}\n")
    forms = load_forms(tmp_path)
    assert list(forms) == ["a"] and forms["a"].applies_to("banking") and not forms["a"].applies_to("retail")
    (tmp_path / "b.yaml").write_text("name: a\nquestions:\n  - {id: q, text: Q}\n")
    with pytest.raises(ValueError, match="b.yaml.*taken"):
        load_forms(tmp_path)
    (tmp_path / "b.yaml").write_text("name: b\nquestions:\n  - {id: q, text: Q}\n  - {id: q, text: R}\n")
    with pytest.raises(ValueError, match="(?s)b.yaml.*unique"):
        load_forms(tmp_path)


def test_the_shipped_forms_load() -> None:
    forms = load_forms(CHECKOUT / "dialogs" / "qa")
    assert {"service", "banking_compliance"} <= set(forms)
    assert forms["service"].applies_to("retail") and not forms["banking_compliance"].applies_to("retail")
