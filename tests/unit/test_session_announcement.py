"""The session takes the dialplan's announcement when the call runs, awaiting the directory (which, shared
through Redis, may still be waiting for it), and runs the call with it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fakes import FakeCallConnection, FakeNlu, FakeRecognizer, FakeSynthesizer, ScriptedDialog
from voicebot.call import events as ev
from voicebot.call.directory import CallInfo, MemoryCallDirectory
from voicebot.call.events import EventBus
from voicebot.call.session import CallServices, CallSession, DialogApp
from voicebot.config import Settings
from voicebot.runtime import InferencePool
from voicebot.speech.tts import Speaker
from voicebot.types import CallStart, EndCall, Say

INFO = CallInfo(caller_id="+15550001", dnis="5552000", flow="retail", variables={"tier": "gold"})


class LateDirectory(MemoryCallDirectory):
    """An announcement that arrives while the session is already waiting for it."""

    async def take(self, call_id: str) -> CallInfo:
        await asyncio.sleep(0.1)
        return await super().take(call_id)


async def test_the_call_runs_with_the_announcement_it_waited_for(tmp_path: Path) -> None:
    directory, bus = LateDirectory(), EventBus()
    dialog = ScriptedDialog([(Say("Welcome to Brightmart."), EndCall("served"))])
    chosen: list[CallInfo] = []

    def dialog_for(info: CallInfo) -> DialogApp:
        chosen.append(info)
        return DialogApp("retail", "v1", dialog, FakeNlu({}))

    services = CallServices(settings=Settings(), recognizer=FakeRecognizer([]), bus=bus, dialog_for=dialog_for,
                            speaker=Speaker(FakeSynthesizer(8000), tmp_path / "cache", InferencePool(1)),
                            directory=directory)
    conn = FakeCallConnection()
    events = bus.subscribe(lossless=True)
    session = CallSession(services, conn)
    running = asyncio.create_task(session.run())
    await asyncio.sleep(0.02)  # the session is waiting for the directory when the announcement arrives
    await directory.announce(conn.call_id.upper(), INFO)
    await asyncio.wait_for(running, 20)
    await bus.close()
    started = [e async for e in events if isinstance(e, ev.CallStarted)]
    assert chosen == [INFO]
    start = dialog.inputs[0]
    assert isinstance(start, CallStart)
    assert (start.caller_id, start.called, dict(start.variables)) == ("+15550001", "5552000", {"tier": "gold"})
    assert [(e.caller_id, e.flow) for e in started] == [("+15550001", "retail")]
