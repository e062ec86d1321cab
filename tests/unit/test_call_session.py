"""The call session's turn loop with fake engines, a real Listener (real webrtcvad on real recorded
speech) and a real Player on virtual time."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import wave
from pathlib import Path

import pytest

from fakes import (
    FakeCallConnection,
    FakeCallStore,
    FakeNlu,
    FakeRecognizer,
    FakeSynthesizer,
    ScriptedDialog,
)
from voicebot.call import events as ev
from voicebot.call.dtmf import KeyedOn
from voicebot.call.events import EventBus
from voicebot.call.session import APOLOGY, CallServices, CallSession, DialogApp, joined
from voicebot.config import Settings
from voicebot.events import CallState, Utterance
from voicebot.runtime import InferencePool
from voicebot.speech.tts import Speaker
from voicebot.store.recorder import CallRecorder
from voicebot.types import (
    AudioFrame,
    CallStart,
    DigitsInput,
    Dtmf,
    EndCall,
    Expectation,
    Handoff,
    Hangup,
    Listen,
    NoInput,
    Say,
    Transcript,
    Understanding,
    now,
)

FRAME = 320  # 20 ms at 8 kHz


@pytest.fixture
def speech_pcm(shared_dir: Path) -> bytes:
    with wave.open(str(shared_dir / "data/asr/fsdd_digits_dev/audio/3_theo_7.wav")) as wav:
        assert wav.getframerate() == 8000
        return wav.readframes(wav.getnframes())


def feed_utterance(conn: FakeCallConnection, pcm: bytes, silence_s: float = 1.6) -> None:
    """Caller audio as Asterisk sends it: 20 ms frames, stamped 20 ms apart, speech then silence."""
    audio = b"\0" * FRAME * 10 + pcm + b"\0" * int(8000 * 2 * silence_s)
    start = now()
    for i in range(len(audio) // FRAME):
        conn.feed(AudioFrame(audio[i * FRAME:(i + 1) * FRAME], 8000, start + i * 0.02))


class RecordedCall(CallSession):
    """A call whose ``run()`` returns once the call recorder (subscribed to the bus) has stored it."""

    def __init__(self, services: CallServices, conn: FakeCallConnection, recorder: CallRecorder) -> None:
        super().__init__(services, conn)
        self.recorder = recorder

    async def run(self) -> None:
        await super().run()
        await self.services.bus.close()
        await self.recorder.close()


def make_session(tmp_path: Path, dialog: ScriptedDialog, texts: list[str], synthesizer=None,
                 nlu_intents=None, recognizer=None,
                 ) -> tuple[CallSession, FakeCallConnection, FakeCallStore, EventBus]:
    settings = Settings()
    pool = InferencePool(1)
    store, bus = FakeCallStore(), EventBus()
    speaker = Speaker(synthesizer or FakeSynthesizer(8000), tmp_path / "cache", pool)
    nlu = FakeNlu(nlu_intents or {"check_balance": ["balance", "my balance", "three"]})
    app = DialogApp("test", "v1", dialog, nlu)
    services = CallServices(settings=settings, recognizer=recognizer or FakeRecognizer(texts),
                            speaker=speaker, bus=bus, dialog_for=lambda _conn: app)
    conn = FakeCallConnection()
    return RecordedCall(services, conn, CallRecorder.start(bus, store)), conn, store, bus


async def run_session(session: CallSession, timeout: float = 20) -> None:
    await asyncio.wait_for(session.run(), timeout)


async def test_greets_understands_answers_and_ends(tmp_path, speech_pcm):
    dialog = ScriptedDialog([
        (Say("Welcome. How can I help?"), Listen(Expectation(no_input_s=5))),
        (Say("Your balance is ten dollars."), EndCall("served")),
    ])
    session, conn, store, _ = make_session(tmp_path, dialog, ["three"])
    feed_utterance(conn, speech_pcm)
    await run_session(session)

    assert isinstance(dialog.inputs[0], CallStart)
    understood = dialog.inputs[1]
    assert isinstance(understood, Understanding) and understood.text == "three"
    call = store.calls[conn.call_id]
    assert call["outcome"] == "completed"
    turns = call["turns"]
    assert [t.bot_text for t in turns] == ["Welcome. How can I help?", "Your balance is ten dollars."]
    reply = turns[1]
    assert reply.caller_text == "three" and reply.input_kind == "speech"
    for stage in ("speech_start", "speech_end", "asr_final", "nlu_done", "dialog_done", "first_frame_sent"):
        assert stage in reply.marks, stage
    # frames are fed faster than real time here, so only compare marks from the same clock
    assert reply.marks["speech_start"] < reply.marks["speech_end"]
    assert reply.marks["asr_final"] <= reply.marks["nlu_done"] <= reply.marks["dialog_done"]
    assert conn.hangups and conn.hangups[0] is True  # drained: the last prompt played to the end
    assert sum(len(frame) for frame in conn.sent) > 0


async def test_the_recognisers_other_readings_reach_the_understanding(tmp_path, speech_pcm):
    dialog = ScriptedDialog([
        (Say("How can I help?"), Listen(Expectation(no_input_s=5))),
        (Say("Goodbye."), EndCall("served")),
    ])
    session, conn, _, _ = make_session(tmp_path, dialog, ["Where's my power still?"])
    session.services.recognizer.alternatives = (("Where's my parcel?", 0.6),)
    feed_utterance(conn, speech_pcm)
    await run_session(session)
    assert session.services.dialog_for(conn).nlu.heard_otherwise == [(("Where's my parcel?", 0.6),)]


async def test_the_turn_keeps_the_reading_the_dialog_acted_on(tmp_path, speech_pcm):
    class Rescuing(FakeNlu):
        """Takes the recogniser's first other reading, as ``Nlu.rescued`` does."""

        async def understand(self, text, transcript_confidence=1.0, expected_slot=None, signals=None,
                             heard_otherwise=()):
            return await super().understand(heard_otherwise[0][0] if heard_otherwise else text,
                                            transcript_confidence, expected_slot, signals)

    dialog = ScriptedDialog([
        (Say("How can I help?"), Listen(Expectation(no_input_s=5))),
        (Say("Goodbye."), EndCall("served")),
    ])
    session, conn, store, _ = make_session(tmp_path, dialog, ["Where's my power still?"])
    session.services.recognizer.alternatives = (("Where's my parcel?", 0.6),)
    app = dataclasses.replace(session.services.dialog_for(conn), nlu=Rescuing({"track_parcel": ["where's my parcel"]}))
    session.services = CallServices(**{**session.services.__dict__, "dialog_for": lambda _conn: app})
    feed_utterance(conn, speech_pcm)
    await run_session(session)
    assert dialog.inputs[1].intent == "track_parcel"
    assert store.calls[conn.call_id]["turns"][1].caller_text == "Where's my parcel?"


class LaterReading(FakeRecognizer):
    """Hears its texts at once, and "my balance" (base, ``Transcript.later_reading``) ``after_s`` later."""

    def __init__(self, texts: list[str], after_s: float) -> None:
        super().__init__(texts)
        self.after_s = after_s

    def open_stream(self, sample_rate, hints):
        stream = super().open_stream(sample_rate, hints)
        heard = stream._transcript

        def reading(final: bool) -> Transcript:
            first = heard(final)
            if not final:
                return first
            loop = asyncio.get_running_loop()
            later = loop.create_future()
            loop.call_later(self.after_s, later.set_result, Transcript("my balance", 0.95))
            return dataclasses.replace(first, later_reading=later)

        stream._transcript = reading
        return stream


async def test_the_dialog_answers_at_once_and_the_record_keeps_the_later_reading(tmp_path, speech_pcm):
    dialog = ScriptedDialog([
        (Say("How can I help?"), Listen(Expectation(no_input_s=5))),
        (Say("Your balance is ten dollars."), EndCall("served")),
    ])
    session, conn, store, _ = make_session(tmp_path, dialog, [], recognizer=LaterReading(["my balants"], 0.1),
                                           nlu_intents={"check_balance": ["balants", "balance"]})
    feed_utterance(conn, speech_pcm)
    await run_session(session)
    assert dialog.inputs[1].text == "my balants"  # answered on the first reading, not after base
    reply = store.calls[conn.call_id]["turns"][1]
    assert reply.caller_text == "my balance" and reply.asr_confidence == 0.95
    assert reply.marks["nlu_done"] < reply.marks["second_reading"]


class HangsUpAfterTheRequest(ScriptedDialog):
    """The caller hangs up as soon as the bot has answered their request."""

    def __init__(self, replies: list, conn: FakeCallConnection) -> None:
        super().__init__(replies)
        self.conn = conn

    async def step(self, state, event):
        if isinstance(event, Understanding):
            self.conn.feed(Hangup())
        return await super().step(state, event)


async def test_a_caller_who_hangs_up_at_once_still_gets_the_later_reading_recorded(tmp_path, speech_pcm):
    replies = [(Say("How can I help?"), Listen(Expectation(no_input_s=5))),
               (Say("Your balance is ten dollars. Anything else?"), Listen(Expectation(no_input_s=5)))]
    session, conn, store, _ = make_session(tmp_path, ScriptedDialog([]), [],
                                           recognizer=LaterReading(["my balants"], 0.3))
    dialog = HangsUpAfterTheRequest(replies, conn)
    session.services = CallServices(**{**session.services.__dict__,
                                       "dialog_for": lambda _info: DialogApp("test", "v1", dialog, FakeNlu({}))})
    feed_utterance(conn, speech_pcm)
    await run_session(session)
    call = store.calls[conn.call_id]
    assert call["outcome"] == "abandoned"
    assert call["turns"][1].caller_text == "my balance" and "second_reading" in call["turns"][1].marks


async def test_a_turn_that_means_nothing_is_heard_again_from_its_audio(tmp_path, speech_pcm):
    dialog = ScriptedDialog([
        (Say("How can I help?"), Listen(Expectation(no_input_s=5))),
        (Say("Your balance is ten dollars."), EndCall("served")),
    ])
    session, conn, store, _ = make_session(tmp_path, dialog, ["Talon."])
    second = FakeRecognizer("my balance", name="whisper-base")
    session.services = CallServices(**{**session.services.__dict__, "second_hearing": second})
    feed_utterance(conn, speech_pcm)
    await run_session(session)
    assert dialog.inputs[1].intent == "check_balance" and dialog.inputs[1].text == "my balance"
    assert second.streams[0].frames == 1 and second.streams[0].finished  # the turn's audio, in one piece
    reply = store.calls[conn.call_id]["turns"][1]
    assert reply.caller_text == "my balance" and reply.decision.startswith("heard again")
    assert reply.marks["asr_final"] <= reply.marks["heard_again"] <= reply.marks["nlu_done"]


@pytest.fixture
def second_pcm(shared_dir: Path) -> bytes:
    with wave.open(str(shared_dir / "data/asr/fsdd_digits_dev/audio/7_jackson_5.wav")) as wav:
        return wav.readframes(wav.getnframes())


async def play_two_utterances(conn: FakeCallConnection, first: bytes, second: bytes, gap_s: float) -> None:
    """The caller says something, pauses ``gap_s`` (long enough for the turn to end), and speaks again;
    paced in real time, as the end of a turn waits for a decode."""
    silence = b"\0" * FRAME
    audio = silence * 10 + first + silence * int(gap_s / 0.02) + second + silence * 80
    for i in range(len(audio) // FRAME):
        conn.feed(AudioFrame(audio[i * FRAME:(i + 1) * FRAME], 8000, now()))
        await asyncio.sleep(0.02)


CONTINUED_DIALOG = [
    (Say("Is that right?"), Listen(Expectation(no_input_s=5))),
    (Say("What's your account number?"), Listen(Expectation(no_input_s=5))),
    (Say("Thanks."), EndCall("served")),
]


async def test_speech_resumed_right_after_a_turn_continues_it(tmp_path, speech_pcm, second_pcm):
    """ "no" ... "it's one two three": the dialog answers the whole utterance, from the state it was in."""
    dialog = ScriptedDialog(CONTINUED_DIALOG)
    session, conn, store, _ = make_session(tmp_path, dialog, ["No.", "It's one two three."])
    await asyncio.gather(run_session(session), play_two_utterances(conn, speech_pcm, second_pcm, gap_s=0.6))

    said = [i.text for i in dialog.inputs if isinstance(i, Understanding)]
    assert said == ["No.", "No. It's one two three."]
    turns = store.calls[conn.call_id]["turns"]
    assert [t.input_kind for t in turns] == ["start", "continued", "speech"]
    merged = turns[2]
    assert merged.caller_text == "No. It's one two three."
    assert merged.decision.startswith("continues the previous utterance")
    assert merged.marks["speech_start"] == turns[1].marks["speech_start"]


async def test_a_continuation_is_kept_as_said_when_only_the_next_question_is_sensitive(tmp_path, speech_pcm,
                                                                                        second_pcm):
    """The caller goes on with their answer just as a sensitive question starts: the words answer the question
    before, so they are kept (masked for personal data only), not hidden whole as the secret answer."""
    dialog = ScriptedDialog([
        (Say("Is that right?"), Listen(Expectation(no_input_s=5))),
        (Say("What's your PIN?"), Listen(Expectation(no_input_s=5, sensitive=True))),
        (Say("Thanks."), EndCall("served")),
    ])
    session, conn, store, _ = make_session(tmp_path, dialog, ["No.", "It's one two three."])
    await asyncio.gather(run_session(session), play_two_utterances(conn, speech_pcm, second_pcm, gap_s=0.6))
    turns = store.calls[conn.call_id]["turns"]
    assert [t.input_kind for t in turns] == ["start", "continued", "speech"]
    assert turns[2].caller_text == "No. It's one two three."


async def test_the_first_group_of_a_card_said_over_two_turns_is_masked_in_both(tmp_path, speech_pcm, second_pcm):
    """ "My card number is 4111." ... "1111 1111 1111.": four digits alone are no card, but the turn they began
    is kept with what masking took from the whole number hidden too."""
    dialog = ScriptedDialog(CONTINUED_DIALOG)
    session, conn, store, _ = make_session(tmp_path, dialog, ["My card number is 4111.", "1111 1111 1111."])
    await asyncio.gather(run_session(session), play_two_utterances(conn, speech_pcm, second_pcm, gap_s=0.6))
    turns = store.calls[conn.call_id]["turns"]
    assert [t.input_kind for t in turns] == ["start", "continued", "speech"]
    assert turns[1].caller_text == "My card number is ****."
    assert turns[2].caller_text == "My card number is [card ****1111]."


async def test_speech_after_a_longer_pause_is_a_new_turn(tmp_path, speech_pcm, second_pcm):
    dialog = ScriptedDialog(CONTINUED_DIALOG)
    session, conn, store, _ = make_session(tmp_path, dialog, ["No.", "It's one two three."])
    await asyncio.gather(run_session(session), play_two_utterances(conn, speech_pcm, second_pcm, gap_s=1.6))
    assert [i.text for i in dialog.inputs if isinstance(i, Understanding)] == ["No.", "It's one two three."]
    assert [t.input_kind for t in store.calls[conn.call_id]["turns"]] == ["start", "speech", "speech"]


async def test_a_turn_that_reached_the_backend_is_not_continued(tmp_path, speech_pcm, second_pcm):
    dialog = ScriptedDialog(CONTINUED_DIALOG, backend_steps=(2,))  # answering "No." changed something in the backend
    session, conn, store, _ = make_session(tmp_path, dialog, ["No.", "It's one two three."])
    await asyncio.gather(run_session(session), play_two_utterances(conn, speech_pcm, second_pcm, gap_s=0.6))
    assert [i.text for i in dialog.inputs if isinstance(i, Understanding)] == ["No.", "It's one two three."]


async def test_dtmf_is_collected_into_one_input(tmp_path):
    dialog = ScriptedDialog([
        (Say("Enter your account number, then hash."), Listen(Expectation(max_digits=8, terminator="#"))),
        (EndCall("done"),),
    ])
    session, conn, store, _ = make_session(tmp_path, dialog, ["unused"])
    loop = asyncio.get_running_loop()
    for i, digit in enumerate("1234#"):  # keyed while the prompt plays
        loop.call_later(0.05 + 0.01 * i, conn.feed, Dtmf(digit))
    await run_session(session)
    assert dialog.inputs[1] == DigitsInput("1234", terminated=True)
    assert store.calls[conn.call_id]["turns"][1].entities == {"dtmf": "1234"}


async def test_silence_gives_no_input(tmp_path):
    dialog = ScriptedDialog([
        (Say("Hello?"), Listen(Expectation(no_input_s=0.3))),
        (EndCall("no_input"),),
    ])
    session, conn, store, _ = make_session(tmp_path, dialog, ["unused"])
    await run_session(session)
    assert isinstance(dialog.inputs[1], NoInput)
    assert store.calls[conn.call_id]["turns"][1].input_kind == "no_input"


async def test_handoff_builds_packet_and_ends_the_leg(tmp_path, speech_pcm):
    dialog = ScriptedDialog([
        (Say("How can I help?"), Listen()),
        (Say("Putting you through."), Handoff("caller_request", queue="cards", skill="cards", priority=1)),
    ])
    session, conn, store, bus = make_session(tmp_path, dialog, ["agent please"])
    feed_utterance(conn, speech_pcm)
    await run_session(session)
    call = store.calls[conn.call_id]
    assert call["outcome"] == "handoff"
    packet = call["handoff"]
    assert packet.queue == "cards" and packet.priority == 1 and packet.reason == "caller_request"
    assert ("caller", "agent please") in packet.transcript
    assert ("bot", "How can I help?") in packet.transcript


async def test_faulty_flow_apologises_and_transfers(tmp_path, speech_pcm):
    synthesizer = FakeSynthesizer(8000)
    dialog = ScriptedDialog([(Say("Hi."), Listen()), RuntimeError("flow bug")])
    session, conn, store, _ = make_session(tmp_path, dialog, ["balance"], synthesizer=synthesizer)
    feed_utterance(conn, speech_pcm)
    await run_session(session)
    call = store.calls[conn.call_id]
    assert call["outcome"] == "error"
    assert call["handoff"].reason == "technical_fault"
    assert APOLOGY in " ".join(synthesizer.requests)  # spoken sentence by sentence


async def test_broken_voice_still_transfers(tmp_path):
    class BrokenSynthesizer(FakeSynthesizer):
        async def synthesize(self, text: str):
            raise RuntimeError("onnx session died")
            yield b""  # pragma: no cover - makes this an async generator

    dialog = ScriptedDialog([(Say("Welcome."), Listen(Expectation(no_input_s=2)))])
    session, conn, store, _ = make_session(tmp_path, dialog, ["x"], synthesizer=BrokenSynthesizer(8000))
    await run_session(session)
    call = store.calls[conn.call_id]
    assert call["outcome"] == "error" and call["handoff"].reason == "technical_fault"


async def test_caller_hangup_is_recorded_as_abandoned(tmp_path):
    dialog = ScriptedDialog([(Say("Welcome."), Listen(Expectation(no_input_s=30)))])
    session, conn, store, _ = make_session(tmp_path, dialog, ["x"])
    conn.feed(Hangup())
    await run_session(session)
    assert store.calls[conn.call_id]["outcome"] == "abandoned"


async def test_service_shutdown_hands_the_caller_over(tmp_path):
    dialog = ScriptedDialog([(Say("Welcome."), Listen(Expectation(no_input_s=30)))])
    session, conn, store, _ = make_session(tmp_path, dialog, ["x"])
    asyncio.get_running_loop().call_later(0.2, conn.shutdown_requested.set)
    await run_session(session)
    call = store.calls[conn.call_id]
    assert call["outcome"] == "handoff" and call["handoff"].reason == "service_shutdown"


class KeysDuringReprocessing(ScriptedDialog):
    """While the dialog works on the caller's continued (joined) utterance, the caller types four keys."""

    def __init__(self, replies: list, conn: FakeCallConnection) -> None:
        super().__init__(replies)
        self.conn = conn

    async def step(self, state, event):
        if isinstance(event, Understanding) and "one two three" in event.text:
            for digit in "1234":
                self.conn.feed(Dtmf(digit))
            await asyncio.sleep(0.2)  # the keys arrive while this step is still running
        return await super().step(state, event)


async def test_keys_typed_while_a_continued_turn_is_reprocessed_are_kept(tmp_path, speech_pcm, second_pcm):
    replies = [
        (Say("What's your account number?"), Listen(Expectation(max_digits=8, no_input_s=5))),
        (Say("Sorry?"), Listen(Expectation(max_digits=8, no_input_s=5))),
        (Say("Thanks. Now your PIN."), Listen(Expectation(max_digits=4, no_input_s=5))),
        (EndCall("served"),),
    ]
    session, conn, _, _ = make_session(tmp_path, ScriptedDialog([]), ["No.", "It's one two three."])
    dialog = KeysDuringReprocessing(replies, conn)
    session.services = CallServices(**{**session.services.__dict__,
                                       "dialog_for": lambda _info: DialogApp("test", "v1", dialog, FakeNlu({}))})
    # a short gap (0.45 s: the 0.35 s end of turn, well inside the 1.5 s continuation) keeps this robust on a
    # loaded machine, where the real-time pacing of the frames stretches it
    await asyncio.gather(run_session(session), play_two_utterances(conn, speech_pcm, second_pcm, gap_s=0.45))
    said = [i.text for i in dialog.inputs if isinstance(i, Understanding)]
    assert said == ["No.", "No. It's one two three."]
    assert dialog.inputs[-1] == DigitsInput("1234", terminated=False)  # the PIN, typed early, not lost


async def test_call_rate_follows_the_callers_first_audio_whenever_it_comes(tmp_path, speech_pcm):
    """A slin16 channel whose caller was silent at first: the greeting went out at 8 kHz, the caller is heard
    at 16 kHz and answered in 0x12 frames."""
    from voicebot.audio.audiosocket import Kind
    from voicebot.audio.codecs import resample

    dialog = ScriptedDialog([
        (Say("Welcome. How can I help?"), Listen(Expectation(no_input_s=5))),
        (Say("Your balance is ten dollars."), EndCall("served")),
    ])
    session, conn, store, _ = make_session(tmp_path, dialog, ["three"])
    wide = resample(b"\0" * FRAME * 10 + speech_pcm + b"\0" * 8000 * 2 * 2, 8000, 16000)

    async def caller_speaks_after_the_greeting_started() -> None:
        while not conn.sent:
            await asyncio.sleep(0.01)
        start = now()
        for i in range(len(wide) // (2 * FRAME)):
            conn.feed(AudioFrame(wide[i * 2 * FRAME:(i + 1) * 2 * FRAME], 16000, start + i * 0.02))

    await asyncio.gather(run_session(session), caller_speaks_after_the_greeting_started())
    assert isinstance(dialog.inputs[1], Understanding) and dialog.inputs[1].text == "three"
    assert session.rate == 16000 and session.listener._rate == 16000
    kinds = [message[0] for message in conn.sent]
    assert kinds[0] == Kind.SLIN and kinds[-1] == Kind.SLIN16
    assert {(m[0], len(m) - 3) for m in conn.sent} == {(Kind.SLIN, 320), (Kind.SLIN16, 640)}


async def follow(bus: EventBus) -> list:
    """Every event of the call, until the bus closes."""
    return [event async for event in bus.subscribe(lossless=True)]


async def test_states_of_a_call_in_order_never_repeated(tmp_path, speech_pcm):
    dialog = ScriptedDialog([
        (Say("Welcome. How can I help?"), Listen(Expectation(no_input_s=5))),
        (Say("Your balance is ten dollars."), EndCall("served")),
    ])
    session, conn, _, bus = make_session(tmp_path, dialog, ["three"])
    events = asyncio.ensure_future(follow(bus))

    async def caller_speaks_after_the_greeting() -> None:
        while session.state is not CallState.LISTENING:
            await asyncio.sleep(0.01)
        feed_utterance(conn, speech_pcm)

    await asyncio.gather(run_session(session), caller_speaks_after_the_greeting())
    states = [(e.previous, e.state) for e in await events if isinstance(e, ev.CallStateChanged)]
    assert [state for _, state in states] == ["ringing_in", "speaking", "listening", "thinking", "speaking", "ended"]
    assert [previous for previous, _ in states] == [None] + [state for _, state in states[:-1]]


async def test_a_handed_off_call_ends_handed_off(tmp_path, speech_pcm):
    dialog = ScriptedDialog([
        (Say("How can I help?"), Listen()),
        (Say("Putting you through."), Handoff("caller_request", queue="cards")),
    ])
    session, conn, _, bus = make_session(tmp_path, dialog, ["agent please"])
    events = asyncio.ensure_future(follow(bus))
    feed_utterance(conn, speech_pcm)
    await run_session(session)
    states = [e.state for e in await events if isinstance(e, ev.CallStateChanged)]
    assert states[0] == "ringing_in" and states[-2:] == ["handed_off", "ended"]
    assert all(a != b for a, b in itertools.pairwise(states))


class SlowVoice(FakeSynthesizer):
    """Speaks each text in 40 chunks, 50 ms of real time apart: a prompt stays "playing" for 2 s."""

    async def synthesize(self, text: str):
        self.requests.append(text)
        pcm = self.pcm_for(text)
        step = len(pcm) // 80 * 2
        for i in range(40):
            await asyncio.sleep(0.05)
            yield pcm[i * step:(i + 1) * step]


async def test_a_barge_in_names_the_prompt_it_cut_off(tmp_path, speech_pcm, second_pcm):
    dialog = ScriptedDialog([
        (Say("Welcome to the bank and thank you for calling us today"), Listen(Expectation(no_input_s=5))),
        (Say("Your balance is ten dollars"), EndCall("served")),
    ])
    session, conn, store, bus = make_session(tmp_path, dialog, ["my balance"], synthesizer=SlowVoice(8000))
    events = asyncio.ensure_future(follow(bus))

    async def caller_talks_over_the_greeting() -> None:
        while not session.conn.player.speaking:
            await asyncio.sleep(0.01)
        audio = second_pcm + speech_pcm + b"\0" * FRAME * 80
        for i in range(len(audio) // FRAME):  # in real time, as a caller speaks
            conn.feed(AudioFrame(audio[i * FRAME:(i + 1) * FRAME], 8000, now()))
            await asyncio.sleep(0.02)

    await asyncio.gather(run_session(session), caller_talks_over_the_greeting())
    events = await events
    greeting, reply = [e for e in events if isinstance(e, ev.PlaybackStarted)]
    assert greeting.text.startswith("Welcome") and greeting.utterance_id != reply.utterance_id
    [barge_in] = [e for e in events if isinstance(e, ev.BargeInEvent)]
    assert barge_in.utterance_id == greeting.utterance_id
    finished = {e.utterance_id: e.completed for e in events if isinstance(e, ev.PlaybackFinished)}
    assert finished == {greeting.utterance_id: False, reply.utterance_id: True}
    assert store.calls[conn.call_id]["turns"][0].barged_in


async def test_no_task_of_the_call_outlives_it(tmp_path, speech_pcm):
    before = asyncio.all_tasks()
    dialog = ScriptedDialog([
        (Say("Welcome. How can I help?"), Listen(Expectation(no_input_s=5))),
        (Say("Your balance is ten dollars. " * 10), Listen(Expectation(no_input_s=30))),
    ])
    session, conn, _, _ = make_session(tmp_path, dialog, ["three"])
    feed_utterance(conn, speech_pcm)
    asyncio.get_running_loop().call_later(1.5, conn.feed, Hangup())  # while the reply still plays
    await run_session(session)
    assert len(session.tasks) == 0
    left = {t for t in asyncio.all_tasks() - before if not t.done()} - {asyncio.current_task()}
    assert not [t.get_name() for t in left if conn.call_id in t.get_name()]


def keys_at(conn: FakeCallConnection, keys: str, first_at: float, gap_s: float) -> None:
    loop = asyncio.get_running_loop()
    for i, digit in enumerate(keys):
        loop.call_later(first_at + i * gap_s, lambda d=digit: conn.feed(Dtmf(d)))  # stamped when it is sent


ONE_KEY_QUESTIONS = [
    (Say("Did you want to track a parcel? Press 1 for yes."), Listen(Expectation(max_digits=1, no_input_s=5))),
    (Say("Please press 1 for yes or 2 for no."), Listen(Expectation(max_digits=1, no_input_s=5))),
    (Say("Thanks."), EndCall("served")),
]


async def test_a_number_keyed_after_a_key_that_was_no_answer_is_answered_whole(tmp_path):
    """"9876543210#" at a yes/no question: "9" was no answer, so the whole number is answered from the state
    before it (the turn of the "9" is recorded as continued)."""
    dialog = ScriptedDialog(ONE_KEY_QUESTIONS, unusable_steps=(2,))
    session, conn, store, _ = make_session(tmp_path, dialog, [])
    keys_at(conn, "9876543210#", 0.3, 0.1)
    await run_session(session)
    assert dialog.inputs[1:] == [DigitsInput("9"), KeyedOn("9876543210", terminated=True)]
    turns = store.calls[conn.call_id]["turns"]
    assert [t.input_kind for t in turns] == ["start", "continued", "dtmf"]
    assert turns[2].decision.startswith("continues the previous")


async def test_a_number_keyed_after_a_key_that_answered_goes_to_the_next_question(tmp_path):
    """"1" answered (yes), and the account typed straight after it is the next question's input, without the 1."""
    replies = [
        (Say("Did you want your balance? Press 1 for yes."), Listen(Expectation(max_digits=1, no_input_s=5))),
        (Say("Your account number?"), Listen(Expectation(max_digits=8, min_digits=8, no_input_s=5))),
        (Say("Thanks."), EndCall("served")),
    ]
    dialog = ScriptedDialog(replies)
    session, conn, store, _ = make_session(tmp_path, dialog, [])
    keys_at(conn, "187654321#", 0.3, 0.1)
    await run_session(session)
    assert dialog.inputs[1:] == [DigitsInput("1"), DigitsInput("87654321", terminated=True)]
    assert [t.input_kind for t in store.calls[conn.call_id]["turns"]] == ["start", "dtmf", "dtmf"]


def test_a_continuation_is_joined_as_a_new_clause():
    """The pause that ended the first part is a clause boundary: "nothing work" + "Got me a human now."
    reads as "nothing work, Got me a human now." (a request for a person), and a first part ending a
    sentence keeps it."""
    def utterance(text: str, start: float, end: float) -> Utterance:
        return Utterance(Transcript(text, 0.9), speech_start=start, speech_end=end, first_pause=None,
                         final_at=end)

    merged = joined(utterance("no, this is ridiculous, nothing work", 0.0, 2.0),
                    utterance("Got me a human now.", 3.0, 4.0))
    assert merged.transcript.text == "no, this is ridiculous, nothing work, Got me a human now."
    assert merged.speech_start == 0.0
    assert joined(utterance("Nothing works.", 0.0, 1.0), utterance("Help.", 2.0, 3.0)).transcript.text == \
        "Nothing works. Help."


async def test_a_continuation_drops_the_second_parts_readings_by_base():
    """Base's reading of the second part alone is not the whole turn's: neither its finished second reading nor
    one still being made goes with the joined turn (its second hearing hears the whole audio)."""
    later: asyncio.Future[Transcript] = asyncio.get_running_loop().create_future()
    second = Transcript("Got me a human now.", 0.8, second_reading=Transcript("Got me a human now.", 0.9),
                        later_reading=later)
    merged = joined(Utterance(Transcript("nothing work", 0.9), 0.0, 2.0, None, 2.0),
                    Utterance(second, 3.0, 4.0, None, 4.0))
    assert merged.transcript.second_reading is None and merged.transcript.later_reading is None
