"""AudioSocket wire codec (pure: no I/O). See ``docs/architecture.md`` and the protocol notes.

A message is ``kind (1 byte) | length (2 bytes, big-endian) | payload``. Asterisk sends the UUID
first, then audio (``0x10`` slin 8 kHz, ``0x11``-``0x18`` higher rates in the channel-driver form)
and DTMF (``0x03``, one ASCII digit when the key is released). It hangs up by closing TCP.
We send audio of even length, ``0x00`` to hang up, and nothing else.
"""

from __future__ import annotations

import enum
import struct
import uuid
from dataclasses import dataclass

HEADER = struct.Struct(">BH")
HEADER_SIZE = HEADER.size
MAX_PAYLOAD = 0xFFFF


class Kind(enum.IntEnum):
    HANGUP = 0x00
    UUID = 0x01
    DTMF = 0x03
    SLIN = 0x10
    SLIN12 = 0x11
    SLIN16 = 0x12
    SLIN24 = 0x13
    SLIN32 = 0x14
    SLIN44 = 0x15
    SLIN48 = 0x16
    SLIN96 = 0x17
    SLIN192 = 0x18
    ERROR = 0xFF


AUDIO_RATES: dict[int, int] = {
    Kind.SLIN: 8000,
    Kind.SLIN12: 12000,
    Kind.SLIN16: 16000,
    Kind.SLIN24: 24000,
    Kind.SLIN32: 32000,
    Kind.SLIN44: 44100,
    Kind.SLIN48: 48000,
    Kind.SLIN96: 96000,
    Kind.SLIN192: 192000,
}
KIND_FOR_RATE: dict[int, Kind] = {rate: Kind(kind) for kind, rate in AUDIO_RATES.items()}


class ProtocolError(ValueError):
    """The peer sent something that is not AudioSocket as Asterisk speaks it. Ends that call only."""


@dataclass(frozen=True, slots=True)
class Message:
    kind: int
    payload: bytes

    @property
    def is_audio(self) -> bool:
        return self.kind in AUDIO_RATES

    @property
    def sample_rate(self) -> int:
        return AUDIO_RATES[self.kind]


def encode(kind: int, payload: bytes = b"") -> bytes:
    """One whole message, ready for a single write (Asterisk drops payloads split > 5 ms apart)."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    return HEADER.pack(kind, len(payload)) + payload


def encode_audio(pcm: bytes, sample_rate: int = 8000) -> bytes:
    """An audio message. Zero or odd lengths break Asterisk (drop / misalign), so they are refused."""
    if not pcm or len(pcm) % 2:
        raise ValueError(f"audio payload must be a non-zero even number of bytes, got {len(pcm)}")
    try:
        kind = KIND_FOR_RATE[sample_rate]
    except KeyError:
        raise ValueError(f"AudioSocket has no kind for {sample_rate} Hz") from None
    return encode(kind, pcm)


def encode_hangup() -> bytes:
    return encode(Kind.HANGUP)


def encode_uuid(call_id: uuid.UUID | str) -> bytes:
    """Used by the caller simulator, which plays Asterisk's part."""
    value = call_id if isinstance(call_id, uuid.UUID) else uuid.UUID(str(call_id))
    return encode(Kind.UUID, value.bytes)


def encode_dtmf(digit: str) -> bytes:
    if len(digit) != 1 or digit not in "0123456789*#ABCD":
        raise ValueError(f"not a DTMF digit: {digit!r}")
    return encode(Kind.DTMF, digit.encode("ascii"))


def parse_header(header: bytes) -> tuple[int, int]:
    """(kind, payload length) from three header bytes."""
    if len(header) != HEADER_SIZE:
        raise ProtocolError(f"truncated header: {len(header)} of {HEADER_SIZE} bytes")
    return HEADER.unpack(header)


def decode_uuid(payload: bytes) -> str:
    if len(payload) != 16:
        raise ProtocolError(f"UUID payload must be 16 bytes, got {len(payload)}")
    return str(uuid.UUID(bytes=payload))


def decode_dtmf(payload: bytes) -> str:
    if len(payload) != 1:
        raise ProtocolError(f"DTMF payload must be 1 byte, got {len(payload)}")
    digit = payload.decode("ascii", errors="replace")
    if digit not in "0123456789*#ABCDabcd":
        raise ProtocolError(f"unknown DTMF digit {payload!r}")
    return digit.upper()


class Decoder:
    """Incremental decoder for a byte stream (used where bytes come in arbitrary pieces)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Message]:
        self._buffer += data
        messages: list[Message] = []
        while len(self._buffer) >= HEADER_SIZE:
            kind, length = HEADER.unpack_from(self._buffer)
            if len(self._buffer) < HEADER_SIZE + length:
                break
            payload = bytes(self._buffer[HEADER_SIZE:HEADER_SIZE + length])
            del self._buffer[:HEADER_SIZE + length]
            messages.append(Message(kind, payload))
        return messages

    @property
    def pending(self) -> int:
        """Bytes of an incomplete message still buffered."""
        return len(self._buffer)
