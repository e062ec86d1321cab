"""The paced player, driven by a fake clock: pacing, cancel, keep-alive, underruns, frame hygiene."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from fakes import FakeCallConnection, FakeClock

from voicebot.audio.audiosocket import Decoder, Kind
from voicebot.audio.player import PeerNotReading, Player
from voicebot.types import AudioFrame, Hangup

FRAME = 320  # 20 ms at 8 kHz


class Wire:
    """Collects what the player writes and checks every write is exactly one well-formed message."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.messages: list[tuple[float, int, bytes]] = []

    def write(self, data: bytes) -> None:
        decoder = Decoder()
        decoded = decoder.feed(data)
        assert len(decoded) == 1 and decoder.pending == 0, "one write must carry exactly one whole message"
        message = decoded[0]
        assert message.payload and len(message.payload) % 2 == 0, "never zero-length or odd-length audio"
        self.messages.append((self.clock(), message.kind, message.payload))

    def voiced(self) -> list[bytes]:
        return [p for _, _, p in self.messages if any(p)]


def tone(value: int, frames: int) -> bytes:
    """Constant non-zero samples: each frame is recognisable by its value."""
    return value.to_bytes(2, "little", signed=True) * (FRAME // 2) * frames


async def until(condition, clock: FakeClock, limit_s: float = 60.0) -> None:
    start = clock.t
    while not condition():
        assert clock.t - start < limit_s, "condition not reached in virtual time"
        await asyncio.sleep(0)


@asynccontextmanager
async def running(player: Player) -> AsyncIterator[Player]:
    """``player.run()`` in a task while the block runs; then the player closed and its task awaited."""
    task = asyncio.create_task(player.run())
    try:
        yield player
    finally:
        player.close()
        await task


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def wire(clock: FakeClock) -> Wire:
    return Wire(clock)


def make_player(wire: Wire, clock: FakeClock, **kwargs) -> Player:
    return Player(wire.write, 8000, clock=clock, sleep=clock.sleep, **kwargs)


async def test_pacing_one_frame_per_20ms_on_absolute_deadlines(wire: Wire, clock: FakeClock) -> None:
    player = make_player(wire, clock)
    playback = player.play(tone(100, 50))  # 1 s
    async with running(player):
        await until(lambda: clock.t - 1000.0 >= 2.0, clock)
    times = [t for t, _, _ in wire.messages]
    assert len(times) == pytest.approx(100, abs=1)  # 2 s of 20 ms frames, audio then keep-alive silence
    # frame n goes out at t0 + n * 20 ms exactly: no drift
    assert all(abs((t - times[0]) - i * 0.02) < 1e-9 for i, t in enumerate(times))
    assert await playback.done is True
    assert wire.voiced() == [tone(100, 1)] * 50
    assert all(kind == Kind.SLIN for _, kind, _ in wire.messages)


async def test_falls_behind_then_catches_up_without_skipping_audio(wire: Wire, clock: FakeClock) -> None:
    player = make_player(wire, clock, keepalive=False)
    audio = b"".join(tone(i + 1, 1) for i in range(20))
    player.play(audio)
    async with running(player):
        await until(lambda: len(wire.messages) >= 5, clock)
        clock.t += 0.1  # the loop was late by five frames (but less than max_lag_s)
        await until(lambda: len(wire.messages) >= 20, clock)
    assert wire.voiced() == [tone(i + 1, 1) for i in range(20)]
    late = [t for t, _, _ in wire.messages[5:10]]
    assert max(late) - min(late) < 0.021  # the due frames went out together, not 20 ms apart
    assert player.late_restarts == 0


async def test_cancel_stops_within_one_frame(wire: Wire, clock: FakeClock) -> None:
    player = make_player(wire, clock)
    first = player.play(tone(7, 100))
    queued = player.play(tone(8, 100))
    async with running(player):
        await until(lambda: len(wire.voiced()) >= 10, clock)
        assert player.speaking
        sent_before = len(wire.messages)
        assert player.cancel() == 2
        assert not player.speaking
        await until(lambda: len(wire.messages) >= sent_before + 5, clock)
    after = [p for _, _, p in wire.messages[sent_before:]]
    assert all(not any(p) for p in after), "the next frame after cancel() is silence"
    assert await first.done is False and await queued.done is False
    assert tone(8, 1) not in wire.voiced()


async def test_uninterruptible_prompt_survives_cancel(wire: Wire, clock: FakeClock) -> None:
    player = make_player(wire, clock)
    legal = player.play(tone(3, 10), interruptible=False)
    chatter = player.play(tone(4, 10))
    async with running(player):
        await until(lambda: len(wire.voiced()) >= 2, clock)
        assert player.cancel() == 1  # only the interruptible one
        await player.drain()
        assert await legal.done is True and await chatter.done is False
        assert wire.voiced() == [tone(3, 1)] * 10
        assert player.cancel(include_uninterruptible=True) == 0
        urgent = player.play(tone(5, 50), interruptible=False)
        await until(lambda: urgent.started.is_set(), clock)
        assert player.cancel(include_uninterruptible=True) == 1
        assert await urgent.done is False


async def test_keepalive_silence_when_idle_and_none_without_it(wire: Wire, clock: FakeClock) -> None:
    player = make_player(wire, clock)
    async with running(player):
        await until(lambda: clock.t - 1000.0 >= 3.0, clock)
        assert len(wire.messages) >= 149  # never 2 s (Asterisk's timeout) without a frame
        assert all(payload == bytes(FRAME) for _, _, payload in wire.messages)

    quiet_wire = Wire(clock)
    quiet = Player(quiet_wire.write, 8000, keepalive=False, clock=clock, sleep=clock.sleep)
    async with running(quiet):
        for _ in range(50):
            await asyncio.sleep(0)
        assert quiet_wire.messages == []
        playback = quiet.play(tone(9, 3))
        await playback.done
        assert quiet_wire.voiced() == [tone(9, 1)] * 3


async def test_streamed_utterance_counts_underruns(wire: Wire, clock: FakeClock) -> None:
    player = make_player(wire, clock)
    more = asyncio.Event()

    async def tts() -> AsyncIterator[bytes]:
        yield tone(1, 5)[:1000]  # odd chunk sizes are fine: the player re-frames
        yield tone(1, 5)[1000:]
        await more.wait()  # synthesis of the next sentence is slow
        yield tone(2, 5)

    async with running(player):
        playback = player.play(tts())
        await until(lambda: len(wire.voiced()) >= 5, clock)
        before = len(wire.messages)
        await until(lambda: len(wire.messages) >= before + 4, clock)
        assert player.underruns == 4  # each 20 ms slot without audio mid-utterance is one underrun
        assert player.speaking
        more.set()
        assert await playback.done is True
        assert wire.voiced() == [tone(1, 1)] * 5 + [tone(2, 1)] * 5


async def test_no_underrun_before_first_audio_and_last_frame_padded(wire: Wire, clock: FakeClock) -> None:
    player = make_player(wire, clock)
    ready = asyncio.Event()

    async def slow_first_audio() -> AsyncIterator[bytes]:
        await ready.wait()
        yield b"\x01" * 501  # odd total: padded with silence to one even 20 ms frame

    async with running(player):
        playback = player.play(slow_first_audio())
        await until(lambda: len(wire.messages) >= 10, clock)
        assert player.underruns == 0 and not playback.started.is_set()
        ready.set()
        assert await playback.done is True
        assert playback.first_frame_at is not None
        voiced = wire.voiced()
        assert [len(p) for p in voiced] == [FRAME, FRAME]
        assert voiced[1] == b"\x01" * (501 - FRAME) + bytes(2 * FRAME - 501)


async def test_cancel_closes_the_audio_stream(wire: Wire, clock: FakeClock) -> None:
    player = make_player(wire, clock)
    closed = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        try:
            while True:
                yield tone(6, 10)
        finally:
            closed.set()

    async with running(player):
        playback = player.play(endless())
        await until(lambda: len(wire.voiced()) >= 3, clock)
        assert player.cancel() == 1
        await asyncio.wait_for(closed.wait(), 1)
        assert await playback.done is False


async def test_failed_stream_ends_the_utterance_not_the_player(wire: Wire, clock: FakeClock) -> None:
    player = make_player(wire, clock)

    async def broken() -> AsyncIterator[bytes]:
        yield tone(2, 2)
        raise RuntimeError("voice crashed")

    async with running(player):
        playback = player.play(broken())
        assert await playback.done is False
        assert isinstance(playback.error, RuntimeError)
        after = player.play(tone(3, 1))
        assert await after.done is True
        assert wire.voiced() == [tone(2, 1), tone(2, 1), tone(3, 1)]


async def test_peer_not_reading_raises(clock: FakeClock) -> None:
    unsent = 0

    def write(data: bytes) -> None:
        nonlocal unsent
        unsent += len(data)  # nothing ever leaves the buffer

    player = Player(write, 8000, max_unsent_bytes=3000, unsent=lambda: unsent, clock=clock, sleep=clock.sleep)
    playback = player.play(tone(1, 100))
    with pytest.raises(PeerNotReading):
        await player.run()
    assert player.sent_frames == 10  # 10 * 323 > 3000
    assert await playback.done is False


async def test_rate_sets_kind_and_frame_size(clock: FakeClock) -> None:
    wire = Wire(clock)
    player = Player(wire.write, 16000, clock=clock, sleep=clock.sleep)
    assert player.frame_bytes == 640
    async with running(player):
        await until(lambda: len(wire.messages) >= 3, clock)
    assert {(kind, len(p)) for _, kind, p in wire.messages} == {(Kind.SLIN16, 640)}
    with pytest.raises(ValueError):
        player.set_sample_rate(11025)


async def test_rate_change_while_audio_is_queued_keeps_each_utterance_in_its_own_kind(clock: FakeClock) -> None:
    """The caller's audio turned out to be slin16: what was queued at 8 kHz still plays as 0x10, then 0x12."""
    wire = Wire(clock)
    player = Player(wire.write, 8000, keepalive=False, clock=clock, sleep=clock.sleep)
    async with running(player):
        first = player.play(tone(5, 3))
        player.set_sample_rate(16000)
        second = player.play(b"\x07\x00" * 320 * 2)
        await player.drain()
    assert first.done.result() is True and second.done.result() is True
    assert [(kind, len(p)) for _, kind, p in wire.messages] == [(Kind.SLIN, 320)] * 3 + [(Kind.SLIN16, 640)] * 2
    with pytest.raises(ValueError):
        player.play(b"\x00\x00" * 10, sample_rate=11025)


async def test_drain_waits_for_queued_audio_and_play_after_close_is_cancelled(wire: Wire, clock: FakeClock) -> None:
    player = make_player(wire, clock)
    async with running(player):
        a, b = player.play(tone(1, 3)), player.play(tone(2, 3))
        await player.drain()
        assert a.done.result() is True and b.done.result() is True and player.pending == 0
    late = player.play(tone(3, 1))
    assert late.done.result() is False


async def test_fake_call_connection_plays_on_virtual_time() -> None:
    conn = FakeCallConnection()
    playback = conn.player.play(tone(2, 3))
    conn.feed(AudioFrame(bytes(FRAME), 8000))
    await conn.hangup(drain=True)
    assert playback.done.result() is True and len(conn.sent) == 3
    events = [event async for event in conn.events()]
    assert isinstance(events[0], AudioFrame) and events[-1] == Hangup("local", events[-1].timestamp)
    assert conn.hangups == [True]
