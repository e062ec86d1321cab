"""The small typed data that flows through a call: audio, transcripts, understanding, bot actions, turns.

Everything here is an immutable value. Behaviour lives in the modules that produce or consume these.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

SAMPLE_WIDTH = 2  # bytes per sample: signed 16-bit little-endian PCM everywhere inside voicebot


def now() -> float:
    """Monotonic seconds: the clock every timing mark in voicebot uses."""
    return time.monotonic()


# --------------------------------------------------------------------------------------------------
# Audio and telephony input
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AudioFrame:
    """A chunk of mono signed-16-bit little-endian PCM, stamped when it arrived."""

    pcm: bytes
    sample_rate: int
    timestamp: float = field(default_factory=now)

    @property
    def duration(self) -> float:
        return len(self.pcm) / (SAMPLE_WIDTH * self.sample_rate)

    def samples(self) -> np.ndarray:
        """The samples as int16 (a view on the bytes, no copy)."""
        return np.frombuffer(self.pcm, dtype="<i2")


@dataclass(frozen=True, slots=True)
class Dtmf:
    """One DTMF digit, as Asterisk reports it when the key is released."""

    digit: str
    timestamp: float = field(default_factory=now)


@dataclass(frozen=True, slots=True)
class Hangup:
    """The far end closed the call."""

    reason: str = "remote"
    timestamp: float = field(default_factory=now)


InboundEvent = AudioFrame | Dtmf | Hangup


# --------------------------------------------------------------------------------------------------
# Hearing and understanding
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Transcript:
    """What the recogniser heard. Partial transcripts may change; a final one will not."""

    text: str
    confidence: float
    is_final: bool = True
    audio_seconds: float = 0.0
    engine: str = ""
    language: str = "en"
    voice: VoiceFeatures | None = None  # the caller's voice in a final (``speech/arousal.py``), set by the listener
    # the recogniser's other readings of the same audio, best first, as (text, confidence): whisper's beam
    alternatives: tuple[tuple[str, float], ...] = ()
    # the more accurate model's reading of the same audio, when the recogniser already made one
    # (``whisper-cascade``; empty when it did not answer in time): the turn's second hearing (``call/hearing.py``)
    # takes it instead of decoding again
    second_reading: Transcript | None = None
    # that reading while it is still being made (``whisper-cascade`` at an open question: tiny was sure enough
    # to answer on, but its beam was split): it resolves to the turn's best reading, which the turn's record
    # keeps (``call/hearing.settled_reading``); a handle, not a value, so it takes no part in comparisons
    later_reading: asyncio.Future[Transcript] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class VoiceFeatures:
    """How one utterance sounded: energy of its speech in dBFS, median pitch in semitones above 55 Hz (None
    when no frame is voiced), words per second of speech (None when the words are not known)."""

    energy_db: float
    pitch_st: float | None
    rate_wps: float | None


@dataclass(frozen=True, slots=True)
class RecognitionHints:
    """What the dialog expects next, used to bias recognition (whisper prompt/hotwords, vosk grammar)."""

    phrases: tuple[str, ...] = ()
    slot_type: str | None = None  # the flow's slot type name ("account_number"), for the NLU
    language: str = "en"
    # What kind of value that is ("digits", "yes_no", "number", ...): what recognition and the end of turn
    # bias by. Defaults to ``slot_type`` (the built-in types are named by their kind).
    kind: str | None = None
    digit_count: tuple[int, int] | None = None  # (min, max) digits of a digits answer, when the flow knows
    ruled_out: tuple[str, ...] = ()  # digit strings the caller said are wrong here: heard otherwise
    # While a number read back is fixed (``digit_count`` is off: a fix is short): the length the number has
    # when the caller says it all again
    whole_count: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.kind is None:
            object.__setattr__(self, "kind", self.slot_type)

    def count_for(self, digits: int, only_numbers: bool) -> tuple[int, int] | None:
        """How many digits an answer that has ``digits`` of them should have: ``digit_count``; while a number
        read back is fixed, ``whole_count`` when the answer is number words only (``only_numbers``) and more
        than half of it: the number said again, not a fix ("the last one is eight") or the rest of it. Dev,
        7-10 digits right after one repair turn: 157 of 167 without it, 159 with it (eval/README.md, "The
        repair turn …")."""
        if self.digit_count is not None or self.whole_count is None:
            return self.digit_count
        return self.whole_count if only_numbers and 2 * digits > self.whole_count[0] else None


@dataclass(frozen=True, slots=True)
class Entity:
    """A slot value found in an utterance. ``value`` is normalised ("double seven" -> "77")."""

    type: str
    value: Any
    text: str = ""
    start: int = -1
    end: int = -1
    confidence: float = 1.0
    inferred: bool = False  # read by meaning, not said ("it won't turn on": damaged); the dialog confirms it


@dataclass(frozen=True, slots=True)
class Emotion:
    """The caller's state for this turn. ``label`` is one of neutral, positive, frustrated, angry; ``score``
    its probability, for frustrated and angry the probability that the caller is upset (either of them)."""

    label: str
    score: float
    sentiment: float = 0.0  # -1 (negative) .. +1 (positive)
    cues: tuple[str, ...] = ()  # what besides the words moved it: swearing, shouting, no_match, arousal, ...


@dataclass(frozen=True, slots=True)
class CallerSignals:
    """What the call knows about the caller beyond this turn's words (``nlu/emotion.py`` weighs them).
    ``no_matches``: turns in a row the bot did not understand before this one; ``arousal``: the voice
    against the caller's own baseline (``speech/arousal.py``, z-score; None before a baseline exists)."""

    no_matches: int = 0
    arousal: float | None = None


@dataclass(frozen=True, slots=True)
class Understanding:
    """The NLU result of one caller utterance. ``intent`` is None when it is out of scope; ``correction``
    is the corrected part of a correction ("no, I said 4 5 7" -> "4 5 7"), None when it is none;
    ``human_request``: the caller asks for a person ("just put me through"), whatever the intent's confidence;
    ``wait_request``: the whole answer asks the bot to wait ("hang on, let me find my card");
    ``far_from_examples``: the intent is a guess from words far from every example, at a confidence the dialog
    confirms (``nlu/intents.py``, ``FAR_CONFIDENCE``), which a second hearing of the turn may replace."""

    text: str
    intent: str | None
    confidence: float
    entities: tuple[Entity, ...] = ()
    emotion: Emotion | None = None
    alternatives: tuple[tuple[str, float], ...] = ()
    transcript_confidence: float = 1.0
    correction: str | None = None
    human_request: bool = False
    wait_request: bool = False
    far_from_examples: bool = False

    @property
    def out_of_scope(self) -> bool:
        return self.intent is None

    def entity(self, type_: str) -> Entity | None:
        return next((e for e in self.entities if e.type == type_), None)


@dataclass(frozen=True, slots=True)
class DigitsInput:
    """DTMF digits collected for the dialog (terminator stripped)."""

    digits: str
    terminated: bool = False


@dataclass(frozen=True, slots=True)
class NoInput:
    """The caller said nothing before the no-input timer ran out."""

    waited_s: float = 0.0


@dataclass(frozen=True, slots=True)
class CallStart:
    """The first input of every conversation: the call was answered."""

    caller_id: str = ""
    called: str = ""
    variables: tuple[tuple[str, str], ...] = ()


DialogInput = CallStart | Understanding | DigitsInput | NoInput


# --------------------------------------------------------------------------------------------------
# What the bot does
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expectation:
    """How to listen after a prompt: what to bias ASR to, timers, and whether DTMF is collected."""

    hints: RecognitionHints = RecognitionHints()
    no_input_s: float = 6.0
    max_digits: int = 0  # 0: DTMF not expected (a digit still interrupts the prompt)
    min_digits: int = 1
    terminator: str = "#"
    inter_digit_s: float = 3.0
    sensitive: bool = False  # the answer is a secret (a PIN): what the caller says or keys is not kept


@dataclass(frozen=True, slots=True)
class Say:
    """Speak text. ``interruptible=False`` plays to the end even if the caller talks."""

    text: str
    interruptible: bool = True
    language: str = "en"


@dataclass(frozen=True, slots=True)
class Listen:
    """Wait for the caller's next input (speech or DTMF) with these expectations."""

    expect: Expectation = Expectation()


@dataclass(frozen=True, slots=True)
class Handoff:
    """Transfer the caller to a human queue. The session builds the HandoffPacket."""

    reason: str
    queue: str = "general"
    skill: str | None = None
    priority: int = 0


@dataclass(frozen=True, slots=True)
class EndCall:
    """Hang up after any queued prompts have played."""

    reason: str = "completed"


BotAction = Say | Listen | Handoff | EndCall


# --------------------------------------------------------------------------------------------------
# What is recorded
# --------------------------------------------------------------------------------------------------

TurnStage = Literal[
    "speech_start", "first_pause", "speech_end", "asr_final", "heard_again", "nlu_done", "dialog_done",
    "tts_first_audio", "first_frame_sent", "barge_in", "second_reading",
]


@dataclass(slots=True)
class Turn:
    """One caller turn and the bot's answer, with a monotonic timestamp for every stage reached.

    Mutable while the turn is in progress (the session stamps marks); stored once complete.
    """

    index: int
    marks: dict[str, float] = field(default_factory=dict)
    caller_text: str = ""
    asr_confidence: float | None = None
    input_kind: str = "speech"  # speech | dtmf | no_input | start | continued (the next turn finished it)
    intent: str | None = None
    intent_confidence: float | None = None
    entities: dict[str, Any] = field(default_factory=dict)
    emotion: str | None = None
    emotion_score: float | None = None
    bot_text: str = ""
    decision: str = ""  # which dialog rule fired and why
    state: str = ""  # dialog state after the turn
    barged_in: bool = False

    def mark(self, stage: TurnStage, at: float | None = None) -> None:
        self.marks.setdefault(stage, now() if at is None else at)

    def latency(self, start: TurnStage, end: TurnStage) -> float | None:
        """Seconds between two marks, or None when either was not reached."""
        if start in self.marks and end in self.marks:
            return self.marks[end] - self.marks[start]
        return None


@dataclass(frozen=True, slots=True)
class HandoffPacket:
    """Everything an agent needs when the call pops on their screen."""

    call_id: str
    caller_id: str
    queue: str
    skill: str | None
    priority: int
    reason: str
    intent_summary: str
    slots: dict[str, Any]
    transcript: tuple[tuple[str, str], ...]  # (speaker, text), speaker in {"caller", "bot"}
    emotion_trail: tuple[tuple[str, float], ...]
    created_at: float  # wall-clock epoch seconds
    verified: bool = False  # the flow verified the caller (its ``vars.verified``)


CallOutcome = Literal["in_progress", "completed", "handoff", "abandoned", "error"]


# --------------------------------------------------------------------------------------------------
# Telephony control (engines.TelephonyControl): what voicebot asks of the PBX and what it hears back.


@dataclass(frozen=True, slots=True)
class QueueMember:
    """An agent's interface in a queue, as the PBX reports it."""

    interface: str  # what the queue rings, e.g. PJSIP/agent-101 (AMI: Location)
    name: str
    state_interface: str
    dynamic: bool  # added at run time (QueueAdd), not configured in queues.conf
    penalty: int
    calls_taken: int
    in_call: bool
    status: int  # device state: 1 not in use, 2 in use, 5 unavailable, 6 ringing (Asterisk's AST_DEVICE_*)
    paused: bool
    paused_reason: str


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """A caller waiting in a queue."""

    position: int
    channel: str
    unique_id: str
    caller_id: str
    wait_s: int
    priority: int


@dataclass(frozen=True, slots=True)
class QueueStatus:
    """One queue: its counters, its members and the callers waiting."""

    queue: str
    strategy: str
    calls: int  # callers waiting
    holdtime_s: int
    talktime_s: int
    completed: int
    abandoned: int
    members: tuple[QueueMember, ...]
    entries: tuple[QueueEntry, ...]


@dataclass(frozen=True, slots=True)
class OriginateRequest:
    """Call ``channel`` and, once it answers, run it from ``context``/``exten``/``priority``."""

    channel: str  # e.g. PJSIP/agent-101 or Local/100@outbound
    context: str
    exten: str
    priority: int = 1
    caller_id: str = ""
    timeout_s: float = 30.0
    variables: dict[str, str] = field(default_factory=dict)  # set on the new channel
    channel_id: str = ""  # the unique id the new channel gets (empty: the PBX picks one)


@dataclass(frozen=True, slots=True)
class OriginateResult:
    """How an originate ended."""

    success: bool
    channel: str
    unique_id: str
    reason: int  # Asterisk's cause: 4 answered, 3 no answer, 5 busy, 8 congestion, 0 failed


@dataclass(frozen=True, slots=True)
class TelephonyEvent:
    """An unsolicited PBX event (AMI ``Event: …``): its name and its fields, verbatim."""

    name: str
    fields: dict[str, str]
    at: float  # now() when it arrived
