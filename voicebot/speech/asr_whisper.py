"""faster-whisper recogniser: one shared CTranslate2 model, a small buffer per utterance.

Whisper has no streaming partials. To answer fast the stream decodes speculatively when the caller
pauses (``pause()``); if no audio arrives after that, ``finish()`` returns the speculative result at
once, so recognition overlaps the end-of-turn silence.

Encoding: whisper's encoder always reads a 30 s window, and on two cores that is ≈ 330 ms of tiny.en's
≈ 400 ms decode whatever the utterance's length. With ``trim_encoder`` (the default for tiny.en) only
the utterance plus :data:`TRIM_MARGIN_S` of silence is encoded, and the rest of the window is taken
from an encoding of silence made once at load: the decoder still sees a full window ending in silence,
so it stops where the speech stops. Cutting the window without that splice makes whisper loop
("zero zero zero ..."). The full window pads the log-mel features with zeros, as faster-whisper does;
the trimmed one pads the audio (the better of the two there). FSDD, 300 clips, beam 5, digits grammar /
no hint: full window 6.3 % / 36.0 % WER at ≈ 280 ms a clip, trimmed with a 5 s margin 8.0 % / 31.7 % at
≈ 60 ms (a 2 s margin: 10.7 % / 39.3 %). The trimmed decode is what lets a turn end 0.35 s after the
caller stops; whisper base loses more this way (sentences 7 -> 11 %), so it keeps the full window.

Decoding: beam search (``beam_size``, 5 by default: with the encoder trimmed it costs ≈ 10-20 ms and cuts WER
by a tenth to a fifth on FSDD and on sentences), no timestamps (one ≤ 30 s window per utterance; a turn longer
than 25 s is decoded in pieces cut at a pause, :func:`window_pieces`), no internal VAD (the listener already
segmented), one temperature (no fallback re-decodes), English. When digits are expected the decode is
constrained to a small grammar (``whisper_hints.grammar_for``, plus numerals, pair and hundred words and the
words said around a number) by suppressing every other token, and it hears the audio slowed to
:data:`DIGITS_TEMPO` (pitch kept, :func:`slow_down`): tiny.en drops fewer repeated digits ("seven seven three
three"). Before that, the **digit reader** (``speech/digit_reader.py``, a CTC model trained by us over the
same encoder states, :func:`utterance_states`) reads the turn; its reading stands when :func:`takes_reading`
(it has digits, the expected count if known), unless whisper's free text is a sentence with no number
(:func:`is_sentence_without_number`), and the grammar decode runs only when it does not (eval/README.md:
whisper merges repeated digits, CTC does not). A number taken back and said again in one breath ("9 8 7 … 1 1,
sorry, 9 8 7 … 1 0") is both of the reader's numbers with the take-back between them
(``WhisperRecognizer._taken_back``): whisper alone stops after the first or merges the two; a sentence and
then a number ("Hang on, let me read it off the label. 0 4 8 …"), whose free text whisper ends after the
sentence, is the sentence and the reader's number (:func:`number_after_sentence`). At a yes/no
question about a number read back (hints with ``digit_count``), a number said again in the answer is the
reader's too (``WhisperRecognizer._free``). Other hints become ``hotwords`` and an ``initial_prompt``
(``prompt_for``), read as one text before the audio (hotwords first,
joined by a comma, as faster-whisper orders them). New tokens are capped at ``8 + 6 per second`` of audio; a
decode stopped by the cap is a repetition loop ("zero zero zero ..."): the loop is collapsed to one copy
(:func:`collapse_loops`) and the confidence halved.

A free decode passes on the beam's other readings (:func:`alternatives`, ``Transcript.alternatives``, each
with the same confidence as below): the NLU may take one that is a request the flow knows when the best means
nothing ("Keep my team in to go through it." / "Give my payment to go through it.", ``nlu/understand.py``).
Returning all five hypotheses instead of one costs nothing measurable (menu lines: p50 0.443 / 0.450 s, the
same best reading on 120 of 120).

Confidence: ``exp(avg_logprob) * min(1, 2 * (1 - no_speech_prob))`` (duration-weighted over segments):
the geometric-mean token probability, discounted once whisper thinks the audio is more likely not speech
than speech (isolated short words already get no_speech_prob 0.2-0.6). Halved for a repetition loop.
Tiny.en gives ≈0.5-0.85 on clear words, 0 on what the filter below drops.

Hallucinations (whisper writes "Thank you." or "you" over noise and silence) are suppressed: the text
becomes empty when ``no_speech_prob`` > 0.8, or > 0.6 with a log-probability below -1, or when the
text is one of the known hallucinations and the evidence for speech is weak (:func:`is_hallucination`),
or when it reads back two or more words of the prompt or hotwords (:func:`echoes_prompt`) while the
evidence for speech is weak — a clear answer that happens to be one of the hints ("no thanks") stays.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import ctranslate2
import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer

from voicebot.audio.codecs import resample
from voicebot.nlu.digit_fix import find_digit_fixes
from voicebot.nlu.normalize import find_digit_runs, find_restatement, take_back_words
from voicebot.runtime import InferencePool
from voicebot.speech.digit_reader import FEATURE_DIM, OTHER, DigitReader, DigitReading
from voicebot.speech.wer import normalize
from voicebot.speech.whisper_hints import grammar_for, prompt_for
from voicebot.types import SAMPLE_WIDTH, AudioFrame, RecognitionHints, Transcript

MODEL_RATE = 16000
WINDOW_S = 30  # whisper's input window
TRIM_MARGIN_S = 5.0  # silence encoded after the utterance when the encoder is trimmed
WINDOW_SPEECH_S = WINDOW_S - TRIM_MARGIN_S  # the most audio one decode hears; a longer turn is decoded in pieces
CUT_SEARCH_S = 5.0  # a long turn is cut at the quietest 100 ms of the last seconds of each piece
DIGIT_ALTERNATIVE_MARGIN = 1.0  # log-probability a digit hypothesis may trail a lone "Oh" by (see choose_hypothesis)
BETWEEN_MARGIN_S = 0.1  # audio kept either side of the words between two numbers, heard on their own
DIGITS_TEMPO = 0.8  # digits are decoded slowed to this tempo: fewer dropped repeats (eval/README.md)
DIGIT_COUNT_MARGIN = 0.5  # ... and one with the expected number of digits may trail a miscount by
FREE_ANSWER_MIN_CONFIDENCE = 0.75  # see answers_otherwise
FREE_SENTENCE_MIN_CONFIDENCE = 0.5
GRAMMAR_DOUBT_CONFIDENCE = 0.3
NUMBER_AFTER_MIN_DIGITS = 4  # see number_after_sentence
NUMBER_AFTER_WORDS_SLACK = 3  # the reader's words before the number against whisper's sentence, either way
# what whisper writes before a prompt it reads back over noise ("It's a real person."): see echoes_prompt
ECHO_LEADS = ("it's", "and", "so", "oh")
# how callers say pairs and hundreds ("forty-two seventeen", "nine hundred"): the digits grammar admits
# them, and numerals of any length, so whisper can write what was said (eval/README.md, digit strings)
NUMBER_WORDS = ("ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty thirty "
                "forty fifty sixty seventy eighty ninety hundred").split()
# ... and the words callers put around a number ("yeah, my account number is ..."), which the grammar
# would otherwise force into digits ("it's" -> "2"); none sounds like a digit ("to", "for" are left out)
CARRIER_WORDS = ("it it's is that that's the my number number's account order tracking phone card yes yeah "
                 "sure okay ok thanks thank you so um uh").split()
KNOWN_HALLUCINATIONS = frozenset({
    "you", "thank you", "thanks", "thank you very much", "thanks for watching", "thank you for watching",
    "bye", "oh", "so", "i", "the", "uh", "hmm", "okay", "subtitles by the amara org community",
    "please subscribe", "you know",
})


@dataclass(frozen=True, slots=True)
class Decoded:
    """One decode of one stream's audio: ``Transcript`` plus the raw scores behind its confidence."""

    text: str
    confidence: float
    avg_logprob: float
    no_speech_prob: float
    audio_seconds: float
    alternatives: tuple[tuple[str, float], ...] = ()  # other readings of a free decode (see alternatives)


def is_hallucination(text: str, avg_logprob: float, no_speech_prob: float, audio_seconds: float) -> bool:
    """Whisper output that is most likely invented over noise or silence."""
    words = " ".join(normalize(text))
    if not words:
        return True
    if no_speech_prob > 0.8 or (no_speech_prob > 0.6 and avg_logprob < -1.0):
        return True
    weak = no_speech_prob > 0.35 or avg_logprob < -0.9 or audio_seconds < 0.25
    return weak and words in KNOWN_HALLUCINATIONS


def echoes_prompt(text: str, *prompts: str | None) -> bool:
    """The output repeats two or more words of the prompt verbatim ("Say a digit"): whisper read the
    prompt back instead of the audio, also with a filler before it or over and over ("It's a real person, a real
    person." over a hum). Digit runs do not count: "two three" may be the answer."""
    words = normalize(text)
    if len(words) > 3 and words[0] in ECHO_LEADS:  # not "It's a redelivery.": an option said, with a lead
        words = words[1:]
    words = collapse_loops(" ".join(words), min_repeats=2).split()
    if len(words) < 2 or all(w.isdigit() for w in words):
        return False
    joined = " " + " ".join(words) + " "
    return any(joined in " " + " ".join(normalize(p)) + " " for p in prompts if p)


def is_expected_answer(text: str, hints: RecognitionHints) -> bool:
    """The text is exactly one of the phrases the flow expects (then it is an answer, not an echo)."""
    said = " ".join(normalize(text))
    return any(said == " ".join(normalize(phrase)) for phrase in hints.phrases)


def is_lone_oh(text: str) -> bool:
    """Whisper's "Oh," / "Oh." / "Oh, oh, oh, oh." with no digit: what it writes under the digits grammar
    when it is unsure, or when the caller said something that is not digits."""
    words = normalize(text)
    return bool(words) and all(w == "oh" for w in words)


def choose_hypothesis(texts: list[str], scores: list[float], no_speech_prob: float,
                      digit_count: tuple[int, int] | None = None, ruled_out: tuple[str, ...] = ()) -> int:
    """Which of a digits-grammar beam's hypotheses (best first) to keep.

    * Whisper writes a lone "Oh" when it is unsure of a short word; when it is not likely silence, the
      best hypothesis that spells digits wins if it scores within :data:`DIGIT_ALTERNATIVE_MARGIN`. FSDD
      (300 clips): 8.0 -> 6.3 % WER (a lone "oh" was dropped as a likely filler before).
    * When the flow knows how many digits the answer has (``digit_count``, min and max) and the best
      hypothesis has another count, the best one with a right count wins within
      :data:`DIGIT_COUNT_MARGIN`: repeated digits are where whisper miscounts ("4 4 4 4 4" -0.66 over
      "4 4 4 4" -0.69).
    * When the best spells a number the caller said is wrong at this question (``ruled_out``), the best
      one spelling another number of its length wins within :data:`DIGIT_COUNT_MARGIN`."""
    def spells_digits(text: str) -> bool:
        return not is_lone_oh(text) and spells_only_digits(text)

    def count_fits(text: str) -> bool:
        assert digit_count is not None
        return fits_count(text, digit_count)

    if is_lone_oh(texts[0]) and no_speech_prob <= 0.6:
        return _best_within(texts, scores, spells_digits, DIGIT_ALTERNATIVE_MARGIN)
    if digit_count is not None and spells_digits(texts[0]) and not count_fits(texts[0]):
        return _best_within(texts, scores, count_fits, DIGIT_COUNT_MARGIN)
    if spells_digits(texts[0]) and (wrong := digits_of(texts[0])) in ruled_out:
        return _best_within(texts, scores, lambda text: len(digits_of(text)) == len(wrong)
                            and digits_of(text) not in ruled_out, DIGIT_COUNT_MARGIN)
    return 0


def spells_only_digits(text: str) -> bool:
    """``text`` is digits and nothing else ("4 4, 1 2." yes; "the last one is 8" no)."""
    words = normalize(text)
    return bool(words) and all(w.isdigit() for w in words)


def digits_of(text: str) -> str:
    """The digits ``text`` spells, in order ("4 4, 1 2" -> "4412")."""
    return "".join(w for w in normalize(text) if w.isdigit())


def fits_count(text: str, digit_count: tuple[int, int]) -> bool:
    """``text`` spells between ``digit_count[0]`` and ``digit_count[1]`` digits."""
    return digit_count[0] <= len(digits_of(text)) <= digit_count[1]


def slow_down(audio: np.ndarray, tempo: float, rate: int = MODEL_RATE) -> np.ndarray:
    """``audio`` played at ``tempo`` (< 1: slower) at the same pitch: WSOLA, 40 ms frames overlapping by
    half, each taken within ±10 ms of its nominal place where it best continues the previous one."""
    n = int(0.04 * rate) // 2 * 2
    hop, tol = n // 2, int(0.01 * rate)
    if audio.size < 2 * n:
        return audio
    frames = math.ceil(audio.size / (hop * tempo)) + 1
    x = np.concatenate([np.zeros(tol, audio.dtype), audio, np.zeros(3 * n + tol, audio.dtype)])
    window = np.hanning(n).astype(np.float32)
    out = np.zeros(frames * hop + n, np.float32)
    weight = np.zeros_like(out)
    previous = tol
    for k in range(frames):
        nominal = tol + round(k * hop * tempo)
        position = nominal
        if k:
            natural = x[previous + hop:previous + hop + n]
            score = np.correlate(x[nominal - tol:nominal + tol + n], natural, mode="valid")
            position = nominal - tol + int(np.argmax(score))
        out[k * hop:k * hop + n] += window * x[position:position + n]
        weight[k * hop:k * hop + n] += window
        previous = position
    return (out / np.maximum(weight, 1e-3))[:int(audio.size / tempo)]


def takes_reading(reading: DigitReading, digit_count: tuple[int, int] | None) -> bool:
    """The digit reader's reading stands (no whisper grammar decode) when it has digits, at least two more
    than other words ("I don't have one" is no number), and the expected number of them when the flow knows
    it. Its confidence is no help here: requiring 0.3-0.6 changed nothing on dev, 0.7 lost 2 points."""
    if len(reading.digits) < reading.other_words + 2:
        return False
    return digit_count is None or digit_count[0] <= len(reading.digits) <= digit_count[1]


def words_between_numbers(reading: DigitReading) -> bool:
    """The digit reader heard other words between two number words ("six, not triple six"), not only around
    them ("no, it's nine oh five …")."""
    numbers = [k for k, word in enumerate(reading.words) if word != OTHER]
    return bool(numbers) and OTHER in reading.words[numbers[0]:numbers[-1]]


def is_sentence_without_number(free_text: str, reading: DigitReading) -> bool:
    """Whisper's free text has no number and at least as many different words as the digit reader heard digits:
    a sentence ("This is the worst service ever. I'm serious." read as four digits at a PIN question), not a
    number whisper misheard as words, which has fewer ("Aye, aye, aye, aye." or "Viewer, viewer, A-A-A-A" for
    eight)."""
    if any(c.isdigit() for c in free_text) or find_digit_runs(free_text):  # "For only $1.49, 9.56.": numerals
        return False
    return len(set(normalize(free_text))) >= len(reading.digits)


# What may stand between the groups of one number said in a sentence ("nine eight seven, uh, six five four")
_BETWEEN_GROUPS = frozenset(("uh", "um", "er", "erm", "hmm", "and", "then", "dash", "hyphen"))


def with_reading(free: Decoded, reading: DigitReading, digit_count: tuple[int, int] | None) -> Decoded:
    """A number said inside a sentence ("Yeah, my account number is 6-0-0-0-0-0-3-1." for "… six oh oh oh,
    oh three one eight"): the free text's digits, from its first digit run to its last, are the digit
    reader's when its reading stands (:func:`takes_reading`), unless the text is a fix of a number with words
    between its runs ("double six, not triple six"; misheard digits such as "floor" between them do not
    count); the words around them stay. A free text with no digits ("Aye, aye, aye, …" for "five five five
    …") is the reader's digits when they have the expected count."""
    runs = find_digit_runs(free.text)
    if not takes_reading(reading, digit_count):
        return free
    if not runs:
        return free if digit_count is None else replace(free, text=" ".join(reading.digits))
    between = normalize(free.text[runs[0].end:runs[-1].start])
    if any(word not in _BETWEEN_GROUPS for word in between) and find_digit_fixes(free.text):
        return free  # a fix, whose words between the numbers mean something: "a two before the four"
    return replace(free, text=free.text[:runs[0].start] + " ".join(reading.digits) + free.text[runs[-1].end:])


def number_after_sentence(free: Decoded, reading: DigitReading) -> Decoded | None:
    """A sentence and then a number ("Hang on, let me read it off the label. Zero four eight, two six five,
    …") whose free text stops after the sentence (whisper's end of text comes early: the number is only in the
    beam's other readings): the sentence and the digit reader's number, when the reader heard about as many
    words as whisper wrote, then at least :data:`NUMBER_AFTER_MIN_DIGITS` digits with at most one other word
    among or after them ("…, seven three, erm, four eight"; "…, thanks"); else None."""
    if find_digit_runs(free.text) or len(reading.digits) < NUMBER_AFTER_MIN_DIGITS:
        return None
    first = next(k for k, word in enumerate(reading.words) if word != OTHER)
    if reading.words[first:].count(OTHER) > 1:
        return None
    if abs(first - len(normalize(free.text))) > NUMBER_AFTER_WORDS_SLACK:
        return None
    return replace(free, text=f"{free.text} {' '.join(reading.digits)}", alternatives=())


def window_pieces(audio: np.ndarray) -> list[np.ndarray]:
    """``audio`` as pieces one decode can hear (at most :data:`WINDOW_SPEECH_S` each); a longer turn (a caller
    describing a problem at length) is cut at the quietest 100 ms of the last :data:`CUT_SEARCH_S` of each piece,
    most often a pause between words."""
    limit, search, step = int(WINDOW_SPEECH_S * MODEL_RATE), int(CUT_SEARCH_S * MODEL_RATE), MODEL_RATE // 10
    pieces = []
    while audio.size > limit:
        tail = audio[limit - search:limit]
        energy = np.square(tail[:tail.size // step * step].reshape(-1, step)).mean(axis=1)
        cut = limit - search + int(np.argmin(energy)) * step + step // 2
        pieces.append(audio[:cut])
        audio = audio[cut:]
    return [*pieces, audio]


def joined(pieces: list[Decoded]) -> Decoded:
    """One reading of a turn decoded in pieces: their texts in order; the confidence and scores weighted by the
    seconds of the pieces that said something (an empty piece, silence or a dropped hallucination, adds nothing)."""
    said = [p for p in pieces if p.text]
    seconds = sum(p.audio_seconds for p in pieces)
    if not said:
        return Decoded("", 0.0, min(p.avg_logprob for p in pieces), max(p.no_speech_prob for p in pieces), seconds)
    weight = sum(p.audio_seconds for p in said)

    def mean(values: list[float]) -> float:
        return sum(v * p.audio_seconds for v, p in zip(values, said, strict=True)) / weight

    return Decoded(" ".join(p.text for p in said), mean([p.confidence for p in said]),
                   mean([p.avg_logprob for p in said]), mean([p.no_speech_prob for p in said]), seconds)


def utterance_states(encoded: ctranslate2.StorageView, seconds: float) -> np.ndarray:
    """The encoder states (frames, width) of the first ``seconds`` of an encoded window (50 frames a
    second): what the digit reader reads."""
    return np.array(encoded)[0, :math.ceil(seconds * 50)]


def alternatives(texts: list[str], confidences: list[float], chosen: int) -> tuple[tuple[str, float], ...]:
    """The beam's other hypotheses as ``(text, confidence)``, best first, each reading once: one that differs
    from the chosen text or an earlier one only in case and punctuation ("Help." / "Help?") is left out."""
    seen = {" ".join(normalize(texts[chosen]))}
    kept = []
    for index, (text, confidence) in enumerate(zip(texts, confidences, strict=True)):
        words = " ".join(normalize(text))
        if index != chosen and words and words not in seen:
            seen.add(words)
            kept.append((text, confidence))
    return tuple(kept)


def _best_within(texts: list[str], scores: list[float], wanted: Callable[[str], bool], margin: float) -> int:
    """The best hypothesis that is ``wanted`` if it trails the best by at most ``margin``, else the best."""
    for index, (text, score) in enumerate(zip(texts, scores, strict=True)):
        if wanted(text):
            return index if score >= scores[0] - margin else 0
    return 0


def answers_otherwise(free: Decoded, grammar: Decoded) -> bool:
    """A free-text decode of an answer to a digits question that says more than digits ("I don't have
    one", "this is outrageous, I'm absolutely furious"): two or more words that are not numbers at
    confidence >= 0.75, or four or more at >= 0.5. Single digits misheard as free text stay under that
    on FSDD ("You will." for "zero" 0.73, "This is my account." 0.28); Piper sentences decode at
    0.7-0.98, and "It's 1 2 3 4" keeps the grammar's reading. One confident word ("Yes.", "Tomorrow.")
    wins only over a doubtful grammar reading (confidence < 0.3: "" or "2."). A grammar reading of only
    "oh"s ("Oh, oh, oh, oh." for "I'm not sure where to find it") says nothing: any free answer with a
    word that is not a number wins over it."""
    if says_words(free):
        return True
    words = [w for w in normalize(free.text) if not w.isdigit()]
    if is_lone_oh(grammar.text):
        return bool(words)
    return len(words) == 1 and free.confidence >= FREE_ANSWER_MIN_CONFIDENCE \
        and grammar.confidence < GRAMMAR_DOUBT_CONFIDENCE


def says_words(free: Decoded) -> bool:
    """The part of :func:`answers_otherwise` that needs no grammar reading: two or more words that are not
    numbers, confidently decoded, win whatever the grammar would read (so it need not be decoded)."""
    words = [w for w in normalize(free.text) if not w.isdigit()]
    return len(words) >= 2 and (free.confidence >= FREE_ANSWER_MIN_CONFIDENCE
                                or (len(words) >= 4 and free.confidence >= FREE_SENTENCE_MIN_CONFIDENCE))


def collapse_loops(text: str, min_repeats: int = 3) -> str:
    """Keep one copy of a run of 1-4 words repeated ``min_repeats`` times or more in a row
    ("six, six, six, six" -> "six,"): what whisper writes when it loops."""
    words = text.split()
    out: list[str] = []
    i = 0
    while i < len(words):
        for size in range(1, 5):
            unit = [w.strip(",.").lower() for w in words[i:i + size]]
            reps = 1
            while [w.strip(",.").lower() for w in words[i + reps * size:i + (reps + 1) * size]] == unit:
                reps += 1
            if len(unit) == size and reps >= min_repeats:
                out.extend(words[i:i + size])
                i += reps * size
                break
        else:
            out.append(words[i])
            i += 1
    return " ".join(out)


class WhisperRecognizer:
    """``engines.SpeechRecognizer`` over a faster-whisper model loaded once and shared by all calls."""

    def __init__(self, model: WhisperModel, pool: InferencePool, name: str,
                 max_utterance_s: float = 30.0, trim_encoder: bool = True, beam_size: int = 5,
                 digit_reader: DigitReader | None = None) -> None:
        self.model = model
        self.beam_size = beam_size
        self.digit_reader = digit_reader  # reads digits from the encoder states (tiny.en, trimmed only)
        self.pool = pool
        self.name = name
        self.max_utterance_s = max_utterance_s  # audio kept per turn; beyond WINDOW_SPEECH_S decoded in pieces
        self._tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe",
                                    language="en")
        self._suppress: dict[tuple[str, ...], tuple[int, ...]] = {}  # grammar -> tokens it forbids
        # the encoder's output for a window of silence, spliced after a trimmed encoding
        self._silence = self._encode(np.zeros(WINDOW_S * MODEL_RATE, np.float32)) if trim_encoder else None

    @classmethod
    def load(cls, path: str, pool: InferencePool, name: str, threads: int = 2,
             max_utterance_s: float = 30.0, trim_encoder: bool = True, beam_size: int = 5,
             digit_reader: Path | None = None) -> WhisperRecognizer:
        """Load and warm up; ``digit_reader``: the trained digit reader's weights (``models/digit_reader.npz``), which
        read digits slots when the model is tiny.en-sized and the encoder trimmed, as it was trained; None: none."""
        model = WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=threads, num_workers=1)
        recognizer = cls(model, pool, name, max_utterance_s, trim_encoder, beam_size)
        if digit_reader is not None and recognizer._silence is not None \
                and recognizer._silence.shape[-1] == FEATURE_DIM and not model.model.is_multilingual:
            recognizer.digit_reader = DigitReader.load(digit_reader)
        recognizer.warm_up()
        return recognizer

    def warm_up(self) -> None:
        """Decodes of faint noise, short and long, so the first caller does not pay for lazy init and
        buffer growth."""
        rng = np.random.default_rng(0)
        for seconds in (1, 8):
            self.decode(rng.normal(0, 0.003, seconds * MODEL_RATE).astype(np.float32), RecognitionHints())
        self.suppressed_tokens(grammar_for(RecognitionHints(slot_type="digits")) or ())

    def open_stream(self, sample_rate: int, hints: RecognitionHints) -> WhisperStream:
        return WhisperStream(self, sample_rate, hints)

    def decode(self, audio: np.ndarray, hints: RecognitionHints) -> Decoded:
        """Blocking decode of 16 kHz float32 audio (run it through the pool). Under a digits grammar
        (:meth:`_digits`) the encoding of the audio as it came is also decoded as free text, which wins when
        the caller plainly said something else (:func:`answers_otherwise`: "I don't know", "this is
        outrageous")."""
        audio = audio[:int(self.max_utterance_s * MODEL_RATE)]
        if grammar_for(hints) is None:
            pieces = [self._free(piece, hints) for piece in window_pieces(audio)]
            return pieces[0] if len(pieces) == 1 else joined(pieces)
        audio = audio[:int(WINDOW_SPEECH_S * MODEL_RATE)]  # no digit string is that long
        seconds = audio.size / MODEL_RATE
        encoded = self.encode_window(audio)
        free = self._generate(encoded, RecognitionHints(language=hints.language), seconds)
        reading = None if self.digit_reader is None \
            else self._reading(utterance_states(encoded, seconds), hints, free.text)
        if reading is not None and reading.other_words \
                and (taken_back := self._taken_back(free, audio, encoded, hints)) is not None:
            return taken_back
        if reading is not None and words_between_numbers(reading) and find_digit_fixes(free.text):
            return free  # a fix of a number read back ("six, not triple six"), whose words the digits drop
        if reading is not None and (said_after := number_after_sentence(free, reading)) is not None:
            return said_after
        if reading is not None and is_sentence_without_number(free.text, reading):
            reading = None  # "This is the worst service ever." read as a PIN: the decodes below decide
        if says_words(free):  # "yes please", "I don't have one": no grammar decode needed
            return free if reading is None else with_reading(free, reading, hints.digit_count)
        decoded = self._read_digits(audio, encoded, hints, reading)
        return free if answers_otherwise(free, decoded) else decoded

    def _reading(self, states: np.ndarray, hints: RecognitionHints, heard: str) -> DigitReading:
        """The digit reader's reading of the turn, with the count the answer should have
        (:meth:`RecognitionHints.count_for`)."""
        assert self.digit_reader is not None
        reading = self.digit_reader.read(states, hints.digit_count, heard, hints.ruled_out)
        count = hints.count_for(len(reading.digits), not reading.other_words)
        if count == hints.digit_count:
            return reading
        return self.digit_reader.read(states, count, heard, hints.ruled_out)

    def _free(self, audio: np.ndarray, hints: RecognitionHints) -> Decoded:
        """A free decode of one window. At a yes/no question about a number (``hints.digit_count``: "I have
        8 2 5 3 … Is that right?") a number said again in the answer ("No, it's one nine three oh, four
        seven, …", which whisper's free text shortens by the "oh" or a repeat) is the digit reader's when it
        reads the expected count (:func:`with_reading`); a yes or no with no number in it stays as heard."""
        seconds = audio.size / MODEL_RATE
        encoded = self.encode_window(audio)
        free = self._generate(encoded, hints, seconds)
        if hints.digit_count is None or self.digit_reader is None or not find_digit_runs(free.text):
            return free
        reading = self.digit_reader.read(utterance_states(encoded, seconds), hints.digit_count, free.text)
        return with_reading(free, reading, hints.digit_count)

    def _taken_back(self, free: Decoded, audio: np.ndarray, encoded: ctranslate2.StorageView,
                    hints: RecognitionHints) -> Decoded | None:
        """A number taken back and said again in one breath ("9 8 7 … 1 1, sorry, 9 8 7 … 1 0"), when the
        digit reader's path has other words between two numbers (:meth:`DigitReader.read_taken_back`): both
        numbers as the reader reads them, with the words between them as whisper's free text has them, or,
        when it has no take-back (whisper alone stops after the first number or merges the two), as whisper
        hears that stretch of audio on its own. None when those words are no take-back ("1 2 3 4, uh,
        5 6 7 8")."""
        assert self.digit_reader is not None
        seconds = audio.size / MODEL_RATE
        parts = self.digit_reader.read_taken_back(utterance_states(encoded, seconds), hints.digit_count)
        if parts is None:
            return None
        words = take_back_words(free.text)
        if not words:
            start = max(0, int((parts.between_start_s - BETWEEN_MARGIN_S) * MODEL_RATE))
            between = audio[start:int((parts.between_end_s + BETWEEN_MARGIN_S) * MODEL_RATE)]
            heard = self._generate(self.encode_window(between), RecognitionHints(language=hints.language),
                                   between.size / MODEL_RATE)
            words = heard.text.strip(" ,.!?;:-")
        text = f"{' '.join(parts.before.digits)}, {words}, {' '.join(parts.after.digits)}"
        if not words or find_restatement(text) is None:  # "1 2 3 4, uh, 5 6 7 8" is one number
            return None
        return replace(free, text=text, confidence=parts.after.confidence, alternatives=())

    def _read_digits(self, audio: np.ndarray, encoded: ctranslate2.StorageView, hints: RecognitionHints,
                     reading: DigitReading | None) -> Decoded:
        """The digit reader's ``reading`` of the turn when it stands (:func:`takes_reading`), else whisper's
        grammar decode (:meth:`_digits`)."""
        count = None if reading is None else hints.count_for(len(reading.digits), not reading.other_words)
        if reading is not None and takes_reading(reading, count):
            return Decoded(" ".join(reading.digits), reading.confidence, math.log(max(reading.confidence, 1e-6)),
                           0.0, audio.size / MODEL_RATE)
        return self._digits(audio, encoded, hints)

    def _digits(self, audio: np.ndarray, encoded: ctranslate2.StorageView, hints: RecognitionHints) -> Decoded:
        """The grammar's reading of ``audio`` slowed to :data:`DIGITS_TEMPO` (whisper drops fewer repeated
        digits); when the flow knows the length and only the reading at normal speed (``encoded``) has
        it, that one."""
        seconds = audio.size / MODEL_RATE
        if seconds / DIGITS_TEMPO > WINDOW_SPEECH_S:
            return self._generate(encoded, hints, seconds)
        slowed = slow_down(audio, DIGITS_TEMPO)
        slow = replace(self._generate(self.encode_window(slowed), hints, slowed.size / MODEL_RATE),
                       audio_seconds=seconds)
        count = hints.count_for(len(digits_of(slow.text)), spells_only_digits(slow.text))
        if count is None or fits_count(slow.text, count):
            return slow
        normal = self._generate(encoded, hints, seconds)
        return normal if fits_count(normal.text, count) else slow

    def _generate(self, encoded: ctranslate2.StorageView, hints: RecognitionHints, seconds: float) -> Decoded:
        initial_prompt, hotwords = prompt_for(hints)
        grammar = grammar_for(hints)
        previous = ", ".join(p.strip() for p in (hotwords, initial_prompt) if p)  # faster-whisper's order
        prompt = self.model.get_prompt(self._tokenizer, self._tokenizer.encode(" " + previous) if previous else [],
                                       without_timestamps=True)
        max_new_tokens = int(8 + 6 * seconds)  # speech is < 6 tokens/s: caps runaway repetitions
        result = self.model.model.generate(
            encoded, [prompt], beam_size=self.beam_size,
            num_hypotheses=self.beam_size, max_length=len(prompt) + max_new_tokens,
            return_scores=True, return_no_speech_prob=True, suppress_blank=True,
            suppress_tokens=list(self.suppressed_tokens(grammar)) if grammar else [-1])[0]  # -1: default
        no_speech = result.no_speech_prob
        hypotheses = [[t for t in ids if t < self._tokenizer.eot] for ids in result.sequences_ids]
        texts = [self._tokenizer.decode(tokens).strip() for tokens in hypotheses]
        best = 0
        if grammar:
            count = hints.count_for(len(digits_of(texts[0])), True)
            best = choose_hypothesis(texts, result.scores, no_speech, count, hints.ruled_out)
        tokens, text = hypotheses[best], texts[best]
        looped = len(tokens) >= max_new_tokens
        if looped:  # stopped by the cap, not by end-of-text: a repetition loop
            text = collapse_loops(text)
        logprob = result.scores[best] * len(tokens) / (len(tokens) + 1)  # as faster-whisper's avg_logprob
        echoed = echoes_prompt(text, initial_prompt, hotwords) and not is_expected_answer(text, hints) \
            and (no_speech > 0.3 or logprob < -0.8)  # a clear "no thanks" may repeat a hint
        if is_hallucination(text, logprob, no_speech, seconds) or echoed:
            return Decoded("", 0.0, logprob, no_speech, seconds)
        speech = min(1.0, 2.0 * (1.0 - no_speech))
        confidence = min(1.0, max(0.0, math.exp(logprob) * speech * (0.5 if looped else 1.0)))
        others = () if grammar else alternatives(
            texts, [min(1.0, math.exp(score * len(ids) / (len(ids) + 1)) * speech)
                    for score, ids in zip(result.scores, hypotheses, strict=True)], best)
        return Decoded(text, confidence, logprob, no_speech, seconds, others)

    def encode_window(self, audio: np.ndarray) -> ctranslate2.StorageView:
        """The encoder's output for one 30 s window starting with ``audio`` (see the module docstring)."""
        if self._silence is None:  # as faster-whisper pads: zeros after the audio's log-mel features
            features = self.model.feature_extractor(audio)[:, :WINDOW_S * 100]
            padded = np.zeros((features.shape[0], WINDOW_S * 100), np.float32)
            padded[:, :features.shape[-1]] = features
            return ctranslate2.StorageView.from_array(self._encode_features(padded))
        seconds = math.ceil((audio.size / MODEL_RATE + TRIM_MARGIN_S) * 2) / 2  # half-second steps
        padded = np.zeros(int(seconds * MODEL_RATE), np.float32)
        padded[:audio.size] = audio
        head = self._encode(padded)
        window = np.concatenate([head, self._silence[:, head.shape[1]:]], axis=1)
        return ctranslate2.StorageView.from_array(np.ascontiguousarray(window))

    def _encode(self, audio: np.ndarray) -> np.ndarray:
        """Encode audio padded with silence in the audio (the trimmed path: measured best there)."""
        features = self.model.feature_extractor(audio, padding=0)
        frames = min(features.shape[-1] - features.shape[-1] % 2, WINDOW_S * 100)  # 10 ms frames, stride 2
        return self._encode_features(features[:, :frames])

    def _encode_features(self, features: np.ndarray) -> np.ndarray:
        encoded = self.model.model.encode(ctranslate2.StorageView.from_array(
            np.ascontiguousarray(features[np.newaxis], dtype=np.float32)))
        return np.array(encoded)

    def suppressed_tokens(self, grammar: tuple[str, ...]) -> tuple[int, ...]:
        """Every text token that is not a piece of a grammar word, a pair or hundred word
        (:data:`NUMBER_WORDS`) or a word said around a number (:data:`CARRIER_WORDS`; any case, with or
        without a leading space), a numeral ("4", "42", "217")
        or punctuation; ordinal endings ("5th") are not allowed. Computed once per grammar (≈50 k ids,
        a few ms)."""
        if grammar not in self._suppress:
            tokenizer = self.model.hf_tokenizer
            words = (*grammar, *NUMBER_WORDS, *CARRIER_WORDS)
            forms = [f"{lead}{form}" for w in words for form in (w, w.capitalize()) for lead in ("", " ")]
            # no "-": whisper's hyphenated style ("1-1-2-2-3-") stops early on long strings
            forms += [",", ".", " ", "?"]
            allowed = {i for form in forms for i in tokenizer.encode(form, add_special_tokens=False).ids}
            vocabulary = tokenizer.get_vocab()
            allowed |= {i for token, i in vocabulary.items() if token.lstrip("Ġ").isdigit()}
            allowed -= {vocabulary[suffix] for suffix in ("th", "st", "nd", "rd") if suffix in vocabulary}
            end_of_text = tokenizer.token_to_id("<|endoftext|>")
            self._suppress[grammar] = tuple(i for i in range(end_of_text) if i not in allowed)
        return self._suppress[grammar]


class WhisperStream:
    """One utterance: buffers PCM (bounded), decodes on ``pause()`` and ``finish()`` via the pool."""

    def __init__(self, recognizer: WhisperRecognizer, sample_rate: int, hints: RecognitionHints) -> None:
        self._rec = recognizer
        self._rate = sample_rate
        self._hints = hints
        self._max_bytes = int(recognizer.max_utterance_s * sample_rate) * SAMPLE_WIDTH
        self._pcm = bytearray()
        # the most recent decode: (bytes of audio it covers, its task)
        self._last: tuple[int, asyncio.Task[Decoded]] | None = None

    async def accept(self, frame: AudioFrame) -> Transcript | None:
        room = self._max_bytes - len(self._pcm)
        if room > 0:
            self._pcm += frame.pcm[:room]
        return None

    async def pause(self) -> Transcript | None:
        """Decode the audio so far; the result is reused by ``finish()`` if no audio follows."""
        decoded = await self._decode_current()
        return self._transcript(decoded, final=False)

    async def finish(self) -> Transcript:
        return self._transcript(await self._decode_current(), final=True)

    def cancel(self) -> None:
        if self._last is not None:
            self._last[1].cancel()  # still queued in the pool: never runs; already running: dropped
        self._pcm = bytearray()
        self._last = None

    def _decode_current(self) -> asyncio.Task[Decoded]:
        size = len(self._pcm)
        if self._last is None or self._last[0] != size:
            if self._last is not None:  # superseded: a decode still queued never runs (saves a worker)
                self._last[1].cancel()
            audio = _to_model_rate(bytes(self._pcm), self._rate)
            task = asyncio.ensure_future(self._rec.pool.run(self._rec.decode, audio, self._hints))
            self._last = (size, task)
        return asyncio.shield(self._last[1])

    def _transcript(self, d: Decoded, final: bool) -> Transcript:
        return Transcript(d.text, d.confidence, is_final=final, audio_seconds=d.audio_seconds,
                          engine=self._rec.name, language=self._hints.language, alternatives=d.alternatives)


def _to_model_rate(pcm: bytes, rate: int) -> np.ndarray:
    return np.frombuffer(resample(pcm, rate, MODEL_RATE), dtype="<i2").astype(np.float32) / 32768.0
