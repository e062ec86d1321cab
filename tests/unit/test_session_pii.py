"""The session masks personal data in free text before it publishes anything, seals the clear text when
configured, never says a sensitive word and flags a caller who does (fake engines; the real session, bus,
recorder and the real sealer)."""

from __future__ import annotations

import asyncio
import json
import wave
from dataclasses import asdict
from pathlib import Path

import pytest
from cryptography.fernet import InvalidToken

from fakes import FakeCallConnection, FakeCallStore, FakeNlu, FakeRecognizer, FakeSynthesizer, ScriptedDialog
from voicebot.call import events as ev
from voicebot.call.events import EventBus
from voicebot.call.session import FLAGGED, UNSAYABLE, CallServices, CallSession, DialogApp
from voicebot.config import PiiSettings, Settings
from voicebot.runtime import InferencePool
from voicebot.speech.tts import Speaker
from voicebot.store.audit import Sealer, new_key
from voicebot.store.recorder import CallRecorder
from voicebot.types import AudioFrame, Expectation, Handoff, Listen, Say, now

FRAME = 320
CARD, EMAIL = "4111 1111 1111 1111", "john dot smith at gmail dot com"
SAID = f"my card is {CARD} and my email is {EMAIL}, or I file a lawsuit"


@pytest.fixture
def speech_pcm(shared_dir: Path) -> bytes:
    with wave.open(str(shared_dir / "data/asr/fsdd_digits_dev/audio/3_theo_7.wav")) as wav:
        return wav.readframes(wav.getnframes())


class Vault:
    """What the recorder hands the originals to (the real one is store/audit.py's SqlPiiVault)."""

    def __init__(self) -> None:
        self.kept: list[tuple[str, int, str]] = []

    async def keep(self, call_id: str, turn_index: int, sealed: str) -> None:
        self.kept.append((call_id, turn_index, sealed))

    async def close(self) -> None:
        """Nothing is queued here."""


async def run_call(tmp_path: Path, pcm: bytes, pii: PiiSettings, flow_words: tuple[str, ...] = ()):
    dialog = ScriptedDialog([
        (Say("How can I help?"), Listen(Expectation(no_input_s=5))),
        (Say(f"I have the card {CARD}."), Say("Our lawsuit team will call."),
         Handoff(reason="caller_request", queue="cards")),
    ])
    bus, store, vault = EventBus(), FakeCallStore(), Vault()
    app = DialogApp("bank", "v1", dialog, FakeNlu({}), sensitive_words=flow_words)
    services = CallServices(settings=Settings(pii=pii), recognizer=FakeRecognizer([SAID]), bus=bus,
                            speaker=Speaker(FakeSynthesizer(8000), tmp_path / "cache", InferencePool(1)),
                            dialog_for=lambda _info: app)
    conn = FakeCallConnection()
    recorder = CallRecorder.start(bus, store, vault)  # type: ignore[arg-type]
    published: list[ev.CallEvent] = []
    subscription = bus.subscribe(lossless=True)

    async def listen() -> None:
        async for event in subscription:
            published.append(event)

    listener = asyncio.create_task(listen())
    audio = b"\0" * FRAME * 10 + pcm + b"\0" * int(8000 * 2 * 1.6)
    start = now()
    for i in range(len(audio) // FRAME):
        conn.feed(AudioFrame(audio[i * FRAME:(i + 1) * FRAME], 8000, start + i * 0.02))
    await asyncio.wait_for(CallSession(services, conn).run(), 20)
    await asyncio.sleep(0.05)
    await bus.close()
    await recorder.close()
    await listener
    return dialog, store.calls[conn.call_id], published, vault, conn


async def test_free_text_pii_is_masked_everywhere_published_and_the_dialog_saw_it_clear(tmp_path, speech_pcm):
    dialog, call, published, vault, _ = await run_call(tmp_path, speech_pcm, PiiSettings())
    assert dialog.inputs[1].text == SAID  # the dialog had the caller's words as said
    turn = call["turns"][1]
    assert turn.caller_text == "my card is [card ****1111] and my email is [email], or I file a lawsuit"
    assert "[card ****1111]" in turn.bot_text
    everything = json.dumps([asdict(t) for t in call["turns"]] + [e.to_json() for e in published]
                            + [asdict(call["handoff"])], default=str)
    assert "4111 1111" not in everything and "smith" not in everything
    assert not vault.kept  # originals are not kept unless configured
    assert all(not e.sealed for e in published if isinstance(e, ev.TurnCompleted))


async def test_masking_off_publishes_clear_text(tmp_path, speech_pcm):
    _, call, _, _, _ = await run_call(tmp_path, speech_pcm, PiiSettings(mask=False))
    assert call["turns"][1].caller_text == SAID


async def test_kept_originals_are_sealed_before_they_are_published(tmp_path, speech_pcm):
    key = new_key()
    _, _, published, vault, conn = await run_call(tmp_path, speech_pcm, PiiSettings(keep_unmasked=True, key=key))
    sealed = [e for e in published if isinstance(e, ev.TurnCompleted) and e.sealed]
    assert [e.turn.index for e in sealed] == [1]  # only the turn masking changed
    assert vault.kept == [(conn.call_id, 1, sealed[0].sealed)]
    assert "4111" not in sealed[0].sealed and "smith" not in sealed[0].sealed  # a token, not the text
    clear = Sealer(key).open(sealed[0].sealed)
    assert clear["caller_text"] == SAID and CARD in clear["bot_text"]
    with pytest.raises(InvalidToken):  # another key cannot open it
        Sealer(new_key()).open(sealed[0].sealed)


async def test_the_bot_never_says_a_sensitive_word_and_a_caller_who_does_is_flagged(tmp_path, speech_pcm):
    _, call, published, _, _ = await run_call(tmp_path, speech_pcm, PiiSettings(), flow_words=("lawsuit",))
    turn = call["turns"][1]
    assert "lawsuit" not in turn.bot_text.lower() and UNSAYABLE in turn.bot_text
    spoken = [e.text for e in published if isinstance(e, ev.PlaybackStarted)]
    assert UNSAYABLE in spoken and not [t for t in spoken if "lawsuit" in t.lower()]
    assert turn.entities[FLAGGED] == ["lawsuit"]
    assert FLAGGED not in call["turns"][0].entities
