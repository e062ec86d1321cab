"""One AudioSocket peer cannot starve the others: audio faster than real time, DTMF floods and idle
connections are limited per call, beside a healthy call on the same server, over real TCP."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest
from structlog.testing import capture_logs

from voicebot.audio.audiosocket import Decoder, Kind, encode_audio, encode_dtmf, encode_uuid
from voicebot.audio.server import AudioSocketServer, CallConnection
from voicebot.config import AudioSocketSettings
from voicebot.types import AudioFrame, Dtmf, Hangup

FRAME = bytes(range(0, 256, 2)) * 2 + bytes(64)  # 20 ms of non-silent 8 kHz slin


class Handler:
    """Records what each call's session would see."""

    def __init__(self) -> None:
        self.events: dict[str, list] = {}

    async def __call__(self, call: CallConnection) -> None:
        seen = self.events.setdefault(call.call_id, [])
        async for event in call.events():
            seen.append(event)

    def audio_s(self, call_id: str) -> float:
        return sum(len(e.pcm) for e in self.events.get(call_id, []) if isinstance(e, AudioFrame)) / 16000

    def digits(self, call_id: str) -> int:
        return sum(isinstance(e, Dtmf) for e in self.events.get(call_id, []))

    def hangup(self, call_id: str) -> str | None:
        last = (self.events.get(call_id) or [None])[-1]
        return last.reason if isinstance(last, Hangup) else None


class Peer:
    """Plays Asterisk (or an attacker): writes raw AudioSocket bytes, reads what comes back."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.kinds = reader, writer, []
        self.closed = asyncio.Event()
        self._task = asyncio.create_task(self._read())

    @classmethod
    async def call(cls, port: int, call_id: str | None = None) -> Peer:
        peer = cls(*await asyncio.open_connection("127.0.0.1", port))
        if call_id:
            peer.writer.write(encode_uuid(call_id))
        return peer

    async def _read(self) -> None:
        decoder = Decoder()
        with contextlib.suppress(ConnectionError):
            while data := await self.reader.read(65536):
                self.kinds += [m.kind for m in decoder.feed(data)]
        self.closed.set()

    async def send_audio(self, seconds: float, speed: float) -> None:
        """Send ``seconds`` of audio at ``speed`` × real time, in 20 ms frames."""
        with contextlib.suppress(ConnectionError):
            for _ in range(round(seconds * 50)):
                self.writer.write(encode_audio(FRAME))
                await self.writer.drain()
                await asyncio.sleep(0.02 / speed)

    def close(self) -> None:
        self._task.cancel()
        self.writer.close()


@pytest.fixture
def logs():
    with capture_logs() as captured:
        yield captured


async def served(handler: Handler, **overrides) -> AudioSocketServer:
    server = AudioSocketServer(AudioSocketSettings(port=0, first_audio_wait_s=0.05, **overrides), handler)
    await server.start()
    return server


async def wait_for(condition, timeout: float = 10.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)
    await asyncio.wait_for(poll(), timeout)


def lines(logs: list[dict], event: str) -> list[dict]:
    return [line for line in logs if line["event"] == event]


async def test_audio_faster_than_real_time_is_dropped_and_a_persistent_flood_ends_the_call(logs) -> None:
    handler = Handler()
    server = await served(handler, audio_burst_s=0.5, max_excess_audio_s=4.0, max_audio_speed=1.5)
    good_id, fast_id, flood_id = (str(uuid.uuid4()) for _ in range(3))
    try:
        good = await Peer.call(server.port, good_id)
        fast = await Peer.call(server.port, fast_id)
        flood = await Peer.call(server.port, flood_id)
        await asyncio.gather(good.send_audio(2.0, 1.0), fast.send_audio(3.0, 4.0), flood.send_audio(12.0, 9.0))
        await wait_for(lambda: handler.hangup(flood_id) == "protocol_error")
        # the healthy call got all its audio; the 4x peer got what 1.5x real time allows, nothing more
        await wait_for(lambda: handler.audio_s(good_id) >= 2.0)
        assert handler.audio_s(good_id) == pytest.approx(2.0)
        assert 0.5 + 0.75 * 1.5 * 0.8 <= handler.audio_s(fast_id) <= 0.5 + 0.75 * 1.5 * 1.4 + 0.1
        assert handler.hangup(fast_id) is None and handler.hangup(good_id) is None
        # one warning per misbehaving call, not one per frame
        warned = [line["call_id"] for line in lines(logs, "inbound audio faster than real time; dropping the excess")]
        assert sorted(warned) == sorted([fast_id, flood_id])
        errors = lines(logs, "audiosocket protocol error; ending call")
        assert [e["call_id"] for e in errors] == [flood_id] and "faster than 1.5" in errors[0]["problem"]
        await wait_for(flood.closed.is_set)
        assert Kind.HANGUP in flood.kinds
        for peer in (good, fast, flood):
            peer.close()
    finally:
        await server.stop(grace_s=0.1)


async def test_dtmf_flood_is_limited_and_ends_the_call(logs) -> None:
    handler = Handler()
    server = await served(handler, max_dtmf_per_s=10.0, max_excess_dtmf=200)
    good_id, keys_id, flood_id = (str(uuid.uuid4()) for _ in range(3))
    try:
        good = await Peer.call(server.port, good_id)
        keys = await Peer.call(server.port, keys_id)
        flood = await Peer.call(server.port, flood_id)
        keys.writer.write(b"".join(encode_dtmf(d) for d in "0123456789"))  # a fast typist's 10 digits at once
        flood.writer.write(b"".join(encode_dtmf("5") for _ in range(3000)))  # 3,000 digits in one burst
        streaming = asyncio.create_task(good.send_audio(1.0, 1.0))
        await wait_for(lambda: handler.hangup(flood_id) == "protocol_error")
        await streaming
        assert handler.digits(keys_id) == 10 and handler.hangup(keys_id) is None
        assert handler.digits(flood_id) == 10  # the burst a keypad could give, then nothing
        assert handler.audio_s(good_id) == pytest.approx(1.0)
        assert len(lines(logs, "DTMF faster than a keypad; dropping the excess")) == 1
        assert "DTMF flood" in lines(logs, "audiosocket protocol error; ending call")[0]["problem"]
        for peer in (good, keys, flood):
            peer.close()
    finally:
        await server.stop(grace_s=0.1)


async def test_idle_connections_do_not_lock_out_calls(logs) -> None:
    handler = Handler()
    server = await served(handler, max_calls=5, max_pending_connections=50, uuid_timeout_s=30.0)
    try:
        idle = [await Peer.call(server.port) for _ in range(200)]  # never send a UUID
        await wait_for(lambda: sum(p.closed.is_set() for p in idle) >= 150)  # the oldest were closed
        call_id = str(uuid.uuid4())
        caller = await Peer.call(server.port, call_id)
        await caller.send_audio(0.2, 1.0)
        await wait_for(lambda: handler.audio_s(call_id) >= 0.2)
        assert not caller.closed.is_set()
        assert server.calls == 1
        # none of the idle connections became a call, so none reached the handler (no call row)
        assert list(handler.events) == [call_id]
        for peer in [*idle, caller]:
            peer.close()
    finally:
        await server.stop(grace_s=0.1)


async def test_max_calls_counts_calls_not_connections(logs) -> None:
    handler = Handler()
    server = await served(handler, max_calls=2)
    try:
        idle = [await Peer.call(server.port) for _ in range(10)]
        first, second, third = (str(uuid.uuid4()) for _ in range(3))
        peers = [await Peer.call(server.port, call_id) for call_id in (first, second)]
        for peer in peers:
            await peer.send_audio(0.1, 1.0)
        await wait_for(lambda: handler.audio_s(first) > 0 and handler.audio_s(second) > 0)
        refused = await Peer.call(server.port, third)
        await asyncio.wait_for(refused.closed.wait(), 5)
        assert refused.kinds == [Kind.HANGUP] and third not in handler.events
        for peer in [*idle, *peers, refused]:
            peer.close()
    finally:
        await server.stop(grace_s=0.1)
