"""The listening half of a call: VAD -> endpointing -> ASR stream -> end of turn, plus barge-in.

One ``Listener`` per call. ``feed()`` runs on the event loop for every inbound frame and only does
cheap work (VAD on 20 ms frames, a little bookkeeping); the recogniser is driven from one small task
per utterance that keeps the stream calls in order. The session consumes ``events()``: the hearing events of
``voicebot/events.py`` (the vocabulary the session's call events share).

Timeline of one utterance (times are ``AudioFrame.timestamp`` values)::

    speech start ── voiced ... ── last voiced frame (speech_end) ── pause_s ── end-of-turn silence
                                                                      │ speculative decode starts
                                                                      ▼ (its text picks min_s/max_s)
                                                                  finish(): reuses the speculative
                                                                  decode when no speech followed

Silence after the first pause is held back from the recogniser; if the caller speaks again it is
sent before the new speech, otherwise it is dropped, so ``finish()`` sees exactly the audio that was
decoded at the pause and whisper returns that result at once.

Silence is counted on the clock, not in frames: Asterisk sends **no frames** while the caller is silent
(Local channels, phones with silence suppression). "Now" is the end of the last frame fed plus the
wall-clock time since it was fed (:meth:`Listener._position`), and while an utterance is open one timer
(``loop.call_at``, re-armed only when it fires or a deadline moves earlier; none between utterances)
runs the pause decode and the end of turn at their deadlines whether or not frames come. Nothing is put
between frames: the recogniser hears the frames that came, so frames that arrive late in a burst are
never cut into (a stall longer than the end-of-turn silence looks like its end; speech in the late
frames then continues the turn, see ``call/session.py``). Only the pre-roll before an utterance's first
frame is made of silence when no frame came before it (``speech/vad.py``).

Barge-in (only while ``set_bot_speaking(True)``): an engine with partials (Vosk) is checked on every
partial; for whisper, each further ``barge_in_min_voiced_s`` of voiced audio triggers a quick decode.
``BargeIn`` is emitted once the text has a real word, i.e. a word that is not a backchannel
(:data:`BACKCHANNELS`: "mhm", "uh-huh", "hmm", "okay", "right", "yeah", ...). "yes"/"no" are always real
words; when a yes/no answer is expected, "yeah", "okay", "right", "sure" are real too. A cough or line
noise decodes to nothing and never barges in. An utterance made only of backchannels while the bot
spoke ends as ``NoiseDiscarded(reason="backchannel")``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from dataclasses import replace
from typing import Any

from voicebot.config import SpeechSettings
from voicebot.engines import RecognitionStream, SpeechRecognizer, VoiceActivityDetector
from voicebot.events import BargeIn, HearingEvent, NoiseDiscarded, PartialTranscript, SpeechStarted, Utterance
from voicebot.speech.arousal import voice_features
from voicebot.speech.turn import EndOfTurnPolicy
from voicebot.speech.vad import Endpointer, FrameChunker, WebRtcVad
from voicebot.speech.wer import normalize
from voicebot.types import AudioFrame, Expectation, now

BACKCHANNELS = frozenset("mhm mmhmm mm hmm huh uh um ah oh okay ok right yeah yep yup alright sure".split())
YES_NO_ANSWERS = frozenset("yeah yep yup okay ok right sure alright".split())


def has_real_words(text: str, expectation: Expectation = Expectation()) -> bool:
    """Whether ``text`` carries a word that is not a backchannel (see the module docstring)."""
    tokens = normalize(text)
    if expectation.hints.kind == "yes_no":
        return any(t not in BACKCHANNELS or t in YES_NO_ANSWERS for t in tokens)
    return any(t not in BACKCHANNELS for t in tokens)


class _Utterance:
    """Mutable per-utterance state, owned by the listener (the utterance's audio is kept until its final,
    for ``arousal.voice_features`` and a second hearing; ``max_utterance_s`` bounds it)."""

    def __init__(self, expectation: Expectation, speech_start: float, bot_speaking: bool) -> None:
        self.expectation = expectation
        self.speech_start = speech_start
        self.ops: asyncio.Queue[tuple] = asyncio.Queue()
        self.voiced_frames = 0  # counts voiced frames after the onset: tells if a decode is stale
        self.first_pause: float | None = None
        self.paused = False  # a pause decode was requested for the current silence
        self.held: list[AudioFrame] = []
        self.audio = bytearray()
        self.audio_rate = 0
        self.speculative: tuple[int, str] | None = None  # (voiced_frames it covers, text)
        self.next_barge_check = 0.0
        self.decoding = False  # a speculative decode is running: at most one per utterance
        self.decode_wanted = False  # the caller paused while it ran: decode again when it ends
        self.has_partials = False
        self.barged = False
        self.bot_spoke = bot_speaking
        self.ended = False


class Listener:
    """Per-call hearing: see the module docstring. Contract used by ``call/session.py``."""

    def __init__(self, recognizer: SpeechRecognizer, sample_rate: int, settings: SpeechSettings,
                 vad: VoiceActivityDetector | None = None) -> None:
        self._recognizer = recognizer
        self._rate = sample_rate
        self._settings = settings
        self._vad = vad or WebRtcVad(settings.vad_aggressiveness)
        self._chunker = FrameChunker(sample_rate)
        self._endpointer = Endpointer(settings.min_speech_s, settings.preroll_s)
        self._policy = EndOfTurnPolicy(settings.end_of_turn_min_s, settings.end_of_turn_max_s,
                                       settings.end_of_turn_digit_pause_s)
        self._expectation = Expectation()
        self._bot_speaking = False
        self._events: asyncio.Queue[HearingEvent | BaseException | None] = asyncio.Queue()
        self._utt: _Utterance | None = None
        self._tasks: set[asyncio.Task] = set()
        self._last_ts = 0.0  # end of the last frame fed (its timestamp)
        self._fed_at = 0.0  # loop time when it was fed
        self._timer: asyncio.TimerHandle | None = None  # the open utterance's next silence deadline
        self._closed = False

    # ---- the session's side ------------------------------------------------------------------

    def expect(self, expectation: Expectation) -> None:
        """Hints and end-of-turn rules for the next utterance (and the end of one in progress)."""
        self._expectation = expectation
        if self._utt is not None:
            self._utt.expectation = expectation

    def set_bot_speaking(self, speaking: bool) -> None:
        self._bot_speaking = speaking
        if speaking and self._utt is not None:
            self._utt.bot_spoke = True

    def set_sample_rate(self, sample_rate: int) -> None:
        """The caller's audio changed kind (e.g. the first ``0x12`` frame of a slin16 channel): hear it at the
        new rate from now on. An utterance in progress mixes two rates and is dropped."""
        if sample_rate == self._rate:
            return
        self._rate = sample_rate
        self._chunker = FrameChunker(sample_rate)
        if self._utt is not None:
            self._utt.ops.put_nowait(("cancel",))
            self._utt = None
            self._emit(NoiseDiscarded(now(), "rate changed"))
        self._cancel_timer()
        self._endpointer.reset()

    def feed(self, frame: AudioFrame) -> None:
        if self._closed:
            return
        for sub in self._chunker.split(frame):
            self._feed20(sub)

    async def events(self) -> AsyncIterator[HearingEvent]:
        """Events until ``close()``. A recogniser failure is raised here, in the session's task."""
        while (event := await self._events.get()) is not None:
            if isinstance(event, BaseException):
                raise event
            yield event

    async def close(self) -> None:
        self._closed = True
        self._cancel_timer()
        if self._utt is not None:
            self._utt.ops.put_nowait(("cancel",))
            self._utt = None
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._events.put_nowait(None)

    # ---- per 20 ms frame, on the event loop ----------------------------------------------------

    def _feed20(self, frame: AudioFrame) -> None:
        self._last_ts = frame.timestamp
        self._fed_at = asyncio.get_running_loop().time()
        voiced = self._vad.is_speech(frame.pcm, self._rate)
        step = self._endpointer.step(frame, voiced)
        utt = self._utt
        if step.started:
            utt = self._utt = _Utterance(self._expectation, self._endpointer.speech_start, self._bot_speaking)
            utt.next_barge_check = self._settings.barge_in_min_voiced_s
            self._spawn(self._drive(utt))
            for f in step.started:
                utt.ops.put_nowait(("audio", f))
            self._emit(SpeechStarted(utt.speech_start))
            self._arm(utt)
            return
        if utt is None or not step.in_speech:
            return
        if voiced:
            utt.voiced_frames += 1
            utt.paused = False
            for held in utt.held:
                utt.ops.put_nowait(("audio", held))
            utt.held.clear()
            utt.ops.put_nowait(("audio", frame))
            if frame.timestamp - utt.speech_start >= self._settings.max_utterance_s:
                self._end_turn(utt)
            else:
                if (self._bot_speaking and not utt.barged and not utt.has_partials
                        and not utt.decoding and self._endpointer.voiced_s >= utt.next_barge_check):
                    utt.next_barge_check = self._endpointer.voiced_s + self._settings.barge_in_min_voiced_s
                    self._request_decode(utt, for_end_of_turn=False)
                self._arm(utt)
            return
        if utt.paused:
            utt.held.append(frame)
        else:
            utt.ops.put_nowait(("audio", frame))
        self._on_silence(utt)

    # ---- silence, on the clock ------------------------------------------------------------------

    def _position(self) -> float:
        """Now, on the frames' timeline: the end of the last frame plus the wall-clock time since it was fed
        (no frames come while the caller is silent). Frames fed faster than real time (tests) just advance it."""
        return self._last_ts + max(0.0, asyncio.get_running_loop().time() - self._fed_at)

    def _on_silence(self, utt: _Utterance) -> None:
        """A silent frame, or the clock reached a deadline: the pause decode, then the end-of-turn rule."""
        if not utt.paused and self._position() - self._endpointer.speech_end >= self._settings.pause_s:
            utt.paused = True
            if utt.first_pause is None:
                utt.first_pause = self._position()
            self._request_decode(utt, for_end_of_turn=True)
        self._check_end(utt)

    def _silence_needed(self, utt: _Utterance) -> float:
        if not utt.paused:
            return self._settings.pause_s
        spec = utt.speculative
        text = spec[1] if spec is not None and spec[0] == utt.voiced_frames else None
        return self._policy.silence_needed(text, utt.expectation)

    def _arm(self, utt: _Utterance) -> None:
        """Make sure the timer fires by the utterance's next silence deadline (one handle; it re-arms itself)."""
        loop = asyncio.get_running_loop()
        due = self._fed_at + self._endpointer.speech_end + self._silence_needed(utt) - self._last_ts
        if self._timer is not None:
            if self._timer.when() <= due:
                return
            self._timer.cancel()
        self._timer = loop.call_at(due, self._on_timer)

    def _on_timer(self) -> None:
        """A deadline passed. Checked one loop turn later: frames that arrived in the same turn (a busy loop)
        reach the listener first (the session's audio task wakes up from that turn's socket callbacks)."""
        self._timer = None
        asyncio.get_running_loop().call_soon(self._on_deadline)

    def _on_deadline(self) -> None:
        utt = self._utt
        if utt is not None and not utt.ended and not self._closed and self._timer is None:
            self._on_silence(utt)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _request_decode(self, utt: _Utterance, for_end_of_turn: bool) -> None:
        """Queue a speculative decode, unless one is running (then, at a pause, decode again after it:
        stale decodes are not stacked in the shared pool)."""
        if utt.decoding:
            utt.decode_wanted = utt.decode_wanted or for_end_of_turn
            return
        utt.decoding = True
        utt.ops.put_nowait(("pause", utt.voiced_frames, for_end_of_turn))

    def _check_end(self, utt: _Utterance) -> None:
        if utt.ended or self._utt is not utt:
            return
        if utt.paused and self._position() - self._endpointer.speech_end >= self._silence_needed(utt):
            self._end_turn(utt)
        else:
            self._arm(utt)

    def _end_turn(self, utt: _Utterance) -> None:
        self._cancel_timer()
        utt.ended = True
        utt.held.clear()
        utt.ops.put_nowait(("finish", self._endpointer.speech_end))
        self._endpointer.reset()
        self._utt = None

    # ---- recognition, in one task per utterance ------------------------------------------------

    async def _drive(self, utt: _Utterance) -> None:
        stream = self._recognizer.open_stream(self._rate, utt.expectation.hints)
        try:
            while True:
                op = await utt.ops.get()
                if op[0] == "audio":
                    utt.audio += op[1].pcm
                    utt.audio_rate = op[1].sample_rate
                    partial = await stream.accept(op[1])
                    if partial is not None:
                        utt.has_partials = True
                        self._emit(PartialTranscript(partial))
                        self._check_barge_in(utt, partial.text)
                elif op[0] == "pause":
                    self._spawn(self._speculate(utt, stream, op[1], op[2]))
                elif op[0] == "finish":
                    await self._finish(utt, stream, op[1])
                    return
                else:  # cancel
                    stream.cancel()
                    return
        except asyncio.CancelledError:
            stream.cancel()
            raise

    async def _speculate(self, utt: _Utterance, stream: RecognitionStream, voiced_frames: int,
                         for_end_of_turn: bool) -> None:
        """A decode of the audio so far: decides the end-of-turn wait, or checks for barge-in."""
        try:
            transcript = await stream.pause()
        finally:
            utt.decoding = False
            if utt.decode_wanted and utt.paused and not utt.ended and voiced_frames != utt.voiced_frames:
                utt.decode_wanted = False
                self._request_decode(utt, for_end_of_turn=True)
            utt.decode_wanted = False
        if transcript is None:
            return
        self._check_barge_in(utt, transcript.text)
        if for_end_of_turn or voiced_frames == utt.voiced_frames:
            utt.speculative = (voiced_frames, transcript.text)
            self._check_end(utt)

    async def _finish(self, utt: _Utterance, stream: RecognitionStream, speech_end: float) -> None:
        transcript = await stream.finish()
        final_at = now()
        if not normalize(transcript.text):
            self._emit(NoiseDiscarded(final_at, "no words"))
        elif utt.bot_spoke and not utt.barged and not has_real_words(transcript.text, utt.expectation):
            self._emit(NoiseDiscarded(final_at, "backchannel"))
        else:
            voice = voice_features(bytes(utt.audio), utt.audio_rate, len(transcript.text.split()))
            transcript = replace(transcript, voice=voice)
            audio = AudioFrame(bytes(utt.audio), utt.audio_rate) if utt.audio else None
            self._emit(Utterance(transcript, utt.speech_start, speech_end, utt.first_pause, final_at, audio))

    def _check_barge_in(self, utt: _Utterance, text: str) -> None:
        if self._bot_speaking and not utt.barged and has_real_words(text, utt.expectation):
            utt.barged = True
            self._emit(BargeIn(now(), text))

    def _emit(self, event: HearingEvent) -> None:
        if not self._closed:
            self._events.put_nowait(event)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and not self._closed:
            self._events.put_nowait(task.exception())
