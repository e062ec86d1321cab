"""One call, top to bottom: audio → VAD/end of turn → ASR → NLU → dialog → TTS → paced player.

Three small tasks per call (every task of a call lives in its :class:`CallTasks`, cancelled and awaited
when the call ends):

* ``_pump_audio`` reads the connection: audio goes to the :class:`Listener` (the call's rate follows the
  audio's: a slin16 channel's first frame may come long after the greeting started at 8 kHz), DTMF to the
  digit collector, hangup ends the call.
* ``_pump_listener`` turns what the listener hears into inputs: a finished utterance becomes an input
  for the dialog, real words while the bot speaks cut the bot off (barge-in).
* ``run`` is the conversation: it sends each input through NLU and the dialog engine and carries out
  the bot's actions (say, listen, hand off, end).

Any fault in any stage ends in an apology and a transfer to a human (see :meth:`CallSession._fail_to_human`).

The session only publishes events (``voicebot/events.py``): the call's state changes, its prompts (each
with an ``utterance_id``), what the caller said and keyed, every completed turn with its stage timings,
the handoff and the end. It never writes records: the call recorder (``store/recorder.py``) subscribes to
the bus and decides what it keeps, and the end of a call is published whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import structlog

from voicebot import events as ev
from voicebot.call.briefing import render_briefing
from voicebot.call.directory import CallDirectory, CallInfo, MemoryCallDirectory
from voicebot.call.dtmf import DigitCollector, KeyedOn, without_answer_key
from voicebot.call.handoff import build_packet, route
from voicebot.call.hearing import settled_reading, understand_turn
from voicebot.call.recording import RecordingPolicy, declines
from voicebot.call.routing import RoutingPlan
from voicebot.dialog.sensitive import MASK, Redactor
from voicebot.events import (
    MASKED_KEY,
    BargeIn,
    CallState,
    NoiseDiscarded,
    PartialTranscript,
    SpeechStarted,
    Utterance,
    wall_clock,
)
from voicebot.nlu.pii import SensitiveWords, masker_for
from voicebot.speech.arousal import VoiceBaseline, arousal
from voicebot.speech.listener import Listener
from voicebot.store.audit import SEALED_FIELDS, sealer_for
from voicebot.types import (
    AudioFrame,
    CallerSignals,
    CallStart,
    DialogInput,
    DigitsInput,
    Dtmf,
    EndCall,
    Expectation,
    Handoff,
    HandoffPacket,
    Listen,
    NoInput,
    RecognitionHints,
    Say,
    Transcript,
    Turn,
    now,
)

if TYPE_CHECKING:
    from voicebot.config import Settings
    from voicebot.call.recording import Recordings
    from voicebot.dialog.engine import DialogEngine
    from voicebot.engines import CallChannel, CallRecorderTap, LanguageUnderstanding, PlaybackHandle, SpeechRecognizer
    from voicebot.speech.tts import Speaker

log = structlog.get_logger(__name__)

APOLOGY = "I'm sorry, something went wrong on my side. Let me put you through to a colleague."
SHUTDOWN_NOTICE = "Please hold while I put you through to a colleague."
FILLER = "One moment, please."  # said when the dialog takes long to answer (a slow backend)
UNSAYABLE = "I'm sorry, I can't say that here."  # said instead of a prompt with a sensitive word (pii)
FLAGGED = "sensitive_words"  # the turn's entity listing the sensitive words the caller said
FAULT_QUEUE = "general"
BRIEFING_WAIT_S = 5.0  # after the bot let go, the agent's briefing may take this long to render
NOTICE_RATE = 8000  # APOLOGY, SHUTDOWN_NOTICE and FILLER are pre-rendered at this rate (app.py); any channel plays it

T = TypeVar("T")


@dataclass(frozen=True)
class DialogApp:
    """What one call needs from a flow bundle: its engine and its NLU, built once per bundle version."""

    name: str
    version: str
    engine: DialogEngine
    nlu: LanguageUnderstanding
    sensitive: Mapping[str, int] = field(default_factory=dict)  # slot -> characters left in clear when masked
    routing: RoutingPlan | None = None  # the bundle's intent -> skill map and queues
    recording: RecordingPolicy = RecordingPolicy()  # recorded or not, retention, the consent prompt
    surveys: frozenset[str] = frozenset()  # the slots its survey steps fill (dialog/schema.survey_questions)
    sensitive_words: tuple[str, ...] = ()  # the bundle's words the bot never says (beside pii.sensitive_words)


@dataclass(frozen=True)
class CallServices:
    """Shared by every call; built once by ``voicebot.app``."""

    settings: Settings
    recognizer: SpeechRecognizer
    speaker: Speaker
    bus: ev.Bus
    dialog_for: Callable[[CallInfo], DialogApp]  # picks the flow for a call (routing, hot reload)
    directory: CallDirectory = field(default_factory=MemoryCallDirectory)
    recordings: Recordings | None = None  # call recordings (call/recording.py); None: no call is recorded
    # hears a turn again when what the recogniser heard means nothing to the dialog (call/hearing.py); None: never
    second_hearing: SpeechRecognizer | None = None


@dataclass(frozen=True, slots=True)
class _Heard:
    """The caller's last utterance and the dialog state before the bot answered it, kept while the caller
    may still be finishing it (``speech.turn_continuation_s``); ``utterance`` None: a key that was no answer,
    kept while more keys may follow it (``call/dtmf.py``'s ``KeyedOn``)."""

    utterance: Utterance | None
    expected: Expectation  # what the dialog expected when it was said
    state_before: Any  # the engine's DialogState, deep-copied


class CallTasks:
    """The background tasks of one call: each is started here, and :meth:`close` cancels and awaits them."""

    def __init__(self, call_id: str) -> None:
        self._call_id = call_id
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        task = asyncio.create_task(work, name=f"{name}-{self._call_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def __len__(self) -> int:
        return len(self._tasks)

    async def close(self) -> None:
        """Cancel every task (at once, before the first await) and wait until none is left."""
        while self._tasks:
            pending = list(self._tasks)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)


def joined(first: Utterance, second: Utterance) -> Utterance:
    """One utterance from a turn and its continuation: the words of both, the start of the first, the audio of
    both (None unless both have it at one rate). A pause long enough to end a turn is a clause boundary: the
    words are joined with a comma when the first part has no final punctuation ("nothing work, got me a human
    now", where a request said first in its clause is read as one)."""
    a, b = first.transcript, second.transcript
    head = a.text.strip()
    sep = " " if not head or head[-1] in ".,!?;:…-" else ", "
    # the second part's other readings are not the whole's: the whole is heard again if it means nothing
    transcript = replace(b, text=f"{head}{sep}{b.text.strip()}", confidence=min(a.confidence, b.confidence),
                         audio_seconds=a.audio_seconds + b.audio_seconds, alternatives=(),
                         second_reading=None, later_reading=None)
    audio = None
    if first.audio is not None and second.audio is not None and first.audio.sample_rate == second.audio.sample_rate:
        audio = AudioFrame(first.audio.pcm + second.audio.pcm, second.audio.sample_rate)
    return replace(second, transcript=transcript, speech_start=first.speech_start, audio=audio)


class CallSession:
    """The per-call object: owns the listener, the digit collector, the turns and the dialog state."""

    def __init__(self, services: CallServices, connection: CallChannel) -> None:
        self.services = services
        self.conn = connection
        self.call_id = connection.call_id
        self.rate = connection.sample_rate
        self.info = CallInfo()  # the dialplan's announcement, taken when the call runs
        self.log = log.bind(call_id=self.call_id)
        self.listener = Listener(services.recognizer, self.rate, services.settings.speech)
        self.digits = DigitCollector(Expectation())
        self.inputs: asyncio.Queue[DialogInput] = asyncio.Queue(maxsize=16)
        self.turns: list[Turn] = []
        self.slots: dict[str, Any] = {}
        self.variables: dict[str, Any] = {}
        self.hung_up = asyncio.Event()
        self.outcome = "in_progress"
        self.end_reason = ""
        self.handoff_packet: HandoffPacket | None = None
        self.state: CallState | None = None
        self.tasks = CallTasks(self.call_id)
        self._briefing: asyncio.Task[None] | None = None  # the agent's spoken briefing, rendered at handoff
        self._later_readings: set[asyncio.Task[None]] = set()  # turns whose record waits for base's reading
        self._open_turn: Turn | None = None  # published when the next input arrives or the call ends
        self._prompts: dict[str, tuple[PlaybackHandle, str]] = {}  # utterance id -> prompt not finished yet
        self._speech_started: float | None = None
        self._digit_timer: asyncio.TimerHandle | None = None
        # The flow's sensitive slots: their values are masked in everything published (records, events, the
        # agent's packet); what the caller says or keys at a sensitive question is not published at all.
        masker = masker_for(services.settings.pii)  # personal data in what callers say (Settings.pii.mask)
        self._pii = masker.mask if masker is not None else None
        self.redactor = Redactor({}, self._pii)
        self._sealer = sealer_for(services.settings.pii)  # clear text of masked turns, encrypted (keep_unmasked)
        self._words = SensitiveWords(services.settings.pii.sensitive_words)  # the bot never says them
        self._secret_input = False  # the question waiting now is a sensitive one
        self._secret_turns: set[int] = set()
        self._continued_into: dict[int, str] = {}  # a continued turn -> the words of the utterance that went on with it
        # What the emotion reads besides the words: the caller's voice against their own baseline so far, and
        # how many utterances in a row were not understood.
        self._voice = VoiceBaseline()
        self._misunderstood = 0
        self._surveyed: set[str] = set()  # survey questions answered (published once each)
        self.routing: RoutingPlan | None = None  # the call's flow's, once it is known
        self.recording: CallRecorderTap | None = None  # the call's recording, while one is made
        self._recording_from = now()  # the recording's time 0: the caller's queued frames are not older

    # ------------------------------------------------------------------ the conversation

    async def run(self) -> None:
        """The whole call. Returns when the call is over; never raises."""
        app: DialogApp | None = None
        self.tasks.spawn(self._supervised(self._pump_audio(), "audio"), "audio")
        self.tasks.spawn(self._supervised(self._pump_listener(), "asr"), "asr")
        self.tasks.spawn(self._on_shutdown(), "shutdown")
        try:
            self.info = await self.services.directory.take(self.call_id)
            app = self.services.dialog_for(self.info)
            self._start_recording(app)
            self._publish(ev.CallStarted(self.call_id, caller_id=self._caller_id(), flow=app.name,
                                         sample_rate=self.rate))
            self._enter(CallState.RINGING_IN)
            await self._converse_until_hangup(app)
            await self._settle_later_readings()  # a caller who hung up at once: the record still takes them
        except Exception as error:  # noqa: BLE001 - every fault ends with a human, never silence
            self.log.exception("call fault", stage="conversation")
            self._publish(ev.CallFault(self.call_id, stage="conversation",
                                       error=self.redactor.text(repr(error))))
            await self._fail_to_human("technical_fault", APOLOGY)
        finally:
            await self._finish(app)

    async def _supervised(self, work: Coroutine[Any, Any, None], stage: str) -> None:
        """Run a helper task of the call; a fault in it hands the caller to a human."""
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - every fault ends with a human, never silence
            self.log.exception("call fault", stage=stage)
            self._publish(ev.CallFault(self.call_id, stage=stage, error=self.redactor.text(repr(error))))
            await self._fail_to_human("technical_fault", APOLOGY)
            self.hung_up.set()  # nothing more can be heard: end the conversation loop

    async def _converse_until_hangup(self, app: DialogApp) -> None:
        """The conversation, dropped at once when the caller hangs up (queued model work included)."""
        conversation = self.tasks.spawn(self._converse(app), "conversation")
        hangup = self.tasks.spawn(self.hung_up.wait(), "hangup")
        try:
            await asyncio.wait({conversation, hangup}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            hangup.cancel()
            if not conversation.done():
                conversation.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await conversation
        if not conversation.cancelled() and (error := conversation.exception()) is not None:
            raise error

    async def _converse(self, app: DialogApp) -> None:
        self.redactor = Redactor(app.sensitive, self._pii)
        self._words = SensitiveWords([*self.services.settings.pii.sensitive_words, *app.sensitive_words])
        self.routing = app.routing
        await self._ask_recording_consent(app)
        state = app.engine.start(self.call_id, self._caller_id(), self.info.variables)
        next_input: DialogInput = CallStart(caller_id=self._caller_id(), called=self.info.dnis,
                                            variables=tuple(self.info.variables.items()))
        turn = self._new_turn("start")
        utterance: Utterance | None = None  # the caller's words the dialog answers now, if spoken
        heard_under = Expectation()  # what the dialog expected when they were said
        continued = False
        while not self.hung_up.is_set():
            keyed = isinstance(next_input, DigitsInput) and len(next_input.digits) == 1
            before = copy.deepcopy(state) if utterance is not None or keyed else None
            result = await self._step_with_filler(app, state, next_input, turn)
            turn.mark("dialog_done")
            turn.decision = "; ".join((("continues the previous utterance",) if continued else ())
                                      + (("heard again",) if "heard_again" in turn.marks else ()) + result.decisions)
            turn.state = result.state_name
            self.slots = dict(state.slots)
            self._survey_answered(app, turn)
            # what the dialplan announced (tier=gold) and what the flow set (vars.verified, …): handoff routing
            self.variables = {**state.call_vars, **state.vars}
            self.redactor.learn(self.slots)  # before the reply reads a value back
            if state.digits_heard and any(isinstance(a, Listen) and a.expect.sensitive for a in result.actions):
                self.redactor.learn_heard(state.digits_heard)  # a sensitive number of the wrong length, read back
            listen = await self._perform(result.actions, turn)
            if listen is None:  # the call was handed off or ended
                return
            # A step that may have changed something in the backend cannot be taken back, nor continued; a key is
            # taken back only when it was no answer ("9" at "press 1 for yes", the first key of a number).
            again = utterance is not None or (keyed and result.unusable)
            heard = _Heard(utterance, heard_under, before) if again and not result.side_effects else None
            next_input, turn, utterance, continued = await self._next_input(listen.expect, app, heard)
            if next_input is None:
                return
            if continued and heard is not None:  # answer the whole utterance from the state before its first half
                state, heard_under = heard.state_before, heard.expected
            else:
                heard_under = listen.expect

    async def _step_with_filler(self, app: DialogApp, state: Any, dialog_input: DialogInput, turn: Turn) -> Any:
        """The dialog's answer; if it takes longer than ``dialog.filler_after_s`` (a backend is slow), the
        caller hears a short filler meanwhile instead of dead air."""
        step = self.tasks.spawn(app.engine.step(state, dialog_input), "dialog-step")
        wait_s = self.services.settings.dialog.filler_after_s
        if wait_s > 0:
            done, _ = await asyncio.wait({step}, timeout=wait_s)
            if not done and not self.hung_up.is_set() and not self.conn.player.speaking:
                self.log.info("dialog is slow; saying a filler", waited_s=wait_s)
                turn.bot_text = f"{turn.bot_text} {FILLER}".strip()
                self._play(FILLER, self._synthesize(FILLER, None, NOTICE_RATE, cache=True), True, NOTICE_RATE, None)
        return await step

    async def _perform(self, actions: tuple, turn: Turn) -> Listen | None:
        """Carry out the bot's actions. Returns the Listen to wait on, or None when the call is over."""
        for action in actions:
            if isinstance(action, Say):
                self._say(action, turn)
            elif isinstance(action, Listen):
                return action
            elif isinstance(action, Handoff):
                await self._handoff(action)
                return None
            elif isinstance(action, EndCall):
                await self._settle_later_readings()
                await self.conn.player.drain()
                self.outcome, self.end_reason = "completed", action.reason
                await self.conn.hangup(drain=True)
                return None
        # A step that neither listens nor ends: listen with defaults rather than leave the caller hanging.
        return Listen()

    async def _next_input(self, expect: Expectation, app: DialogApp, heard: _Heard | None = None,
                          ) -> tuple[DialogInput | None, Turn, Utterance | None, bool]:
        """Wait for speech, DTMF or the no-input timer; then understand it. Returns the input, its turn,
        the utterance (if spoken) and whether it continued ``heard``: speech that starts within
        ``turn_continuation_s`` of the end of ``heard`` is understood together with it, and the earlier
        turn is recorded as ``continued``."""
        self.listener.expect(expect)
        self._secret_input = expect.sensitive
        for keyed in self.digits.reset(expect):  # keys typed while the bot was busy are kept, in order
            self._offer(keyed)
        self._arm_digit_timer()
        raw = await self._wait_for_input(expect)
        if raw is None:  # the caller hung up: the turn before is recorded with its later reading
            await self._settle_later_readings()
            return None, self._new_turn("none"), None, False
        self._enter(CallState.THINKING)
        turn: Turn
        if isinstance(raw, Utterance):
            window = self.services.settings.speech.turn_continuation_s
            continued = (heard is not None and heard.utterance is not None
                         and raw.speech_start - heard.utterance.speech_end <= window)
            if continued and heard is not None and heard.utterance is not None:  # no caller words at info level
                self.log.info("caller continued the previous utterance")
                raw = joined(heard.utterance, raw)
                if self._open_turn is not None:
                    self._open_turn.input_kind = "continued"
                    self._continued_into[self._open_turn.index] = raw.transcript.text
            turn = self._new_turn("speech")
            # a continuation answers the question before (it began before the caller could hear this one): that
            # question says whether the words are a secret
            asked = heard.expected if continued and heard is not None else expect
            self._mark_secret(turn, asked)
            turn.mark("speech_start", raw.speech_start)
            if raw.first_pause is not None:
                turn.mark("first_pause", raw.first_pause)
            turn.mark("speech_end", raw.speech_end)
            turn.mark("asr_final", raw.final_at)
            understood = await understand_turn(app.nlu, raw.transcript, asked.hints, self._signals(raw), raw.audio,
                                               self.services.second_hearing,
                                               self.services.settings.speech.second_hearing_max_s)
            if understood.heard_again:
                turn.mark("heard_again")
            elif understood.transcript.later_reading is not None:
                later = self.tasks.spawn(self._keep_later_reading(turn, understood.transcript),
                                         "later-reading")
                self._later_readings.add(later)
                later.add_done_callback(self._later_readings.discard)
            understanding = understood.understanding
            # the reading the dialog acted on: another of the beam's when the NLU took one (``Nlu.rescued``)
            turn.caller_text = understanding.text or understood.transcript.text
            turn.asr_confidence = understood.transcript.confidence
            self._misunderstood = self._misunderstood + 1 if understanding.out_of_scope and not \
                understanding.entities else 0
            turn.mark("nlu_done")
            turn.intent, turn.intent_confidence = understanding.intent, understanding.confidence
            turn.entities = {e.type: e.value for e in understanding.entities}
            if understanding.emotion:
                turn.emotion, turn.emotion_score = understanding.emotion.label, understanding.emotion.score
            return understanding, turn, raw, continued
        if isinstance(raw, DigitsInput):
            # a number keyed straight after a key that was no answer is answered whole, from before that key
            continued = isinstance(raw, KeyedOn) and heard is not None and heard.utterance is None
            if isinstance(raw, KeyedOn) and not continued:
                raw = without_answer_key(raw, expect)  # its first key answered the question before
            elif continued and self._open_turn is not None:
                self._open_turn.input_kind = "continued"
            turn = self._new_turn("dtmf")
            self._mark_secret(turn, expect)
            turn.mark("speech_end")
            turn.entities = {"dtmf": raw.digits}
            return raw, turn, None, continued
        turn = self._new_turn("no_input")
        turn.mark("speech_end")
        return raw, turn, None, False

    async def _keep_later_reading(self, turn: Turn, transcript: Transcript) -> None:
        """The turn's record takes the more accurate reading made after the dialog answered on ``transcript``
        (``Transcript.later_reading``), when it is not the same; its arrival is marked ``second_reading``."""
        settled = await settled_reading(transcript)
        turn.mark("second_reading")
        if settled.text.strip() != transcript.text.strip():
            turn.caller_text, turn.asr_confidence = settled.text, settled.confidence

    async def _settle_later_readings(self) -> None:
        """Before the call's last turns are handed on or recorded: the later readings still being made, waited
        for (at most ``speech.second_hearing_max_s``, while the last prompt plays or after the caller hung
        up)."""
        if self._later_readings:
            limit_s = self.services.settings.speech.second_hearing_max_s
            await asyncio.wait(set(self._later_readings), timeout=limit_s)

    async def _wait_for_input(self, expect: Expectation) -> Utterance | DigitsInput | NoInput | None:
        """The next input: what is already queued, else speech or DTMF before the no-input timer ends.

        The no-input timer starts once the bot has finished speaking and pauses while the caller talks.
        """
        while True:
            if not self.inputs.empty():
                return self.inputs.get_nowait()
            await self._until_quiet_or_input()
            if not self.inputs.empty():
                continue
            if self.hung_up.is_set():
                return None
            self._enter(CallState.LISTENING)
            get = self.tasks.spawn(self.inputs.get(), "input")
            hangup = self.tasks.spawn(self.hung_up.wait(), "hangup")
            try:
                timeout = expect.no_input_s
                while True:
                    done, _ = await asyncio.wait({get, hangup}, timeout=timeout,
                                                 return_when=asyncio.FIRST_COMPLETED)
                    if get in done:
                        return get.result()
                    if hangup in done:
                        return None
                    if self._speech_started is not None or self.digits.digits:
                        timeout = 1.0  # the caller is talking or keying: keep waiting
                        continue
                    return NoInput(waited_s=expect.no_input_s)
            finally:
                get.cancel()
                hangup.cancel()

    async def _until_quiet_or_input(self) -> None:
        """Wait until the bot's queued audio has played (or input arrived, or the caller hung up)."""
        drained = self.tasks.spawn(self.conn.player.drain(), "drain")
        waiters = {drained, self.tasks.spawn(self.hung_up.wait(), "hangup")}
        while not drained.done() and self.inputs.empty() and not self.hung_up.is_set():
            await asyncio.wait(waiters, timeout=0.05, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()

    def _survey_answered(self, app: DialogApp, turn: Turn) -> None:
        """A survey question the caller has just answered: its score, published once (the reports' CSAT)."""
        for question in app.surveys - self._surveyed:
            score = self.slots.get(question)
            if isinstance(score, int) and not isinstance(score, bool):
                self._surveyed.add(question)
                self._publish(ev.SurveyAnswered(self.call_id, flow=app.name, question=question, score=score,
                                                via="dtmf" if turn.input_kind == "dtmf" else "speech"))

    # ------------------------------------------------------------------ speaking

    def _say(self, action: Say, turn: Turn) -> None:
        text = action.text
        if said := self._words.found(text):  # checked when flows load; a value filled in may still bring one
            self.log.warning("prompt with a sensitive word not spoken", words=said, state=turn.state)
            text = UNSAYABLE
        turn.bot_text = f"{turn.bot_text} {text}".strip()
        self._play(text, self._synthesize(text, turn, self.rate), action.interruptible, self.rate, turn)

    def _play(self, text: str, audio: AsyncIterator[bytes], interruptible: bool, rate: int,
              turn: Turn | None) -> None:
        """Queue one bot utterance under a new ``utterance_id`` and follow it until it ends."""
        utterance_id = uuid.uuid4().hex
        playback = self.conn.player.play(audio, interruptible=interruptible, sample_rate=rate)
        self._prompts[utterance_id] = (playback, text)
        self._publish(ev.PlaybackStarted(self.call_id, text=self.redactor.text(text), utterance_id=utterance_id))
        self.tasks.spawn(self._watch_playback(playback, utterance_id, text, turn), "playback")

    def _playing(self) -> str | None:
        """The utterance id of the prompt being heard now (else the next one queued), if any."""
        for utterance_id, (playback, _) in self._prompts.items():
            if playback.first_frame_at is not None and not playback.done.done():
                return utterance_id
        return next(iter(self._prompts), None)

    async def _synthesize(self, text: str, turn: Turn | None, rate: int, cache: bool = False) -> AsyncIterator[bytes]:
        """TTS audio for the player at ``rate``. A TTS fault ends the utterance and hands the caller over."""
        try:
            async for chunk in self.services.speaker.speak(text, rate, cache=cache):
                if turn is not None:
                    turn.mark("tts_first_audio")
                yield chunk
        except Exception as error:  # noqa: BLE001 - a TTS fault becomes a handoff, not silence
            self.log.exception("tts fault", text=self.redactor.text(text))
            self._publish(ev.CallFault(self.call_id, stage="tts", error=self.redactor.text(repr(error))))
            if turn is not None:  # not for the apology itself
                self.tasks.spawn(self._fail_to_human("technical_fault", None), "fault")

    async def _watch_playback(self, playback: PlaybackHandle, utterance_id: str, text: str,
                              turn: Turn | None) -> None:
        started = self.tasks.spawn(playback.started.wait(), "playback-start")
        try:
            await asyncio.wait({started, playback.done}, return_when=asyncio.FIRST_COMPLETED)
            if playback.first_frame_at is not None:
                if turn is not None:
                    turn.mark("first_frame_sent", playback.first_frame_at)
                if not playback.done.done():
                    self._enter(CallState.SPEAKING)
            completed = await asyncio.shield(playback.done)  # the player owns the future
            if not completed and turn is not None:
                turn.barged_in = True
            if self._prompts.pop(utterance_id, None) is not None:
                self._publish(ev.PlaybackFinished(self.call_id, text=self.redactor.text(text), completed=completed,
                                                  utterance_id=utterance_id))
        finally:
            started.cancel()

    # ------------------------------------------------------------------ recording

    def _start_recording(self, app: DialogApp) -> None:
        """Record the call (caller left, bot right) when its flow says so; the taps only hand frames over."""
        recordings = self.services.recordings
        if recordings is None or not app.recording.enabled:
            return
        self.recording = recordings.start(self.call_id, self.rate, self._recording_from)
        self.conn.player.tap = self.recording.bot

    async def _ask_recording_consent(self, app: DialogApp) -> None:
        """The recording-consent prompt before the greeting; with an opt-out, the caller may decline by the key
        or by saying no within ``opt_out_wait_s``: what was recorded is then deleted and nothing more is."""
        consent = app.recording.consent
        if self.recording is None or not consent.said:
            return
        turn = self._new_turn("consent")
        self._say(Say(consent.said, interruptible=False), turn)  # heard whole: a key or a "no" is answered after it
        if not consent.opt_out:
            return
        expect = Expectation(RecognitionHints(("no", "yes"), "yes_no"), no_input_s=consent.opt_out_wait_s)
        answer, turn, _, _ = await self._next_input(expect, app)
        keyed = isinstance(answer, DigitsInput) and answer.digits == consent.opt_out_key
        if keyed or (turn.input_kind == "speech" and declines(turn.caller_text)):
            self.conn.player.tap = None
            if self.recording is not None:
                self.recording.discard()
            self.recording = None
            turn.decision = "the caller declined the recording; the call is not recorded"
            self.log.info("caller declined the recording")
            self._say(Say(consent.declined), turn)
        else:
            turn.decision = "the caller did not decline the recording"

    def _end_recording(self, app: DialogApp | None) -> None:
        """The call is over: the recording's file and row are finished in the background."""
        if self.recording is None or app is None or self.services.recordings is None:
            return
        self.conn.player.tap = None
        self.services.recordings.finish(self.recording, app.name, app.recording)
        self.recording = None

    # ------------------------------------------------------------------ hearing

    async def _pump_audio(self) -> None:
        async for event in self.conn.events():
            if isinstance(event, AudioFrame):
                if event.sample_rate != self.rate:
                    self._follow_rate(event.sample_rate)
                self.listener.set_bot_speaking(self.conn.player.speaking)
                self.listener.feed(event)
                if self.recording is not None:
                    self.recording.caller(event)
            elif isinstance(event, Dtmf):
                self._on_digit(event)
            else:  # Hangup
                self.log.info("caller hung up")
                self.hung_up.set()
                return

    def _follow_rate(self, rate: int) -> None:
        """The caller's audio is at another rate than the call's so far (the first frame of a slin16 channel,
        or a change of kind): hear it and answer in it from now on. What is already playing plays on."""
        self.log.info("call rate follows the caller's audio", sample_rate=rate, was=self.rate)
        self.rate = rate
        self.listener.set_sample_rate(rate)

    def _on_digit(self, event: Dtmf) -> None:
        self._publish(ev.DtmfEvent(self.call_id, digit=MASKED_KEY if self._secret_input else event.digit))
        complete = self.digits.key(event.digit, event.timestamp)
        if complete is not None or self.digits.digits:
            self.conn.player.cancel()  # a key press interrupts the prompt, like speech
        if complete is not None:
            self._offer(complete)
        self._arm_digit_timer()

    def _arm_digit_timer(self) -> None:
        """The inter-digit timeout of the entry in progress, if any."""
        if self._digit_timer:
            self._digit_timer.cancel()
            self._digit_timer = None
        if (deadline := self.digits.deadline) is not None:
            loop = asyncio.get_running_loop()
            self._digit_timer = loop.call_at(
                loop.time() + max(0.0, deadline - now()), self._digit_timeout)

    def _digit_timeout(self) -> None:
        self._digit_timer = None
        if (complete := self.digits.timeout()) is not None:
            self._offer(complete)

    async def _pump_listener(self) -> None:
        async for event in self.listener.events():
            if isinstance(event, SpeechStarted):
                self._speech_started = event.at
                self._publish(ev.SpeechStartedEvent(self.call_id, at=wall_clock(event.at)))
            elif isinstance(event, BargeIn):
                playing = self._playing()
                cancelled = self.conn.player.cancel()
                if cancelled and self._open_turn is not None:
                    self._open_turn.mark("barge_in", event.at)
                if cancelled:
                    self.log.info("barge-in", utterance_id=playing)
                    self._publish(ev.BargeInEvent(self.call_id, text=self._heard(event.text), utterance_id=playing,
                                                  at=wall_clock(event.at)))
            elif isinstance(event, PartialTranscript):
                self._publish(ev.TranscriptEvent(self.call_id, text=self._heard(event.transcript.text),
                                                 confidence=event.transcript.confidence, is_final=False))
            elif isinstance(event, Utterance):
                self._speech_started = None
                text = event.transcript.text.strip()
                self._publish(ev.SpeechEndedEvent(self.call_id, duration_s=event.speech_end - event.speech_start,
                                                  at=wall_clock(event.speech_end)))
                self._publish(ev.TranscriptEvent(self.call_id, text=self._heard(text),
                                                 confidence=event.transcript.confidence, is_final=True))
                if text:
                    self.conn.player.cancel()
                    self._offer(event)
            elif isinstance(event, NoiseDiscarded):
                self._speech_started = None
                self.log.info("caller sound ignored", reason=event.reason)
                self._publish(ev.NoiseDiscardedEvent(self.call_id, reason=event.reason, at=wall_clock(event.at)))

    def _offer(self, item: Utterance | DigitsInput) -> None:
        if self.inputs.full():
            dropped = self.inputs.get_nowait()
            self.log.warning("input queue full; dropped the oldest input", dropped=type(dropped).__name__)
        self.inputs.put_nowait(item)

    # ------------------------------------------------------------------ endings

    async def _handoff(self, action: Handoff) -> None:
        await self._settle_later_readings()  # the agent's screen shows the turn as the record keeps it
        emotions = [(t.emotion, t.emotion_score or 0.0) for t in self.turns
                    if t.emotion and t.input_kind != "continued"]  # its words are in the next turn
        decided = route(action, self.variables, emotions, self.routing,
                        [t.intent for t in self.turns if t.input_kind != "continued"])
        packet = build_packet(self.call_id, self._caller_id(), decided, [self._masked(t) for t in self.turns],
                              self.redactor.slots(self.slots), verified=bool(self.variables.get("verified")))
        self.handoff_packet, self.outcome, self.end_reason = packet, "handoff", action.reason
        self._publish(ev.HandedOff(self.call_id, packet=packet))
        self._enter(CallState.HANDED_OFF)
        self.log.info("handing off", queue=packet.queue, priority=packet.priority, reason=packet.reason)
        desk = self.services.settings.desktop
        if desk.briefing_dir and packet.queue in desk.briefing_queues:  # rendered while the last prompt drains
            self._briefing = self.tasks.spawn(self._brief(packet, desk.briefing_dir, desk.briefing_keep_s),
                                              "briefing")
        await self.conn.hangup(drain=not self.hung_up.is_set())

    async def _brief(self, packet: HandoffPacket, directory: Path, keep_s: float) -> None:
        """The agent's spoken briefing (call/briefing.py); a failure only loses the briefing."""
        try:
            path = await render_briefing(self.services.speaker, packet, directory, keep_s)
            self.log.info("briefing written", path=str(path))
        except Exception:  # noqa: BLE001 - the handoff goes on without it
            self.log.exception("briefing not written")

    async def _on_shutdown(self) -> None:
        """The service is stopping: calls in progress go to a human rather than being cut off."""
        await self.conn.shutdown_requested.wait()
        self.log.info("service stopping; transferring the caller")
        await self._fail_to_human("service_shutdown", SHUTDOWN_NOTICE, outcome="handoff")

    async def _fail_to_human(self, reason: str, apology: str | None, outcome: str = "error") -> None:
        """Apologise (if the voice still works) and transfer. Safe to call from any failure path."""
        if self.outcome in ("handoff", "completed") or self.hung_up.is_set():
            if self.outcome == "in_progress":
                self.outcome, self.end_reason = outcome, reason
            return
        self.outcome = outcome
        try:
            self.conn.player.cancel(include_uninterruptible=True)
            if apology:  # pre-rendered at start-up, so it plays even when synthesis is failing
                self._play(apology, self._synthesize(apology, None, NOTICE_RATE, cache=True), False, NOTICE_RATE,
                           None)
        except Exception:  # noqa: BLE001 - the transfer must happen even without a voice
            self.log.exception("apology could not be played")
        try:
            await self._handoff(Handoff(reason=reason, queue=FAULT_QUEUE, priority=1))
            self.outcome = outcome
        except Exception:  # noqa: BLE001
            self.log.exception("handoff after fault failed; closing the call")
            with contextlib.suppress(Exception):
                await self.conn.hangup(drain=False)

    async def _finish(self, app: DialogApp | None) -> None:
        """Publish the end of the call, then stop its tasks. Everything up to the tasks' cancellation runs
        without awaiting, so the end is published even if the call's task is being cancelled."""
        if self._digit_timer:
            self._digit_timer.cancel()
        if self.outcome == "in_progress":
            self.outcome = "abandoned" if self.hung_up.is_set() else "completed"
        for utterance_id, (playback, text) in self._prompts.items():  # cut off by the end of the call
            completed = playback.done.done() and not playback.done.cancelled() and playback.done.result()
            self._publish(ev.PlaybackFinished(self.call_id, text=self.redactor.text(text), completed=completed,
                                              utterance_id=utterance_id))
        self._prompts.clear()
        self._end_recording(app)
        self._publish_open_turn()
        self._enter(CallState.ENDED)
        self._publish(ev.CallEnded(self.call_id, outcome=self.outcome, reason=self.end_reason))
        try:
            if self._briefing is not None:  # the caller is queued already: the agent's briefing may finish
                await asyncio.wait({self._briefing}, timeout=BRIEFING_WAIT_S)
        finally:
            await self.tasks.close()
        with contextlib.suppress(Exception):
            await self.listener.close()
        with contextlib.suppress(Exception):
            await self.conn.hangup(drain=False)
        self.log.info("call ended", outcome=self.outcome, reason=self.end_reason, turns=len(self.turns),
                      flow=app.name if app else None)

    # ------------------------------------------------------------------ events

    def _new_turn(self, kind: str) -> Turn:
        """Open the next turn; the previous one is complete (its reply played or was cut off) and published."""
        self._publish_open_turn()
        turn = Turn(index=len(self.turns), input_kind=kind)
        self.turns.append(turn)
        self._open_turn = turn
        return turn

    def _publish_open_turn(self) -> None:
        if self._open_turn is not None:
            turn = self._open_turn
            masked = self._masked(turn)
            self._publish(ev.TurnCompleted(self.call_id, turn=masked, sealed=self._sealed(turn, masked)))
            self._open_turn = None

    def _sealed(self, turn: Turn, masked: Turn) -> str:
        """With ``pii.keep_unmasked``: the turn's text before free-text masking, encrypted, when masking changed
        it. Sensitive slots stay masked in it, and what the caller said or keyed at a sensitive question is never
        kept."""
        if self._sealer is None or turn.index in self._secret_turns:
            return ""
        redact = self.redactor
        clear = {"caller_text": redact.text(turn.caller_text, free_text=False),
                 "bot_text": redact.text(turn.bot_text, free_text=False),
                 "decision": redact.text(turn.decision, free_text=False),
                 "entities": {**redact.data(dict(turn.entities), free_text=False), **self._flags(turn)}}
        if clear == {name: getattr(masked, name) for name in SEALED_FIELDS}:
            return ""
        return self._sealer.seal(clear)

    def _signals(self, utterance: Utterance) -> CallerSignals:
        """This utterance's voice against the caller's baseline (then added to it), and the run of
        utterances not understood before it."""
        voice = utterance.transcript.voice
        raised = arousal(self._voice, voice) if voice is not None else None
        if voice is not None:
            self._voice = self._voice.update(voice)
        return CallerSignals(no_matches=self._misunderstood, arousal=raised)

    def _mark_secret(self, turn: Turn, expect: Expectation) -> None:
        if expect.sensitive:
            self._secret_turns.add(turn.index)

    def _masked(self, turn: Turn) -> Turn:
        """A copy of the turn as it may be kept: the caller's input at a sensitive question replaced whole,
        the sensitive values masked everywhere else, and in a turn the caller went on with, what masking took
        from the whole utterance (a card said over two turns)."""
        redact = self.redactor
        secret = turn.index in self._secret_turns
        own = redact.fragments_of(turn.caller_text)  # what masking took from the caller's words, elsewhere
        # a turn the caller went on with: what masking took from the whole ("5555." and then the rest of the card)
        whole = redact.fragments_of(self._continued_into.get(turn.index, ""))

        def fragments(value: Any) -> Any:
            return whole(own(value))

        return replace(turn, marks=dict(turn.marks),
                       caller_text=MASK if secret and turn.caller_text else fragments(redact.text(turn.caller_text)),
                       entities={k: MASK for k in turn.entities} if secret else
                       {**fragments(redact.data(dict(turn.entities))), **self._flags(turn)},
                       bot_text=redact.text(turn.bot_text), decision=fragments(redact.text(turn.decision)))

    def _flags(self, turn: Turn) -> dict[str, list[str]]:
        """The sensitive words the caller said in the turn, as the entity QA sees on it."""
        return {FLAGGED: found} if (found := self._words.found(turn.caller_text)) else {}

    def _heard(self, text: str) -> str:
        """Caller words as they may be published now."""
        return MASK if self._secret_input and text else self.redactor.text(text)

    def _enter(self, state: CallState) -> None:
        """Publish a change of the call's state: never the same state twice in a row, nothing after ``ended``
        and only ``ended`` after ``handed_off``."""
        if state == self.state or self.state is CallState.ENDED or (
                self.state is CallState.HANDED_OFF and state is not CallState.ENDED):
            return
        previous, self.state = self.state, state
        self._publish(ev.CallStateChanged(self.call_id, state=state, previous=previous))

    def _publish(self, event: ev.CallEvent) -> None:
        self.services.bus.publish(event)

    def _caller_id(self) -> str:
        return self.info.caller_id
