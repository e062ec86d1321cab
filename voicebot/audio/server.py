"""The AudioSocket server: accepts Asterisk's TCP connections and turns each into a :class:`CallConnection`.

Per connection (an ``asyncio.Protocol``, no task per read):

* the peer is checked against ``allowed_peers`` (refused at once) and ``max_calls`` (answered ``0x00``);
  connections that have not sent their UUID do not count as calls: at most ``max_pending_connections``
  wait (the oldest is closed for a new one), each for at most ``uuid_timeout_s``;
* the first message must be the ``0x01`` UUID. A connection closed before any byte is normal (Asterisk
  does that for an unanswered channel) and logged at info;
* after the UUID the call's :class:`~voicebot.audio.player.Player` starts at once (keep-alive silence lets
  Asterisk's ``Answer()`` see media), and the handler starts at the first audio message, or after
  ``first_audio_wait_s`` (a silent caller's leg may send none: Local channels, silence suppression). The
  call's rate is never guessed: it is 8 kHz until audio arrives and then always the kind of the latest
  audio message (``CallConnection.sample_rate``, and the player's rate for what is queued from then on);
* inbound ``0x10``-``0x18`` audio becomes :class:`AudioFrame` s of at most 20 ms (a big message is split,
  a short one passed as is), ``0x03`` becomes :class:`Dtmf`; a TCP close (Asterisk never sends ``0x00``)
  or a ``0x00`` from the peer ends the call. ``events()`` ends with exactly one :class:`Hangup`;
* anything else is a protocol error: one error log line naming call id, peer and the problem, a
  ``Hangup(reason="protocol_error")``, ``0x00`` if the socket is still writable, and the socket closed.
  Other calls are not affected.
* per call, audio faster than ``max_audio_speed`` × real time (beyond ``audio_burst_s`` saved up) and DTMF
  beyond ``max_dtmf_per_s`` are dropped, with one warning per call and the totals in the ``call ended``
  line; a call whose excess keeps growing past ``max_excess_audio_s`` / ``max_excess_dtmf`` is ended as a
  protocol error.

Inbound G.711: Asterisk labels μ-law/A-law as ``0x10`` (AUDIOSOCKET.md §3.3). ``inbound_codec="auto"``
decides on the call's first audio message: a ``0x10`` payload of exactly 160 bytes (20 ms of G.711;
slin is 320) means μ-law. A slin channel packetised at 10 ms would also send 160 bytes, and A-law
cannot be told from μ-law: set ``inbound_codec`` explicitly for those.

The inbound queue holds at most ``inbound_queue_frames`` audio frames; when the session falls behind, the
oldest audio is dropped (counted, warned) rather than the queue growing.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable

import structlog

from voicebot.audio.audiosocket import AUDIO_RATES, Kind, ProtocolError, decode_dtmf, decode_uuid, encode_hangup
from voicebot.audio.codecs import alaw_to_pcm, ulaw_to_pcm
from voicebot.audio.limits import TokenBucket
from voicebot.audio.player import PeerNotReading, Player
from voicebot.config import AudioSocketSettings
from voicebot.types import AudioFrame, Dtmf, Hangup, InboundEvent, now

log = structlog.get_logger(__name__)

_HANGUP = encode_hangup()
_INBOUND_KINDS = frozenset({Kind.HANGUP, Kind.UUID, Kind.DTMF, *AUDIO_RATES})
_CLOSE_TIMEOUT_S = 2.0  # a closing socket whose peer does not read is aborted after this


class CallConnection:
    """One call as the session sees it: inbound events, the outbound player, hang-up, shutdown notice."""

    def __init__(self, call_id: str, peer: tuple[str, int], player: Player, connection: _Connection,
                 max_queued_frames: int) -> None:
        self.call_id = call_id
        self.peer = peer
        self.player = player
        self.sample_rate = 8000
        self.inbound_codec = "slin"
        self.shutdown_requested = asyncio.Event()
        self.connected_at = now()
        self.ended_at: float | None = None
        self.frames_in = 0
        self.dropped_frames = 0
        self.end_reason: str | None = None
        self._connection = connection
        self._inbox: deque[InboundEvent] = deque()
        self._queued_audio = 0
        self._max_queued_audio = max(1, max_queued_frames)
        self._waiter: asyncio.Future[None] | None = None
        self._hangup_delivered = False

    async def events(self) -> AsyncIterator[InboundEvent]:
        """Audio frames and DTMF in arrival order, then one :class:`Hangup`. One consumer per call."""
        while not self._hangup_delivered:
            while not self._inbox:
                self._waiter = asyncio.get_running_loop().create_future()
                await self._waiter
            event = self._inbox.popleft()
            if isinstance(event, AudioFrame):
                self._queued_audio -= 1
            elif isinstance(event, Hangup):
                self._hangup_delivered = True
            yield event

    async def hangup(self, drain: bool = True) -> None:
        """Let queued (not cancelled) audio finish if ``drain``, send ``0x00`` and close. Idempotent."""
        await self._connection.hangup(drain)

    @property
    def ended(self) -> bool:
        return self.end_reason is not None

    def _push(self, event: InboundEvent) -> None:
        if self.end_reason is not None:
            return
        if isinstance(event, AudioFrame):
            self.frames_in += 1
            if self._queued_audio >= self._max_queued_audio:
                self._drop_oldest_audio()
            self._queued_audio += 1
        elif isinstance(event, Hangup):
            self.end_reason = event.reason
        self._inbox.append(event)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _drop_oldest_audio(self) -> None:
        for index, queued in enumerate(self._inbox):
            if isinstance(queued, AudioFrame):
                del self._inbox[index]
                break
        self._queued_audio -= 1
        self.dropped_frames += 1
        if self.dropped_frames == 1 or self.dropped_frames % 500 == 0:
            self._connection.log.warning("inbound queue full; dropping the oldest audio",
                                         dropped_frames=self.dropped_frames, queue_frames=self._max_queued_audio)


CallHandler = Callable[[CallConnection], Awaitable[None]]


class _Connection(asyncio.Protocol):
    """The wire side of one TCP connection: parses messages, feeds the CallConnection, ends the call."""

    def __init__(self, server: AudioSocketServer) -> None:
        self._server = server
        self._settings = server.settings
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._received = 0
        self._ended = False
        self._codec: str | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        self._peer_closed = False
        self._player_task: asyncio.Task[None] | None = None
        self.call_task: asyncio.Task[None] | None = None
        self.call: CallConnection | None = None
        self.peer: tuple[str, int] = ("?", 0)
        self.log = log.bind(call_id=None)
        settings = self._settings
        self._audio_limit = TokenBucket(settings.max_audio_speed, settings.audio_burst_s)
        self._dtmf_limit = TokenBucket(settings.max_dtmf_per_s, settings.max_dtmf_per_s)
        self._dropped_dtmf = 0

    # ------------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        peername = transport.get_extra_info("peername") or ("?", 0)
        self.peer = (str(peername[0]), int(peername[1]))
        self.log = log.bind(call_id=None, peer=f"{self.peer[0]}:{self.peer[1]}")
        server = self._server
        if not server.is_allowed(self.peer[0]):
            self.log.warning("connection refused: peer not in allowed_peers")
            self._ended = True
            transport.abort()
            return
        if server.accepting is False or server.calls >= self._settings.max_calls:
            self._refuse()
            return
        server.admit_pending(self)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._settings.send_buffer_bytes > 0:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self._settings.send_buffer_bytes)
        self._timer = asyncio.get_running_loop().call_later(self._settings.uuid_timeout_s, self._no_uuid)

    def data_received(self, data: bytes) -> None:
        if self._ended:
            return
        self._received += len(data)
        if self._buffer:  # the rest of a message split across TCP segments
            self._buffer += data
            data = bytes(self._buffer)
            self._buffer.clear()
        offset, size, arrived = 0, len(data), now()
        try:
            while size - offset >= 3:
                kind = data[offset]
                end = offset + 3 + (data[offset + 1] << 8 | data[offset + 2])
                if end > size:
                    if kind not in _INBOUND_KINDS:  # garbage: say so now rather than wait for its "payload"
                        self._on_message(kind, data[offset + 3:size], arrived)
                    break
                self._on_message(kind, data[offset + 3:end], arrived)
                offset = end
                if self._ended:
                    return
        except ProtocolError as error:
            self._protocol_error(str(error))
            return
        except Exception as error:  # noqa: BLE001 - a bug while parsing ends this call, not the server
            self.log.exception("inbound message handling failed; ending call", error=repr(error))
            self._end("server_error", send_hangup=True)
            return
        if offset < size:
            self._buffer += data[offset:]

    def eof_received(self) -> bool:
        self._peer_closed = True
        if self._ended:
            return False  # the peer closed after our 0x00: the transport closes now
        if self._buffer:
            pending = len(self._buffer)
            if pending < 3:
                problem = f"truncated header at end of stream ({pending} of 3 bytes)"
            else:
                length = self._buffer[1] << 8 | self._buffer[2]
                problem = (f"message kind 0x{self._buffer[0]:02x} declares {length} payload bytes but the stream "
                           f"ended after {pending - 3}")
            self._protocol_error(problem)
        elif self.call is None:
            self.log.info("connection closed before the UUID (unanswered channel)", bytes=self._received)
            self._end("remote", send_hangup=False)
        else:
            self.log.info("peer closed the connection (caller hung up)")
            self._end("remote", send_hangup=False)
        return True  # _end closed the transport, after writing 0x00 where that was due

    def connection_lost(self, exc: Exception | None) -> None:
        if self._close_timer is not None:
            self._close_timer.cancel()
        self._server.forget(self)
        if not self._ended:
            if self.call is None and self._received == 0 and exc is None:
                self.log.info("connection closed before the UUID (unanswered channel)")
            else:
                self.log.info("connection lost", error=repr(exc) if exc else None)
            self._end("remote", send_hangup=False)

    # ------------------------------------------------------------------ inbound messages

    def _on_message(self, kind: int, payload: bytes, arrived: float) -> None:
        call = self.call
        if call is None:
            if kind != Kind.UUID:
                raise ProtocolError(f"first message must be the UUID (0x01), got kind 0x{kind:02x} "
                                    f"with {len(payload)} bytes")
            self._start_call(decode_uuid(payload))
        elif kind in AUDIO_RATES:
            self._on_audio(call, kind, payload, arrived)
        elif kind == Kind.DTMF:
            digit = decode_dtmf(payload)
            if self._dtmf_limit.take(1, arrived):
                call._push(Dtmf(digit, arrived))
                self._start_handler()
            else:
                self._dtmf_flood()
        elif kind == Kind.HANGUP:
            self.log.info("peer sent hangup (0x00)")
            self._end("remote", send_hangup=False)
        elif kind == Kind.UUID:
            raise ProtocolError("second UUID message (0x01)")
        elif kind == Kind.ERROR:
            raise ProtocolError(f"error message (0xff) with {len(payload)} bytes")
        else:
            raise ProtocolError(f"unknown message kind 0x{kind:02x} with {len(payload)} bytes")

    def _on_audio(self, call: CallConnection, kind: int, payload: bytes, arrived: float) -> None:
        if not payload:
            raise ProtocolError(f"zero-length audio (kind 0x{kind:02x})")
        codec = self._codec
        if codec is None:
            codec = self._codec = self._resolve_codec(kind, len(payload))
            call.inbound_codec = codec if kind == Kind.SLIN else "slin"
        rate = AUDIO_RATES[kind]
        if kind == Kind.SLIN and codec == "ulaw":
            pcm = ulaw_to_pcm(payload)
        elif kind == Kind.SLIN and codec == "alaw":
            pcm = alaw_to_pcm(payload)
        elif len(payload) % 2:
            raise ProtocolError(f"odd-length slin audio: {len(payload)} bytes (kind 0x{kind:02x}) would "
                                f"misalign every later sample")
        else:
            pcm = payload
        if call.sample_rate != rate:  # the first audio of a slin16 channel, or a later change of kind
            if self.call_task is not None:
                self.log.info("caller audio changed rate; following it", sample_rate=rate, was=call.sample_rate)
            call.sample_rate = rate
            call.player.set_sample_rate(rate)  # answer in the call's own rate and kind
        if not self._audio_limit.take(len(pcm) / (2 * rate), arrived):
            self._audio_flood()
            return
        frame = rate // 50 * 2
        if len(pcm) <= frame:
            call._push(AudioFrame(pcm, rate, arrived))
        else:  # a big message (up to 65535 bytes) is valid audio: deliver it as 20 ms frames
            for start in range(0, len(pcm), frame):
                call._push(AudioFrame(pcm[start:start + frame], rate, arrived))
        if self.call_task is None:
            self._start_handler()

    def _resolve_codec(self, kind: int, length: int) -> str:
        configured = self._settings.inbound_codec
        if configured != "auto":
            return configured
        codec = "ulaw" if kind == Kind.SLIN and length == 160 else "slin"
        if codec == "ulaw":
            self.log.info("inbound 0x10 frames of 160 bytes: treating them as μ-law (inbound_codec=auto)")
        return codec

    def _audio_flood(self) -> None:
        excess = self._audio_limit.dropped
        if excess > self._settings.max_excess_audio_s:
            raise ProtocolError(f"audio keeps arriving faster than {self._settings.max_audio_speed}× real time "
                                f"({excess:.0f} s of excess audio dropped)")
        if excess * 50 < 1.5:  # the first dropped frame: one warning per call, totals at the end
            self.log.warning("inbound audio faster than real time; dropping the excess",
                             max_audio_speed=self._settings.max_audio_speed)

    def _dtmf_flood(self) -> None:
        self._dropped_dtmf += 1
        if self._dropped_dtmf > self._settings.max_excess_dtmf:
            raise ProtocolError(f"DTMF flood: more than {self._settings.max_excess_dtmf} digits over "
                                f"{self._settings.max_dtmf_per_s} per second")
        if self._dropped_dtmf == 1:
            self.log.warning("DTMF faster than a keypad; dropping the excess", max_dtmf_per_s=self._settings.max_dtmf_per_s)

    # ------------------------------------------------------------------ call lifecycle

    def _refuse(self) -> None:
        assert self._transport is not None
        self.log.warning("connection refused: at max_calls or stopping; answered 0x00",
                         max_calls=self._settings.max_calls)
        self._ended = True
        self._transport.write(_HANGUP)
        self._close_without_reset(self._transport)

    def _start_call(self, call_id: str) -> None:
        assert self._transport is not None
        if self._timer is not None:
            self._timer.cancel()
        if not self._server.promote(self):
            self._refuse()
            return
        self.log = self.log.bind(call_id=call_id)
        s = self._settings
        player = Player(self._write, 8000, keepalive=s.keepalive, max_unsent_bytes=s.max_unsent_bytes,
                        unsent=self._transport.get_write_buffer_size)
        self.call = CallConnection(call_id, self.peer, player, self, s.inbound_queue_frames)
        self._player_task = asyncio.create_task(player.run(), name=f"player-{call_id}")
        self._player_task.add_done_callback(self._player_stopped)
        self._timer = asyncio.get_running_loop().call_later(s.first_audio_wait_s, self._start_handler)
        self.log.info("call connected")

    def _start_handler(self) -> None:
        """Start the handler at the first audio (the greeting then starts in the call's rate), or at the latest
        after the wait; the rate follows the audio from then on either way."""
        if self.call_task is not None or self.call is None:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.call_task = self._server.serve(self)

    def _no_uuid(self) -> None:
        self._timer = None
        if self.call is None and not self._ended:
            self._protocol_error(f"no UUID within {self._settings.uuid_timeout_s} s of connecting")

    def _player_stopped(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        error = task.exception()  # retrieved even when the call already ended, so asyncio does not warn
        if self._ended:
            return
        if isinstance(error, PeerNotReading):
            self.log.error("peer is not reading; ending call", problem=str(error))
            self._end("peer_not_reading", send_hangup=False, abort=True)
        elif error is not None:
            self.log.error("player failed; ending call", error=repr(error), exc_info=error)
            self._end("server_error", send_hangup=True)

    def _write(self, message: bytes) -> None:
        transport = self._transport
        if transport is not None and not self._ended and not transport.is_closing():
            transport.write(message)

    def _protocol_error(self, problem: str) -> None:
        self.log.error("audiosocket protocol error; ending call", problem=problem)
        self._end("protocol_error", send_hangup=True)

    async def hangup(self, drain: bool) -> None:
        if self._ended or self.call is None:
            return
        if drain:
            await self.call.player.drain()
        if not self._ended:
            self.log.info("hanging up (0x00)")
            self._end("local", send_hangup=True)

    def end(self, reason: str) -> None:
        """End the call from the server's side (shutdown, handler finished)."""
        self._end(reason, send_hangup=True)

    def _end(self, reason: str, send_hangup: bool, abort: bool = False) -> None:
        """The one way a call ends: stop the player, deliver Hangup, say 0x00 if due, close the socket."""
        if self._ended:
            return
        self._ended = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.call is not None:
            self.call.ended_at = now()
            self.call.player.close()
            self.call._push(Hangup(reason))
        transport = self._transport
        if transport is not None and not transport.is_closing():
            if abort:
                transport.abort()
            else:
                if send_hangup:
                    transport.write(_HANGUP)
                self._close_without_reset(transport)
        if self.call is not None and self.call_task is None:
            self._start_handler()  # the session still sees the call (and its Hangup) and records it

    def _close_without_reset(self, transport: asyncio.Transport) -> None:
        """Close after what was written (0x00) is sent, without a TCP reset: a socket closed with the peer's
        frames still unread sends a reset, which can discard the 0x00 before the peer reads it. So only the
        sending side is shut; frames still arriving are read and dropped until the peer closes (it does on
        0x00), or the connection is aborted after ``_CLOSE_TIMEOUT_S``."""
        if self._peer_closed or not transport.can_write_eof():
            transport.close()
        else:
            transport.write_eof()
        self._close_timer = asyncio.get_running_loop().call_later(_CLOSE_TIMEOUT_S, transport.abort)

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def stats(self) -> dict[str, object]:
        call = self.call
        if call is None:
            return {}
        return {"reason": call.end_reason, "seconds": round((call.ended_at or now()) - call.connected_at, 2),
                "handler_after_end_s": round(now() - (call.ended_at or now()), 2),
                "frames_in": call.frames_in, "frames_out": call.player.sent_frames,
                "underruns": call.player.underruns, "max_late_ms": round(call.player.max_late_s * 1000, 1),
                "late_restarts": call.player.late_restarts, "dropped_frames": call.dropped_frames,
                "excess_audio_s": round(self._audio_limit.dropped, 2), "excess_dtmf": self._dropped_dtmf,
                "inbound_codec": call.inbound_codec, "sample_rate": call.sample_rate}


class AudioSocketServer:
    """Serves Asterisk's AudioSocket connections; runs ``handler(call)`` once per call."""

    def __init__(self, settings: AudioSocketSettings, handler: CallHandler) -> None:
        self.settings = settings
        self._handler = handler
        self._networks = [ipaddress.ip_network(peer, strict=False) for peer in settings.allowed_peers]
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections: set[_Connection] = set()
        self._pending: dict[_Connection, None] = {}  # without a UUID yet, oldest first
        self.accepting = False
        self.active_calls = 0

    async def start(self) -> None:
        """Bind and listen."""
        loop = asyncio.get_running_loop()
        s = self.settings
        self._server = await loop.create_server(lambda: _Connection(self), s.host, s.port, reuse_address=True,
                                                backlog=max(100, s.max_calls))
        self.accepting = True
        log.info("audiosocket listening", address=f"{s.host}:{self.port}", allowed_peers=s.allowed_peers,
                 max_calls=s.max_calls, inbound_codec=s.inbound_codec)

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            return self.settings.port
        return int(self._server.sockets[0].getsockname()[1])

    def is_allowed(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self._networks)

    def call_ids(self) -> list[str]:
        """The UUIDs of the calls in progress."""
        return [c.call.call_id for c in self.connections if c.call is not None and not c.ended]

    @property
    def calls(self) -> int:
        """Connections that sent their UUID and have not gone yet."""
        return len(self.connections) - len(self._pending)

    def admit_pending(self, connection: _Connection) -> None:
        """A new connection waits for its UUID; beyond ``max_pending_connections`` the oldest is closed."""
        while len(self._pending) >= self.settings.max_pending_connections:
            oldest = next(iter(self._pending))
            self.forget(oldest)
            oldest.log.warning("closing a connection still without a UUID to admit a new one",
                               max_pending_connections=self.settings.max_pending_connections)
            oldest.end("protocol_error")
        self.connections.add(connection)
        self._pending[connection] = None

    def promote(self, connection: _Connection) -> bool:
        """The connection sent its UUID: it is a call now, if there is room for one."""
        if not self.accepting or self.calls >= self.settings.max_calls:
            self.forget(connection)
            return False
        self._pending.pop(connection, None)
        return True

    def forget(self, connection: _Connection) -> None:
        self._pending.pop(connection, None)
        self.connections.discard(connection)

    def serve(self, connection: _Connection) -> asyncio.Task[None]:
        task = asyncio.create_task(self._serve(connection), name=f"call-{connection.peer[1]}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _serve(self, connection: _Connection) -> None:
        """Run the handler, supervised: whatever happens, the call ends and is logged."""
        call = connection.call
        assert call is not None
        self.active_calls += 1
        try:
            await self._handler(call)
        except asyncio.CancelledError:
            connection.end("shutdown")
            raise
        except Exception as error:  # noqa: BLE001 - a failing handler ends its own call only
            connection.log.exception("call handler failed; ending call", error=repr(error))
            connection.end("server_error")
        else:
            await call.hangup(drain=True)  # the handler returned: play what it queued, then hang up
        finally:
            self.active_calls -= 1
            connection.log.info("call ended", **connection.stats)

    async def stop(self, grace_s: float | None = None) -> None:
        """Stop accepting, set ``shutdown_requested`` on every call, wait up to ``grace_s`` for calls to end,
        then end the rest (``0x00`` + close) and cancel handlers that still do not return."""
        grace = self.settings.shutdown_grace_s if grace_s is None else grace_s
        self.accepting = False
        if self._server is not None:
            self._server.close()
        log.info("audiosocket stopping: no new calls", active_calls=self.active_calls, grace_s=grace)
        for connection in list(self.connections):
            if connection.call is None:
                connection.end("shutdown")
            else:
                connection.call.shutdown_requested.set()
                connection._start_handler()
        pending: set[asyncio.Task[None]] = set(self._tasks)
        if pending:
            _, pending = await asyncio.wait(pending, timeout=grace)
        if pending:
            log.warning("calls still up after the grace period; closing them", calls=len(pending))
            for connection in list(self.connections):
                connection.end("shutdown")
            _, pending = await asyncio.wait(pending, timeout=_CLOSE_TIMEOUT_S)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        log.info("audiosocket stopped")
