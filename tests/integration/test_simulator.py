"""The caller simulator against a small in-test AudioSocket bot over real loopback sockets, in real time."""

from __future__ import annotations

import abc
import asyncio
import json
import math
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from voicebot.audio import audiosocket
from voicebot.audio.audiosocket import AUDIO_RATES, Kind
from voicebot.caller.script import BargeIn, CallerScript, HangUp, PlayWav, SendDtmf, WaitForBot
from voicebot.caller.simulator import place_call, prepare_script, run_calls

pytestmark = pytest.mark.slow

TONE_RATE = 8000


def tone(seconds: float, rate: int = TONE_RATE) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * 32767 * np.sin(2 * math.pi * 440 * t)).astype("<i2").tobytes()


@dataclass
class Seen:
    """What the toy bot saw on one connection."""

    call_id: str = ""
    audio_kinds: set[int] = field(default_factory=set)
    audio_sizes: set[int] = field(default_factory=set)
    digits: list[str] = field(default_factory=list)
    barged_in: bool = False


class LocalPeer(abc.ABC):
    """An AudioSocket listener on a free local port while the block runs (``async with bot as port``); each
    connection is handed to ``_handle``."""

    server: asyncio.Server | None = None

    async def __aenter__(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()

    @abc.abstractmethod
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one connection."""


class ToyBot(LocalPeer):
    """Greets with a tone, answers each caller utterance (300 ms of quiet after speech) or '#' with a tone,
    stops its tone when the caller talks over it, hangs up with 0x00 on '*', sends a bad kind on 'D'.
    Streams 8 kHz silence between prompts, paced at 20 ms.
    """

    def __init__(self, greeting_s: float = 0.6, answer_s: float = 0.5, out_rate: int = 8000) -> None:
        self.out_rate, self.frame = out_rate, out_rate // 50 * 2
        self.greeting, self.answer = tone(greeting_s, out_rate), tone(answer_s, out_rate)
        self.seen: list[Seen] = []

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen = Seen()
        self.seen.append(seen)
        queue: list[bytes] = []
        loop = asyncio.get_running_loop()

        def play(pcm: bytes) -> None:
            queue.clear()
            queue.extend(pcm[i:i + self.frame] for i in range(0, len(pcm), self.frame))

        async def pace() -> None:
            t0, n = loop.time(), 1
            while not writer.is_closing():
                await asyncio.sleep(max(0.0, t0 + n * 0.02 - loop.time()))
                pcm = queue.pop(0) if queue else bytes(self.frame)
                writer.write(audiosocket.encode_audio(pcm, self.out_rate))
                n += 1

        sender = asyncio.create_task(pace())
        in_speech, last_voiced = False, 0.0
        try:
            kind, length = audiosocket.parse_header(await reader.readexactly(3))
            seen.call_id = audiosocket.decode_uuid(await reader.readexactly(length))
            play(self.greeting)
            while True:
                kind, length = audiosocket.parse_header(await reader.readexactly(3))
                payload = await reader.readexactly(length)
                now = loop.time()
                if kind in AUDIO_RATES:
                    seen.audio_kinds.add(kind)
                    seen.audio_sizes.add(length)
                    samples = np.frombuffer(payload, dtype="<i2").astype(np.float64)
                    if np.sqrt(np.mean(samples * samples)) > 300:
                        if queue and not in_speech:
                            seen.barged_in = True
                            queue.clear()
                        in_speech, last_voiced = True, now
                    elif in_speech and now - last_voiced > 0.3:
                        in_speech = False
                        play(self.answer)
                elif kind == Kind.DTMF:
                    digit = audiosocket.decode_dtmf(payload)
                    seen.digits.append(digit)
                    if digit == "#":
                        play(self.answer)
                    elif digit == "*":
                        writer.write(audiosocket.encode_hangup())
                        break
                    elif digit == "D":
                        writer.write(audiosocket.encode(Kind.ERROR))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            sender.cancel()
            writer.close()


@pytest.fixture
def clip(shared_dir: Path) -> Path:
    """Real 8 kHz speech: one spoken digit."""
    return shared_dir / "data/asr/fsdd_digits_dev/audio/3_theo_7.wav"


async def test_one_call_latency_recording_and_wire_format(clip: Path, tmp_path: Path) -> None:
    bot = ToyBot()
    script = CallerScript((WaitForBot(timeout=5, quiet=0.3), PlayWav(clip), WaitForBot(timeout=5, quiet=0.3),
                           HangUp()), caller_id="+15551230001")
    async with bot as port:
        result = await place_call("127.0.0.1", port, script, record_caller=True, timeout=20)
    assert result.ok, result.errors
    assert result.caller_id == "+15551230001"
    assert bot.seen[0].call_id == result.call_id
    assert bot.seen[0].audio_kinds == {Kind.SLIN} and bot.seen[0].audio_sizes == {320}
    assert result.hangup_by == "caller" and result.steps_done == 4
    (turn,) = result.turns
    assert turn.kind == "wav" and turn.label == clip.name
    # the toy bot answers after 300 ms of quiet, judged by its own level threshold
    assert turn.latency_s is not None and turn.latency_s > 0.2
    assert turn.first_bot_audio_s > turn.end_s > turn.start_s > 0
    assert not turn.bot_speaking_at_end
    assert result.gaps.utterances == 2  # greeting and answer (gap counts depend on the host's load)
    # the bot streams 20 ms frames all call long: the recording covers the call
    bot_seconds = len(result.bot_audio) / 2 / 8000
    assert abs(bot_seconds - result.duration_s) < 0.3
    voiced_seconds = result.voiced_frames * 0.02
    assert 0.6 + 0.5 - 0.1 <= voiced_seconds <= 0.6 + 0.5 + 0.1
    wav_path = result.write_wav(tmp_path / "call.wav")
    with wave.open(str(wav_path)) as wav:
        assert wav.getnchannels() == 2 and wav.getframerate() == 8000
        assert abs(wav.getnframes() / 8000 - bot_seconds) < 0.05
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    assert np.abs(frames[:, 0]).max() > 1000 and np.abs(frames[:, 1]).max() > 1000


async def test_dtmf_digits_arrive_as_0x03_and_are_answered() -> None:
    bot = ToyBot()
    script = CallerScript((WaitForBot(timeout=5, quiet=0.3), SendDtmf("12#", interval=0.1),
                           WaitForBot(quiet=0.3)))
    async with bot as port:
        result = await place_call("127.0.0.1", port, script, timeout=20)
    assert result.ok, result.errors
    assert bot.seen[0].digits == ["1", "2", "#"]
    (turn,) = result.turns
    assert turn.kind == "dtmf" and turn.label == "12#"
    assert turn.end_s - turn.start_s >= 0.1 + 2 * 0.1 - 0.01
    assert turn.latency_s is not None and turn.latency_s > 0


async def test_barge_in_starts_during_bot_audio(clip: Path) -> None:
    bot = ToyBot(answer_s=2.0)
    script = CallerScript((WaitForBot(timeout=5, quiet=0.3), PlayWav(clip),
                           BargeIn(PlayWav(clip), after=0.4), WaitForBot(timeout=5, quiet=0.3)))
    async with bot as port:
        result = await place_call("127.0.0.1", port, script, timeout=20)
    assert result.ok, result.errors
    assert bot.seen[0].barged_in
    answer, barge = result.turns
    assert barge.kind == "barge_in"
    # caller speech started while the 2 s answer was playing, about 0.4 s into it
    assert answer.first_bot_audio_s + 0.4 <= barge.start_s < answer.first_bot_audio_s + 2.0
    assert barge.barge_in_stop_s is not None and barge.barge_in_stop_s >= 0


async def test_bot_hangup_handoff_lookup_and_protocol_error_are_reported() -> None:
    requests: list[tuple[str, str, str]] = []

    async def web_api(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        method, path = head.split()[:2]
        length = next((int(line.split(":")[1]) for line in head.split("\r\n")
                       if line.lower().startswith("content-length:")), 0)
        requests.append((method, path, (await reader.readexactly(length)).decode()))
        if method == "POST":
            writer.write(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        else:
            body = b"queue=banking&skill=general&priority=1&reason=caller_request"
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    web = await asyncio.start_server(web_api, "127.0.0.1", 0)
    web_url = f"http://127.0.0.1:{web.sockets[0].getsockname()[1]}"
    bot = ToyBot()
    async with bot as port:
        script = CallerScript((WaitForBot(quiet=0.3), SendDtmf("*"), WaitForBot(timeout=3)),
                              caller_id="+15551230001", dnis="5551000", flow="banking")
        hung_up = await place_call("127.0.0.1", port, script, timeout=20, web_url=web_url, announce=True)
        broken = await place_call("127.0.0.1", port, CallerScript((WaitForBot(quiet=0.3), SendDtmf("D"),
                                                                    WaitForBot(timeout=3))), timeout=20)
    assert hung_up.ok and hung_up.hangup_by == "bot" and "0x00" in hung_up.hangup_detail
    assert hung_up.steps_done == 2
    assert requests == [
        ("POST", f"/api/calls/{hung_up.call_id}/announce",
         "caller_id=%2B15551230001&dnis=5551000&flow=banking"),
        ("GET", f"/api/calls/{hung_up.call_id}/handoff", ""),
    ]
    assert hung_up.handoff == {"queue": "banking", "skill": "general", "priority": "1",
                               "reason": "caller_request"}
    web.close()
    assert not broken.ok and any("kind 0xff" in e for e in broken.errors)


async def test_16k_calls_send_slin16_frames_and_16k_bot_audio_is_recorded_at_8k(clip: Path) -> None:
    bot = ToyBot(out_rate=16000)
    script = CallerScript((WaitForBot(quiet=0.3), PlayWav(clip), WaitForBot(quiet=0.3)))
    async with bot as port:
        result = await place_call("127.0.0.1", port, script, rate=16000, timeout=20)
    assert result.ok, result.errors
    assert bot.seen[0].audio_kinds == {Kind.SLIN16} and bot.seen[0].audio_sizes == {640}
    assert result.turns[0].latency_s is not None
    assert abs(len(result.bot_audio) / 2 / 8000 - result.duration_s) < 0.3
    assert 0.6 + 0.5 - 0.1 <= result.voiced_frames * 0.02 <= 0.6 + 0.5 + 0.1


async def test_ten_concurrent_calls_complete_without_error(clip: Path) -> None:
    bot = ToyBot()
    prepared = prepare_script(CallerScript((WaitForBot(quiet=0.3), PlayWav(clip), WaitForBot(quiet=0.3))))
    async with bot as port:
        load = await run_calls("127.0.0.1", port, prepared, calls=10, stagger=0.05, timeout=30)
    assert load.ok, load.summary["errors"]
    assert len({c.call_id for c in load.calls}) == 10
    assert {s.call_id for s in bot.seen} == {c.call_id for c in load.calls}
    summary = load.summary
    assert summary["calls"] == 10 and summary["ok"] == 10 and summary["measured_turns"] == 10
    assert 0 < summary["latency_ms"]["p50"] <= summary["latency_ms"]["p95"] <= summary["latency_ms"]["max"]


async def test_refused_connection_is_an_error() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    result = await place_call("127.0.0.1", port, CallerScript((HangUp(),)))
    assert not result.ok and "connect" in result.errors[0]



async def test_bench_measures_an_in_process_server(clip: Path) -> None:
    import os

    from voicebot.caller.bench import BenchTarget, run_bench

    bot = ToyBot()
    script = CallerScript((WaitForBot(quiet=0.3), PlayWav(clip), WaitForBot(quiet=0.3), HangUp()), name="toy")
    async with bot as port:
        report = await run_bench(BenchTarget("127.0.0.1", port, pid=os.getpid()), script, calls=3,
                                 stagger=0.05, timeout=20, idle_s=0.3)
    one, many = report["single"], report["concurrent"]
    assert one["summary"]["ok"] == 1 and many["summary"]["ok"] == 3
    assert many["peak_active"] == 3 and many["summary"]["measured_turns"] == 3
    assert one["summary"]["latency_ms"]["p50"] > 0
    assert isinstance(many["cpu_pct_per_active_call"], float)
    assert many["rss_peak_mb"] >= many["rss_before_mb"] > 0 and many["mem_mb_per_added_call"] >= 0
    assert "stages" not in many  # no database given
    json.dumps(report)


async def test_say_steps_are_spoken_by_the_project_tts() -> None:
    from voicebot.caller.script import SayText
    from voicebot.caller.simulator import AudioRenderer, load_project_tts

    renderer = AudioRenderer(await asyncio.to_thread(load_project_tts))
    script = CallerScript((WaitForBot(quiet=0.3), SayText("I want to check my balance"),
                           WaitForBot(quiet=0.3)))
    prepared = await asyncio.to_thread(prepare_script, script, 8000, renderer)
    speech = prepared.utterances[1]
    assert 0.8 < len(speech.messages) * 0.02 < 4.0  # a short sentence
    bot = ToyBot()
    async with bot as port:
        result = await place_call("127.0.0.1", port, prepared, timeout=20)
    assert result.ok, result.errors
    (turn,) = result.turns
    assert turn.kind == "say" and turn.label == "I want to check my balance"
    assert turn.latency_s is not None and turn.latency_s > 0


async def test_cli_prints_json_and_exits_with_the_right_code(clip: Path, tmp_path: Path) -> None:
    import sys

    script = tmp_path / "call.yaml"
    script.write_text(f"caller_id: '+15550001111'\nsteps:\n  - wait_for_bot: {{quiet: 0.3}}\n"
                      f"  - wav: {clip}\n  - wait_for_bot: {{quiet: 0.3}}\n  - hangup\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps:\n  - dtmf: '12x'\n")

    async def cli(*args: str) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "voicebot", "call", *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await process.communicate()
        return process.returncode, out.decode(), err.decode()

    bot = ToyBot()
    async with bot as port:
        code, out, _ = await cli(str(script), "--port", str(port), "--calls", "2", "--json",
                                 "--record", str(tmp_path / "rec"))
        refused_code, _, _ = await cli(str(script), "--port", "1", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["summary"]["ok"] == 2 and len(report["calls"]) == 2
    first = report["calls"][0]
    assert first["caller_id"] == "+15550001111" and first["turns"][0]["kind"] == "wav"
    recorded = sorted(p.stem for p in (tmp_path / "rec").glob("*.wav"))
    assert recorded == sorted(c["call_id"] for c in report["calls"])
    assert refused_code == 1
    bad_code, _, err = await cli(str(bad), "--port", "1")
    assert bad_code == 2 and "step 1 (dtmf): 'X' is not a DTMF digit" in err


class FrameLog(LocalPeer):
    """A bot that says nothing and logs the arrival time of every audio frame after the UUID."""

    def __init__(self) -> None:
        self.uuid_at = 0.0
        self.frames: list[tuple[float, int]] = []  # (arrival, kind)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, length = audiosocket.parse_header(await reader.readexactly(3))
            await reader.readexactly(length)
            self.uuid_at = loop.time()
            while True:
                kind, length = audiosocket.parse_header(await reader.readexactly(3))
                await reader.readexactly(length)
                if kind in AUDIO_RATES:
                    self.frames.append((loop.time(), kind))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def test_no_frames_while_the_caller_is_silent(clip: Path) -> None:
    """silence_frames off: only the voiced span of each utterance goes out, nothing in pauses (like DTX)."""
    from voicebot.caller.script import Pause

    bot = FrameLog()
    script = CallerScript((Pause(0.5), PlayWav(clip), Pause(1.0), PlayWav(clip), HangUp()), silence_frames=False)
    prepared = prepare_script(script)
    speech = prepared.utterances[1]
    async with bot as port:
        result = await place_call("127.0.0.1", port, prepared, timeout=20)
    assert result.steps_done == 5
    assert len(bot.frames) == 2 * (speech.last_voiced - speech.first_voiced + 1)
    assert [t.kind for t in result.turns] == ["wav", "wav"]


async def test_a_slin16_call_whose_first_audio_comes_late(clip: Path) -> None:
    bot = FrameLog()
    script = CallerScript((PlayWav(clip), HangUp()), first_audio_after=1.0)
    async with bot as port:
        result = await place_call("127.0.0.1", port, script, rate=16000, timeout=20)
    assert result.steps_done == 2 and bot.frames
    assert bot.frames[0][0] - bot.uuid_at >= 1.0 - 0.005  # not one frame before, speech included
    assert {kind for _, kind in bot.frames} == {Kind.SLIN16}
