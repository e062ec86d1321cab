"""Speaker: sentence streaming, resampling, caches; plus the espeak fallback's plumbing."""

from __future__ import annotations

import io
import os
import stat
import sys
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from fakes import FakeSynthesizer
from voicebot.config import Settings
from voicebot.runtime import InferencePool
from voicebot.speech import tts
from voicebot.speech.tts import (
    EspeakSynthesizer,
    PcmCache,
    Speaker,
    cache_key,
    load_synthesizer,
    speech_units,
)


@pytest.fixture
def pool() -> Iterator[InferencePool]:
    pool = InferencePool(1)
    yield pool
    pool.shutdown()


def test_speech_units_cut_a_long_first_sentence_at_a_comma() -> None:
    text = "Thank you for calling Acme Bank today, how can I help you? Say it in a few words, please."
    assert speech_units(text) == ["Thank you for calling Acme Bank today,", "how can I help you?",
                                  "Say it in a few words, please."]
    assert speech_units("Sure, one moment. Thanks.") == ["Sure, one moment.", "Thanks."]
    long_without_comma = "Your balance is one thousand two hundred fifty dollars and fifty cents."
    assert speech_units(long_without_comma) == [long_without_comma]


def test_cache_key_depends_on_voice_rate_and_text() -> None:
    key = cache_key("voice:1", 8000, "Hello.")
    assert key == cache_key("voice:1", 8000, "Hello.")
    assert len({key, cache_key("voice:2", 8000, "Hello."), cache_key("voice:1", 16000, "Hello."),
                cache_key("voice:1", 8000, "Hello!")}) == 4


def test_pcm_cache_is_an_lru_bounded_by_bytes() -> None:
    cache = PcmCache(max_bytes=10)
    cache.put("a", b"1234")
    cache.put("b", b"5678")
    assert cache.get("a") == b"1234"  # "a" is now the most recent
    cache.put("c", b"90ab")  # 12 bytes > 10: the least recent ("b") goes
    assert "b" not in cache and cache.get("a") == b"1234" and cache.get("c") == b"90ab"
    assert cache.size == 8 and len(cache) == 2
    cache.put("a", b"12")  # replacing an entry updates the size
    assert cache.size == 6
    cache.put("huge", b"x" * 11)  # larger than the whole cache: not stored, nothing evicted
    assert "huge" not in cache and len(cache) == 2


async def collect(speaker: Speaker, text: str, rate: int, cache: bool = False) -> list[bytes]:
    return [chunk async for chunk in speaker.speak(text, rate, cache=cache)]


@pytest.mark.parametrize("rate", [8000, 16000])
async def test_speak_resamples_each_sentence_to_the_call_rate(tmp_path: Path, pool: InferencePool,
                                                              rate: int) -> None:
    fake = FakeSynthesizer(sample_rate=22050)
    speaker = Speaker(fake, tmp_path, pool)
    chunks = await collect(speaker, "Hello there. Your total is $5.", rate)
    assert fake.requests == ["Hello there.", "Your total is five dollars."]
    pcm = b"".join(chunks)
    expected_samples = sum(len(text) * rate // 100 for text in fake.requests)  # 10 ms per character
    assert abs(len(pcm) // 2 - expected_samples) <= 2
    assert len(pcm) % 2 == 0


async def test_first_chunk_comes_before_later_sentences_are_synthesized(tmp_path: Path,
                                                                        pool: InferencePool) -> None:
    fake = FakeSynthesizer()
    speaker = Speaker(fake, tmp_path, pool)
    stream = speaker.speak("First sentence. Second sentence. Third sentence.", 8000)
    first = await anext(stream)
    assert first and fake.requests == ["First sentence."]
    rest = [chunk async for chunk in stream]
    assert rest and fake.requests == ["First sentence.", "Second sentence.", "Third sentence."]


async def test_repeated_sentences_come_from_memory(tmp_path: Path, pool: InferencePool) -> None:
    fake = FakeSynthesizer()
    speaker = Speaker(fake, tmp_path, pool)
    once = b"".join(await collect(speaker, "Sorry. Please say that again.", 8000))
    twice = b"".join(await collect(speaker, "Sorry. Could you repeat?", 8000))
    assert fake.requests == ["Sorry.", "Please say that again.", "Could you repeat?"]
    assert once.startswith(twice[:100])
    assert not list(tmp_path.iterdir())  # nothing on disk without cache=True


async def test_static_prompt_is_cached_on_disk_and_reused(tmp_path: Path, pool: InferencePool) -> None:
    fake = FakeSynthesizer()
    first = b"".join(await collect(Speaker(fake, tmp_path, pool), "Welcome to Acme. How can I help?", 8000,
                                   cache=True))
    files = list(tmp_path.glob("*.wav"))
    assert len(files) == 1
    with wave.open(str(files[0])) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
    other = FakeSynthesizer()  # same name, so the same fingerprint: a restarted service
    again = await collect(Speaker(other, tmp_path, pool), "Welcome to Acme. How can I help?", 8000,
                          cache=True)
    assert b"".join(again) == first and other.requests == []
    # another rate is another rendering
    await collect(Speaker(other, tmp_path, pool), "Welcome to Acme. How can I help?", 16000, cache=True)
    assert other.requests and len(list(tmp_path.glob("*.wav"))) == 2


async def test_interrupted_prompt_is_not_cached(tmp_path: Path, pool: InferencePool) -> None:
    speaker = Speaker(FakeSynthesizer(), tmp_path, pool)
    stream = speaker.speak("One. Two. Three.", 8000, cache=True)
    await anext(stream)
    await stream.aclose()  # barge-in: the player stops pulling
    assert not list(tmp_path.glob("*.wav"))


async def test_corrupt_cache_file_is_a_miss(tmp_path: Path, pool: InferencePool) -> None:
    fake = FakeSynthesizer()
    speaker = Speaker(fake, tmp_path, pool)
    speaker.disk.path(speaker.key("Hello.", 8000)).write_bytes(b"not a wav")
    pcm = b"".join(await collect(speaker, "Hello.", 8000, cache=True))
    assert fake.requests == ["Hello."] and pcm
    assert speaker.disk.read(speaker.key("Hello.", 8000), 8000) == pcm  # rewritten, atomically


async def test_prerender_counts_only_new_renderings(tmp_path: Path, pool: InferencePool) -> None:
    prompts = ["Welcome.", "Goodbye.", "Your code is {digits:1234}."]
    fake = FakeSynthesizer()
    assert await Speaker(fake, tmp_path, pool).prerender(prompts + ["Welcome."], 8000) == 3
    assert sorted(fake.requests) == sorted(["Welcome.", "Goodbye.", "Your code is one two three four."])
    assert len(list(tmp_path.glob("*.wav"))) == 3
    fresh = FakeSynthesizer()
    speaker = Speaker(fresh, tmp_path, pool)
    assert await speaker.prerender(prompts, 8000) == 0
    assert fresh.requests == [] and len(speaker.memory) == 3  # loaded from disk into memory


async def test_prerendered_prompt_is_played_from_memory_after_a_restart(tmp_path: Path,
                                                                       pool: InferencePool) -> None:
    """A dialog ``Say`` (cache=False) of a static prompt plays the whole rendering that prerender loaded
    from disk: no sentence of it is synthesized again."""
    prompt = "One quick question before you go: on a scale of one to five, how happy were you? Thanks."
    rendered = b"".join(await collect(Speaker(FakeSynthesizer(), tmp_path, pool), prompt, 8000, cache=True))
    fresh = FakeSynthesizer()
    restarted = Speaker(fresh, tmp_path, pool)
    assert await restarted.prerender([prompt], 8000) == 0
    assert b"".join(await collect(restarted, prompt, 8000)) == rendered and fresh.requests == []


async def test_empty_text_says_nothing(tmp_path: Path, pool: InferencePool) -> None:
    fake = FakeSynthesizer()
    assert await collect(Speaker(fake, tmp_path, pool), "   ", 8000) == []
    assert fake.requests == []


def test_espeak_voice_without_the_program_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                                            pool: InferencePool) -> None:
    monkeypatch.setattr(tts.shutil, "which", lambda name: None)
    settings = Settings(speech={"tts_voice": "espeak"})
    with pytest.raises(RuntimeError, match="espeak-ng"):
        load_synthesizer(settings, pool)


def _wav_stream(pcm: bytes, rate: int) -> bytes:
    """A WAV as espeak-ng writes it to a pipe: the data size field is not the real size."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    data = bytearray(buffer.getvalue())
    data[40:44] = (0x7FFFFFFF).to_bytes(4, "little")
    return bytes(data)


def test_wav_stream_payload() -> None:
    pcm = bytes(range(200))
    assert tts._wav_payload(_wav_stream(pcm, 22050), 22050) == pcm
    with pytest.raises(RuntimeError, match="Hz"):
        tts._wav_payload(_wav_stream(pcm, 16000), 22050)
    with pytest.raises(RuntimeError, match="WAV"):
        tts._wav_payload(b"garbage" * 10, 22050)


async def test_espeak_synthesizer_runs_the_program_per_sentence(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # A stand-in espeak-ng (the real one is not installed here): 10 ms of audio per character of text.
    script = tmp_path / "espeak-ng"
    script.write_text(
        f"#!{sys.executable}\n"
        "import io, sys, wave\n"
        "text = sys.argv[-1]\n"
        "buffer = io.BytesIO()\n"
        "with wave.open(buffer, 'wb') as w:\n"
        "    w.setnchannels(1); w.setsampwidth(2); w.setframerate(22050)\n"
        "    w.writeframes(b'\\x01\\x00' * (len(text) * 220))\n"
        "sys.stdout.buffer.write(buffer.getvalue())\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    voice = EspeakSynthesizer.load()
    chunks = [chunk async for chunk in voice.synthesize("Hi there. Bye.")]
    assert [len(chunk) for chunk in chunks] == [len("Hi there.") * 440, len("Bye.") * 440]
    assert len(voice.synthesize_pcm("Hello.", 11025)) == pytest.approx(len("Hello.") * 220, abs=4)
