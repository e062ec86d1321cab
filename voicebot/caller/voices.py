"""Caller voices that are not the bot's: Debian's flite and festival speakers through a telephone line.

The bot's own Piper voice is the easiest caller there is. Robustness tests speak the caller's lines with
other synthesizers and pass them through what a real call does to speech:

* band-limiting to 300–3400 Hz (the analogue and narrowband path),
* a codec round trip: G.711 μ-law or A-law (fixed lines, SIP trunks), GSM 06.10 full rate (old
  mobile), AMR-NB (mobile),
* line noise (a hiss at a fixed level) and, optionally, background noise (pink noise, or the babble
  of other voices) mixed at a signal-to-noise ratio.

A caller voice is named ``<engine>-<speaker>`` (:data:`VOICES`); a channel by a spec string
(:func:`parse_channel`): ``ulaw``, ``gsm``, ``alaw+snr15``, ``amr+babble10``, ``clean`` …

For the caller simulator (``voicebot test --audio --voice … --channel …``), a :class:`CallerSetup` is one
voice over one channel and :func:`renderer_for` gives the simulator's renderer for it: ``piper`` over
``clean`` is the simulator's own :class:`~voicebot.caller.simulator.AudioRenderer`, unchanged; every other
setup speaks ``say`` lines through :func:`caller_audio` (Piper's audio, too, can be put through a channel).

Rendering runs the synthesizer and ``sox`` as subprocesses (blocking): call it from a thread in async
code. It needs Debian's ``flite``, ``festival`` (with ``festvox-kallpc16k``, ``festvox-kdlpc16k``,
``festvox-us-slt-hts``) and ``sox`` with ``libsox-fmt-all``; :func:`missing_tools` names what is absent.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr
from scipy.signal import butter, sosfilt

from voicebot.caller.script import SayText, Utterance
from voicebot.caller.simulator import AudioRenderer, TextToSpeech
from voicebot.config import Settings
from voicebot.engines import SpeechRecognizer
from voicebot.types import AudioFrame, RecognitionHints, Transcript

RATE = 8000
PIPER = "piper"  # the bot's own voice, the simulator's default caller


@dataclass(frozen=True, slots=True)
class Voice:
    """One synthetic speaker: ``engine`` is ``flite`` or ``festival``; ``speaker`` the engine's voice."""

    name: str
    engine: str
    speaker: str
    sex: str
    accent: str


VOICES: dict[str, Voice] = {v.name: v for v in (
    Voice("flite-slt", "flite", "slt", "female", "US"),
    Voice("flite-rms", "flite", "rms", "male", "US"),
    Voice("flite-awb", "flite", "awb", "male", "Scottish"),
    Voice("flite-kal", "flite", "kal16", "male", "US"),
    Voice("festival-slt", "festival", "voice_cmu_us_slt_arctic_hts", "female", "US"),
    Voice("festival-kal", "festival", "voice_kal_diphone", "male", "US"),
    Voice("festival-ked", "festival", "voice_ked_diphone", "male", "US"),
)}


FAMILIES: dict[str, tuple[str, ...]] = {
    engine: tuple(name for name, v in VOICES.items() if v.engine == engine)
    for engine in ("flite", "festival")
}


@dataclass(frozen=True, slots=True)
class Channel:
    """What the line does to the caller's speech (see the module docstring)."""

    codec: str = "ulaw"  # "none" | "ulaw" | "alaw" | "gsm" | "amr"
    band_limit: bool = True
    line_noise_dbfs: float | None = -55.0  # a hiss at this level; None for none
    background: str | None = None  # "pink" | "babble"
    snr_db: float = 15.0  # of the background noise, against the speech's active level

    @property
    def name(self) -> str:
        if self.codec == "none" and not self.band_limit and self.line_noise_dbfs is None:
            return "clean"
        extra = f"+{self.background}{self.snr_db:g}" if self.background else ""
        return f"{self.codec}{extra}"


CODECS = ("none", "ulaw", "alaw", "gsm", "amr")
_SPEC = re.compile(r"^(?P<codec>[a-z]+)(?:\+(?P<bg>pink|babble|snr)(?P<snr>-?\d+(?:\.\d+)?))?$")


def parse_channel(spec: str) -> Channel:
    """``clean`` (no telephone effect at all), or ``<codec>[+pink<snr>|+babble<snr>|+snr<snr>]``
    where ``snr`` means pink noise."""
    spec = spec.strip().lower()
    if spec == "clean":
        return Channel(codec="none", band_limit=False, line_noise_dbfs=None)
    match = _SPEC.match(spec)
    if match is None or match["codec"] not in CODECS:
        raise ValueError(f"unknown channel {spec!r}: use clean, or one of {', '.join(CODECS)} "
                         "optionally followed by +pink<SNR dB> or +babble<SNR dB> (e.g. gsm+babble10)")
    background = None if match["bg"] is None else ("pink" if match["bg"] == "snr" else match["bg"])
    return Channel(codec=match["codec"], background=background,
                   snr_db=float(match["snr"]) if match["snr"] else 15.0)


def parse_voices(spec: str) -> tuple[str, ...]:
    """A comma list of voices: ``piper``, a key of :data:`VOICES`, or a family (``flite``, ``festival``:
    all its voices)."""
    voices: list[str] = []
    for name in (part.strip().lower() for part in spec.split(",")):
        if name == PIPER or name in VOICES:
            voices.append(name)
        elif name in FAMILIES:
            voices.extend(FAMILIES[name])
        else:
            raise ValueError(f"unknown voice {name!r}: use piper, {', '.join(FAMILIES)} "
                             f"or one of {', '.join(VOICES)}")
    return tuple(dict.fromkeys(voices))


def parse_channels(spec: str) -> tuple[Channel, ...]:
    """A comma list of channel specs (:func:`parse_channel`)."""
    return tuple(dict.fromkeys(parse_channel(part) for part in spec.split(",")))


@dataclass(frozen=True, slots=True)
class CallerSetup:
    """Who speaks a simulated caller's lines (``piper`` or a key of :data:`VOICES`) and over what line."""

    voice: str = PIPER
    channel: Channel = Channel(codec="none", band_limit=False, line_noise_dbfs=None)

    @property
    def family(self) -> str:
        """``piper``, ``flite`` or ``festival``."""
        return self.voice if self.voice == PIPER else VOICES[self.voice].engine

    @property
    def label(self) -> str:
        return f"{self.voice} over {self.channel.name}"


def caller_setups(voices: str = PIPER, channels: str = "clean") -> tuple[CallerSetup, ...]:
    """Every voice over every channel (``--voice`` and ``--channel`` lists), channel by channel."""
    pairs = itertools.product(parse_channels(channels), parse_voices(voices))
    return tuple(CallerSetup(v, c) for c, v in pairs)


class CallerRenderer(AudioRenderer):
    """The simulator's renderer with ``say`` lines spoken by a setup's voice over its channel.

    Flite and festival audio is cached under ``cache_dir`` (reruns skip synthesis); Piper's is rendered by
    the simulator's own renderer (cached for the run), then put through the channel. ``wav`` steps play
    as recorded.
    """

    def __init__(self, setup: CallerSetup, cache_dir: Path | None = None,
                 tts: TextToSpeech | None = None) -> None:
        super().__init__(tts)
        self.setup = setup
        self.cache_dir = cache_dir

    def render(self, utterance: Utterance, rate: int) -> bytes:
        if not isinstance(utterance, SayText):
            return super().render(utterance, rate)
        voice, channel = self.setup.voice, self.setup.channel
        if voice == PIPER:
            piper = np.frombuffer(super().render(utterance, RATE), dtype="<i2")
            audio = through_channel(piper, RATE, channel, seed=_seed(utterance.text, voice, channel))
        else:
            audio = caller_audio(utterance.text, voice, channel, self.cache_dir)
        return _resample(audio, RATE, rate).astype("<i2").tobytes()


def renderer_for(setup: CallerSetup, cache_dir: Path | None = None) -> AudioRenderer:
    """The simulator's renderer for ``setup``: Piper over a clean line is the simulator's own, unchanged."""
    if setup == CallerSetup():
        return AudioRenderer()
    return CallerRenderer(setup, cache_dir)


def missing_tools() -> list[str]:
    """Debian packages this module needs that are not installed."""
    missing = [pkg for tool, pkg in (("flite", "flite"), ("text2wave", "festival"), ("sox", "sox"))
               if shutil.which(tool) is None]
    voices = Path("/usr/share/festival/voices")
    for pkg, voice_dir in (("festvox-kallpc16k", "english/kal_diphone"), ("festvox-kdlpc16k", "english/ked_diphone"),
                           ("festvox-us-slt-hts", "us/cmu_us_slt_arctic_hts")):
        if not (voices / voice_dir).is_dir():
            missing.append(pkg)
    return missing


def speak(text: str, voice: str, rate: int = RATE) -> np.ndarray:
    """``text`` spoken by ``voice`` (a key of :data:`VOICES`), int16 mono at ``rate``, clean."""
    spec = VOICES.get(voice)
    if spec is None:
        raise ValueError(f"unknown voice {voice!r}: one of {', '.join(VOICES)}")
    with tempfile.TemporaryDirectory(prefix="voicebot-voice-") as tmp:
        out = Path(tmp) / "speech.wav"
        if spec.engine == "flite":
            cmd = ["flite", "-voice", spec.speaker, "-t", text, "-o", str(out)]
            subprocess.run(cmd, check=True, capture_output=True, timeout=60)
        else:
            cmd = ["text2wave", "-eval", f"({spec.speaker})", "-o", str(out)]
            subprocess.run(cmd, input=text.encode(), check=True, capture_output=True, timeout=60)
        samples, source_rate = _read_wav(out)
    return _resample(samples, source_rate, rate)


def through_channel(pcm: np.ndarray, rate: int, channel: Channel, seed: int = 0) -> np.ndarray:
    """``pcm`` (int16 at ``rate``) as it arrives over ``channel``: int16 at 8 kHz."""
    audio = _resample(pcm, rate, RATE).astype(np.float32) / 32768.0
    rng = np.random.default_rng(seed)
    if channel.background is not None:
        audio = audio + _background(channel.background, len(audio), rng) * _gain_for_snr(audio, channel)
    if channel.band_limit:
        audio = sosfilt(butter(4, [300, 3400], btype="bandpass", fs=RATE, output="sos"), audio)
    if channel.line_noise_dbfs is not None:
        audio = audio + rng.normal(0.0, 10 ** (channel.line_noise_dbfs / 20), len(audio))
    out = (np.clip(audio, -1.0, 32767 / 32768) * 32768.0).astype(np.int16)
    return _codec_round_trip(out, channel.codec)


def caller_audio(text: str, voice: str, channel: Channel, cache_dir: Path | None = None) -> np.ndarray:
    """``text`` spoken by ``voice`` over ``channel`` (int16, 8 kHz), cached on disk when ``cache_dir``
    is given (synthesis is deterministic; the seed comes from the text). Safe to call from several threads."""
    key = _key(text, voice, channel)
    path = cache_dir / f"{key}.npy" if cache_dir is not None else None
    if path is not None and path.exists():
        return np.load(path)
    audio = through_channel(speak(text, voice, RATE), RATE, channel, seed=_seed(text, voice, channel))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{key}.{os.getpid()}.{threading.get_ident()}.part")
        with partial.open("wb") as out:
            np.save(out, audio)
        partial.replace(path)  # atomic: a concurrent reader sees the whole file or none
    return audio


async def recognise(recognizer: SpeechRecognizer, pcm: bytes, hints: RecognitionHints, settings: Settings
                    ) -> tuple[str, float]:
    """8 kHz ``pcm`` fed to ``recognizer`` as the listener feeds a turn (pre-roll, the speech, the first
    pause, in 20 ms frames) and finished: (text, seconds from the first frame to the transcript)."""
    transcript, seconds = await hear_turn(recognizer, pcm, hints, settings)
    return transcript.text, seconds


async def hear_turn(recognizer: SpeechRecognizer, pcm: bytes, hints: RecognitionHints, settings: Settings
                    ) -> tuple[Transcript, float]:
    """:func:`recognise`, with the whole transcript (its other readings too)."""
    speech = settings.speech
    pcm = bytes(int(RATE * speech.preroll_s) * 2) + pcm + bytes(int(RATE * speech.pause_s) * 2)
    frame = RATE // 50 * 2
    stream = recognizer.open_stream(RATE, hints)
    started = time.perf_counter()
    for i in range(0, len(pcm), frame):
        await stream.accept(AudioFrame(pcm[i:i + frame], RATE))
    transcript = await stream.finish()
    return transcript, time.perf_counter() - started


def _key(text: str, voice: str, channel: Channel) -> str:
    return hashlib.sha1(f"{voice}|{channel}|{text}".encode()).hexdigest()[:20]


def _seed(text: str, voice: str, channel: Channel) -> int:
    """The noise seed of one line: the same line over the same channel always sounds the same."""
    return int(_key(text, voice, channel)[:8], 16)


# ---- pieces --------------------------------------------------------------------------------------

def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    import wave

    with wave.open(str(path), "rb") as wav:
        rate, channels, width = wav.getframerate(), wav.getnchannels(), wav.getsampwidth()
        data = wav.readframes(wav.getnframes())
    if width != 2:
        raise ValueError(f"{path}: {8 * width}-bit audio, expected 16-bit")
    samples = np.frombuffer(data, dtype="<i2")
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return samples, rate


def _resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    if from_rate == to_rate:
        return samples.astype(np.int16)
    return soxr.resample(samples.astype(np.int16), from_rate, to_rate, quality="HQ").astype(np.int16)


def _active_rms(audio: np.ndarray) -> float:
    """RMS over the 20 ms frames within 30 dB of the loudest: the speech's level, pauses left out."""
    frames = audio[: len(audio) // 160 * 160].reshape(-1, 160)
    if not len(frames):
        return 0.0
    rms = np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1))
    active = rms[rms >= rms.max() * 10 ** (-30 / 20)]
    return float(np.sqrt((active ** 2).mean())) if len(active) else 0.0


def _gain_for_snr(speech: np.ndarray, channel: Channel) -> float:
    return _active_rms(speech) * 10 ** (-channel.snr_db / 20)


def _background(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS noise of ``n`` samples at 8 kHz."""
    if kind == "pink":
        spectrum = np.fft.rfft(rng.normal(size=n))
        freqs = np.fft.rfftfreq(n, 1 / RATE)
        spectrum[1:] /= np.sqrt(freqs[1:])
        spectrum[0] = 0
        noise = np.fft.irfft(spectrum, n)
    elif kind == "babble":
        noise = _babble(n, rng)
    else:
        raise ValueError(f"unknown background noise {kind!r}")
    rms = float(np.sqrt((noise ** 2).mean())) or 1.0
    return (noise / rms).astype(np.float32)


_BABBLE_LINES = (
    "did you see the game last night it was unbelievable",
    "I told her we would be there around seven but the traffic was terrible",
    "can you pass me the report from yesterday please",
    "we should order lunch before the meeting starts",
    "the new printer on the third floor still does not work",
    "my sister is moving to a new flat next month",
)


def _babble(n: int, rng: np.random.Generator) -> np.ndarray:
    """Four other speakers talking at once, looped to ``n`` samples (a busy room behind the caller)."""
    voices = ["flite-rms", "flite-slt", "flite-awb", "flite-kal"]
    mix = np.zeros(n, dtype=np.float64)
    for i, voice in enumerate(voices):
        line = _BABBLE_LINES[(i + int(rng.integers(len(_BABBLE_LINES)))) % len(_BABBLE_LINES)]
        talk = _cached_line(line, voice).astype(np.float64)
        start = int(rng.integers(len(talk)))
        mix += np.resize(np.roll(talk, -start), n)
    return mix


@functools.lru_cache(maxsize=len(_BABBLE_LINES) * 4)
def _cached_line(line: str, voice: str) -> np.ndarray:
    """One babble line, synthesized once per process (read-only: callers copy before mixing)."""
    return speak(line, voice, RATE)


def _codec_round_trip(pcm: np.ndarray, codec: str) -> np.ndarray:
    """Encode and decode ``pcm`` (int16, 8 kHz) with ``codec`` through sox."""
    if codec == "none":
        return pcm
    if codec in ("ulaw", "alaw"):
        from voicebot.audio.codecs import alaw_to_pcm, ulaw_to_pcm

        encoded = _sox(pcm.tobytes(), ["-e", "u-law" if codec == "ulaw" else "a-law", "-t", "raw"])
        decoded = ulaw_to_pcm(encoded) if codec == "ulaw" else alaw_to_pcm(encoded)
        return np.frombuffer(decoded, dtype="<i2").copy()
    fmt = {"gsm": "gsm", "amr": "amr-nb"}[codec]
    encoded = _sox(pcm.tobytes(), ["-t", fmt])
    decoded = subprocess.run(
        ["sox", "-t", fmt, "-", "-t", "raw", "-r", str(RATE), "-e", "signed", "-b", "16", "-c", "1", "-"],
        input=encoded, check=True, capture_output=True, timeout=60).stdout
    out = np.frombuffer(decoded, dtype="<i2")
    return np.pad(out, (0, max(0, len(pcm) - len(out))))[: len(pcm)].copy()


def _sox(pcm: bytes, output_args: list[str]) -> bytes:
    cmd = ["sox", "-t", "raw", "-r", str(RATE), "-e", "signed", "-b", "16", "-c", "1", "-",
           "-r", str(RATE), "-c", "1", *output_args, "-"]
    return subprocess.run(cmd, input=pcm, check=True, capture_output=True, timeout=60).stdout
