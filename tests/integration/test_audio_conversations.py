"""Conversation tests in audio mode against a real `voicebot serve`: Piper speaks, the service hears; and a flite
caller over a μ-law line. One run, so one service serves every call (its start loads every model)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import pytest

from voicebot.caller.voices import CallerSetup, caller_setups, missing_tools
from voicebot.designer.audio_tests import AudioTestResult, audio_json, run_audio_tests
from voicebot.designer.conversation_tests import _UNSET, load_tests

ROOT = Path(__file__).resolve().parents[2]
CHOSEN = ("help and repeat", "agent request at the menu", "menu by keypad", "no recent transfers")
FLITE_TEST = "agent request at the menu"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]  # the service loads its models first: minutes on a busy machine


@dataclass(frozen=True)
class BankingRun:
    piper: dict[str, AudioTestResult]  # by test name: the CHOSEN tests, Piper over a clean line
    flite: AudioTestResult  # FLITE_TEST, a flite voice over μ-law
    flite_json: dict  # its entry in the run's JSON report
    cache: Path  # where the caller lines of flite were rendered


@pytest.fixture(scope="module")
def banking_run(tmp_path_factory: pytest.TempPathFactory) -> BankingRun:
    assert missing_tools() == []
    tests, problems = load_tests(ROOT / "dialogs", "banking")
    assert not problems
    chosen = [t for t in tests if t.name in CHOSEN]
    assert len(chosen) == len(CHOSEN)
    (flite_test,) = [t for t in tests if t.name == FLITE_TEST]
    flite = caller_setups("flite-slt", "ulaw")[0]
    cache = tmp_path_factory.mktemp("voices")

    run = asyncio.run(run_audio_tests([*chosen, flite_test], ROOT / "dialogs",
                                      callers=[CallerSetup()] * len(chosen) + [flite], cache_dir=cache))

    *piper, last = run.results
    assert last.caller == flite
    return BankingRun({r.test.name: r for r in piper}, last, audio_json(run)["tests"][-1], cache)


def test_banking_conversations_over_real_calls(banking_run: BankingRun) -> None:
    by_name = banking_run.piper
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
    assert spoken_ok >= 1, [(r.test.name, r.heard) for r in by_name.values()]


def test_a_flite_caller_over_ulaw_reaches_an_agent(banking_run: BankingRun) -> None:
    r = banking_run.flite
    assert r.result is not None and r.call_id and r.caller == caller_setups("flite-slt", "ulaw")[0]
    assert not [f for f in r.result.failures if f.startswith(("call:", "audio:"))], r.result.failures
    # the flite voice's words, through the band limit and the μ-law round trip, were heard and understood
    (heard,) = r.heard
    assert heard.kind == "speech" and "person" in heard.text.lower(), r.heard
    assert heard.intent == "agent", r.heard
    assert r.result.passed, r.result.failures  # ... and the call went to the banking team
    assert len(list(banking_run.cache.glob("*.npy"))) == 1  # the caller's line was rendered once, to the cache
    entry = banking_run.flite_json
    assert (entry["voice"], entry["family"], entry["channel"]) == ("flite-slt", "flite", "ulaw")
