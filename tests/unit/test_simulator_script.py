"""Caller-script parsing: every step kind, and clear errors for bad scripts."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicebot.caller.script import (
    BargeIn,
    HangUp,
    Pause,
    PlayWav,
    SayText,
    ScriptError,
    SendDtmf,
    WaitForBot,
    load_script,
    parse_script,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def wav(tmp_path: Path) -> Path:
    path = tmp_path / "hello.wav"
    path.write_bytes(b"RIFF")  # existence is all parsing checks
    return path


def test_every_step_kind(wav: Path) -> None:
    script = parse_script({
        "caller_id": 15551230001,
        "dnis": "5551000",
        "flow": "banking",
        "steps": [
            {"wait_for_bot": {"timeout": 8}},
            {"say": " I want to check my balance "},
            "wait_for_bot",
            {"wav": "hello.wav"},
            {"dtmf": "12*#"},
            {"dtmf": {"digits": 42, "interval": 0.3}},
            {"pause": 1.5},
            {"barge_in": {"after": 0.8, "say": "agent please"}},
            {"barge_in": {"wav": str(wav)}},
            {"hangup": {}},
        ],
    }, base_dir=wav.parent)
    assert (script.caller_id, script.dnis, script.flow) == ("15551230001", "5551000", "banking")
    assert script.steps == (
        WaitForBot(timeout=8.0), SayText("I want to check my balance"), WaitForBot(), PlayWav(wav),
        SendDtmf("12*#"), SendDtmf("42", 0.3), Pause(1.5), BargeIn(SayText("agent please"), after=0.8),
        BargeIn(PlayWav(wav)), HangUp(),
    )


@pytest.mark.parametrize(("steps", "message"), [
    ([], "'steps' must be a non-empty list"),
    ([{"sya": "hi"}], "step 1: unknown step 'sya'"),
    ([{"say": "a", "pause": 1}], "exactly one key"),
    ([{"say": ""}], "step 1 (say): expected non-empty text"),
    ([{"dtmf": "12x"}], "step 1 (dtmf): 'X' is not a DTMF digit"),
    ([{"dtmf": {"digits": "1", "speed": 2}}], "unknown option(s) ['speed']"),
    ([{"pause": "long"}], "step 1 (pause): expected a number"),
    ([{"pause": -1}], "must be >= 0.0"),
    ([{"wait_for_bot": {"timeout": 0}}], "step 1 (wait_for_bot) timeout: must be >= 0.1"),
    ([{"wav": "missing.wav"}], "WAV file not found"),
    ([{"barge_in": {"after": 1}}], "exactly one of 'say' or 'wav'"),
    ([{"barge_in": {"say": "a", "wav": "b.wav"}}], "exactly one of 'say' or 'wav'"),
    (["hangup", {"say": "late"}], "step 1 (hangup): 1 step(s) after it would never run"),
    ([{"hangup": {"now": True}}], "unknown option(s)"),
])
def test_invalid_scripts_say_which_step_and_why(tmp_path: Path, steps: list, message: str) -> None:
    with pytest.raises(ScriptError) as error:
        parse_script({"steps": steps}, base_dir=tmp_path)
    assert message in str(error.value)


def test_top_level_errors() -> None:
    with pytest.raises(ScriptError, match="mapping with 'steps'"):
        parse_script(["say: hi"])
    with pytest.raises(ScriptError, match=r"unknown top-level key\(s\) \['step'\]"):
        parse_script({"step": []})
    with pytest.raises(ScriptError, match="flow: expected a string"):
        parse_script({"flow": ["banking"], "steps": ["hangup"]})


def test_load_script_names_the_file(tmp_path: Path) -> None:
    good = tmp_path / "check.yaml"
    good.write_text("steps:\n  - wait_for_bot\n  - say: hello\n")
    assert load_script(good).name == "check"
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps:\n  - pause: soon\n")
    with pytest.raises(ScriptError, match=r"bad\.yaml: step 1 \(pause\)"):
        load_script(bad)
    broken = tmp_path / "broken.yaml"
    broken.write_text("steps: [\n")
    with pytest.raises(ScriptError, match="not valid YAML"):
        load_script(broken)


def test_shipped_scripts_are_valid() -> None:
    for path in sorted((ROOT / "eval" / "scripts").glob("*.yaml")):
        assert load_script(path).steps


def test_call_options_for_a_caller_that_sends_no_frames_in_silence() -> None:
    script = parse_script({"silence_frames": False, "first_audio_after": 2, "steps": ["hangup"]})
    assert script.silence_frames is False and script.first_audio_after == 2.0
    default = parse_script({"steps": ["hangup"]})
    assert default.silence_frames is True and default.first_audio_after == 0.0
    with pytest.raises(ScriptError, match="silence_frames: expected true or false"):
        parse_script({"silence_frames": "no", "steps": ["hangup"]})
    with pytest.raises(ScriptError, match="first_audio_after: must be >= 0"):
        parse_script({"first_audio_after": -1, "steps": ["hangup"]})
