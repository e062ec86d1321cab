"""A turn understood, and heard again by a second recogniser when what was heard means nothing."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from tests.fakes import FakeNlu, FakeRecognizer
from voicebot.call.hearing import tells_nothing, understand_turn
from voicebot.types import AudioFrame, Entity, RecognitionHints, Transcript, Understanding

MENU = RecognitionHints(("check your balance", "report a lost card"))
AUDIO = AudioFrame(b"\x00\x01" * 8000, 8000)


def nlu() -> FakeNlu:
    return FakeNlu({"check_balance": ["check my balance"], "lost_card": ["I lost my card"]},
                   {"yes_no": ("yes_no", {}), "account_number": ("digits", {})})


def heard(text: str) -> Transcript:
    return Transcript(text, 0.7)


def test_a_menu_answer_heard_as_nothing_is_heard_again_and_taken() -> None:
    fake, second = nlu(), FakeRecognizer("check my balance", name="whisper-base")
    understood = asyncio.run(understand_turn(fake, heard("Talon."), MENU, audio=AUDIO, second_hearing=second))
    assert understood.heard_again and understood.understanding.intent == "check_balance"
    assert understood.transcript.text == "check my balance" and understood.transcript.engine == "whisper-base"
    assert [text for text, _ in fake.calls] == ["Talon.", "check my balance"]
    assert second.streams[0].hints == MENU and second.streams[0].frames == 1 and second.streams[0].finished


def test_the_first_reading_stands_when_it_means_something_or_the_second_means_nothing_too() -> None:
    second = FakeRecognizer("I lost my card")
    understood = asyncio.run(understand_turn(nlu(), heard("check my balance"), MENU, audio=AUDIO,
                                             second_hearing=second))
    assert not understood.heard_again and understood.understanding.intent == "check_balance"
    assert second.streams == []  # a turn understood costs no second decode
    understood = asyncio.run(understand_turn(nlu(), heard("Tell me a joke."), MENU, audio=AUDIO,
                                             second_hearing=FakeRecognizer("Tell me a choke.")))
    assert not understood.heard_again and understood.transcript.text == "Tell me a joke."
    assert understood.understanding.intent is None


def test_a_reading_the_cascade_already_made_with_base_is_taken_without_decoding_again() -> None:
    second = FakeRecognizer("I lost my card")
    base = Transcript("check my balance", 0.55, engine="whisper-base")
    tiny = Transcript("Talon.", 0.58, engine="whisper-tiny", second_reading=base)  # tiny was surer, and wrong
    understood = asyncio.run(understand_turn(nlu(), tiny, MENU, audio=AUDIO, second_hearing=second))
    assert understood.heard_again and understood.understanding.intent == "check_balance"
    assert understood.transcript.text == "check my balance" and second.streams == []
    # base's reading won in the cascade and still means nothing: no decode of the same audio by base again
    lost = Transcript("Talon.", 0.5, engine="whisper-cascade", second_reading=Transcript("Talon.", 0.5))
    understood = asyncio.run(understand_turn(nlu(), lost, MENU, audio=AUDIO, second_hearing=second))
    assert not understood.heard_again and understood.transcript.text == "Talon." and second.streams == []


@pytest.mark.parametrize("hints, audio, second", [
    (RecognitionHints(slot_type="account_number", kind="digits"), AUDIO, FakeRecognizer("check my balance")),
    (MENU, None, FakeRecognizer("check my balance")),
    (MENU, AUDIO, None),
])
def test_no_second_hearing_under_digits_without_audio_or_without_a_second_recogniser(hints, audio, second) -> None:
    understood = asyncio.run(understand_turn(nlu(), heard("Talon."), hints, audio=audio, second_hearing=second))
    assert not understood.heard_again and understood.transcript.text == "Talon."
    assert second is None or second.streams == []


def test_a_failed_second_hearing_leaves_the_first_reading() -> None:
    class Broken(FakeRecognizer):
        def open_stream(self, sample_rate, hints):
            raise RuntimeError("model gone")

    understood = asyncio.run(understand_turn(nlu(), heard("Talon."), MENU, audio=AUDIO,
                                             second_hearing=Broken("unused")))
    assert not understood.heard_again and understood.understanding.intent is None


def test_what_tells_nothing_depends_on_what_was_asked() -> None:
    number = Understanding("five five five five", None, 0.0, (Entity("account_number", "5555"),))
    assert tells_nothing(number, None)  # a number alone at a menu is no request
    assert not tells_nothing(number, "yes_no")  # a value said early, at a question: the flow may take it
    assert not tells_nothing(Understanding("get me a person", None, 0.0, human_request=True), None)
    assert not tells_nothing(Understanding("balance", "check_balance", 0.8), "yes_no")
    assert tells_nothing(Understanding("hm", None, 0.0), "yes_no")


def test_a_doubtful_intent_from_the_second_reading_is_not_taken_and_its_beam_is_not_read() -> None:
    class Readings:
        """Each text's (intent, confidence); the other readings it was given, in order."""

        def __init__(self, table: dict[str, tuple[str | None, float]]) -> None:
            self.table, self.given = table, []

        async def understand(self, text, transcript_confidence=1.0, expected_slot=None, signals=None,
                             heard_otherwise=()):
            self.given.append(tuple(heard_otherwise))
            intent, confidence = self.table.get(text, (None, 0.0))
            return Understanding(text, intent, confidence)

    doubtful = FakeRecognizer("Over a blank check.")
    doubtful.alternatives = (("Order a pizza.", 0.5),)
    nlu = Readings({"Over a blank check.": ("opening_hours", 0.25), "Balance.": ("check_balance", 0.8)})
    understood = asyncio.run(understand_turn(nlu, heard("Over a brief session."), MENU, audio=AUDIO,
                                             second_hearing=doubtful))
    assert not understood.heard_again and understood.understanding.intent is None
    assert nlu.given[1] == ()  # base's best reading only
    understood = asyncio.run(understand_turn(nlu, heard("Finally."), MENU, audio=AUDIO,
                                             second_hearing=FakeRecognizer("Balance.")))
    assert understood.heard_again and understood.understanding.intent == "check_balance"


def test_a_second_hearing_slower_than_the_caller_may_wait_is_given_up() -> None:
    slow = FakeRecognizer("check my balance", delay_s=0.5)
    understood = asyncio.run(understand_turn(nlu(), heard("Talon."), MENU, audio=AUDIO, second_hearing=slow,
                                             max_wait_s=0.05))
    assert not understood.heard_again and understood.transcript.text == "Talon."
    assert slow.streams[0].cancelled
    understood = asyncio.run(understand_turn(nlu(), heard("Talon."), MENU, audio=AUDIO,
                                             second_hearing=FakeRecognizer("check my balance", delay_s=0.05),
                                             max_wait_s=1.0))
    assert understood.heard_again


def test_a_reading_base_is_still_making_is_awaited_not_decoded_again() -> None:
    async def main() -> None:
        second = FakeRecognizer("I lost my card")
        later: asyncio.Future[Transcript] = asyncio.get_running_loop().create_future()
        tiny = Transcript("Talon.", 0.8, engine="whisper-tiny", later_reading=later)
        base = Transcript("check my balance", 0.9, engine="whisper-base")
        asyncio.get_running_loop().call_later(0.05, later.set_result, replace(base, engine="whisper-cascade",
                                                                               second_reading=base))
        understood = await understand_turn(nlu(), tiny, MENU, audio=AUDIO, second_hearing=second)
        assert understood.heard_again and understood.understanding.intent == "check_balance"
        assert understood.transcript.text == "check my balance" and second.streams == []
        # understood at once: the later reading is not waited for
        pending: asyncio.Future[Transcript] = asyncio.get_running_loop().create_future()
        sure = Transcript("check my balance", 0.8, later_reading=pending)
        understood = await understand_turn(nlu(), sure, MENU, audio=AUDIO, second_hearing=second)
        assert not understood.heard_again and not pending.done() and second.streams == []
        # given up after max_wait_s, and the later reading is still made for the record
        slow = Transcript("Talon.", 0.8, later_reading=pending)
        understood = await understand_turn(nlu(), slow, MENU, audio=AUDIO, second_hearing=second,
                                           max_wait_s=0.05)
        assert not understood.heard_again and not pending.cancelled()

    asyncio.run(main())


class GuessingNlu(FakeNlu):
    """``FakeNlu``, with "I've got to plunder." read as a guess from words far from every example."""

    async def understand(self, text, *args, **kwargs):
        understanding = await super().understand(text, *args, **kwargs)
        if text == "I've got to plunder.":
            return replace(understanding, intent="lost_card", confidence=0.3, far_from_examples=True)
        return understanding


def test_a_guess_far_from_every_example_is_heard_again_and_stands_only_when_that_means_nothing() -> None:
    fake = GuessingNlu(nlu().intents, nlu().slot_types)
    understood = asyncio.run(understand_turn(fake, heard("I've got to plunder."), MENU, audio=AUDIO,
                                             second_hearing=FakeRecognizer("check my balance")))
    assert understood.heard_again and understood.understanding.intent == "check_balance"
    understood = asyncio.run(understand_turn(fake, heard("I've got to plunder."), MENU, audio=AUDIO,
                                             second_hearing=FakeRecognizer("Tell me a choke.")))
    assert not understood.heard_again and understood.understanding.intent == "lost_card"
    assert understood.understanding.far_from_examples  # the dialog confirms it: "Did you want to …?"
