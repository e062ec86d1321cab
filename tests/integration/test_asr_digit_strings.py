"""The product recogniser on spoken digit strings: real FSDD speakers joined into account numbers, flite
callers over a telephone channel, and the trained digit reader on the bot's Piper voice over μ-law.
Accuracy thresholds, not fixed outputs (figures: eval/README.md)."""

from __future__ import annotations

import asyncio
import wave
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from scripts import imported_script

from voicebot.caller.voices import caller_audio, missing_tools, parse_channel, through_channel
from voicebot.config import Settings
from voicebot.dialog.prompts import while_fixing
from voicebot.nlu.digit_fix import read_repair
from voicebot.nlu.entities import SlotTypeSpec, extract
from voicebot.nlu.normalize import find_restatement
from voicebot.runtime import InferencePool
from voicebot.speech.asr import load_recognizer
from voicebot.speech.asr_whisper import is_lone_oh
from voicebot.speech.digit_reader import DigitReader
from voicebot.speech.tts_piper import PiperSynthesizer
from voicebot.speech.wer import normalize
from voicebot.types import AudioFrame, RecognitionHints

pytestmark = pytest.mark.slow
TINY = Settings(speech={"asr_engine": "whisper-tiny"})
RATE = 8000
FRAME = 320
EVAL_DIGITS = Path(__file__).resolve().parents[2] / "eval" / "digits.py"

# (digits, speaker, clip take 5-9 per digit): groups of 3-3-4 / 4-4 / 3-4 with pauses between them
FSDD_STRINGS = [("4271930586", "theo"), ("80512749", "yweweler"), ("3140592", "theo"),
                ("6627150843", "yweweler"), ("90318274", "theo"), ("5071863", "yweweler")]
FLITE_STRINGS = [("42179806", "four two one seven, nine eight oh six"),
                 ("3141592", "three one four, one five nine two"),
                 ("7733081264", "seven seven three, three oh eight, one two six four"),
                 ("9004412", "nine hundred, double four, one two")]


@pytest.fixture(scope="module")
def recognizer():
    pool = InferencePool(2)
    yield load_recognizer(TINY, pool)  # the cascade leaves digits to tiny
    pool.shutdown()


def fsdd_string(shared_dir, digits: str, speaker: str) -> np.ndarray:
    sizes = {7: (3, 4), 8: (4, 4), 10: (3, 3, 4)}[len(digits)]
    ends = set(np.cumsum(sizes))
    parts = []
    for k, d in enumerate(digits, 1):
        path = shared_dir / "data" / "asr" / "fsdd_digits_dev" / "audio" / f"{d}_{speaker}_{5 + k % 5}.wav"
        with wave.open(str(path)) as w:
            parts.append(np.frombuffer(w.readframes(w.getnframes()), dtype="<i2"))
        parts.append(np.zeros(int(RATE * (0.45 if k in ends else 0.12)), np.int16))
    return np.concatenate(parts)


async def hear(recognizer, audio: np.ndarray, hints: RecognitionHints) -> str:
    pcm = bytes(int(0.2 * RATE) * 2) + audio.astype("<i2").tobytes() + bytes(int(0.1 * RATE) * 2)
    stream = recognizer.open_stream(RATE, hints)
    for i in range(0, len(pcm), FRAME):
        await stream.accept(AudioFrame(pcm[i:i + FRAME], RATE))
    return (await stream.finish()).text


def heard(text: str, length: int) -> str | None:
    entity = extract(text, SlotTypeSpec("account", "digits", min_length=length, max_length=length))
    return None if entity is None else entity.value


def digits_hints(length: int) -> RecognitionHints:
    return RecognitionHints(slot_type="account", kind="digits", digit_count=(length, length))


async def test_real_speakers_reading_account_numbers(recognizer, shared_dir):
    right = 0
    for digits, speaker in FSDD_STRINGS:
        text = await hear(recognizer, fsdd_string(shared_dir, digits, speaker), digits_hints(len(digits)))
        right += heard(text, len(digits)) == digits
    assert right >= 4, f"{right} of {len(FSDD_STRINGS)} FSDD strings exactly right"


async def test_flite_callers_reading_numbers_the_ways_people_do(recognizer, tmp_path):
    if missing_tools():
        pytest.skip(f"missing {missing_tools()}")
    right = 0
    for digits, said in FLITE_STRINGS:
        audio = await asyncio.to_thread(caller_audio, said, "flite-slt", parse_channel("ulaw"), tmp_path)
        right += heard(await hear(recognizer, audio, digits_hints(len(digits))), len(digits)) == digits
    assert right >= 3, f"{right} of {len(FLITE_STRINGS)} flite strings exactly right"


async def test_speech_that_is_not_digits_is_not_heard_as_oh_oh_oh(recognizer, tmp_path):
    if missing_tools():
        pytest.skip(f"missing {missing_tools()}")
    for said in ("I'm not sure where to find it", "can I just speak to somebody please"):
        audio = await asyncio.to_thread(caller_audio, said, "flite-rms", parse_channel("gsm"), tmp_path)
        text = await hear(recognizer, audio, digits_hints(8))
        assert not is_lone_oh(text), text
        assert len([w for w in normalize(text) if not w.isdigit()]) >= 2, text


TAKEN_BACK = [
    ("31405922", "flite-slt",
     "three one four oh, five nine one two, sorry, three one four oh, five nine two two"),
    ("7704391", "flite-rms",
     "seven seven oh four, three eight one, no wait, seven seven oh four, three nine one"),
    ("86632015", "flite-awb",
     "eight six six three, two oh one six, actually, eight six six three, two oh one five"),
]


async def test_a_number_taken_back_in_one_breath_is_heard_with_the_number_said_again(recognizer, tmp_path):
    """Whisper alone stops after the first number or merges the two: the reader reads both numbers, the words
    between them come from whisper."""
    if missing_tools():
        pytest.skip(f"missing {missing_tools()}")
    right = 0
    for digits, voice, said in TAKEN_BACK:
        audio = await asyncio.to_thread(caller_audio, said, voice, parse_channel("ulaw"), tmp_path)
        parts = find_restatement(await hear(recognizer, audio, digits_hints(len(digits))))
        right += parts is not None and heard(parts[1], len(digits)) == digits
    assert right >= 2, f"{right} of {len(TAKEN_BACK)} numbers taken back heard as said again"


# A number said again in answer to "I have 7 9 3 0 4 7 5 5 2 8. Is that right?" (whisper's free text dropped
# the "oh"), and plain answers to the same question
SAID_AGAIN = [("1930475528", "flite-rms", "No, it's one nine three oh, four seven, double five, two eight."),
              ("4713396208", "flite-rms", "No. Four seven one, double three, nine six, two oh eight.")]
FIXES = [("the last one is eight", "1234568"), ("no, the second one should be a nine", "1934567"),
         ("the third digit is five", "1254567")]
PLAIN_ANSWERS = [("flite-rms", "Yes, that's right."), ("flite-kal", "No, that's wrong."),
                 ("flite-slt", "Nearly. It ends seven four, not four seven.")]


async def test_a_number_said_again_at_its_confirmation_is_read_whole(recognizer, tmp_path):
    """At "Is that right?" about a number, a number said again is the digit reader's (the expected count);
    an answer with no number, or a fix of a part, stays as whisper heard it."""
    if missing_tools():
        pytest.skip(f"missing {missing_tools()}")
    confirming = RecognitionHints(("yes", "no"), "yes_no", digit_count=(10, 10))
    for digits, voice, said in SAID_AGAIN:
        audio = await asyncio.to_thread(caller_audio, said, voice, parse_channel("ulaw"), tmp_path)
        assert heard(await hear(recognizer, audio, confirming), len(digits)) == digits
    for voice, said in PLAIN_ANSWERS:
        audio = await asyncio.to_thread(caller_audio, said, voice, parse_channel("ulaw"), tmp_path)
        plain = await hear(recognizer, audio, RecognitionHints(("yes", "no"), "yes_no"))
        assert await hear(recognizer, audio, confirming) == plain


async def test_a_number_said_to_be_wrong_is_heard_otherwise_when_said_again(recognizer):
    """A real held-out speaker (FSDD yweweler, ``eval/digits.py``'s clip ``fsdd-heldout-057``) whose 6 is
    heard as 8, in the number and again when he says it again in the repair turn: once the caller said that
    reading is wrong, the repair turn hears the next most likely number of its length."""
    with imported_script(EVAL_DIGITS, "eval_digits") as digits_eval:
        item = next(i for i in digits_eval.load_set() if i["id"] == "fsdd-heldout-057")
        first_audio = digits_eval.audio_for(item)
        again_audio = digits_eval.audio_for(digits_eval.repair_item(item))
    first = heard(await hear(recognizer, first_audio, digits_hints(7)), 7)
    assert first == "4446823"  # "4 4 4 6 6 2 3" misheard: what the caller says is wrong at the confirmation
    fixing = while_fixing(digits_hints(7))
    assert heard(await hear(recognizer, again_audio, fixing), 7) == first  # said again: the same mistake
    assert heard(await hear(recognizer, again_audio, replace(fixing, ruled_out=(first,))), 7) == "4446623"


async def test_while_a_number_is_fixed_a_fix_stays_words_and_the_number_said_again_is_read_whole(
        recognizer, tmp_path):
    if missing_tools():
        pytest.skip(f"missing {missing_tools()}")
    fixing = while_fixing(replace(digits_hints(7), ruled_out=("1234567",)))
    for said, fixed in FIXES:
        audio = await asyncio.to_thread(caller_audio, said, "flite-slt", parse_channel("ulaw"), tmp_path)
        repair = read_repair("1234567", await hear(recognizer, audio, fixing), lambda d: len(d) == 7)
        assert repair is not None and repair.digits == fixed, said
    audio = await asyncio.to_thread(caller_audio, "eight eight eight nine, nine seven three", "flite-rms",
                                    parse_channel("gsm"), tmp_path)
    assert heard(await hear(recognizer, audio, fixing), 7) == "8889973"


PIPER_STRINGS = [("7733081264", "seven seven three, three oh eight, one two six four"),
                 ("44915552", "double four nine one, triple five two"),
                 ("42179806", "forty-two seventeen, ninety-eight oh six"),
                 ("60000318", "yeah, my account number is six oh oh oh, oh three one eight")]


async def test_the_digit_reader_reads_piper_strings_over_ulaw(recognizer):
    """The trained reader (over whisper's encoder) takes these: repeats, "double"/"triple", pairs, a sentence."""
    assert isinstance(recognizer.digit_reader, DigitReader)
    piper = await asyncio.to_thread(PiperSynthesizer.load, recognizer.pool)
    right = 0
    for digits, said in PIPER_STRINGS:
        pcm = np.frombuffer(piper.synthesize_pcm(said, RATE), dtype="<i2")
        audio = through_channel(pcm, RATE, parse_channel("ulaw"), seed=len(said))
        right += heard(await hear(recognizer, audio, digits_hints(len(digits))), len(digits)) == digits
        right += heard(await hear(recognizer, audio, RecognitionHints(slot_type="account", kind="digits")),
                       len(digits)) == digits
    assert right >= 6, f"{right} of {2 * len(PIPER_STRINGS)} Piper strings exactly right"  # pairs are its weak style

    for said in ("I don't have one", "I'm not sure where to find it"):  # not a number: heard as said
        pcm = np.frombuffer(piper.synthesize_pcm(said, RATE), dtype="<i2")
        text = await hear(recognizer, through_channel(pcm, RATE, parse_channel("ulaw")), digits_hints(8))
        assert len([w for w in normalize(text) if not w.isdigit()]) >= 2, text


def test_the_digit_reader_is_a_setting(recognizer):
    """``speech.digit_reader = false`` loads the recogniser without it (the grammar path alone)."""
    pool = InferencePool(1)
    try:
        plain = load_recognizer(Settings(speech={"asr_engine": "whisper-tiny", "digit_reader": False}), pool)
    finally:
        pool.shutdown()
    assert plain.digit_reader is None and isinstance(recognizer.digit_reader, DigitReader)
