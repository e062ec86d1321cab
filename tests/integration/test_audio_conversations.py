"""Conversation tests in audio mode against a real `voicebot serve`: Piper speaks, the service hears."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicebot.designer.audio_tests import run_audio_tests
from voicebot.designer.conversation_tests import _UNSET, load_tests

ROOT = Path(__file__).resolve().parents[2]
CHOSEN = ("help and repeat", "agent request at the menu", "menu by keypad", "no recent transfers")


@pytest.mark.slow
async def test_banking_conversations_over_real_calls() -> None:
    tests, problems = load_tests(ROOT / "dialogs", "banking")
    assert not problems
    chosen = [t for t in tests if t.name in CHOSEN]
    assert len(chosen) == len(CHOSEN)

    run = await run_audio_tests(chosen, ROOT / "dialogs")

    by_name = {r.test.name: r for r in run.results}
    assert by_name["no recent transfers"].skipped and "fixtures" in by_name["no recent transfers"].skipped
    spoken_ok = 0
    for name in ("help and repeat", "agent request at the menu", "menu by keypad"):
        r = by_name[name]
        assert r.result is not None and r.call_id
        assert not [f for f in r.result.failures if f.startswith("call:")], r.result.failures
        # the greeting came back from the real call, as the bundle writes it
        assert r.result.transcript[0][0] == "bot" and "Harbor Bank" in r.result.transcript[0][1]
        expected = [t.expect.intent for t in r.test.turns if t.kind == "caller"]
        heard = [h for h in r.heard if h.kind == "speech"]
        spoken_ok += sum(1 for want, h in zip(expected, heard) if want is not _UNSET and h.intent == want)
    # the keypad turn does not go through the ASR: it must pass, with the state read from the record
    keypad = by_name["menu by keypad"]
    assert keypad.result is not None and keypad.result.passed, keypad.result.failures
    assert [h.kind for h in keypad.heard] == ["dtmf"]
    # at least one spoken request was heard and understood as the test expects
    assert spoken_ok >= 1, [(r.test.name, r.heard) for r in run.results]
