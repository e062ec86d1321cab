"""The AudioSocket server over real TCP: Asterisk's own bytes, malformed input, limits, shutdown.

Every malformed-input case runs beside a healthy call on the same server and checks that the bad
call ends cleanly (Hangup delivered, 0x00 sent where the socket is writable, socket closed), that one
clear log line names the call and the problem, and that the healthy call keeps receiving audio.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import uuid
from collections import defaultdict
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from voicebot.audio.audiosocket import Decoder, Kind, Message, encode, encode_audio, encode_dtmf, encode_uuid
from voicebot.audio.server import AudioSocketServer, CallConnection
from voicebot.config import AudioSocketSettings
from voicebot.types import AudioFrame, Dtmf, Hangup

TRACE_UUID = "40325ec2-5efd-4bd3-805f-53576e581d13"
FRAME = bytes(range(0, 256, 2)) * 2 + bytes(64)  # 320 bytes of non-silent slin


class Recorder:
    """The call handler: records every event per call; ``behaviour`` may act on the call first."""

    def __init__(self) -> None:
        self.events: dict[str, list] = defaultdict(list)
        self.calls: dict[str, CallConnection] = {}
        self.finished: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.started = asyncio.Event()
        self.behaviour = None

    async def __call__(self, call: CallConnection) -> None:
        self.calls[call.call_id] = call
        self.started.set()
        try:
            if self.behaviour is not None:
                await self.behaviour(call)
            async for event in call.events():
                self.events[call.call_id].append(event)
        finally:
            self.finished[call.call_id].set()

    def audio(self, call_id: str) -> list[AudioFrame]:
        return [e for e in self.events[call_id] if isinstance(e, AudioFrame)]

    def hangup(self, call_id: str) -> Hangup:
        last = self.events[call_id][-1]
        assert isinstance(last, Hangup)
        assert sum(isinstance(e, Hangup) for e in self.events[call_id]) == 1
        return last


class Peer:
    """Plays Asterisk: a TCP client that writes raw bytes and decodes what the server sends back."""

    opened: list[Peer] = []  # closed after each test by the ``close_peers`` fixture

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.received: list[Message] = []
        self.raw = bytearray()
        self.closed = asyncio.Event()
        self._decoder = Decoder()
        self._reading = asyncio.create_task(self._read())
        self._streaming: asyncio.Task | None = None

    @classmethod
    async def connect(cls, port: int, read: bool = True, rcvbuf: int | None = None) -> Peer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        except OSError:
            sock.close()
            raise
        reader, writer = await asyncio.open_connection(sock=sock)
        peer = cls(reader, writer)
        cls.opened.append(peer)
        if not read:
            peer._reading.cancel()
        return peer

    async def _read(self) -> None:
        try:
            while data := await self.reader.read(65536):
                self.raw += data
                self.received += self._decoder.feed(data)
        except ConnectionError:
            pass
        finally:
            self.closed.set()

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    def stream_audio(self) -> None:
        """Send a 20 ms frame every 20 ms, like an RTP leg, until closed."""
        async def stream() -> None:
            with contextlib.suppress(ConnectionError):  # the server ended the call
                while True:
                    self.writer.write(encode_audio(FRAME))
                    await self.writer.drain()
                    await asyncio.sleep(0.02)
        self._streaming = asyncio.create_task(stream())

    def end_input(self) -> None:
        self.writer.write_eof()

    async def close(self) -> None:
        if self._streaming:
            self._streaming.cancel()
        self.writer.close()
        self._reading.cancel()

    def kinds(self) -> set[int]:
        return {m.kind for m in self.received}


@pytest.fixture(autouse=True)
async def close_peers():
    yield
    for peer in Peer.opened:
        await peer.close()
    Peer.opened.clear()
    await asyncio.sleep(0)


@pytest.fixture
def logs():
    with capture_logs() as captured:
        yield captured


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


async def start_server(recorder: Recorder, **overrides) -> AudioSocketServer:
    settings = AudioSocketSettings(port=0, **overrides)
    server = AudioSocketServer(settings, recorder)
    await server.start()
    return server


@pytest.fixture
async def server(recorder: Recorder, logs):
    server = await start_server(recorder, first_audio_wait_s=0.05)
    yield server
    await server.stop(grace_s=0.1)


async def wait_for(condition, timeout: float = 5.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)
    await asyncio.wait_for(poll(), timeout)


def new_id() -> str:
    return str(uuid.uuid4())


async def healthy_call(server: AudioSocketServer, recorder: Recorder) -> tuple[Peer, str]:
    call_id = new_id()
    peer = await Peer.connect(server.port)
    peer.send(encode_uuid(call_id))
    peer.stream_audio()
    await wait_for(lambda: len(recorder.audio(call_id)) >= 3)
    return peer, call_id


async def assert_still_flowing(recorder: Recorder, peer: Peer, call_id: str) -> None:
    heard, got = len(recorder.audio(call_id)), len(peer.received)
    await wait_for(lambda: len(recorder.audio(call_id)) >= heard + 5 and len(peer.received) >= got + 5)
    assert not recorder.finished[call_id].is_set()


def error_lines(logs: list[dict]) -> list[dict]:
    return [line for line in logs if line["event"] == "audiosocket protocol error; ending call"]


# ---------------------------------------------------------------------------------------------------
# Asterisk's own bytes


def trace_inbound(shared_dir: Path) -> list[dict]:
    lines = (shared_dir / "protocol" / "asterisk-audiosocket-trace.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["direction"] == "asterisk->server"]


def check_trace_call(recorder: Recorder, shared_dir: Path) -> None:
    trace = trace_inbound(shared_dir)
    events = recorder.events[TRACE_UUID]
    # same order and sizes as the trace: the UUID starts the call, then 150 audio frames and 2 digits
    expected = [("audio", r["length"]) if r["type"] == Kind.SLIN else ("dtmf", r["digit"]) for r in trace[1:]]
    seen = [("audio", len(e.pcm)) if isinstance(e, AudioFrame) else ("dtmf", e.digit) for e in events[:-1]]
    assert seen == expected
    audio = recorder.audio(TRACE_UUID)
    assert len(audio) == 150 and sum(len(f.pcm) for f in audio) == 47956
    assert all(f.sample_rate == 8000 for f in audio)
    assert [e.digit for e in events if isinstance(e, Dtmf)] == ["5", "#"]
    assert recorder.hangup(TRACE_UUID).reason == "remote"
    assert recorder.calls[TRACE_UUID].inbound_codec == "slin"  # 320-byte frames: not taken for μ-law
    raw = (shared_dir / "protocol" / "asterisk-inbound-3s.bin").read_bytes()
    assert b"".join(f.pcm for f in audio) == b"".join(m.payload for m in Decoder().feed(raw) if m.kind == Kind.SLIN)


async def test_replay_asterisk_capture_all_at_once(server, recorder, shared_dir, logs) -> None:
    peer = await Peer.connect(server.port)
    peer.send((shared_dir / "protocol" / "asterisk-inbound-3s.bin").read_bytes())
    peer.end_input()  # Asterisk hangs up by closing TCP, never with 0x00
    await asyncio.wait_for(recorder.finished[TRACE_UUID].wait(), 5)
    await asyncio.wait_for(peer.closed.wait(), 5)
    check_trace_call(recorder, shared_dir)
    assert not error_lines(logs)
    assert Kind.HANGUP not in peer.kinds()  # the caller hung up: no 0x00 back
    assert recorder.calls[TRACE_UUID].peer[0] == "127.0.0.1"


async def test_replay_asterisk_capture_in_split_segments(server, recorder, shared_dir, logs) -> None:
    """Headers and payloads cut across TCP segments at random points reassemble to the same call."""
    data = (shared_dir / "protocol" / "asterisk-inbound-3s.bin").read_bytes()
    peer = await Peer.connect(server.port)
    rng, at = random.Random(3), 0
    while at < len(data):
        size = rng.choice([1, 2, 4, 250, 700])
        peer.send(data[at:at + size])
        await peer.writer.drain()
        await asyncio.sleep(0.001)
        at += size
    peer.end_input()
    await asyncio.wait_for(recorder.finished[TRACE_UUID].wait(), 10)
    check_trace_call(recorder, shared_dir)
    assert not error_lines(logs)


@pytest.mark.slow
async def test_replay_asterisk_capture_paced_like_asterisk(server, recorder, shared_dir, logs) -> None:
    """Each message at its capture time (about 4.2 s); the server answers with paced whole frames."""
    messages = Decoder().feed((shared_dir / "protocol" / "asterisk-inbound-3s.bin").read_bytes())
    times = [r["t_ms"] / 1000 for r in trace_inbound(shared_dir)]
    peer = await Peer.connect(server.port)
    loop = asyncio.get_running_loop()
    start = loop.time()
    for at, message in zip(times, messages, strict=True):
        await asyncio.sleep(max(0.0, start + at - loop.time()))
        peer.send(encode(message.kind, message.payload))
    await asyncio.sleep(0.2)
    peer.end_input()
    await asyncio.wait_for(recorder.finished[TRACE_UUID].wait(), 5)
    check_trace_call(recorder, shared_dir)
    # the server kept the line alive with whole 20 ms slin frames all along (keep-alive silence)
    assert peer.received and {(m.kind, len(m.payload)) for m in peer.received} == {(Kind.SLIN, 320)}
    assert len(peer.received) >= 180


# ---------------------------------------------------------------------------------------------------
# Malformed input: one test each, beside a healthy call


MALFORMED_AFTER_UUID = {
    "unknown kind": (encode(0x02, b"xy"), "unknown message kind 0x02"),
    "error kind 0xff": (encode(0xFF, b"\x01"), "error message (0xff)"),
    "second uuid": (encode_uuid(uuid.uuid4()), "second UUID"),
    "zero-length audio": (encode(Kind.SLIN, b""), "zero-length audio"),
    "odd-length audio": (encode(Kind.SLIN, FRAME + b"\x01"), "odd-length slin audio: 321 bytes"),
    "bad dtmf": (encode(Kind.DTMF, b"xy"), "DTMF payload must be 1 byte"),
    "garbage": (bytes([0x42, 0x13, 0x37]) + random.Random(1).randbytes(200), "unknown message kind 0x42"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_AFTER_UUID))
async def test_malformed_message_ends_only_that_call(case, server, recorder, logs) -> None:
    good, good_id = await healthy_call(server, recorder)
    bad_id = new_id()
    bad = await Peer.connect(server.port)
    bad.send(encode_uuid(bad_id) + encode_audio(FRAME))
    await wait_for(lambda: len(recorder.audio(bad_id)) == 1)
    payload, problem = MALFORMED_AFTER_UUID[case]
    bad.send(payload)
    await asyncio.wait_for(recorder.finished[bad_id].wait(), 5)
    await asyncio.wait_for(bad.closed.wait(), 5)
    assert recorder.hangup(bad_id).reason == "protocol_error"
    assert bad.received[-1].kind == Kind.HANGUP  # 0x00, then the socket closed
    [line] = error_lines(logs)
    assert line["call_id"] == bad_id and line["peer"].startswith("127.0.0.1:") and problem in line["problem"]
    await assert_still_flowing(recorder, good, good_id)


@pytest.mark.parametrize("case,data,problem", [
    ("truncated header", encode_audio(FRAME) + b"\x10\x01", "truncated header at end of stream (2 of 3 bytes)"),
    ("length past end", encode_audio(FRAME) + encode_audio(FRAME)[:103], "declares 320 payload bytes but the stream ended after 100"),
])
async def test_stream_ending_mid_message_is_an_error(case, data, problem, server, recorder, logs) -> None:
    good, good_id = await healthy_call(server, recorder)
    bad_id = new_id()
    bad = await Peer.connect(server.port)
    bad.send(encode_uuid(bad_id) + data)
    await wait_for(lambda: len(recorder.audio(bad_id)) == 1)
    bad.end_input()
    await asyncio.wait_for(recorder.finished[bad_id].wait(), 5)
    await asyncio.wait_for(bad.closed.wait(), 5)
    assert recorder.hangup(bad_id).reason == "protocol_error"
    assert bad.received[-1].kind == Kind.HANGUP  # still writable after the peer's FIN: 0x00 sent
    [line] = error_lines(logs)
    assert line["call_id"] == bad_id and problem in line["problem"]
    await assert_still_flowing(recorder, good, good_id)


async def test_garbage_before_uuid_never_reaches_the_handler(server, recorder, logs) -> None:
    good, good_id = await healthy_call(server, recorder)
    bad = await Peer.connect(server.port)
    bad.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.wait_for(bad.closed.wait(), 5)
    [line] = error_lines(logs)
    assert line["call_id"] is None and "first message must be the UUID (0x01), got kind 0x47" in line["problem"]
    assert bad.received == [Message(Kind.HANGUP, b"")]
    assert list(recorder.calls) == [good_id]
    await assert_still_flowing(recorder, good, good_id)


async def test_64k_frames_are_audio_split_into_20ms(server, recorder, logs) -> None:
    good, good_id = await healthy_call(server, recorder)
    big_id = new_id()
    big = await Peer.connect(server.port)
    payload = bytes(range(256)) * 255 + bytes(254)  # 65534 bytes = 4.1 s of 8 kHz slin in one message
    big.send(encode_uuid(big_id))
    for count in (205, 410, 615):  # one at a time: three at once would overflow the 250-frame inbound queue
        big.send(encode(Kind.SLIN, payload))
        await wait_for(lambda: len(recorder.audio(big_id)) >= count)
    frames = recorder.audio(big_id)
    assert [len(f.pcm) for f in frames[:205]] == [320] * 204 + [254]
    assert b"".join(f.pcm for f in frames) == payload * 3
    big.end_input()
    await asyncio.wait_for(recorder.finished[big_id].wait(), 5)
    assert recorder.hangup(big_id).reason == "remote"
    assert not error_lines(logs)
    await assert_still_flowing(recorder, good, good_id)


async def test_closed_before_any_byte_is_normal(server, recorder, logs) -> None:
    peer = await Peer.connect(server.port)
    peer.end_input()
    await asyncio.wait_for(peer.closed.wait(), 5)
    await wait_for(lambda: any("before the UUID" in line["event"] for line in logs))
    line = next(line for line in logs if "before the UUID" in line["event"])
    assert line["log_level"] == "info"
    assert not recorder.calls and peer.received == []


async def test_connection_without_uuid_is_dropped(recorder, logs) -> None:
    server = await start_server(recorder, uuid_timeout_s=0.1)
    try:
        peer = await Peer.connect(server.port)
        await asyncio.wait_for(peer.closed.wait(), 5)
        assert peer.received == [Message(Kind.HANGUP, b"")] and not recorder.calls
        [line] = error_lines(logs)
        assert "no UUID within 0.1 s" in line["problem"]
    finally:
        await server.stop(grace_s=0.1)


async def test_peer_hangup_message_ends_call_normally(server, recorder, logs) -> None:
    call_id = new_id()
    peer = await Peer.connect(server.port)
    peer.send(encode_uuid(call_id) + encode_audio(FRAME) + encode_dtmf("7") + encode(Kind.HANGUP))
    await asyncio.wait_for(recorder.finished[call_id].wait(), 5)
    assert [type(e).__name__ for e in recorder.events[call_id]] == ["AudioFrame", "Dtmf", "Hangup"]
    assert recorder.hangup(call_id).reason == "remote"
    await asyncio.wait_for(peer.closed.wait(), 5)
    assert not error_lines(logs)


async def test_peer_that_never_reads_is_dropped(recorder, logs) -> None:
    server = await start_server(recorder, first_audio_wait_s=0.05, max_unsent_bytes=4000, send_buffer_bytes=4096)
    try:
        good, good_id = await healthy_call(server, recorder)
        stuck_id = new_id()
        stuck = await Peer.connect(server.port, read=False, rcvbuf=4096)
        # 0x18 (192 kHz): the server answers with 7680-byte frames, so the buffers fill within seconds
        stuck.send(encode_uuid(stuck_id) + encode(Kind.SLIN192, bytes(7680)))
        await asyncio.wait_for(recorder.finished[stuck_id].wait(), 20)
        assert recorder.hangup(stuck_id).reason == "peer_not_reading"
        [line] = [line for line in logs if line["event"] == "peer is not reading; ending call"]
        assert line["call_id"] == stuck_id and "max_unsent_bytes=4000" in line["problem"]
        await assert_still_flowing(recorder, good, good_id)
        stuck.writer.transport.abort()
    finally:
        await server.stop(grace_s=0.1)


# ---------------------------------------------------------------------------------------------------
# Admission, codecs, rates, back-pressure


async def test_peer_outside_allow_list_is_refused(recorder, logs) -> None:
    server = await start_server(recorder, allowed_peers=["10.0.0.0/8"])
    try:
        peer = await Peer.connect(server.port)
        peer.send(encode_uuid(new_id()))
        await asyncio.wait_for(peer.closed.wait(), 5)
        assert peer.received == [] and not recorder.calls
        assert any(line["event"] == "connection refused: peer not in allowed_peers" for line in logs)
        assert server.is_allowed("10.1.2.3") and server.is_allowed("::ffff:10.0.0.1")
        assert not server.is_allowed("127.0.0.1") and not server.is_allowed("not-an-ip")
    finally:
        await server.stop(grace_s=0.1)


async def test_calls_beyond_max_calls_get_hangup(recorder, logs) -> None:
    server = await start_server(recorder, max_calls=1, first_audio_wait_s=0.05)
    try:
        first, first_id = await healthy_call(server, recorder)
        second = await Peer.connect(server.port)
        await asyncio.wait_for(second.closed.wait(), 5)
        assert second.received == [Message(Kind.HANGUP, b"")]
        assert any("max_calls" in line["event"] for line in logs)
        assert server.active_calls == 1
        await assert_still_flowing(recorder, first, first_id)
    finally:
        await server.stop(grace_s=0.1)


async def test_ulaw_labelled_slin_is_detected_and_decoded(server, recorder, logs) -> None:
    call_id = new_id()
    peer = await Peer.connect(server.port)
    ulaw = bytes([0x00, 0x80, 0xFF, 0x7F]) * 40  # 160 bytes: 20 ms of μ-law as Asterisk labels it (0x10)
    peer.send(encode_uuid(call_id) + encode(Kind.SLIN, ulaw) * 2 + encode(Kind.SLIN, ulaw[:135]))
    peer.end_input()
    await asyncio.wait_for(recorder.finished[call_id].wait(), 5)
    frames = recorder.audio(call_id)
    assert [len(f.pcm) for f in frames] == [320, 320, 270]  # the odd 135-byte G.711 tail is valid
    samples = frames[0].samples()
    assert list(samples[:4]) == [-32124, 32124, 0, 0]
    assert recorder.calls[call_id].inbound_codec == "ulaw"
    assert not error_lines(logs)


async def test_wideband_call_is_answered_in_its_own_rate(server, recorder, logs) -> None:
    call_id = new_id()
    peer = await Peer.connect(server.port)

    async def speak(call: CallConnection) -> None:
        assert call.sample_rate == 16000 and call.player.sample_rate == 16000
        call.player.play(b"\x10\x00" * 320 * 3)  # 60 ms at 16 kHz

    recorder.behaviour = speak
    peer.send(encode_uuid(call_id) + encode(Kind.SLIN16, FRAME * 2))
    await wait_for(lambda: sum(1 for m in peer.received if any(m.payload)) == 3)
    audio = [m for m in peer.received if m.kind != Kind.HANGUP]
    # keep-alive at 8 kHz before the rate was known, then 0x12 640-byte frames
    assert {(m.kind, len(m.payload)) for m in audio} <= {(Kind.SLIN, 320), (Kind.SLIN16, 640)}
    assert [len(m.payload) for m in audio if any(m.payload)] == [640, 640, 640]
    frame = recorder.audio(call_id)[0]
    assert frame.sample_rate == 16000 and len(frame.pcm) == 640


async def test_rate_follows_slin16_audio_that_comes_after_the_handler_started(server, recorder, logs) -> None:
    """A slin16 channel whose caller is silent at first (no frames): the call starts at 8 kHz, and its first
    0x12 frame, seconds later, moves the call and the player to 16 kHz; what was queued plays as it was made."""
    call_id = new_id()
    peer = await Peer.connect(server.port)
    peer.send(encode_uuid(call_id))
    await asyncio.wait_for(recorder.started.wait(), 5)
    call = recorder.calls[call_id]
    assert call.sample_rate == 8000 and call.player.sample_rate == 8000
    call.player.play(b"\x10\x00" * 160 * 40)  # a greeting of 800 ms at 8 kHz, playing when the caller speaks
    await asyncio.sleep(0.2)
    peer.send(encode(Kind.SLIN16, FRAME * 2) * 3)
    await wait_for(lambda: len(recorder.audio(call_id)) == 3)
    assert call.sample_rate == 16000 and call.player.sample_rate == 16000
    assert all(f.sample_rate == 16000 and len(f.pcm) == 640 for f in recorder.audio(call_id))
    call.player.play(b"\x20\x00" * 320 * 2)
    await wait_for(lambda: sum(1 for m in peer.received if m.kind == Kind.SLIN16 and any(m.payload)) == 2)
    voiced = [(m.kind, len(m.payload)) for m in peer.received if any(m.payload)]
    assert voiced == [(Kind.SLIN, 320)] * 40 + [(Kind.SLIN16, 640)] * 2
    assert not error_lines(logs)


async def test_inbound_queue_is_bounded_drops_oldest(recorder, logs) -> None:
    server = await start_server(recorder, inbound_queue_frames=50, first_audio_wait_s=0.05)
    try:
        release = asyncio.Event()

        async def slow(call: CallConnection) -> None:
            await release.wait()

        recorder.behaviour = slow
        call_id = new_id()
        peer = await Peer.connect(server.port)
        peer.send(encode_uuid(call_id) + b"".join(encode_audio(i.to_bytes(2, "little") * 160) for i in range(300)))
        await recorder.started.wait()
        call = recorder.calls[call_id]
        await wait_for(lambda: call.frames_in == 300)
        assert call.dropped_frames == 250
        release.set()
        await wait_for(lambda: len(recorder.audio(call_id)) == 50)
        assert recorder.audio(call_id)[0].pcm == (250).to_bytes(2, "little") * 160  # the newest 50 kept
        warnings = [line for line in logs if line["event"] == "inbound queue full; dropping the oldest audio"]
        assert warnings and warnings[0]["call_id"] == call_id
    finally:
        await server.stop(grace_s=0.1)


# ---------------------------------------------------------------------------------------------------
# Outbound audio, hang-up, handler failure, shutdown


async def test_handler_plays_then_hangs_up_with_whole_even_frames(server, recorder, logs) -> None:
    call_id = new_id()
    prompt = b"\x01\x02" * 160 * 10 + b"\x03\x04" * 37  # 10.23 frames: last one padded

    async def greet(call: CallConnection) -> None:
        playback = call.player.play(prompt)
        await call.hangup(drain=True)
        assert playback.done.result() is True

    recorder.behaviour = greet
    peer = await Peer.connect(server.port)
    peer.send(encode_uuid(call_id))
    await asyncio.wait_for(peer.closed.wait(), 5)
    assert peer.received[-1] == Message(Kind.HANGUP, b"")
    audio = peer.received[:-1]
    assert all(m.kind == Kind.SLIN and len(m.payload) == 320 for m in audio)
    voiced = b"".join(m.payload for m in audio if any(m.payload))
    assert voiced == prompt + bytes(320 * 11 - len(prompt))
    assert recorder.hangup(call_id).reason == "local"


async def test_hangup_reaches_a_peer_still_streaming_before_it_reads(server, recorder, logs) -> None:
    """Asterisk keeps sending frames until it has read the 0x00: the server must not reset the connection
    (a close with unread frames sends a TCP reset, which can discard the 0x00 the peer has not read yet)."""
    call_id = new_id()

    async def hang_up(call: CallConnection) -> None:
        await asyncio.sleep(0.1)
        await call.hangup(drain=False)

    recorder.behaviour = hang_up
    peer = await Peer.connect(server.port, read=False)
    peer.send(encode_uuid(call_id))
    peer.stream_audio()
    await recorder.finished[call_id].wait()
    await asyncio.sleep(0.3)  # frames keep arriving at the server after its 0x00, before the peer reads
    received = Decoder().feed(await asyncio.wait_for(peer.reader.read(), 5))  # to EOF; a reset raises here
    assert received[-1] == Message(Kind.HANGUP, b"")
    assert recorder.hangup(call_id).reason == "local"


async def test_failing_handler_ends_its_call_only(server, recorder, logs) -> None:
    good, good_id = await healthy_call(server, recorder)

    async def broken(call: CallConnection) -> None:
        raise RuntimeError("session bug")

    recorder.behaviour = broken
    bad = await Peer.connect(server.port)
    bad.send(encode_uuid(new_id()) + encode_audio(FRAME))
    await asyncio.wait_for(bad.closed.wait(), 5)
    assert bad.received[-1].kind == Kind.HANGUP
    assert any(line["event"] == "call handler failed; ending call" for line in logs)
    await assert_still_flowing(recorder, good, good_id)


async def test_graceful_shutdown_lets_calls_finish(recorder, logs) -> None:
    server = await start_server(recorder, first_audio_wait_s=0.05)

    async def wrap_up(call: CallConnection) -> None:
        await call.shutdown_requested.wait()
        call.player.play(b"\x05\x00" * 160 * 5, interruptible=False)  # "transferring you to an agent"
        await call.hangup(drain=True)

    recorder.behaviour = wrap_up
    call_id = new_id()
    peer = await Peer.connect(server.port)
    peer.send(encode_uuid(call_id))
    peer.stream_audio()
    await recorder.started.wait()
    await server.stop(grace_s=5)
    assert recorder.finished[call_id].is_set() and server.active_calls == 0
    await asyncio.wait_for(peer.closed.wait(), 5)
    assert peer.received[-1].kind == Kind.HANGUP
    assert sum(1 for m in peer.received if any(m.payload)) == 5
    assert recorder.hangup(call_id).reason == "local"
    with pytest.raises(OSError):
        await Peer.connect(server.port)  # no longer accepting


async def test_shutdown_closes_calls_that_outlive_the_grace(recorder, logs) -> None:
    server = await start_server(recorder, first_audio_wait_s=0.05)
    call_id = new_id()
    peer = await Peer.connect(server.port)
    peer.send(encode_uuid(call_id))
    peer.stream_audio()
    await recorder.started.wait()
    await server.stop(grace_s=0.2)  # the recorder ignores shutdown_requested
    assert recorder.calls[call_id].shutdown_requested.is_set()
    assert recorder.hangup(call_id).reason == "shutdown"
    await asyncio.wait_for(peer.closed.wait(), 5)
    assert peer.received[-1].kind == Kind.HANGUP
    assert any(line["event"] == "calls still up after the grace period; closing them" for line in logs)
