"""The player's tap (what a call recording hears of the bot): every message exactly as written, when it was
written, keep-alive silence included, and nothing of a prompt after a barge-in's cancel(); with a fake tap."""

from __future__ import annotations

import asyncio
import itertools

from fakes import FakeClock

from voicebot.audio.audiosocket import HEADER_SIZE
from voicebot.audio.player import Player

FRAME = 320  # 20 ms at 8 kHz


class FakeTap:
    """Stands in for a recording's bot channel (``CallRecorderTap.bot``)."""

    def __init__(self) -> None:
        self.heard: list[tuple[bytes, float]] = []

    def bot(self, message: bytes, at: float) -> None:
        self.heard.append((message, at))


async def test_the_tap_hears_what_was_written_and_nothing_after_a_cut() -> None:
    clock, written, tap = FakeClock(), [], FakeTap()
    player = Player(written.append, 8000, keepalive=True, clock=clock, sleep=clock.sleep)
    player.tap = tap.bot
    task = asyncio.create_task(player.run())
    prompt = player.play(b"\x01\x00" * (FRAME // 2) * 50)  # one second of the bot
    while prompt.frames < 10:
        await asyncio.sleep(0)
    player.cancel()  # the caller barged in after ten frames
    for _ in range(30):  # keep-alive silence afterwards
        await asyncio.sleep(0)
    player.close()
    await task
    assert [message for message, _ in tap.heard] == written  # exactly what went to Asterisk, in order
    voiced = [message for message, _ in tap.heard if any(message[HEADER_SIZE:])]
    assert len(voiced) == 10 and prompt.done.result() is False  # the cut prompt's frames, and no more
    times = [at for _, at in tap.heard]
    assert [round(b - a, 6) for a, b in itertools.pairwise(times)] == [0.02] * (len(times) - 1)  # as written
    assert len(tap.heard) > len(voiced)  # keep-alive silence is heard too
