"""One call event of every type, filled in, for the JSON round-trip tests of the buses."""

from __future__ import annotations

from voicebot.events import (
    AgentPresence,
    BargeInEvent,
    CallEnded,
    CallEvent,
    CallFault,
    CallStarted,
    CallState,
    CallStateChanged,
    DtmfEvent,
    HandedOff,
    NoiseDiscardedEvent,
    PlaybackFinished,
    PlaybackStarted,
    SpeechEndedEvent,
    SpeechStartedEvent,
    SurveyAnswered,
    TranscriptEvent,
    TurnCompleted,
)
from voicebot.types import HandoffPacket, Turn


def one_of_each(call_id: str) -> list[CallEvent]:
    packet = HandoffPacket(call_id, "+15551234", "cards", "cards", 2, "caller_request", "lost card",
                           {"account": "1234"}, (("caller", "my card is lost"), ("bot", "Putting you through.")),
                           (("frustrated", 0.7),), 1_790_000_000.5)
    turn = Turn(index=1, marks={"speech_end": 10.0, "first_frame_sent": 10.4}, caller_text="lost card",
                asr_confidence=0.9, intent="lost_card", intent_confidence=0.8, entities={"account": "1234"},
                emotion="frustrated", emotion_score=0.7, bot_text="Sorry to hear that.", decision="intent",
                state="lost_card", barged_in=True)
    return [
        CallStarted(call_id, caller_id="+15551234", flow="banking", sample_rate=8000),
        CallStateChanged(call_id, state=CallState.SPEAKING, previous=CallState.RINGING_IN),
        SpeechStartedEvent(call_id),
        SpeechEndedEvent(call_id, duration_s=1.25),
        TranscriptEvent(call_id, text="lost card", confidence=0.9, is_final=True),
        NoiseDiscardedEvent(call_id, reason="backchannel"),
        DtmfEvent(call_id, digit="#"),
        PlaybackStarted(call_id, text="Sorry to hear that.", utterance_id="u1"),
        PlaybackFinished(call_id, text="Sorry to hear that.", completed=False, utterance_id="u1"),
        BargeInEvent(call_id, text="lost card", utterance_id="u1"),
        TurnCompleted(call_id, turn=turn),
        HandedOff(call_id, packet=packet),
        CallFault(call_id, stage="tts", error="RuntimeError('x')"),
        CallEnded(call_id, outcome="handoff", reason="caller_request"),
        SurveyAnswered(call_id, flow="banking", question="satisfaction", score=4, via="dtmf"),
        AgentPresence(call_id, agent="ann", state="on_call", reason="", queue="cards", origin="worker-1"),
    ]
