"""Slot extraction: one flow slot type (``SlotTypeSpec``) applied to one utterance gives an ``Entity``.

Values are normalised (see ``normalize.py``): number -> int (float if not whole), digits/phone/email/
regex/list/text -> str, date -> ISO "2026-03-23", time -> "14:30", money -> "12.50" (two decimals),
yes_no -> bool.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from difflib import SequenceMatcher
from typing import Literal

from voicebot.nlu import normalize
from voicebot.types import Entity

SlotKind = Literal["number", "digits", "date", "time", "money", "phone", "email", "yes_no", "regex", "list",
                   "text"]


@dataclass(frozen=True)
class SlotTypeSpec:
    """A slot type as a flow declares it."""

    name: str  # the slot type's name in the flow ("account_number", "yes_no", "order_id", ...)
    kind: SlotKind
    min_length: int | None = None  # digits: length bounds
    max_length: int | None = None
    pattern: str | None = None  # regex kind: searched (ignoring case) in the text, then in its compact spoken form
    values: dict[str, tuple[str, ...]] = field(default_factory=dict)  # list kind: canonical value -> synonyms
    expected_only: bool = False  # looked for only when the dialog asks for it (a survey's rating, a menu key)
    by_meaning: bool = True  # list kind: an answer with no synonym takes the value nearest in meaning
    # list kind: value -> answers in callers' own words, read by meaning only (nlu/list_meaning.py)
    examples: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _entity(spec: SlotTypeSpec, text: str, value: object, start: int, end: int,
            confidence: float = 1.0) -> Entity:
    return Entity(type=spec.name, value=value, text=text[start:end], start=start, end=end,
                  confidence=confidence)


# The confidence of a digits answer of the wrong length, given only when digits are expected: the dialog
# reads it back ("I heard 1 2 3 4, 5 6 7 — that's seven digits") instead of asking the same question again.
WRONG_LENGTH_CONFIDENCE = 0.5


def _digits(text: str, spec: SlotTypeSpec, expected: bool) -> Entity | None:
    groups = normalize.find_digit_runs(text)
    runs = list(groups)
    if len(runs) > 1:  # "1234 5678" said in groups: also consider all groups joined
        runs.append(normalize.Match("".join(r.value for r in runs), runs[0].start, runs[-1].end))
    lo, hi = spec.min_length or 1, spec.max_length or 64
    fitting = [r for r in runs if lo <= len(r.value) <= hi]
    if not fitting:
        mended = _with_homophone(text, runs, lo, hi) or _with_homophone_between(text, groups, lo, hi) \
            or _without_decimal_point(text, lo, hi)
        fitting = [mended] if mended is not None else []
    if not fitting:
        heard = runs[-1] if runs else None
        if expected and heard and not _pronoun_one(text, heard):  # every digit said, for the read-back
            return _entity(spec, text, heard.value, heard.start, heard.end, WRONG_LENGTH_CONFIDENCE)
        return None
    best = max(fitting, key=lambda r: len(r.value))
    return _entity(spec, text, best.value, best.start, best.end)


# "nought" as whisper writes it inside a digit string ("4 4 not 9 1 2 3 8 7 6", "three not five eight one not
# nine …"): a zero only there, where a digit is missing (flite's British "nought", eval/README.md, "Nought")
_NOUGHT_HEARD = {"not": 0, "note": 0, "knot": 0}
# Digit words the recogniser writes as other words right before a digit string ("order to 345678" for "order two
# three four…"). Not "for": "… 555512345 for me" and "a refund for 345678" are prepositions.
_HOMOPHONE_BEFORE = {word: digit for word, digit in normalize.HOMOPHONES.items()
                     if word not in ("for", "fore", "fo")} | _NOUGHT_HEARD
_HOMOPHONE_BETWEEN = normalize.HOMOPHONES | _NOUGHT_HEARD


def _with_homophone(text: str, runs: list[normalize.Match], lo: int, hi: int) -> normalize.Match | None:
    """A digit string one digit short whose first digit the recogniser wrote as a word right before it
    (``_HOMOPHONE_BEFORE``), when only with that digit it has the slot's length."""
    for run in runs:
        before = re.search(r"(?<![\w'])([a-z]+)[\s,.-]*$", text[:run.start].lower())
        if before and (digit := _HOMOPHONE_BEFORE.get(before.group(1))) is not None \
                and lo <= len(run.value) + 1 <= hi:
            return normalize.Match(f"{digit}{run.value}", before.start(1), run.end)
    return None


def _with_homophone_between(text: str, groups: list[normalize.Match], lo: int, hi: int
                            ) -> normalize.Match | None:
    """Groups of a digit string short of the slot's length, digits of which the recogniser wrote as words
    between them ("9876543 to 1,0" for "… three two one zero"; "3 not 5 8 1 not 9 2 7 4", "nought" twice) or,
    for "nought", right after the last ("… 3 8 6 not."), when only with those digits they have the slot's
    length: every such word, else one of them."""
    found: dict[int, tuple[int, int]] = {}  # before group k (len(groups): after the last): digit, word's end
    for k in range(1, len(groups) + 1):
        last = k == len(groups)
        gap = (_GAP_WORD.match if last else _GAP_WORD.fullmatch)(
            text, groups[k - 1].end, len(text) if last else groups[k].start)
        digit = (_NOUGHT_HEARD if last else _HOMOPHONE_BETWEEN).get(gap.group(1).lower()) if gap else None
        if digit is not None:
            found[k] = (digit, gap.end(1))
    for chosen in ([found] if len(found) > 1 else []) + [{k: said} for k, said in found.items()]:
        value = "".join((str(chosen[k][0]) if k in chosen else "") + g.value for k, g in enumerate(groups))
        after = chosen.get(len(groups))
        value += str(after[0]) if after else ""
        if lo <= len(value) <= hi:
            return normalize.Match(value, groups[0].start, after[1] if after else groups[-1].end)
    return None


_GAP_WORD = re.compile(r"[\s,.?!-]*([a-z]+)[\s,.?!-]*", re.IGNORECASE)


def _without_decimal_point(text: str, lo: int, hi: int) -> normalize.Match | None:
    """A digit string the recogniser wrote as a decimal ("0.123456789" for "nought one two …", "Double,
    0.71529384"), read with its point as a pause, when only so it has the slot's length."""
    undotted = _DECIMAL_POINT.sub(" ", text)
    if undotted == text:
        return None
    return next((run for run in normalize.find_digit_runs(undotted) if lo <= len(run.value) <= hi), None)


_DECIMAL_POINT = re.compile(r"(?<=\b\d)\.(?=\d)|(?<=\d)\.(?=\d+\b)")


def _pronoun_one(text: str, run: normalize.Match) -> bool:
    """ "I don't have one": a lone "one" inside a sentence is a pronoun, not a digit heard."""
    return text[run.start:run.end].lower() == "one" and text.strip(" .!?,").lower() != "one"


def _number(text: str, spec: SlotTypeSpec, expected: bool) -> Entity | None:
    found = normalize.find_numbers(text)
    if expected and spec.max_length is not None and spec.max_length <= 10:  # a choice or a rating scale
        if short := normalize.find_short_number(text, spec.min_length or 0, spec.max_length):
            return _entity(spec, text, short.value, short.start, short.end)
        if len(found) != 1:  # "one two three four…" is a digit string, not the choice 1
            return None
        rating = spec.min_length == 1 and 5 <= spec.max_length
        if not _chosen_in_sentence(text, found[0], rating):  # not "Two won the game last night."
            return None
    if not found:
        return None
    lo, hi = spec.min_length, spec.max_length  # for numbers: bounds on the value
    fitting = [m for m in found if (lo is None or m.value >= lo) and (hi is None or m.value <= hi)]
    return _entity(spec, text, fitting[0].value, fitting[0].start, fitting[0].end) if fitting else None


# words that lead a choice said inside a sentence: "option two please", "I'd give it a four", "I'll go with three"
CHOICE_LEADS = frozenset({"option", "press", "pressed", "number", "choose", "pick", "say", "give", "a", "an",
                          "it's", "is", "be", "with"})


# words that open a comment after a rating said first, its comma not written ("One that was useless.",
# "Five it was great"); "one more thing" and "one moment" are no rating
COMMENT_OPENERS = frozenset({
    "it", "it's", "that", "that's", "this", "was", "is", "the", "i", "i'm", "because", "very", "really",
    "not", "great", "good", "bad", "terrible", "excellent", "awful", "poor", "thanks", "thank", "you",
    "overall", "definitely"})


def _chosen_in_sentence(text: str, number: normalize.Match, rating: bool = False) -> bool:
    """The one number of a sentence answers a numeric choice (a menu key, a rating) when the sentence ends with
    it ("I think three"), it is a clause of its own ("Five, it was great.") or a choice word leads it ("option two
    please", "I'd give it a four"); on a rating scale also when it opens the answer, whose comma the
    recogniser left out ("One that was useless.")."""
    toks = normalize.tokens(text)
    at = next((k for k, t in enumerate(toks) if t.start <= number.start < t.end), None)
    if at is None:
        return False
    after = toks[at + 1] if at + 1 < len(toks) else None
    if after is None or not (after.text.isalnum() or "'" in after.text):
        return True
    words = [t.text for t in toks[:at] if t.text.isalnum() or "'" in t.text]
    if rating and not words and after.text in COMMENT_OPENERS:
        return True
    rest = [t.text for t in toks[at + 1:] if t.text.isalnum() and t.text not in ("please", "thanks", "thank", "you")]
    return not rest or (bool(words) and words[-1] in CHOICE_LEADS)


def _regex(text: str, spec: SlotTypeSpec) -> Entity | None:
    assert spec.pattern, f"slot type {spec.name}: regex kind needs a pattern"
    pattern = re.compile(spec.pattern, re.IGNORECASE)
    if m := pattern.search(text):
        return _entity(spec, text, m.group().upper(), m.start(), m.end())
    compact = normalize.compact_spoken(text)
    if m := pattern.search(compact):
        return Entity(type=spec.name, value=m.group().upper(), text=text, start=0, end=len(text),
                      confidence=0.9)
    return None


def _list(text: str, spec: SlotTypeSpec) -> Entity | None:
    """The longest synonym said; a list of "yes" and "no" ("Anything else?") also takes every yes/no."""
    lowered = text.lower()
    best: tuple[int, int, str] | None = None  # (-length, start, canonical): longest phrase wins
    for canonical, synonyms in spec.values.items():
        for phrase in (canonical, *synonyms):
            for m in re.finditer(rf"(?<!\w){re.escape(phrase.lower())}(?!\w)", lowered):
                key = (-(m.end() - m.start()), m.start(), canonical)
                if best is None or key < best:
                    best = key
    if best is None:
        if {"yes", "no"} <= spec.values.keys() and (yes_no := normalize.find_yes_no(text)):
            return _entity(spec, text, "yes" if yes_no.value else "no", yes_no.start, yes_no.end)
        return None
    start = best[1]
    return _entity(spec, text, best[2], start, start - best[0])


# A list value heard with its word boundaries moved ("after noon", "pot holes") or one letter off ("pop
# holes") is taken only where the dialog asked for that list, and one letter off only for values this long:
# shorter words are too near to other words ("parks" / "marks").
HEARD_APART_MAX_WORDS = 4
ONE_LETTER_OFF_MIN_LENGTH = 7
HEARD_APART_CONFIDENCE = 0.8


def _list_heard_apart(text: str, spec: SlotTypeSpec) -> Entity | None:
    """A synonym of ``spec`` said as consecutive words of ``text`` written with other word boundaries, or
    (synonyms of :data:`ONE_LETTER_OFF_MIN_LENGTH` letters or more) one letter off: "And after noon,
    please." is the afternoon, "No, I said pop holes." potholes."""
    words = [(m.group(), m.start(), m.end()) for m in re.finditer(r"[a-z0-9']+", text.lower())]
    synonyms = [("".join(re.findall(r"[a-z0-9]", phrase.lower())), canonical)
                for canonical, phrases in spec.values.items() for phrase in (canonical, *phrases)]
    for allowed_edits in (0, 1):
        for size in range(HEARD_APART_MAX_WORDS, 0, -1):
            for i in range(len(words) - size + 1):
                joined = "".join(w.replace("'", "") for w, _, _ in words[i:i + size])
                for synonym, canonical in synonyms:
                    if (joined == synonym if allowed_edits == 0 else
                            len(synonym) >= ONE_LETTER_OFF_MIN_LENGTH and _one_edit_apart(joined, synonym)):
                        return _entity(spec, text, canonical, words[i][1], words[i + size - 1][2],
                                       HEARD_APART_CONFIDENCE)
    return None


# The parts of the day a list may offer, by the time of day said: "around three o'clock" is the afternoon,
# "before twelve" the morning, "after five" the evening: (value, from minute, to minute of the day).
_PARTS_OF_DAY = (("morning", 0, 12 * 60), ("afternoon", 12 * 60, 17 * 60), ("evening", 17 * 60, 24 * 60))


def _part_of_day(text: str, spec: SlotTypeSpec) -> Entity | None:
    """The part of the day (a value named morning, afternoon or evening) a time said falls in."""
    if not {name for name, _, _ in _PARTS_OF_DAY} & spec.values.keys():
        return None
    for said in normalize.find_times(text):
        minute = said.value.hour * 60 + said.value.minute
        if text[:said.start].rstrip().lower().endswith("before"):
            minute -= 1
        for name, start, end in _PARTS_OF_DAY:
            if name in spec.values and start <= minute % (24 * 60) < end:
                return _entity(spec, text, name, said.start, said.end)
    return None


# A short answer that sounds like one value of the list asked for ("Debbie." for "debit", "Boat." for "both"):
# at most this many words, each synonym compared with its letters' runs squeezed ("debbie" -> "debie"),
# taken when it is this similar (difflib's ratio) and clearly nearer than any other value.
SOUNDS_LIKE_MAX_WORDS = 2
SOUNDS_LIKE_MIN_LETTERS = 4
SOUNDS_LIKE_MIN_RATIO = 0.75
SOUNDS_LIKE_MARGIN = 0.15
SOUNDS_LIKE_CONFIDENCE = 0.6


def _list_sounding_like(text: str, spec: SlotTypeSpec) -> Entity | None:
    """The value of ``spec`` a short answer sounds like, when one value is near and the others are not."""
    words = list(re.finditer(r"[a-z']+", text.lower()))
    if not 0 < len(words) <= SOUNDS_LIKE_MAX_WORDS:
        return None
    said = _squeezed("".join(w.group().replace("'", "") for w in words))
    nearest: dict[str, float] = {}
    for canonical, phrases in spec.values.items():
        for phrase in (canonical, *phrases):
            letters = "".join(re.findall(r"[a-z]", phrase.lower()))
            if len(letters) >= SOUNDS_LIKE_MIN_LETTERS:
                ratio = SequenceMatcher(None, said, _squeezed(letters)).ratio()
                nearest[canonical] = max(ratio, nearest.get(canonical, 0.0))
    ranked = sorted(nearest.items(), key=lambda item: item[1], reverse=True) + [("", 0.0)]
    (best, ratio), (_, runner_up) = ranked[0], ranked[1]
    if ratio < SOUNDS_LIKE_MIN_RATIO or ratio - runner_up < SOUNDS_LIKE_MARGIN:
        return None
    return _entity(spec, text, best, words[0].start(), words[-1].end(), SOUNDS_LIKE_CONFIDENCE)


def _squeezed(letters: str) -> str:
    """Letters with each run of one letter written once: "debbie" -> "debie"."""
    return re.sub(r"(.)\1+", r"\1", letters)


def _one_edit_apart(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` differ by exactly one letter changed, added or dropped."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), len(a))
    return a[i + (len(a) == len(b)):] == b[i + 1:]


def extract(
    text: str, spec: SlotTypeSpec, today: date | None = None, expected: bool = False
) -> Entity | None:
    """The value of slot type ``spec`` in ``text`` (``Entity.type`` is ``spec.name``), or None.

    ``today`` anchors relative dates ("tomorrow"); default: the local date. ``expected``: the dialog asked
    for this type, which makes readings plausible that are not otherwise: a lone "for." is 4 where a
    number up to 10 is expected ("bye" is 5 on a 1-5 scale), and digits of the wrong length are returned
    (confidence ``WRONG_LENGTH_CONFIDENCE``) for the dialog to read back.
    """
    kind = spec.kind
    if kind == "digits":
        return _digits(text, spec, expected)
    if kind == "number":
        return _number(text, spec, expected)
    if kind == "regex":
        return _regex(text, spec)
    if kind == "list":
        return _list(text, spec) or (_list_heard_apart(text, spec) or _list_sounding_like(text, spec)
                                     or _part_of_day(text, spec) if expected else None)
    if kind == "text":
        stripped = text.strip()
        return _entity(spec, text, stripped, text.find(stripped), text.find(stripped) + len(stripped)) \
            if stripped else None
    if kind == "yes_no":
        match = normalize.find_yes_no(text)
    elif kind == "email":
        match = normalize.find_email(text)
    else:
        finder = {"date": lambda t: normalize.find_dates(t, today), "time": normalize.find_times,
                  "money": normalize.find_money, "phone": normalize.find_phone_numbers}[kind]
        matches = finder(text)
        if kind == "phone" and spec.min_length:
            matches = [m for m in matches if len(m.value.lstrip("+")) >= spec.min_length]
        match = matches[0] if matches else None
    if match is None:
        return None
    value = match.value
    if kind == "date":
        value = value.isoformat()
    elif kind == "time":
        value = value.isoformat("minutes")
    elif kind == "money":
        value = str(value)
    return _entity(spec, text, value, match.start, match.end)
