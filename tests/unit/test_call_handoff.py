from voicebot.call.handoff import build_packet, intent_summary, route
from voicebot.types import Handoff, Turn


def _turns() -> list[Turn]:
    greet = Turn(index=0, input_kind="start", bot_text="Welcome to the bank. How can I help?")
    ask = Turn(index=1, caller_text="I lost my card", intent="card_lost", intent_confidence=0.93,
               emotion="frustrated", emotion_score=0.7, bot_text="Sorry to hear that. Your account number?")
    digits = Turn(index=2, input_kind="dtmf", entities={"dtmf": "12345678"}, emotion=None,
                  bot_text="Thanks.")
    angry = Turn(index=3, caller_text="just get me a person", intent="agent", emotion="angry", emotion_score=0.9)
    return [greet, ask, digits, angry]


def test_packet_carries_transcript_slots_and_emotion_trail():
    packet = build_packet("c1", "+15550001", Handoff("caller_request", queue="cards", skill="cards", priority=1),
                          _turns(), {"account_number": "12345678"})
    assert packet.queue == "cards" and packet.skill == "cards" and packet.priority == 1
    assert packet.transcript[0] == ("bot", "Welcome to the bank. How can I help?")
    assert ("caller", "I lost my card") in packet.transcript
    assert ("caller", "[DTMF 12345678]") in packet.transcript
    assert packet.emotion_trail == (("frustrated", 0.7), ("angry", 0.9))
    assert packet.slots == {"account_number": "12345678"}
    assert "card_lost" in packet.intent_summary and "account_number=12345678" in packet.intent_summary


def test_route_raises_priority_for_tier_and_anger():
    base = Handoff("caller_request", queue="banking", priority=0)
    assert route(base, {}, []).priority == 0
    assert route(base, {"tier": "Gold"}, []).priority == 2
    assert route(base, {"tier": "vip"}, [("angry", 0.9)]).priority == 4
    assert route(base, {}, [("angry", 0.9), ("neutral", 0.5), ("neutral", 0.5), ("neutral", 0.5)]).priority == 0


def test_summary_without_intents():
    assert intent_summary([], {}, "no_input").startswith("Caller wanted: no intent recognised")
