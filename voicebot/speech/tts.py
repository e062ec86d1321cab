"""Speaking: the one way a call turns bot text into call-rate PCM.

:class:`Speaker` reads the text the way a person would (:mod:`voicebot.speech.say_as`), splits it into
sentences, and yields each sentence's audio as soon as it exists, resampled to the call's rate, so the
first audio leaves while later sentences are still text. A long first sentence is cut at a comma so the
first chunk comes sooner (the comma stays with the fragment, so the voice keeps its clause intonation).

Rendered audio is kept in a bounded in-memory LRU (per sentence and per whole prompt). ``cache=True``
(static prompts) also stores the whole rendering on disk as a WAV file, keyed by a hash of the voice
fingerprint (model file, size, mtime, synthesis settings), the sample rate and the normalised text, so
a restart or another worker reuses it. :meth:`Speaker.prerender` warms static prompts at start-up.

Consumers should pull eagerly (a producer task feeding the player's bounded queue): the next sentence is
synthesized when the previous chunk has been taken, which then overlaps with its playback.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import shutil
import subprocess
import tempfile
import wave
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from voicebot.audio.codecs import StreamResampler, resample
from voicebot.config import Settings
from voicebot.engines import SpeechSynthesizer
from voicebot.models import resolve
from voicebot.runtime import InferencePool, Priority
from voicebot.speech import say_as
from voicebot.types import SAMPLE_WIDTH


# A first sentence longer than this many words is cut at a comma, if one leaves enough words each side.
FIRST_CHUNK_MAX_WORDS = 8
_MIN_CLAUSE_WORDS = 3


def speech_units(spoken: str) -> list[str]:
    """The pieces synthesized one at a time: sentences, the first one cut at a comma when long."""
    units = say_as.split_sentences(spoken)
    if units and len(units[0].split()) > FIRST_CHUNK_MAX_WORDS:
        words = units[0].split(" ")
        for i in range(_MIN_CLAUSE_WORDS - 1, len(words) - _MIN_CLAUSE_WORDS):
            if words[i].endswith(","):
                units[:1] = [" ".join(words[:i + 1]), " ".join(words[i + 1:])]
                break
    return units


def cache_key(fingerprint: str, sample_rate: int, spoken: str) -> str:
    """Stable key of one rendering: voice fingerprint, output rate and the normalised text."""
    return hashlib.sha256(f"{fingerprint}\0{sample_rate}\0{spoken}".encode()).hexdigest()


class PcmCache:
    """In-memory LRU of rendered PCM, bounded by total bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._items: OrderedDict[str, bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def get(self, key: str) -> bytes | None:
        pcm = self._items.get(key)
        if pcm is not None:
            self._items.move_to_end(key)
        return pcm

    def put(self, key: str, pcm: bytes) -> None:
        if len(pcm) > self.max_bytes:
            return
        if key in self._items:
            self.size -= len(self._items.pop(key))
        self._items[key] = pcm
        self.size += len(pcm)
        while self.size > self.max_bytes:
            _, evicted = self._items.popitem(last=False)
            self.size -= len(evicted)


class PromptDiskCache:
    """Whole prompt renderings as mono 16-bit WAV files, written atomically (temp file + rename)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.wav"

    def read(self, key: str, sample_rate: int) -> bytes | None:
        try:
            with wave.open(str(self.path(key)), "rb") as wav:
                expected = (sample_rate, SAMPLE_WIDTH, 1)
                if (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) != expected:
                    return None
                return wav.readframes(wav.getnframes())
        except (FileNotFoundError, EOFError, wave.Error):
            return None

    def write(self, key: str, sample_rate: int, pcm: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(SAMPLE_WIDTH)
            wav.setframerate(sample_rate)
            wav.writeframes(pcm)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(buffer.getvalue())
            os.replace(tmp, self.path(key))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class Speaker:
    """Text -> call-rate PCM chunks: say-as, sentence streaming, resampling and the prompt caches."""

    def __init__(self, synthesizer: SpeechSynthesizer, cache_dir: Path, pool: InferencePool,
                 memory_bytes: int = 32 << 20, language: str = "en") -> None:
        self.synthesizer = synthesizer
        self.pool = pool
        self.language = language
        self.memory = PcmCache(memory_bytes)
        self.disk = PromptDiskCache(cache_dir)
        # Implementations may expose a fingerprint that changes with their model; the name otherwise.
        self._fingerprint: str = getattr(synthesizer, "fingerprint", synthesizer.name)

    def key(self, spoken: str, sample_rate: int) -> str:
        return cache_key(self._fingerprint, sample_rate, spoken)

    async def speak(self, text: str, sample_rate: int, cache: bool = False) -> AsyncIterator[bytes]:
        """Yield PCM at ``sample_rate``, sentence by sentence; ``cache=True`` for static prompts."""
        spoken = say_as.normalize(text, self.language)
        if not spoken:
            return
        key = self.key(spoken, sample_rate)
        pcm = self.memory.get(key)  # a whole prompt rendered or prerendered before
        if pcm is None and not cache:
            async for pcm in self._render(spoken, sample_rate):
                yield pcm
            return
        if pcm is None:
            pcm = await self.pool.run(self.disk.read, key, sample_rate, priority=Priority.SPEAK)
            if pcm is not None:
                self.memory.put(key, pcm)
        if pcm is not None:
            yield pcm
            return
        parts = []
        async for chunk in self._render(spoken, sample_rate):
            parts.append(chunk)
            yield chunk
        whole = b"".join(parts)  # reached only when the whole rendering was pulled (no barge-in)
        self.memory.put(key, whole)
        await self.pool.run(self.disk.write, key, sample_rate, whole)

    async def _render(self, spoken: str, sample_rate: int) -> AsyncIterator[bytes]:
        for unit in speech_units(spoken):
            key = self.key(unit, sample_rate)
            cached = self.memory.get(key)
            if cached is not None:
                yield cached
                continue
            resampler = StreamResampler(self.synthesizer.sample_rate, sample_rate)
            parts = []
            async for native in self.synthesizer.synthesize(unit):
                if pcm := resampler.process(native):
                    parts.append(pcm)
                    yield pcm
            if tail := resampler.process(b"", last=True):
                parts.append(tail)
                yield tail
            self.memory.put(key, b"".join(parts))

    async def prerender(self, texts: Iterable[str], sample_rate: int) -> int:
        """Warm static prompts into the caches (disk hits are loaded into memory), as many at a time as
        the pool has workers; returns how many were synthesized because no rendering existed yet."""
        slots = asyncio.Semaphore(self.pool.workers)

        async def warm(text: str) -> bool:
            spoken = say_as.normalize(text, self.language)
            if not spoken:
                return False
            key = self.key(spoken, sample_rate)
            fresh = key not in self.memory and not self.disk.path(key).exists()
            async with slots:
                async for _ in self.speak(text, sample_rate, cache=True):
                    pass
            return fresh

        return sum(await asyncio.gather(*(warm(text) for text in dict.fromkeys(texts))))


class EspeakSynthesizer:
    """The robotic fallback voice: Debian's ``espeak-ng`` binary, one process per sentence."""

    sample_rate = 22050

    def __init__(self, binary: str, voice: str = "en-us", words_per_minute: int = 165) -> None:
        self._binary = binary
        self._args = ("-v", voice, "-s", str(words_per_minute), "--stdout")
        self.name = f"espeak-ng:{voice}"
        self.fingerprint = f"{self.name}:{words_per_minute}"

    @classmethod
    def load(cls) -> EspeakSynthesizer:
        binary = shutil.which("espeak-ng")
        if binary is None:
            raise RuntimeError("tts_voice 'espeak' needs the espeak-ng program (Debian: apt install "
                               "espeak-ng); or set VOICEBOT_SPEECH__TTS_VOICE=piper-joe")
        return cls(binary)

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        for sentence in say_as.split_sentences(text):
            yield await self._run(sentence)

    async def _run(self, sentence: str) -> bytes:
        process = await asyncio.create_subprocess_exec(
            self._binary, *self._args, "--", sentence,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await process.communicate()
        if process.returncode != 0:
            detail = err.decode(errors="replace")[:200]
            raise RuntimeError(f"espeak-ng failed ({process.returncode}): {detail}")
        return _wav_payload(out, self.sample_rate)

    def warm_up(self) -> None:
        """Nothing to warm: each sentence is a new espeak-ng process."""

    def synthesize_pcm(self, text: str, sample_rate: int) -> bytes:
        out = subprocess.run([self._binary, *self._args, "--", text], capture_output=True, check=True).stdout
        return resample(_wav_payload(out, self.sample_rate), self.sample_rate, sample_rate)


def _wav_payload(data: bytes, sample_rate: int) -> bytes:
    """The samples of a streamed WAV (espeak-ng writes unknown lengths to a pipe, so no ``wave`` here)."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise RuntimeError("espeak-ng did not write a WAV stream")
    rate = int.from_bytes(data[24:28], "little")
    if rate != sample_rate:
        raise RuntimeError(f"espeak-ng wrote {rate} Hz, expected {sample_rate}")
    position = 12
    while position + 8 <= len(data):
        chunk_id = data[position:position + 4]
        size = int.from_bytes(data[position + 4:position + 8], "little")
        if chunk_id == b"data":
            pcm = data[position + 8:]
            break
        position += 8 + size
    else:
        raise RuntimeError("espeak-ng WAV stream has no data chunk")
    return pcm[: len(pcm) - len(pcm) % SAMPLE_WIDTH]


def load_synthesizer(settings: Settings, pool: InferencePool) -> SpeechSynthesizer:
    """The voice named by ``settings.speech.tts_voice``, loaded and warm (blocking; call at start-up)."""
    voice = settings.speech.tts_voice
    if voice == "piper-joe":
        from voicebot.speech.tts_piper import PiperSynthesizer

        return PiperSynthesizer.load(pool, model_path=resolve("tts_voice", settings.paths().models),
                                     length_scale=settings.speech.tts_length_scale,
                                     threads=settings.speech.tts_threads)
    if voice == "espeak":
        return EspeakSynthesizer.load()
    raise ValueError(f"unknown tts_voice {voice!r}")
