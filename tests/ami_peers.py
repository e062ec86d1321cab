"""Asterisk's side of AMI for the telephony tests: the AMI peer (voicebot.caller.ami_peer) on a free port, and the
real AMI client logged in to it; and a wait on a condition the client's events bring about."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from pydantic import SecretStr

from voicebot.caller.ami_peer import AmiPeer, PeerQueue
from voicebot.config import AmiSettings
from voicebot.telephony.ami import AmiClient

USER, SECRET = "voicebot-control", "s3cret"


def ami_settings(port: int, **changes: object) -> AmiSettings:
    """The client's settings for the peer on ``port``: its login, actions timed out after 2 s, no pings."""
    values: dict[str, object] = {"enabled": True, "port": port, "username": USER, "secret": SecretStr(SECRET),
                                 "action_timeout_s": 2.0, "ping_interval_s": 0}
    return AmiSettings(**(values | changes))


@asynccontextmanager
async def running_peer(queues: list[PeerQueue]) -> AsyncIterator[AmiPeer]:
    """The AMI peer with these queues, accepting the test's login."""
    peer = AmiPeer({USER: SECRET}, queues)
    await peer.start()
    try:
        yield peer
    finally:
        await peer.stop()


@asynccontextmanager
async def logged_in_client(peer: AmiPeer, **changes: object) -> AsyncIterator[AmiClient]:
    """The AMI client, started (logged in) on ``peer``; ``changes`` to its settings."""
    client = AmiClient(ami_settings(peer.port, **changes))
    await client.start()
    try:
        yield client
    finally:
        await client.close()


async def until(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    """Return once ``condition()`` holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)
