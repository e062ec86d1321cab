"""Test fakes for the engine protocols in ``voicebot.engines``. Only unit tests use these."""

from __future__ import annotations

import asyncio


class FakeSynthesizer:
    """A SpeechSynthesizer that "speaks" a 440 Hz tone, 10 ms per character, one chunk per call.

    ``requests`` lists every text it was asked to synthesize, in order, when synthesis began.
    """

    def __init__(self, sample_rate: int = 22050, name: str = "fake-voice") -> None:
        self.name = name
        self.sample_rate = sample_rate
        self.requests: list[str] = []

    def pcm_for(self, text: str) -> bytes:
        import numpy as np

        n = len(text) * self.sample_rate // 100
        tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / self.sample_rate)
        return (tone * 32767).astype("<i2").tobytes()

    async def synthesize(self, text: str):
        self.requests.append(text)
        yield self.pcm_for(text)

    def warm_up(self) -> None:
        """Nothing to warm."""


class FakeVad:
    """A VoiceActivityDetector that calls a frame speech when its peak amplitude exceeds ``threshold``."""

    def __init__(self, threshold: int = 1000) -> None:
        self.threshold = threshold

    def is_speech(self, pcm: bytes, sample_rate: int) -> bool:
        import numpy as np

        samples = np.frombuffer(pcm, dtype="<i2")
        return bool(samples.size) and int(np.abs(samples.astype(np.int32)).max()) > self.threshold


class FakeRecognizer:
    """A SpeechRecognizer whose n-th stream "hears" ``texts[n]`` (the last text repeats).

    ``delay_s`` is how long each decode (``pause``/``finish``) takes; ``partials=True`` makes
    ``accept`` return the text as a partial once ``partial_after`` frames arrived (like Vosk).
    ``streams`` keeps every stream opened, for assertions; ``alternatives``: the other readings every
    transcript carries.
    """

    def __init__(self, texts: list[str] | str, delay_s: float = 0.0, partials: bool = False,
                 partial_after: int = 10, name: str = "fake-asr") -> None:
        self.texts = [texts] if isinstance(texts, str) else list(texts)
        self.delay_s = delay_s
        self.partials = partials
        self.partial_after = partial_after
        self.name = name
        self.streams: list[FakeRecognitionStream] = []
        self.alternatives: tuple[tuple[str, float], ...] = ()

    def open_stream(self, sample_rate: int, hints):
        text = self.texts[min(len(self.streams), len(self.texts) - 1)]
        stream = FakeRecognitionStream(self, text, hints)
        self.streams.append(stream)
        return stream

    def warm_up(self) -> None:
        """Nothing to warm."""


class FakeRecognitionStream:
    def __init__(self, owner: FakeRecognizer, text: str, hints) -> None:
        self.owner, self.text, self.hints = owner, text, hints
        self.frames = 0
        self.pauses = 0
        self.finished = False
        self.cancelled = False

    def _transcript(self, final: bool):
        from voicebot.types import Transcript

        return Transcript(self.text, 0.9 if self.text else 0.0, is_final=final, engine=self.owner.name,
                          alternatives=self.owner.alternatives)

    async def accept(self, frame):
        self.frames += 1
        if self.owner.partials and self.frames >= self.owner.partial_after:
            return self._transcript(final=False)
        return None

    async def pause(self):
        self.pauses += 1
        await asyncio.sleep(self.owner.delay_s)
        return self._transcript(final=False)

    async def finish(self):
        await asyncio.sleep(self.owner.delay_s)
        self.finished = True
        return self._transcript(final=True)

    def cancel(self) -> None:
        self.cancelled = True


class FakeNlu:
    """A LanguageUnderstanding for dialog tests: intent by word overlap with examples, a few entities.

    Understands spoken digits ("one two three", "oh"), numbers 1-10, yes/no words, list synonyms and
    ``(angry)`` in the text as an angry emotion. ``slot_types`` maps type name -> kind (and values).
    """

    _WORDS = {"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
              "six": "6", "seven": "7", "eight": "8", "nine": "9"}
    _YES = {"yes", "yeah", "yep", "correct", "right", "sure"}
    _NO = {"no", "nope", "nah", "wrong"}
    _FUNCTION_WORDS = {"a", "an", "the", "me", "to", "i", "my", "you", "it", "is", "of", "for", "and"}

    def __init__(self, intents: dict[str, list[str]], slot_types: dict[str, tuple[str, dict]] | None = None,
                 threshold: float = 0.3) -> None:
        self.intents = intents
        self.slot_types = slot_types or {}
        self.threshold = threshold
        self.calls: list[tuple[str, str | None]] = []
        self.signals: list = []  # the CallerSignals of each call, in order
        self.heard_otherwise: list = []  # the recogniser's other readings given with each call, in order

    @staticmethod
    def _tokens(text: str) -> set[str]:
        import re

        words = set(re.findall(r"[a-z0-9']+", text.lower()))
        return words - FakeNlu._FUNCTION_WORDS or words

    async def understand(self, text: str, transcript_confidence: float = 1.0, expected_slot: str | None = None,
                         signals=None, heard_otherwise=()):
        from voicebot.types import Emotion, Entity, Understanding

        self.calls.append((text, expected_slot))
        self.signals.append(signals)
        self.heard_otherwise.append(tuple(heard_otherwise))
        words = self._tokens(text)
        best, score = None, 0.0
        for intent, examples in self.intents.items():
            for example in examples:
                ex = self._tokens(example)
                overlap = len(words & ex) / max(len(words | ex), 1)
                if overlap > score:
                    best, score = intent, overlap
        intent = best if score >= self.threshold else None
        entities = []
        digits = "".join(self._WORDS.get(w, w if w.isdigit() else "") for w in text.lower().replace(",", " ").split())
        for name, (kind, values) in self.slot_types.items():
            if kind in ("digits", "phone") and digits:
                entities.append(Entity(name, digits, text))
            elif kind == "number" and digits and len(digits) <= 2:
                entities.append(Entity(name, int(digits), text))
            elif kind == "yes_no" and words & (self._YES | self._NO):
                entities.append(Entity(name, bool(words & self._YES) and not words & self._NO, text))
            elif kind == "list":
                for canonical, synonyms in values.items():
                    if any(s in text.lower() for s in (canonical, *synonyms)):
                        entities.append(Entity(name, canonical, text))
                        break
        emotion = Emotion("angry", 0.9, -0.8) if "(angry)" in text else Emotion("neutral", 0.9)
        return Understanding(text, intent, round(min(1.0, 0.4 + score), 3), tuple(entities), emotion)


class FakeCallStore:
    """In-memory ``CallStore``: keeps what was written in ``calls`` so tests can look at it."""

    def __init__(self) -> None:
        self.calls: dict[str, dict] = {}
        self.closed = False

    def _call(self, call_id: str) -> dict:
        return self.calls.setdefault(call_id, {"id": call_id, "caller_id": "", "flow": "", "started_at": None,
                                               "ended_at": None, "outcome": "in_progress", "handoff": None,
                                               "turns": [], "events": []})

    async def call_started(self, call_id: str, caller_id: str, flow: str, started_at: float) -> None:
        self._call(call_id).update(caller_id=caller_id, flow=flow, started_at=started_at)

    async def turn_completed(self, call_id: str, turn) -> None:
        import dataclasses

        self._call(call_id)["turns"].append(dataclasses.replace(turn, marks=dict(turn.marks)))

    async def event(self, call_id: str, kind: str, data: dict, at: float | None = None) -> None:
        self._call(call_id)["events"].append((kind, data))

    async def call_ended(self, call_id: str, outcome: str, ended_at: float, handoff) -> None:
        self._call(call_id).update(outcome=outcome, ended_at=ended_at, handoff=handoff)

    async def close(self) -> None:
        self.closed = True


class FakeClock:
    """Virtual monotonic time: ``sleep`` advances it and yields once to the event loop."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    async def sleep(self, delay: float) -> None:
        self.t += delay
        await asyncio.sleep(0)


class NoCalls:
    """The call queries (``engines.CallQueries``) of a store that holds no call."""

    async def get_call(self, call_id):
        return None

    async def handoff_for(self, call_id):
        return None

    async def list_calls(self, limit=50, offset=0, outcome=None):
        return []


class FakeCallConnection:
    """Stands in for ``voicebot.audio.server.CallConnection`` without sockets. The player is real but
    runs on virtual time (every frame "plays" at once), without keep-alive; what it wrote is in ``sent``.
    Feed caller events with ``feed(...)``; ``hangup`` records how the session ended the call."""

    def __init__(self, call_id: str = "00000000-0000-4000-8000-000000000001", sample_rate: int = 8000) -> None:
        from voicebot.audio.player import Player

        self.call_id, self.peer, self.sample_rate = call_id, ("127.0.0.1", 40000), sample_rate
        self.shutdown_requested = asyncio.Event()
        self.sent: list[bytes] = []
        self.virtual_time = 0.0
        self.player = Player(self.sent.append, sample_rate, keepalive=False, clock=lambda: self.virtual_time,
                             sleep=self._sleep)
        self.hangups: list[bool] = []  # the drain flag of each hangup() call
        self._events: asyncio.Queue = asyncio.Queue()
        self._player_task = asyncio.get_running_loop().create_task(self.player.run())
        self._ended = False

    async def _sleep(self, delay: float) -> None:
        self.virtual_time += delay
        await asyncio.sleep(0)

    def feed(self, event) -> None:
        """Queue an AudioFrame, Dtmf or Hangup for ``events()``."""
        self._events.put_nowait(event)

    async def events(self):
        from voicebot.types import Hangup

        while True:
            event = await self._events.get()
            yield event
            if isinstance(event, Hangup):
                self._ended = True
                self.player.close()
                return

    async def hangup(self, drain: bool = True) -> None:
        from voicebot.types import Hangup

        self.hangups.append(drain)
        if self._ended:
            return
        if drain:
            await self.player.drain()
        self._ended = True
        self.player.close()
        self.feed(Hangup("local"))


class ScriptedDialog:
    """A dialog engine whose replies are scripted: ``replies[n]`` is the tuple of BotActions for the
    n-th step (the first step answers CallStart). ``inputs`` records every DialogInput it was given.
    A reply that is an Exception instance is raised instead (a faulty flow). The steps numbered in
    ``backend_steps`` (1 = the CallStart step) report backend side effects, those in ``unusable_steps`` an input
    that was no answer (a no-match)."""

    def __init__(self, replies: list, backend_steps: tuple[int, ...] = (), unusable_steps: tuple[int, ...] = ()
                 ) -> None:
        self.replies = list(replies)
        self.backend_steps = backend_steps
        self.unusable_steps = unusable_steps
        self.inputs: list = []

    def start(self, call_id: str, caller_id: str = "", variables=None):
        from types import SimpleNamespace

        return SimpleNamespace(slots={}, vars={}, call_vars=dict(variables or {}), digits_heard=None)

    async def step(self, state, event):
        from types import SimpleNamespace

        self.inputs.append(event)
        reply = self.replies[min(len(self.inputs), len(self.replies)) - 1]
        if isinstance(reply, Exception):
            raise reply
        return SimpleNamespace(actions=tuple(reply), decisions=(f"scripted step {len(self.inputs)}",),
                               state_name=f"step{len(self.inputs)}",
                               side_effects=len(self.inputs) in self.backend_steps,
                               unusable=len(self.inputs) in self.unusable_steps)


class FakeEmbedder:
    """A ``SentenceEmbedder`` without a model: hashed bag of words, L2-normalised (same words, same vector)."""

    dimension = 64
    fingerprint = "fake-bow"

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts):
        import re
        import zlib

        import numpy as np

        self.calls += 1
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z']+", text.lower()):
                out[row, zlib.crc32(word.encode()) % self.dimension] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)


class FakeTokens:
    """API tokens in memory (the token store's ``active``): one admin token, ``FakeTokens.SECRET``."""

    SECRET = "vbt_unit-test-admin"
    HEADERS = {"Authorization": f"Bearer {SECRET}"}

    async def active(self, digest: str):
        from datetime import UTC, datetime

        from voicebot.store.tokens import TokenRecord
        from voicebot.web.auth import token_digest

        if digest != token_digest(self.SECRET):
            return None
        return TokenRecord("unit-tests", ("admin",), self.SECRET[:8], datetime.now(UTC), None)


async def store_ok():
    """``store_health`` of a web context whose store is fine."""
    from voicebot.store.repo import StoreHealth

    return StoreHealth("ok")


def stand_in_service(settings, flow_names: list[str], **parts):  # noqa: ANN001, ANN201
    """What ``app.web_context`` reads of a running service, without calls, models or a database: no people, no
    reports, no recordings, no PII vault, the store healthy, not stopping; ``parts`` replace any of them."""
    from types import SimpleNamespace

    from voicebot.call.directory import FlowRouter, MemoryCallDirectory
    from voicebot.call.events import EventBus

    values = dict(settings=settings, paths=settings.paths(), router=FlowRouter(flow_names[0], {}, frozenset()),
                  directory=MemoryCallDirectory(), bus=EventBus(), flows=SimpleNamespace(names=lambda: flow_names),
                  audiosocket=SimpleNamespace(active_calls=0), queries=None, tokens=FakeTokens(), people=None,
                  store=SimpleNamespace(health=store_ok), desk_key="k", reports=None, playback=None, vault=None,
                  stopping=lambda: False)
    return SimpleNamespace(**(values | parts))
