"""A conversation test played in audio mode by a flite caller over a μ-law line, against a real `voicebot serve`."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicebot.caller.voices import caller_setups, missing_tools
from voicebot.designer.audio_tests import audio_json, run_audio_tests
from voicebot.designer.conversation_tests import load_tests

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(1800)  # the service loads its models first: minutes on a busy machine
async def test_a_flite_caller_over_ulaw_reaches_an_agent(tmp_path: Path) -> None:
    assert missing_tools() == []
    tests, problems = load_tests(ROOT / "dialogs", "banking")
    assert not problems
    chosen = [t for t in tests if t.name == "agent request at the menu"]
    assert len(chosen) == 1
    setup = caller_setups("flite-slt", "ulaw")[0]

    run = await run_audio_tests(chosen, ROOT / "dialogs", callers=[setup], cache_dir=tmp_path)

    (r,) = run.results
    assert r.result is not None and r.call_id and r.caller == setup
    assert not [f for f in r.result.failures if f.startswith(("call:", "audio:"))], r.result.failures
    # the flite voice's words, through the band limit and the μ-law round trip, were heard and understood
    (heard,) = r.heard
    assert heard.kind == "speech" and "person" in heard.text.lower(), r.heard
    assert heard.intent == "agent", r.heard
    assert r.result.passed, r.result.failures  # ... and the call went to the banking team
    assert len(list(tmp_path.glob("*.npy"))) == 1  # the caller's line was rendered once, to the cache
    entry = audio_json(run)["tests"][0]
    assert (entry["voice"], entry["family"], entry["channel"]) == ("flite-slt", "flite", "ulaw")
