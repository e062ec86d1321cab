"""The session masks a sensitive question's input and the secret's value in everything it publishes: turns,
DTMF events, playback texts and the handoff packet (fake engines; the real session, recorder and bus)."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import asdict
from pathlib import Path

from fakes import FakeCallConnection, FakeCallStore, FakeNlu, FakeRecognizer, FakeSynthesizer, ScriptedDialog
from voicebot.call import events as ev
from voicebot.call.events import EventBus
from voicebot.call.session import CallServices, CallSession, DialogApp
from voicebot.config import Settings
from voicebot.events import MASKED_KEY
from voicebot.runtime import InferencePool
from voicebot.speech.tts import Speaker
from voicebot.store.recorder import CallRecorder
from voicebot.types import DigitsInput, Dtmf, Expectation, Handoff, Listen, Say


class PinDialog(ScriptedDialog):
    """Asks for a PIN (a sensitive question), keeps it in the state as a flow does, reads it back."""

    async def step(self, state, event):
        if isinstance(event, DigitsInput):
            state.slots["pin"] = event.digits
        return await super().step(state, event)


async def run_call(dialog: ScriptedDialog, sensitive: dict[str, int], keys: dict[float, str], tmp_path: Path
                   ) -> tuple[dict, list[ev.CallEvent]]:
    """One call of ``dialog`` with these sensitive slots, the caller keying each string of ``keys`` from its
    time on: the stored call and every event published on the bus."""
    bus, store = EventBus(), FakeCallStore()
    published: list[ev.CallEvent] = []
    app = DialogApp("bank", "v1", dialog, FakeNlu({}), sensitive)
    services = CallServices(settings=Settings(), recognizer=FakeRecognizer(["unused"]), bus=bus,
                            speaker=Speaker(FakeSynthesizer(8000), tmp_path / "cache", InferencePool(1)),
                            dialog_for=lambda _info: app)
    conn = FakeCallConnection()
    recorder = CallRecorder.start(bus, store)
    subscription = bus.subscribe()

    async def listen() -> None:
        async for event in subscription:
            published.append(event)

    listener = asyncio.create_task(listen())
    loop = asyncio.get_running_loop()
    for at, digits in keys.items():
        for i, digit in enumerate(digits):
            loop.call_later(at + 0.01 * i, conn.feed, Dtmf(digit))
    await asyncio.wait_for(CallSession(services, conn).run(), 20)
    await asyncio.sleep(0.05)
    await bus.close()
    await recorder.close()
    listener.cancel()
    return store.calls[conn.call_id], published


async def test_a_keyed_pin_is_masked_in_every_published_place(tmp_path: Path) -> None:
    dialog = PinDialog([
        (Say("Key in your PIN."), Listen(Expectation(max_digits=4, min_digits=4, terminator="#", sensitive=True))),
        (Say("Thanks. I have 4 5 6 7 as your PIN."), Handoff(reason="caller_request", queue="banking")),
    ])
    call, published = await run_call(dialog, {"pin": 0}, {0.05: "4567#"}, tmp_path)

    assert dialog.inputs[1].digits == "4567"  # the flow had the real PIN
    assert call["turns"][1].entities == {"dtmf": "****"} and call["turns"][1].caller_text in ("", "****")
    assert "4 5 6 7" not in call["turns"][1].bot_text and "****" in call["turns"][1].bot_text
    assert call["handoff"].slots == {"pin": "****"}
    keys = [e.digit for e in published if isinstance(e, ev.DtmfEvent)]
    assert len(keys) >= 4 and set(keys) == {MASKED_KEY}  # one event per key on the bus, never the digit
    assert not [kind for kind, _ in call["events"] if kind == "dtmf"]  # and not stored key by key
    everything = json.dumps([asdict(t) for t in call["turns"]] + [e.to_json() for e in published]
                            + [asdict(call["handoff"])], default=str)
    # the PIN standing alone (a timestamp's microseconds may hold "4567" by chance)
    assert not re.search(r"(?<!\d)4567(?!\d)", everything) and "4 5 6 7" not in everything


class ShortAccountDialog(ScriptedDialog):
    """Asks for an account number (a sensitive question) and reads back a number one digit short, as the
    flows' digit repair does, before any slot holds it."""

    async def step(self, state, event):
        if isinstance(event, DigitsInput):
            state.digits_heard = event.digits
        return await super().step(state, event)


async def test_a_sensitive_number_of_the_wrong_length_is_masked_where_it_is_read_back(tmp_path: Path) -> None:
    account = Expectation(max_digits=8, min_digits=8, terminator="#", sensitive=True)
    dialog = ShortAccountDialog([
        (Say("Key in your account number."), Listen(account)),
        (Say("I heard one two three, four five six seven. That's 7 digits, and I need 8."), Listen(account)),
        (Say("Let me get someone."), Handoff(reason="caller_request", queue="banking")),
    ])
    call, _ = await run_call(dialog, {"account": 0}, {0.05: "1234567#", 0.5: "#"}, tmp_path)

    assert dialog.inputs[1].digits == "1234567"  # the dialog had the short number and read it back
    read_back = call["turns"][1].bot_text
    assert read_back.startswith("I heard ****. That's 7 digits"), read_back
    assert "four five six seven" not in json.dumps([asdict(t) for t in call["turns"]], default=str)
