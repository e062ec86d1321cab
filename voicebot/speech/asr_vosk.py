"""Vosk recogniser: true streaming partials from a Vosk model directory (configured by path).

One ``vosk.Model`` is loaded and shared; each utterance gets its own ``KaldiRecognizer`` (a few MB).
Every ``accept`` runs ``AcceptWaveform`` in the inference pool and returns the partial transcript when
it changed. Vosk may close segments inside one caller turn; their texts are joined.

Confidence: the mean per-word ``conf`` Vosk reports (``SetWords`` / ``SetPartialWords``), 0 when no
word was recognised. With ``grammar=True`` and phrases in the hints, the recogniser is restricted to
those phrases plus ``[unk]`` (words the model does not know are dropped by Vosk with a warning).
"""

from __future__ import annotations

import json
from pathlib import Path

from vosk import KaldiRecognizer, Model, SetLogLevel

from voicebot.runtime import InferencePool
from voicebot.types import AudioFrame, RecognitionHints, Transcript


class VoskRecognizer:
    """``engines.SpeechRecognizer`` over a Vosk model directory."""

    def __init__(self, model: Model, pool: InferencePool, name: str = "vosk", grammar: bool = False) -> None:
        self.model = model
        self.pool = pool
        self.name = name
        self.grammar = grammar

    @classmethod
    def load(cls, path: Path, pool: InferencePool, grammar: bool = False) -> VoskRecognizer:
        SetLogLevel(-1)
        label = path.parent.name if path.name == "model" else path.name
        recognizer = cls(Model(str(path)), pool, f"vosk:{label}", grammar)
        recognizer.warm_up()
        return recognizer

    def warm_up(self) -> None:
        rec = KaldiRecognizer(self.model, 8000)
        rec.AcceptWaveform(bytes(3200))
        rec.FinalResult()

    def open_stream(self, sample_rate: int, hints: RecognitionHints) -> VoskStream:
        return VoskStream(self, sample_rate, hints)

    def new_kaldi_recognizer(self, sample_rate: int, hints: RecognitionHints) -> KaldiRecognizer:
        """Blocking (0.1-0.5 s for a large graph): the stream calls it through the pool."""
        if self.grammar and hints.phrases:
            rec = KaldiRecognizer(self.model, sample_rate,
                                  json.dumps([p.lower() for p in hints.phrases] + ["[unk]"]))
        else:
            rec = KaldiRecognizer(self.model, sample_rate)
        rec.SetWords(True)
        rec.SetPartialWords(True)
        return rec


class VoskStream:
    """One utterance in one ``KaldiRecognizer`` (created in the pool on the first audio). Calls must
    not overlap (the listener serialises them)."""

    def __init__(self, recognizer: VoskRecognizer, sample_rate: int, hints: RecognitionHints) -> None:
        self._owner = recognizer
        self._rec: KaldiRecognizer | None = None
        self._done = False
        self._rate = sample_rate
        self._hints = hints
        self._closed: list[dict] = []  # words of segments Vosk already finalised
        self._partial: list[dict] = []
        self._seconds = 0.0

    async def accept(self, frame: AudioFrame) -> Transcript | None:
        if self._done:
            return None
        if self._rec is None:
            rec = await self._owner.pool.run(self._owner.new_kaldi_recognizer, self._rate, self._hints)
            if self._done:  # cancelled meanwhile
                return None
            self._rec = rec
        self._seconds += frame.duration
        before = _text(self._partial)
        closed, self._partial = await self._owner.pool.run(_accept, self._rec, frame.pcm)
        self._closed.extend(closed)
        if _text(self._partial) == before and not closed:
            return None
        return self._transcript(self._closed + self._partial, final=False)

    async def pause(self) -> Transcript | None:
        """Vosk decodes continuously: the current partial is the speculative transcript."""
        return self._transcript(self._closed + self._partial, final=False)

    async def finish(self) -> Transcript:
        if self._rec is None or self._done:
            return self._transcript(self._closed, final=True)
        self._done = True
        words = await self._owner.pool.run(_final, self._rec)
        self._rec = None
        return self._transcript(self._closed + words, final=True)

    def cancel(self) -> None:
        self._done = True
        self._rec = None

    def _transcript(self, words: list[dict], final: bool) -> Transcript:
        confidence = sum(w.get("conf", 0.0) for w in words) / len(words) if words else 0.0
        return Transcript(_text(words), confidence, is_final=final, audio_seconds=self._seconds,
                          engine=self._owner.name, language=self._hints.language)


def _words(result: str, key: str) -> list[dict]:
    data = json.loads(result)
    words = data.get("result" if key == "text" else "partial_result") or []
    if not words and data.get(key):  # grammar mode or no word info: text only
        words = [{"word": w, "conf": 1.0} for w in data[key].split()]
    return [w for w in words if w.get("word") and w["word"] != "[unk]"]


def _accept(rec: KaldiRecognizer, pcm: bytes) -> tuple[list[dict], list[dict]]:
    """Blocking: feed audio; returns (words of a segment Vosk just closed, current partial words)."""
    if rec.AcceptWaveform(pcm):
        return _words(rec.Result(), "text"), []
    return [], _words(rec.PartialResult(), "partial")


def _final(rec: KaldiRecognizer) -> list[dict]:
    return _words(rec.FinalResult(), "text")


def _text(words: list[dict]) -> str:
    return " ".join(w["word"] for w in words)
