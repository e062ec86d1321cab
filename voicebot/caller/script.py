"""Caller scripts for the simulator (``voicebot call``): what a simulated caller says and does, in YAML.

A script is a mapping with an optional ``name`` and ``caller_id`` and a list of ``steps``. Each step
is a mapping with exactly one key (a bare string is allowed for steps without options)::

    name: balance check
    caller_id: "+15551230001"     # AudioSocket carries only the call UUID: with --web these three are
    dnis: "5551000"               # announced to voicebot's web API before the call, as the dialplan
    flow: banking                 # does (POST /api/calls/{uuid}/announce); all three are optional
    silence_frames: false         # send no frames while the caller is silent (default true, see below)
    first_audio_after: 2.0        # the caller's leg sends no audio for the first 2 s (default 0)
    steps:
      - wait_for_bot: {timeout: 8}    # wait until the bot has spoken and then gone quiet
      - say: "I want to check my balance"   # text spoken by the project's TTS (voicebot.speech.tts_piper)
      - wait_for_bot: {}
      - wav: clips/account.wav        # any rate / channels / int or float PCM; path relative to the script
      - dtmf: "1234#"                 # one 0x03 frame per digit, 250 ms apart
      - pause: 1.5                    # silence (frames keep flowing, as on an RTP leg; see silence_frames)
      - barge_in: {after: 0.8, say: "agent please"}  # talk 0.8 s after the bot starts its next prompt
      - hangup                        # close TCP, as Asterisk does (the simulator never sends 0x00)

Options per step:

``wait_for_bot``  ``timeout`` (s, default 10): the bot must start speaking within it, else the call is
                  marked in error. ``quiet`` (s, default 0.7): how long the bot must stay silent to
                  count as done (its prompt may pause between sentences).
``say``           the text (string). Needs the TTS; without it, use ``wav``.
``wav``           a file path (string).
``dtmf``          the digits (string of 0-9 * # A-D), or ``{digits: "12", interval: 0.25}``.
``pause``         seconds (number).
``barge_in``      ``after`` (s, default 0.5) and exactly one of ``say`` / ``wav``; ``timeout`` (s,
                  default 10) for the bot's next prompt to start.
``hangup``        no options. Steps after it are refused. Without it the caller hangs up after the
                  last step.

Each ``say``, ``wav``, ``dtmf`` and ``barge_in`` step is one caller turn: the simulator measures the time
from its end to the bot's first audio.

Call options: ``silence_frames: false`` behaves like Asterisk with a Local channel or a phone with silence
suppression (DTX): no audio frames at all while the caller is silent, and none for the quiet lead-in and
tail of each utterance (only from its first to its last voiced frame). ``first_audio_after`` (s) holds
back every audio frame, speech included, until that long after the UUID: a caller silent at first, e.g.
a slin16 channel whose first ``0x12`` frame comes late.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DTMF_DIGITS = "0123456789*#ABCD"


class ScriptError(ValueError):
    """A caller script that cannot run; the message says which step and why."""


@dataclass(frozen=True, slots=True)
class WaitForBot:
    timeout: float = 10.0
    quiet: float = 0.7


@dataclass(frozen=True, slots=True)
class SayText:
    text: str


@dataclass(frozen=True, slots=True)
class PlayWav:
    path: Path


@dataclass(frozen=True, slots=True)
class SendDtmf:
    digits: str
    interval: float = 0.25


@dataclass(frozen=True, slots=True)
class Pause:
    seconds: float


@dataclass(frozen=True, slots=True)
class BargeIn:
    speech: SayText | PlayWav
    after: float = 0.5
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class HangUp:
    pass


Step = WaitForBot | SayText | PlayWav | SendDtmf | Pause | BargeIn | HangUp
Utterance = SayText | PlayWav


@dataclass(frozen=True, slots=True)
class CallerScript:
    steps: tuple[Step, ...]
    caller_id: str = ""
    name: str = ""
    dnis: str = ""
    flow: str = ""
    silence_frames: bool = True
    first_audio_after: float = 0.0


DEFAULT_SCRIPT = CallerScript(steps=(WaitForBot(timeout=10.0), HangUp()), name="greeting only")


def _number(where: str, value: Any, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScriptError(f"{where}: expected a number of seconds, got {value!r}")
    if value < minimum:
        raise ScriptError(f"{where}: must be >= {minimum}, got {value}")
    return float(value)


def _options(where: str, value: Any, allowed: set[str]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ScriptError(f"{where}: expected a mapping of options, got {value!r}")
    unknown = set(value) - allowed
    if unknown:
        raise ScriptError(f"{where}: unknown option(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    return dict(value)


def _text(where: str, value: Any) -> SayText:
    if not isinstance(value, str) or not value.strip():
        raise ScriptError(f"{where}: expected non-empty text, got {value!r}")
    return SayText(value.strip())


def _wav(where: str, value: Any, base_dir: Path) -> PlayWav:
    if not isinstance(value, str) or not value:
        raise ScriptError(f"{where}: expected a WAV file path, got {value!r}")
    path = Path(value).expanduser()
    path = path if path.is_absolute() else base_dir / path
    if not path.is_file():
        raise ScriptError(f"{where}: WAV file not found: {path}")
    return PlayWav(path)


def _digits(where: str, value: Any) -> str:
    digits = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    if not digits:
        raise ScriptError(f"{where}: expected a string of DTMF digits, got {value!r}")
    bad = [d for d in digits.upper() if d not in DTMF_DIGITS]
    if bad:
        raise ScriptError(f"{where}: {bad[0]!r} is not a DTMF digit (use 0-9 * # A-D)")
    return digits.upper()


def _parse_step(index: int, raw: Any, base_dir: Path) -> Step:
    if isinstance(raw, str):
        raw = {raw: None}
    if not isinstance(raw, Mapping) or len(raw) != 1:
        raise ScriptError(f"step {index}: expected a mapping with exactly one key (e.g. 'say: ...'), "
                          f"got {raw!r}")
    ((kind, value),) = raw.items()
    where = f"step {index} ({kind})"
    if kind == "wait_for_bot":
        opts = _options(where, value, {"timeout", "quiet"})
        return WaitForBot(timeout=_number(f"{where} timeout", opts.get("timeout", 10.0), 0.1),
                          quiet=_number(f"{where} quiet", opts.get("quiet", 0.7), 0.1))
    if kind == "say":
        return _text(where, value)
    if kind == "wav":
        return _wav(where, value, base_dir)
    if kind == "dtmf":
        if isinstance(value, Mapping):
            opts = _options(where, value, {"digits", "interval"})
            return SendDtmf(_digits(where, opts.get("digits")),
                            _number(f"{where} interval", opts.get("interval", 0.25), 0.06))
        return SendDtmf(_digits(where, value))
    if kind == "pause":
        return Pause(_number(where, value))
    if kind == "barge_in":
        opts = _options(where, value, {"after", "say", "wav", "timeout"})
        if ("say" in opts) == ("wav" in opts):
            raise ScriptError(f"{where}: give exactly one of 'say' or 'wav'")
        speech = _text(where, opts["say"]) if "say" in opts else _wav(where, opts["wav"], base_dir)
        return BargeIn(speech, after=_number(f"{where} after", opts.get("after", 0.5)),
                       timeout=_number(f"{where} timeout", opts.get("timeout", 10.0), 0.1))
    if kind == "hangup":
        _options(where, value, set())
        return HangUp()
    raise ScriptError(f"step {index}: unknown step {kind!r}; expected one of "
                      "wait_for_bot, say, wav, dtmf, pause, barge_in, hangup")


def parse_script(data: Any, base_dir: Path = Path(".")) -> CallerScript:
    """Validate a loaded YAML document. WAV paths are resolved against ``base_dir`` and must exist."""
    if not isinstance(data, Mapping):
        raise ScriptError(f"a caller script is a mapping with 'steps', got {type(data).__name__}")
    unknown = set(data) - {"name", "caller_id", "dnis", "flow", "silence_frames", "first_audio_after", "steps"}
    if unknown:
        raise ScriptError(f"unknown top-level key(s) {sorted(unknown)}; "
                          "allowed: name, caller_id, dnis, flow, silence_frames, first_audio_after, steps")
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ScriptError("'steps' must be a non-empty list")
    steps = tuple(_parse_step(i, raw, base_dir) for i, raw in enumerate(raw_steps, start=1))
    for i, step in enumerate(steps[:-1], start=1):
        if isinstance(step, HangUp):
            raise ScriptError(f"step {i} (hangup): {len(steps) - i} step(s) after it would never run")
    fields = {}
    for key in ("caller_id", "dnis", "flow"):
        value = data.get(key, "")
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise ScriptError(f"{key}: expected a string, got {value!r}")
        fields[key] = str(value)
    silence_frames = data.get("silence_frames", True)
    if not isinstance(silence_frames, bool):
        raise ScriptError(f"silence_frames: expected true or false, got {silence_frames!r}")
    return CallerScript(steps=steps, name=str(data.get("name", "")), silence_frames=silence_frames,
                        first_audio_after=_number("first_audio_after", data.get("first_audio_after", 0.0)),
                        **fields)


def load_script(path: Path | str) -> CallerScript:
    """Read and validate a caller script file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScriptError(f"cannot read {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ScriptError(f"{path}: not valid YAML: {exc}") from exc
    try:
        script = parse_script(data, base_dir=path.parent)
    except ScriptError as exc:
        raise ScriptError(f"{path}: {exc}") from exc
    return script if script.name else dataclasses.replace(script, name=path.stem)
