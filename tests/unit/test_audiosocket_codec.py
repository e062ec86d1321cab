"""The pure AudioSocket codec against Asterisk's own capture and trace."""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path

import pytest

from voicebot.audio import audiosocket as a


def capture(shared_dir: Path) -> bytes:
    return (shared_dir / "protocol" / "asterisk-inbound-3s.bin").read_bytes()


def test_decoder_matches_the_trace_frame_by_frame(shared_dir: Path) -> None:
    messages = a.Decoder().feed(capture(shared_dir))
    lines = (shared_dir / "protocol" / "asterisk-audiosocket-trace.jsonl").read_text().splitlines()
    inbound = [r for r in map(json.loads, lines) if r["direction"] == "asterisk->server"]
    assert [(m.kind, len(m.payload)) for m in messages] == [(r["type"], r["length"]) for r in inbound]
    assert a.decode_uuid(messages[0].payload) == "40325ec2-5efd-4bd3-805f-53576e581d13" == inbound[0]["uuid"]
    assert [a.decode_dtmf(m.payload) for m in messages if m.kind == a.Kind.DTMF] == ["5", "#"]
    audio = [m for m in messages if m.is_audio]
    assert len(audio) == 150 and {m.sample_rate for m in audio} == {8000}
    for message, record in zip(messages, inbound, strict=True):
        if "hex_prefix" in record:
            assert message.payload[:8].hex() == record["hex_prefix"]


def test_decoder_reassembles_arbitrary_tcp_segments(shared_dir: Path) -> None:
    data = capture(shared_dir)
    whole = a.Decoder().feed(data)
    decoder, pieces, rng, at = a.Decoder(), [], random.Random(7), 0
    while at < len(data):
        size = rng.choice([1, 2, 3, 5, 100, 321, 4000])
        pieces += decoder.feed(data[at:at + size])
        at += size
    assert pieces == whole and decoder.pending == 0
    partial = a.Decoder()
    assert partial.feed(data[:20]) == [a.Message(a.Kind.UUID, data[3:19])] and partial.pending == 1


def test_encode_round_trips_and_is_big_endian() -> None:
    call_id = uuid.uuid4()
    assert a.encode_uuid(call_id) == b"\x01\x00\x10" + call_id.bytes
    assert a.encode_uuid(str(call_id)) == a.encode_uuid(call_id)
    assert a.encode_hangup() == b"\x00\x00\x00"
    assert a.encode_dtmf("#") == b"\x03\x00\x01#"
    assert a.encode_audio(b"\x00" * 640, 16000)[:3] == b"\x12\x02\x80"
    big = a.encode(a.Kind.SLIN, b"\x01" * a.MAX_PAYLOAD)
    assert a.parse_header(big[:3]) == (0x10, 65535)
    assert a.Decoder().feed(big) == [a.Message(0x10, b"\x01" * 65535)]


@pytest.mark.parametrize("rate,kind", sorted(a.KIND_FOR_RATE.items()))
def test_every_rate_has_its_kind(rate: int, kind: int) -> None:
    message = a.Decoder().feed(a.encode_audio(b"\x00\x01" * 10, rate))[0]
    assert message.kind == kind and message.is_audio and message.sample_rate == rate


def test_encoder_refuses_what_breaks_asterisk() -> None:
    for bad in (b"", b"\x00" * 321, b"\x00"):
        with pytest.raises(ValueError, match="non-zero even"):
            a.encode_audio(bad)
    with pytest.raises(ValueError, match="no kind for 11025"):
        a.encode_audio(b"\x00\x00", 11025)
    with pytest.raises(ValueError, match="exceeds"):
        a.encode(a.Kind.SLIN, b"\x00" * 65536)
    with pytest.raises(ValueError):
        a.encode_dtmf("x")


def test_decoding_errors_are_protocol_errors() -> None:
    with pytest.raises(a.ProtocolError, match="truncated header"):
        a.parse_header(b"\x10\x01")
    with pytest.raises(a.ProtocolError, match="16 bytes"):
        a.decode_uuid(b"\x00" * 15)
    with pytest.raises(a.ProtocolError, match="1 byte"):
        a.decode_dtmf(b"12")
    with pytest.raises(a.ProtocolError, match="unknown DTMF"):
        a.decode_dtmf(b"x")
    assert a.decode_dtmf(b"a") == "A"
    assert issubclass(a.ProtocolError, ValueError)
