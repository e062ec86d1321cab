"""The QA console's pure parts: the call list's filter read from a query string (bad values refused with a
422, never a 500), the search words, a turn's place in the recording and its stage latencies, the bot's words
as spoken, and the score trend's span."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from voicebot.store.qa import CallFilter, Correction, period_start, search_words
from voicebot.store.records import CallRecord, TurnRecord
from voicebot.web.pages import Refused
from voicebot.web.qa import call_filter, trend_span, turn_views

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_the_filter_reads_every_field() -> None:
    wanted = call_filter({"words": " stolen card ", "since": "2026-11-01", "until": "2026-11-30",
                          "flow": "banking", "intent": "lost_card", "outcome": "handoff", "emotion": "negative",
                          "reason": "caller_request", "contained": "no", "agent": "ann",
                          "disposition": "resolved", "score_min": "50", "score_max": "99.5", "page": "2"})
    assert wanted == CallFilter(words="stolen card", since=date(2026, 11, 1), until=date(2026, 11, 30),
                                flow="banking", intent="lost_card", outcome="handoff", emotion="negative",
                                reason="caller_request", contained=False, agent="ann", disposition="resolved",
                                score_min=50.0, score_max=99.5)
    assert call_filter({}) == CallFilter() and call_filter({"flow": "  ", "contained": ""}) == CallFilter()
    assert call_filter({"contained": "yes"}).contained is True


@pytest.mark.parametrize("params", [{"since": "yesterday"}, {"until": "2026-02-30"}, {"until": "9999-12-31"},
                                    {"since": "0001-01-01"}, {"score_min": "-1"},
                                    {"score_max": "1e9"}, {"score_min": "nan"}, {"contained": "maybe"},
                                    {"flow": "x" * 65}, {"words": "w" * 201}])
def test_a_bad_filter_is_a_422_that_names_it(params: dict[str, str]) -> None:
    with pytest.raises(Refused) as refused:
        call_filter(params)
    assert refused.value.status == 422 and next(iter(params)) in refused.value.message


def test_search_words_drop_query_syntax() -> None:
    assert search_words('"Stolen" card* AND (NOT -blocked)') == ["stolen", "card", "and", "not", "blocked"]
    assert search_words("...") == [] and len(search_words("a " * 40)) == 12
    assert search_words("Café ÜBER") == ["café", "über"]


def _turn(index: int, seconds: float, marks: dict[str, float], bot: str = "") -> TurnRecord:
    return TurnRecord(index=index, recorded_at=START + timedelta(seconds=seconds), caller_text="hi",
                      asr_confidence=None, input_kind="speech", intent="greet", intent_confidence=0.9, entities={},
                      emotion=None, emotion_score=None, bot_text=bot, decision="", state="", barged_in=False,
                      marks=marks, response_ms=None)


def test_turns_are_placed_in_the_recording_with_their_stage_latencies() -> None:
    marks = {"first_frame_sent": 2050.0, "speech_start": 0.0, "asr_final": 1680.0, "speech_end": 1500.0,
             "nlu_done": 1720.0}
    call = CallRecord(id="c", caller_id="", flow="banking", started_at=START, ended_at=None, outcome="completed",
                      duration_s=None, queue=None, handoff=None, turn_count=2,
                      turns=(_turn(1, 10.05, marks, "The card ending in {digits:5678}."), _turn(0, 1.0, {})))
    fixed = Correction(1, "hello there", None, "quinn", START)
    first, second = turn_views(call, {1: fixed})
    assert (first.turn.index, first.start_s, first.stages, first.correction) == (0, 1.0, (), None)
    assert second.start_s == 8.0  # recorded 10.05 s in, its marks span 2.05 s
    assert [(s.name, s.ms) for s in second.stages] == [("speech_start", 0.0), ("speech_end", 1500.0),
                                                      ("asr_final", 180.0), ("nlu_done", 40.0),
                                                      ("first_frame_sent", 330.0)]
    assert second.spoken == "The card ending in five six seven eight."
    assert (second.said, second.intent) == ("hello there", "greet")  # the correction's text, the heard intent


def test_the_score_trend_span() -> None:
    today = datetime.now(UTC).date()
    assert trend_span("", "", "week") == (today - timedelta(weeks=12), today, "week")
    assert trend_span("2026-01-01", "2026-01-31", "day") == (date(2026, 1, 1), date(2026, 1, 31), "day")
    for since, until, period in (("2026-02-01", "2026-01-01", "week"), ("", "", "year"), ("2026-1-1", "", "day"),
                                 ("2000-01-01", "2026-01-01", "month"), ("9999-12-30", "9999-12-31", "day")):
        with pytest.raises(ValueError):
            trend_span(since, until, period)
    assert period_start(date(2026, 11, 5), "week") == date(2026, 11, 2)  # Monday
    assert period_start(date(2026, 11, 5), "month") == date(2026, 11, 1)


def test_a_turn_is_never_placed_before_the_turn_before_it() -> None:
    """Placement is an estimate (recorded time minus its stages): a long second turn must not land before the
    first, or the player would highlight the wrong line when the first is chosen."""
    long_stages = {"speech_start": 0.0, "first_frame_sent": 9000.0}  # its marks span 9 s
    call = CallRecord(id="c", caller_id="", flow="banking", started_at=START, ended_at=None, outcome="completed",
                      duration_s=None, queue=None, handoff=None, turn_count=2,
                      turns=(_turn(0, 5.0, {}), _turn(1, 12.0, long_stages)))
    first, second = turn_views(call, {})
    assert (first.start_s, second.start_s) == (5.0, 5.1)  # 12 - 9 = 3 s would be before the first turn
