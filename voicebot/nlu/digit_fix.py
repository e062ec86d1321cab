"""A caller's fix to a digit string read back to them, read as a piece of the number placed where it fits.

After "I heard 2 8 6 4 4 0 1 9 7. That's 9 digits, and I need 10" or "I have 8 2 5 3 0 1 6 6 4 7. Is that
right?", callers fix the part that is wrong in their own words: "you missed a three before the seven at the
end", "it ends seven four, not four seven", "there's only a single zero after the four", "you've got the one
twice", "no four between the one and the zero". Naming every such phrasing fails (a fresh set of fixes written
by someone who never saw the rules: half were not understood; eval/README.md, "Repairs of a number read
back"). Instead the fix is read for what it says the number has there (``said``: "37", "74", "40", "1", "10"),
what it says the number does not have (``wrong``: "47", "11", "140") and where (the start, the end), and
placed in the digits heard where it changes them least while the result has the expected length: the one such
number, or none when two places fit as well (then the dialog asks again). A whole number said again in the
same answer ("you missed the five, it's four one three nine, five, two six oh eight seven") is that number.

Only an answer with a cue of a fix is read so (a negation, "before"/"after"/"between", the start or the end,
"missed", "extra", "twice", "single" …): digits said with no cue are the rest of the number or the number
again, as before (``dialog/interpret.py``). The digits a fix names as there ("a seven after the two") say
where it goes. Ordinal fixes ("the third digit is five") stay with ``normalize.find_digit_edit`` (two in one
answer are both applied); a digit named by which of its kind it is ("the second seven should be a four") or a
place named extra or missing ("the fifth digit's extra") is applied as said (:func:`_counted`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Literal

from voicebot.nlu.fix_heard import DIGIT_NAME, DIGIT_WORD, as_said, taken_back
from voicebot.nlu.normalize import (
    DIGITS,
    UNITS,
    DigitEdit,
    apply_digit_edit,
    digit_distance,
    find_digit_edit,
    find_digit_runs,
)

_PLURALS = {"zeros": "zero", "zeroes": "zero", "ohs": "zero", "noughts": "zero", "ones": "one", "twos": "two",
            "threes": "three", "fours": "four", "fives": "five", "sixes": "six", "sevens": "seven",
            "eights": "eight", "nines": "nine"}
_COUNT = {"two": 2, "three": 3, "four": 4, "five": 5, "2": 2, "3": 3, "4": 4, "5": 5}
_PLURAL = "|".join(_PLURALS)
_COUNTED = re.compile(rf"\b(?:(?P<n>two|three|four|five|[2-5])[ -])?(?P<plural>{_PLURAL})\b")
# "six" -> "sixes", "oh" -> "zeros"
_PLURAL_OF = {word: next(plural for plural, one in _PLURALS.items() if DIGITS[one] == value)
              for word, value in DIGITS.items()}
# a count of a repeated digit set against another count: "only two eights, not three" (three eights; "two
# eight, not three" as the recogniser may write it)
_COUNT_AGAINST = re.compile(
    rf"\b(?:(?:two|three|four|five|[2-5]) (?P<plural>{_PLURAL})|(?:a |one )?single (?P<digit>{DIGIT_NAME})|"
    rf"(?:double|triple) (?P<repeated>{DIGIT_NAME})|"
    rf"(?:(?<=there's )|(?<=there is )|(?<=only )|(?<=just )|(?<= got )|^)"
    rf"(?P<count>two|three|four|five|[2-5]) (?P<one>{DIGIT_NAME}))"
    r"(?: (?:at|near|towards) the (?:end|start|beginning|front))?(?: in a row| together)?"
    r"\W+(?:not|instead of|rather than)\W+(?:two|three|four|five|[2-5])\b"
    rf"(?!\W*(?:{_PLURAL}|{DIGIT_NAME})\b)")
# one of a digit where the number has more: "you've only got one four, there should be two of them"
_TOO_FEW = re.compile(
    r"\b(?:only |just )?(?:(?:got|have|put|heard|said) )?(?:only |just )?(?:the )?"
    rf"(?:one|a single) (?P<d>{DIGIT_NAME})\b"
    r"[^.;]*?\W(?:there )?(?:should be|should have been|needs? to be|are|'re|'s|is) (?P<n>two|three)"
    r"(?: of (?:them|those))?\b")
# two counts of a digit, the number's and the one read back, in either order: "it's two sixes near the end,
# you've only got the one"; "you've got three sixes at the start, there's only two"
_COUNT_PLACE = r"(?P<place> (?:at|near|towards|in) the (?:end|start|beginning|front|middle))?"
_COUNT_WORD = r"one|two|three|four|[1-4]"
_COUNTS_SAID = (
    re.compile(rf"\b(?:it'?s|there'?s|there are|there should be|should be|it has|it'?s got)(?: got)? "
               rf"(?P<n>two|three|four|[2-4]) (?P<plural>{_PLURAL}){_COUNT_PLACE}[^;]{{0,60}}?"
               rf"\byou(?:'ve| have)?"
               rf"(?: only| just)? (?:got|put|said|heard|have)(?: only| just)? (?:the )?"
               rf"(?P<m>{_COUNT_WORD})\b"
               rf"(?! (?:{DIGIT_NAME}|{_PLURAL})\b)"),
    re.compile(rf"\byou(?:'ve| have)? (?:got|put|said|heard|have) (?P<m>two|three|four|[2-4])[ -]"
               rf"(?P<plural>{_PLURAL}){_COUNT_PLACE}[^;]{{0,60}}?"
               rf"\b(?:there'?s|there are|there is|they'?re|it'?s|"
               rf"it should be|should be|there should be)(?: only| just) (?P<n>{_COUNT_WORD})\b"
               rf"(?! (?:{DIGIT_NAME}|{_PLURAL})\b)"))
# a digit the number has once where the one read back has it twice: "nah, one seven, not two"
_ONE_NOT_TWO = re.compile(
    rf"(?:^|(?<=[,.;!?] )|(?<=\bit's )|(?<=\bnah )|(?<=\bno )|(?<=\bjust )|(?<=\bonly ))one "
    rf"(?P<d>{DIGIT_NAME}),? not two\b(?!\W*(?:{_PLURAL}|{DIGIT_NAME})\b)")
# a count of the digit named last: "four four. double four. there's two of 'em"
_OF_THEM = re.compile(
    rf"\b(?P<d>{DIGIT_NAME})\b(?P<mid>(?:(?!\b(?:{DIGIT_NAME})\b)[^;])*?)"
    r"\b(?P<lead>there'?s|there are|there should be|should be|it'?s got|it has) (?P<n>two|three) "
    r"of (?:'em|them|those)\b")
# a digit named, then said again as the first of the digits from it: "it starts with the zero, oh nine three"
_NAMED_THEN_SAID = re.compile(rf"\bthe (?P<d>{DIGIT_NAME})\s*[,:]\s*(?P<e>{DIGIT_NAME})\b")
# "take out the four after the one, there isn't one there": no digit
_NONE_THERE = re.compile(
    r"\b(isn't|is not|wasn't|was not|shouldn't be|should not be) one (there|in (?:it|there))\b")
_PRONOUN_ONE = re.compile(
    r"\b(the (?:(?:second|third)(?:[ -]to)?[ -]last|last|first|final|next|other|second|third|fourth)|"
    r"that|this|which) one\b")
# a digit named as wrong, then what it should be: "the four's wrong, it's a five", "where you've got the
# eight, that's actually an oh", "there's no two in it, that should be a six", "that nine should be a one",
# "where you've got two oh in the middle, it should be four four"
_DIGIT_WORDS = rf"{DIGIT_WORD}(?: {DIGIT_WORD})*"
_NAMED_WRONG = re.compile(
    rf"(?:\b(?:the|an?) (?P<a>{DIGIT_WORD})(?:'s| is| was)? wrong|\bwhere you(?:'ve| have)? got "
    rf"(?:(?:the|an?) )?(?P<b>{_DIGIT_WORDS})|"
    rf"\byou(?:'ve| have)? got (?:the|an?) (?P<c>{DIGIT_WORD}) in there|"
    rf"\bthere'?s no (?P<d>{DIGIT_WORD}) in it|"
    rf"\b(?:that|this) (?P<e>{DIGIT_WORD})(?= should| needs| is meant)|"
    rf"\bexcept (?:for )?(?:the|an?) (?P<f>{DIGIT_WORD}))\b.*?"
    rf"\b(?:it'?s|it is|that'?s|that is|should be|needs to be|is meant to be)(?: actually)?(?: an?| the)? "
    rf"(?P<said>{_DIGIT_WORDS})\b")
# a digit said once where the number read back has it twice: "you've got seven twice at the end, it's only
# once"
_ONCE = re.compile(rf"\b(?P<d>{DIGIT_WORD}) twice\b(?P<mid>[^.;]*?)\W*"
                   r"(?:it'?s |it is |there'?s |should be )?(?:only|just) once\b")
_TWICE = re.compile(rf"\b(?P<d>{DIGIT_WORD}) twice\b|\bdoubled (?:the |a |an )?(?P<e>{DIGIT_WORD})\b")
_SINGLE = re.compile(
    rf"\b(?:(?:only |just )?(?:a |one )?single|(?:only|just) (?:the )?one) (?=(?:{DIGIT_WORD})\b)")
# "it's not double four, just the one": a single four, not two
_NOT_DOUBLE = re.compile(rf"\bnot double (?P<d>{DIGIT_WORD})\W+(?:just|only) (?:the )?one\b")
# before a digit run: one the number does not have ("not four seven", "you said …", "no eight at the start")
_WRONG_BEFORE = re.compile(
    r"(?:\bnot|\bno|instead of|rather than|you(?:'ve| have)? said|you(?:'ve| have)?(?: just| only)? got|"
    r"you put|you've put|you heard|you(?:'ve| have)? added|scratch|drop|remove|take out|take off|without|"
    r"there's no|there is no|"
    r"isn't|is not|aren't|are not|shouldn't be|should not be|doubled|an? extra|one extra|"
    r"where did (?:that|the|this)(?: first| second| third| last| other)?)"
    r"(?: the| a| an| just| only| any)*\s*$")  # not "No, two four eight six …": that is the number again
# an answer's "no" right before its digits, as a transcript without commas has it: "oh no three seven at the
# end" is "Ah, no, three seven at the end" as often as "there's no three seven at the end"
_BARE_NO = re.compile(r"^\W*(?:(?:oh|ah|uh|um|er|erm|well|sorry)\W+)*(?:no|nope|nah)\W*$")
# after a digit run: "the last five's not there", "the seven is extra"
_WRONG_AFTER = re.compile(r"^\W*(?:'s|is|are)? ?(?:not there|shouldn't be there|should not be there|extra|"
                          r"too many|not meant to be there)\b")
# around a digit run: "take the five out", "knock the last seven off"
_TAKEN_OUT = (re.compile(r"\b(?:take|get|knock|cross|leave)(?: the| a| an| that| last| first)*\s*$"),
              re.compile(r"^\s*(?:out|off)\b"))
_RELATIONS = (("after", re.compile(r"\b(?:after|following|behind)(?: the| a| an| that| first| last)*\W*$")),
              ("before", re.compile(r"\b(?:before|in front of|ahead of)(?: the| a| an| first| last)*\W*$")),
              ("between", re.compile(r"\bbetween(?: the| a| an)*\W*$")),
              ("and", re.compile(r"^\W*and(?: the| a| an)*\W*$")))
_WHICH = re.compile(r"\b(first|last)\W*$")
_LEADS_WITH_RELATION = re.compile(r"\b(?:after|following|behind|before|in front of|ahead of|between)\b")
_SWAPPED = re.compile(
    r"\b(?:swap(?:ped)?|switch(?:ed)?|flip(?:ped)?|mixed up|jumbled(?: up)?|reversed|back to front|"
    r"(?:the )?(?:other|wrong) way a?round|"
    r"a?round the (?:other|wrong) way)\b")
# a swap with no digits said: "the last two are the wrong way round"
_PAIR = re.compile(r"\b(?P<where>last|final|first) two\b")
_END = re.compile(r"\b(?:at the end|the end|ends?|ending|ended|finish(?:es|ing)?|last)\b")
_START = re.compile(
    r"\b(?:at the (?:start|beginning|front)|in front|starts?|starting|begins?|beginning|first)\b")
# not at the start or end: "near the end", "after the first seven"
_NEAR = re.compile(r"\b(?:near|towards?|close to) (?:the )?(?:start|beginning|front|end)\b|"
                   r"\b(?:after|before|following|behind) the (?:first|last)\b")
_CUE = re.compile(r"\b(?:not|no|instead|rather|missed|missing|left out|forgot|skipped|dropped|extra|twice|"
                  r"cut off|chopped off|left off|lost|of (?:'em|them|those)|"
                  r"doubled|single|only|should be|take(?: the| a| an)? \w+ (?:out|off)|"
                  r"you(?:'ve| have)? said|i said|isn't|is not|you(?:'ve| have)? put|you put|"
                  r"you(?:'ve| have)?(?: just| only)? got|added|"
                  rf"between|before|after|nearly|almost|close|together|in a row|{_PLURAL}|"
                  r"(?:the )?rest(?: of it)?(?:'s| is) (?:right|fine|correct|ok|okay|good|all right))\b")
# A digit named by which of its kind it is ("the second seven should be a four", "take out the second
# eight"), or a place named with its digit extra or missing ("the fifth digit's extra", "you've missed out the
# fourth digit, it's a nine")
_NTH = {"first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "sixth": 5, "seventh": 6, "eighth": 7,
        "ninth": 8, "tenth": 9, "last": -1, "1st": 0, "2nd": 1, "3rd": 2, "4th": 3, "5th": 4, "6th": 5, "7th": 6,
        "8th": 7, "9th": 8, "10th": 9}
_NTH_WORD = "|".join(_NTH)
# ("the last one" is a place, not a digit 1)
_NTH_DIGIT = re.compile(
    rf"(?<!to )\b(?P<nth>{_NTH_WORD}) (?P<d>(?!one\b){DIGIT_WORD})\b"
    rf"(?!\W*(?:{DIGIT_WORD}|digits?|numbers?)\b)")
_NTH_PLACE = re.compile(rf"\b(?P<nth>{_NTH_WORD}) (?:digit|number)\b")
# two places swapped, named without digits: "the seventh and eighth digits are swapped"
_NTH_PAIR = re.compile(rf"\b(?P<a>{_NTH_WORD}) and (?:the )?(?P<b>{_NTH_WORD})\b(?! (?:is|was|should)\b)")
_PAIR_FROM_END = re.compile(r"\s*(?:ones?|digits?|numbers?)?\s*from (?:the )?(?:end|last|back|right)\b")
# a digit in the wrong place and where it goes: "the zero's in the wrong place, it comes after the three",
# "move the five before the two"
_MISPLACED = re.compile(
    rf"\b(?:the|that|this) (?P<d>{DIGIT_WORD})(?:'s|s| is)? "
    r"(?:in the wrong (?:place|spot)|misplaced|out of place)\b"
    rf"[^.;]*?\b(?:it|that)?\s*(?:comes?|goes|should (?:be|come|go)|belongs|needs to (?:be|go|come))\s+"
    rf"(?:(?:just|straight|right) )?(?P<rel>after|before)\s+(?:the\s+)?(?P<anchor>{DIGIT_WORD})\b|"
    rf"\b(?:move|put) (?:the|that) (?P<e>{DIGIT_WORD}) (?:to )?(?:(?:just|straight|right) )?"
    rf"(?P<rel2>after|before) (?:the )?(?P<anchor2>{DIGIT_WORD})\b")
# an ordinal whose "th" the recogniser lost: "the six digit should be a three" (the sixth)
_ORDINAL_HEARD = re.compile(
    r"\bthe (four|six|seven|eight|nine|ten) (digit|number)\b(?! (?:number|code|pin)\b)", re.IGNORECASE)
_TO_DIGIT = re.compile(
    r"^(?:'s| is| was)?(?: wrong)?\W*(?:(?:it|that)'?s |it is |that is |should be |should have been |"
    r"needs to be |is meant to be |is actually |is |was )(?:actually )?(?:an? |the )?"
    rf"(?P<said>{DIGIT_WORD})\b(?!\W*{DIGIT_WORD}\b)")
_TAKE_OUT = re.compile(
    r"\b(?:take out|take away|remove|drop|delete|get rid of|lose|cross out|scrap)(?: the)?\W*$")
# one of a digit the number has more than once is extra: "take out one of the fours", "one seven too many"
_ONE_OF = re.compile(
    rf"\b(?:take out|take away|remove|drop|delete|get rid of|lose|scrap) one of the (?P<a>{_PLURAL})\b|"
    rf"\bone (?P<b>{DIGIT_NAME})\W+too many\b|\bone too many (?P<c>{_PLURAL})\b|"
    rf"\b(?:take|get|knock|cross|leave) one of the (?P<d>{_PLURAL}) (?:out|off)\b|"  # "take one … out"
    rf"\bone of the (?P<e>{_PLURAL})(?:'s| is) (?:extra|not meant to be there|shouldn't be there)\b")
# the digits from a digit named on: "from the eight: eight three nine five one six"
_FROM_DIGIT = re.compile(rf"\bfrom (?:the )?(?P<d>{DIGIT_WORD})\b")
_FROM_GAP = re.compile(r"^\W*(?:on(?:wards)?\W+)?(?:(?:it'?s|it is|it goes)\W+)?$")
_MISSED = re.compile(
    r"\b(?:missed|missing|left out|forgot|forgotten|dropped|skipped|cut off|chopped off|left off|lost)\b")
_ARTICLE_OH = re.compile(r"\b(the|an|that|this|single|first|second|third|last|other) oh?\b")  # the digit
# a festival voice's "four" as whisper hears it in a fix ("the floor is wrong, it should be a nine")
_FLOOR = re.compile(r"\bfloor\b", re.IGNORECASE)
# the words of a clause that says more digits on from the one before: "it's double two, double six", "…, then
# a three"
_ON_FROM = frozenset(("then", "and", "a", "an", "followed", "by"))
_SENTENCE = re.compile(r"[^.!?;]+")
_CLAUSE = re.compile(r"[^,.!?;:]+")
_EDIT_CLAUSE = re.compile(r"[,.!?;:]|\band (?=the\b)")  # "the third's a one and the last is a two"


@dataclass(frozen=True, slots=True)
class DigitFix:
    """What a fix says: the digits the number has there, the ones it does not, and where."""

    said: str
    wrong: str = ""
    where: Literal["start", "end", "any"] = "any"
    # ``wrong`` follows a bare "no" (``_BARE_NO``): where the number does not have it, it is what it has
    after_no: bool = False
    # digits named as already there either side of the new ones ("a seven after the two": left "2"); the fix
    # goes where the digits heard have them, when it can
    left: str = ""
    right: str = ""
    which: Literal["first", "last", ""] = ""  # of those digits, when named so ("after the first seven")


@dataclass(frozen=True, slots=True)
class Repair:
    """What a fix makes of a digit string read back: the new digits (None: the fix names a digit the string
    does not have) and how, for the dialog's log."""

    digits: str | None
    how: str
    again: bool = False  # the whole number said again ("no, I said 1 2 3 4 5 6"), not a part fixed


@dataclass(frozen=True, slots=True)
class _Run:
    digits: str
    wrong: bool
    single: bool = False  # "a single zero", "only one eight": the number has it once, not twice
    # "after", "before", "between" or "and": how it relates to the run before it; on the first run, the
    # relation it leads with ("after the nine there's a one": the digits the next run goes beside)
    relation: str = ""
    after_no: bool = False  # wrong only by the answer's bare "no" before it
    # "after the first seven": which of the digits the relation names
    which: Literal["first", "last", ""] = ""


def _canonical(text: str) -> str:
    """Counted digits spelled out: "two sevens" -> "seven seven", "the one twice" -> "one one", "two eights,
    not three" -> "eight eight, not eight eight eight"; "a single zero" -> "single zero"; "the last one" ->
    "the last digit"; "the oh" -> "the zero"; "floor" (a "four" misheard) -> "four"."""
    text = _FLOOR.sub("four", _ARTICLE_OH.sub(r"\1 zero", text.lower().replace("’", "'")))
    text = _NAMED_THEN_SAID.sub(lambda m: m.group("e") if DIGITS[m.group("d")] == DIGITS[m.group("e")]
                                else m.group(), text)

    def counted(m: re.Match) -> str:
        return " ".join([_PLURALS[m.group("plural")]] * _COUNT.get(m.group("n") or "two", 2))

    def against(m: re.Match) -> str:
        plural = m.group("plural") or _PLURAL_OF[m.group("digit") or m.group("repeated") or m.group("one")]
        said = m.group()
        if m.group("one"):  # "two five, not three": the plural's "s" lost by the recogniser
            said = f"{m.group('count')} {plural}{said[m.end('one') - m.start():]}"
        return f"{said} {plural}"

    def counts(m: re.Match) -> str:
        digit = _PLURALS[m.group("plural")]
        said, read = (" ".join([digit] * (_COUNT.get(m.group(k)) or 1)) for k in ("n", "m"))
        return f"{said}{m.group('place') or ''}, not {read}"

    text = _TOO_FEW.sub(lambda m: f"{' '.join([m.group('d')] * _COUNT[m.group('n')])}, not {m.group('d')}",
                        text)
    text = _OF_THEM.sub(lambda m: f"{m.group('d')}{m.group('mid')}{m.group('lead')} {m.group('n')} "
                        f"{_PLURAL_OF[m.group('d')]}", text)
    for pattern in _COUNTS_SAID:
        text = pattern.sub(counts, text)
    text = _ONE_NOT_TWO.sub(r"single \g<d>", text)
    text = _NOT_DOUBLE.sub(r"single \g<d>, not \g<d> \g<d>", _ONCE.sub(r"single \g<d>\g<mid>", text))
    text = _SINGLE.sub("single ", text)
    text = _NONE_THERE.sub(r"\1 any \2", text)
    text = _PRONOUN_ONE.sub(r"\1 digit", text)  # "you've missed the last one, it's a four"
    text = _COUNT_AGAINST.sub(against, text)
    text = _COUNTED.sub(counted, text)
    return _TWICE.sub(lambda m: f"{m.group('d') or m.group('e')} {m.group('d') or m.group('e')}", text)


def _runs(clause: str) -> list[_Run]:
    """The digit runs of a clause, each marked wrong or not, and how it relates to the run before it."""
    runs: list[_Run] = []
    end = 0
    found = find_digit_runs(clause)
    for k, m in enumerate(found):
        before = clause[end:m.start]
        after = clause[m.end:found[k + 1].start if k + 1 < len(found) else len(clause)]
        relation = next((name for name, pattern in _RELATIONS
                         if (runs or name != "and") and pattern.search(before)), "")
        wrong_after = bool(_WRONG_AFTER.search(after)) \
            or bool(_TAKEN_OUT[0].search(before) and _TAKEN_OUT[1].search(after))
        wrong = bool(_WRONG_BEFORE.search(before)) or wrong_after
        after_no = not k and not wrong_after and bool(_BARE_NO.search(before))
        which = _WHICH.search(before) if relation in ("after", "before") else None
        runs.append(_Run(str(m.value), wrong, before.rstrip().endswith("single"), relation, after_no,
                         "first" if which and which.group(1) == "first" else "last" if which else ""))
        end = m.end
    return runs


def _in_order(runs: list[_Run]) -> list[_Run]:
    """Runs that lead with their relation put as the other runs are: "after the nine there's a one" as "a one
    after the nine", "between the six and the four there's a zero" as "a zero between the six and the
    four"."""
    lead = runs[0].relation if runs else ""
    if lead == "between" and len(runs) >= 3 and runs[1].relation == "and":
        return [replace(runs[2], relation=""), runs[0], runs[1], *runs[3:]]
    if lead in ("after", "before") and len(runs) >= 2:
        return [replace(runs[1], relation=""), runs[0], *runs[2:]]
    return runs


def _fix(runs: list[_Run], where: Literal["start", "end", "any"]) -> DigitFix:
    """The runs put in the number's order ("a two before the four" -> said "24"; "a nine between the two and
    the five" -> "295"; "no four between the one and the zero" -> said "10", wrong "140"; "a single zero after
    the four" -> said "40", wrong "400"; "a nine between the three and the four, not a zero" -> said "394",
    wrong "304"), with the digits named as there when the fix is one such piece."""
    runs = _in_order(runs)
    said: list[str] = []
    wrong: list[str] = []
    anchors: list[tuple[str, str]] = []
    which: Literal["first", "last", ""] = ""
    k = 0
    while k < len(runs):
        run = runs[k]
        left = right = ""
        step = 1
        nxt = runs[k + 1] if k + 1 < len(runs) else None
        third = runs[k + 2] if k + 2 < len(runs) else None
        if nxt is not None and nxt.relation == "between" and third is not None and third.relation == "and":
            left, right, step = nxt.digits, third.digits, 3
        elif nxt is not None and nxt.relation in ("after", "before"):
            step = 2
            left, right = (nxt.digits, "") if nxt.relation == "after" else ("", nxt.digits)
            which = which if anchors else nxt.which  # (of the first piece's digits only)
        previous = anchors[-1] if anchors and step == 1 and said else None
        if run.wrong and previous is not None and previous != ("", "") and not wrong:
            wrong.append(previous[0] + run.digits + previous[1])  # "…, not a zero": in the same place
        elif run.wrong and (left or right) and len(said) == 1 and anchors == [("", "")] and not wrong:
            said[0] = left + said[0] + right  # "it's 3 not 8, after the 2": both beside the 2
            wrong.append(left + run.digits + right)
            anchors[0] = (left, right)
        elif run.wrong:
            wrong.append(left + run.digits + right)
            said.append(left + right)
        else:
            said.append(left + run.digits + right)
            if run.single:
                wrong.append(left + run.digits * 2 + right)
        anchors.append((left, right))
        k += step
    left, right = anchors[0] if len(said) == 1 else ("", "")
    return DigitFix("".join(said), "".join(wrong), where, len(runs) == 1 and runs[0].after_no, left, right,
                    which if len(said) == 1 else "")


def _clauses(canonical: str) -> list[tuple[str, bool]]:
    """The clauses of an answer, each with whether it opens a sentence; one that opens with its relation ("it
    goes between the two and the five") joined to the one before, which says what goes there, or, when it
    says only where ("between the six and the four, there's a zero"), to the one after."""
    clauses: list[tuple[str, bool]] = []
    only_where = False
    for m in _CLAUSE.finditer(canonical):
        clause = m.group()
        found, runs = find_digit_runs(clause), _runs(clause)
        says_where = _LEADS_WITH_RELATION.search(clause[:found[0].start]) if found else None
        if says_where and not canonical[:m.start()].rstrip().endswith((",", ":")) \
                and not all(run.relation for run in runs):
            says_where = None  # a sentence of its own that says what goes there: "after the seven it's a two"
        if clauses and found and (only_where or says_where):
            clauses[-1] = (clauses[-1][0] + " " + clause, clauses[-1][1])
        elif clause.strip():
            clauses.append((clause, canonical[:m.start()].rstrip()[-1:] in ("", ".", "!", "?", ";")))
        only_where = bool(runs) and runs[0].relation in ("after", "before", "between") \
            and len(runs) == (2 if runs[0].relation == "between" else 1)
    return clauses


def find_digit_fixes(text: str) -> list[DigitFix]:
    """The fixes ``text`` says, one per clause that has digits (a clause of only wrong digits, "not seven
    seven six", goes with the one before it, and so does one of digits said on in the same sentence, "it's
    double two, double six"); none without a cue of a fix."""
    canonical = _canonical(text)
    if not any(p.search(t) for p in (_CUE, _SWAPPED, _END, _START) for t in (text.lower(), canonical)):
        return []
    fixes: list[DigitFix] = []
    place = ""  # "just the end, it's a seven": a place said in a clause of its own is where the next one goes
    part = ""  # what the last clause said of the last fix ("said" or "wrong"): what digits said on go on
    for clause, opens_sentence in _clauses(canonical):
        runs = _runs(clause)
        if not runs:
            place = clause
            continue
        said_where = _NEAR.sub("", place + clause)
        ends, starts = bool(_END.search(said_where)), bool(_START.search(said_where))
        place = ""
        where: Literal["start", "end", "any"] = \
            "end" if ends and not starts else "start" if starts and not ends else "any"
        if _SWAPPED.search(clause) and len(runs) >= 2 and all(len(r.digits) == 1 for r in runs[:2]):
            a, b = runs[0].digits, runs[1].digits  # (digits said after the two: the same number, read on)
            fixes += [DigitFix(b + a, a + b, where), DigitFix(a + b, b + a, where)]
            part = ""
            continue
        fix = _fix(runs, where)
        last = fixes[-1] if fixes else None
        if last is not None and part and not (last.left or last.right) and not opens_sentence \
                and _says_on(clause, runs):
            # "it's double two, double six"; "it ends 1, 6, 3, not 1, 6, 6, 3" (whisper's commas); said
            # again and on: "two eights together, eight eight three five"
            before = getattr(last, part)
            on = fix.said if _said_again_on(before, fix.said) else before + fix.said
            fixes[-1] = replace(last, **{part: on})
        elif last is not None and fix.wrong and not fix.said and last.said and not last.wrong:
            # "six four, not four six"; "a nine between the three and the four, not a zero"
            fixes[-1] = replace(last, wrong=last.left + fix.wrong + last.right)
            part = "wrong"
        elif last is not None and bool(fix.left) != bool(fix.right) and fix.said == fix.left + fix.right \
                and set(fix.wrong[len(fix.left):len(fix.wrong) - len(fix.right)]) == set(last.said) \
                and not (last.wrong or last.left or last.right):
            # "it's three eight, not eight three, after the four", "two nines, not three, after the one two":
            # the same digits in another order or count, both beside the digits named
            fixes[-1] = replace(fix, said=fix.left + last.said + fix.right)
            part = "wrong"
        elif last is not None and fix.said and not fix.wrong \
                and last.wrong.startswith(fix.left) and last.wrong.endswith(fix.right) \
                and len(last.wrong) == len(fix.said) and fix.said != last.wrong and not last.said \
                and not last.after_no:
            # "not double nine, it's nine oh"; "no double seven. after the seven it's a two"; not "no three at
            # the start, it's seven oh nine" (a 3 taken out)
            fixes[-1] = replace(fix, wrong=last.wrong)
            part = "said"
        elif fix.said or fix.wrong:
            fixes.append(fix)
            part = "said" if fix.said and not fix.wrong else "wrong" if fix.wrong and not fix.said else ""
    return fixes


def _says_on(clause: str, runs: list[_Run]) -> bool:
    """The clause says only digits, on from the clause before ("…, then double six")."""
    if any(run.wrong or run.relation or run.single for run in runs):
        return False
    outside, at = [], 0
    for found in find_digit_runs(clause):
        outside.append(clause[at:found.start])
        at = found.end
    return set(re.findall(r"[a-z']+", " ".join([*outside, clause[at:]]))) <= _ON_FROM


def _said_again_on(part: str, said: str) -> bool:
    """``said`` says ``part`` again and goes on: it starts with it ("two eights together, eight eight three
    five"), or ``part`` is one digit repeated and ``said`` has it ("only the two zeros, five six seven oh oh
    nine")."""
    return len(said) > len(part) and (said.startswith(part) or (len(part) > 1 and len(set(part)) == 1
                                                                and part in said))


def _said_again(text: str, fits: Callable[[str], bool]) -> str | None:
    """A whole number said again in the answer: the last stretch of a sentence's digit runs, none of them
    against ("not …"; a bare "no" before it is the answer's: "no two four eight six …"), that fits."""
    for sentence in reversed(_SENTENCE.findall(_canonical(text))):
        runs = [r.digits for r in _runs(sentence)
                if (r.after_no or not r.wrong) and not r.relation and not r.single]
        spans = [(b, b - a, "".join(runs[a:b]))
                 for a in range(len(runs)) for b in range(a + 1, len(runs) + 1)]
        fitting = [span for span in spans if fits(span[2])]
        if fitting:
            return max(fitting)[2]
    return None


def read_repair(heard: str, text: str, fits: Callable[[str], bool]) -> Repair | None:
    """``text`` read as a fix of ``heard`` (read back to the caller), or None when it says none. Tried in
    turn: a swap of two places named without digits ("the last two are the wrong way round"); a digit named
    as wrong ("the four's wrong, it's a five"); a digit or place named by its order (:func:`_counted`); fixes
    of several positions or parts at once; an ordinal or end fix (``normalize.find_digit_edit``: "the third
    digit is five") that gives digits that fit, or placed where it fits (:func:`_edit_placed`); the number
    said again; a fix in the caller's words (:func:`apply_digit_fixes`); else the ordinal fix as it is (read
    back again). A part the caller took back is read as they said it again ("a two, no, sorry, a three"), or,
    when that reading gives no number that fits, as heard (the recogniser drops digits: "… two nine no sorry
    let me look yeah two nine six" after "eight three one five four seven", the "oh" lost)."""
    heard_as = as_said(text)
    said = taken_back(heard_as)
    repair = _read(heard, said, fits, took_back=said != heard_as)
    if said != heard_as and (repair is None or repair.digits is None or not fits(repair.digits)):
        return _read(heard, heard_as, fits, took_back=False) or repair
    return repair


def _read(heard: str, text: str, fits: Callable[[str], bool], took_back: bool) -> Repair | None:
    """:func:`read_repair` of ``text`` as said (``took_back``: with a part taken back and said again)."""
    what = f"of the {len(heard)} digits heard"
    text = _FLOOR.sub("four", text)  # (the ordinal fix too: "the second last one should be the floor")
    text = _ORDINAL_HEARD.sub(lambda m: f"the {UNITS[m.group(1).lower()]}th {m.group(2)}", text)
    if (swapped := _pair_swapped(heard, text)) is not None:  # a swap of two of the same digit fixes nothing
        return Repair(swapped, f"a swap of two {what}") if swapped != heard and fits(swapped) else None
    if (moved := _moved(heard, text, fits)) is not None:
        return Repair(moved, f"a digit moved {what}")
    named = _named_substitution(text)
    if named is not None and (fixed := _applied(heard, named, fits)) is not None:
        return Repair(fixed, f"a digit named as wrong {what}")
    if (counted := _counted(heard, text, fits)) is not None:
        return Repair(counted[0], f"{counted[1]} {what}")
    if (on := _from_digit(heard, text, fits)) is not None:
        return Repair(on, f"the digits from one named {what}")
    if (several := _several_edits(heard, text, fits)) is not None:
        return Repair(several[0], f"fixes of {several[1]} positions {what}")
    fixes = find_digit_fixes(text)
    if (several := _several_substitutions(heard, fixes, fits)) is not None:
        return Repair(several[0], f"{several[1]} parts named as wrong, each put right, {what}")
    if (ends := _both_ends(heard, fixes, fits)) is not None:
        return Repair(ends, f"its start and its end put right {what}")
    edit = find_digit_edit(text)
    edited = apply_digit_edit(heard, edit, fits) if edit is not None else None
    if edit is not None and edited is not None and fits(edited):
        return Repair(edited, f"a fix ({edit.kind} {edit.digits!r}) {what}")
    if edit is not None and (placed := _edit_placed(heard, edit, fits)) is not None:
        return Repair(placed, f"a fix ({edit.kind} {edit.digits!r}) placed where it fits {what}")
    if (fixes or took_back) and (again := _said_again(text, fits)) is not None:
        return Repair(again, "the number said again with a fix", again=True)
    if (fixed := apply_digit_fixes(heard, fixes, fits)) is not None:
        return Repair(fixed, f"a fix in the caller's words {what}")
    if edit is not None:
        return Repair(edited, f"a fix ({edit.kind} {edit.digits!r}) {what}")
    if (again := _said_again_within(heard, text, fits)) is not None:
        return Repair(again, "the number said again among more digits", again=True)
    if (joined := _said_with_heard(heard, text, fits)) is not None:
        return Repair(joined, f"the digits said put together with the {len(heard)} heard")
    return None


def _from_digit(heard: str, text: str, fits: Callable[[str], bool]) -> str | None:
    """The digits said on from a digit named ("from the eight: eight three nine five one six"; the digit said
    again or not), put over the digits heard from there where they change them least: the one such number that
    fits, or None."""
    canonical = _canonical(text)
    runs = find_digit_runs(canonical)
    for m in _FROM_DIGIT.finditer(canonical):
        k = next((k for k, run in enumerate(runs) if run.start == m.start("d")), None)
        if k is None:
            continue
        anchor, said = str(runs[k].value)[0], str(runs[k].value)[1:]  # (one run across a comma)
        if not said and k + 1 < len(runs) and _FROM_GAP.match(canonical[runs[k].end:runs[k + 1].start]):
            said = str(runs[k + 1].value)
        said = said if said.startswith(anchor) else anchor + said
        if len(said) < 2:
            return None
        costs = {fixed: digit_distance(heard, fixed) for i, digit in enumerate(heard) if digit == anchor
                 and (fixed := apply_digit_edit(heard, DigitEdit("from", said, i), fits)) and fits(fixed)}
        lowest = [fixed for fixed, cost in costs.items() if cost == min(costs.values())]
        return lowest[0] if len(lowest) == 1 else None
    return None


def _all_digits(text: str) -> str:
    """Every digit the answer says, in order."""
    return "".join(str(run.value) for run in find_digit_runs(_canonical(text)))


def _said_again_within(heard: str, text: str, fits: Callable[[str], bool]) -> str | None:
    """The whole number said again among more digits than it has ("it's double eight in the middle. six one
    two, double eight, …" heard as "8 8 6 1 2 8 8 …"; "…, seven nine two four. Oh five."): of the stretches of
    the answer's digits that fit, the one that differs least from ``heard`` (at most two edits), when only one
    does; else None."""
    said = _all_digits(text)
    if fits(said):
        return None
    costs = {stretch: digit_distance(heard, stretch) for i in range(len(said))
             for j in range(i + 1, len(said) + 1) if fits(stretch := said[i:j])}
    closest = [stretch for stretch, cost in costs.items() if cost == min(costs.values()) and cost <= 2]
    return closest[0] if len(closest) == 1 else None


def _said_with_heard(heard: str, text: str, fits: Callable[[str], bool]) -> str | None:
    """The digits said, which do not fit alone or after ``heard``, put together with ``heard``: the end
    (start) said again over the digits heard there, as they were or one digit off ("oh five two three seven"
    after "… oh five two three"), or the whole number said again and heard with a digit lost or gained, the
    one number a digit away from both hearings. The one such number, else None."""
    said = _all_digits(text)
    if len(said) < 3 or fits(said) or fits(heard + said):
        return None
    found = {heard[:len(heard) - k] + said for k in range(1, len(heard) + 1)
             if digit_distance(heard[-k:], said) <= 1 and fits(heard[:len(heard) - k] + said)}
    found |= {said + heard[k:] for k in range(1, len(heard) + 1)
              if digit_distance(heard[:k], said) <= 1 and fits(said + heard[k:])}
    edits = {said[:i] + d + said[i + j:] for i in range(len(said) + 1) for j in (0, 1) for d in "0123456789"}
    edits |= {said[:i] + said[i + 1:] for i in range(len(said))}
    found |= {number for number in edits if fits(number) and digit_distance(heard, number) <= 1}
    return found.pop() if len(found) == 1 else None


def _several_edits(heard: str, text: str, fits: Callable[[str], bool]) -> tuple[str, int] | None:
    """Two or more positions fixed in one answer, a clause each ("the third digit's an eight, and the last one
    is a five", "the fifth is a three and the last is a two"): all applied, when the result fits (the digits,
    how many fixes)."""
    edits = [edit for clause in _EDIT_CLAUSE.split(text) if (edit := find_digit_edit(clause)) is not None]
    if len(edits) < 2 or any(edit.kind != "at" for edit in edits):
        return None
    fixed: str | None = heard
    for edit in edits:
        fixed = apply_digit_edit(fixed, edit, fits) if fixed is not None else None
    return (fixed, len(edits)) if fixed is not None and fits(fixed) else None


def _several_substitutions(heard: str, fixes: list[DigitFix], fits: Callable[[str], bool]
                           ) -> tuple[str, int] | None:
    """Two or more fixes that each name what is wrong and what it should be, each wrong part found once in
    ``heard`` and in a place of its own ("it's oh nine two, not oh one two, and the last one's a one, not a
    seven"): all applied, when the result fits (the digits, how many fixes)."""
    spans: dict[tuple[int, int], str] = {}
    pairs = {(fix.said, fix.wrong) for fix in fixes}
    for fix in fixes:
        if not fix.said or not fix.wrong or (fix.wrong, fix.said) in pairs:  # a swap is one fix, either way
            continue
        places = _wrong_places(heard, fix)
        if len(places) == 1:
            spans[(places[0], places[0] + len(fix.wrong))] = fix.said
    ordered = sorted(spans)
    if len(ordered) < 2 or any(a[1] > b[0] for a, b in pairwise(ordered)):
        return None
    fixed = heard
    for start, end in reversed(ordered):
        fixed = fixed[:start] + spans[(start, end)] + fixed[end:]
    return (fixed, len(ordered)) if fits(fixed) else None


def _both_ends(heard: str, fixes: list[DigitFix], fits: Callable[[str], bool]) -> str | None:
    """The start and the end said in one answer ("it's seven one five nine at the start, and it ends six
    four"), each put in place; None unless the answer says exactly one of each and the result fits."""
    ends = [[fix for fix in fixes
             if fix.where == where and fix.said and not (fix.wrong or fix.left or fix.right)]
            for where in ("start", "end")]
    if any(len(fixes_there) != 1 for fixes_there in ends) or len(fixes) != 2:
        return None
    fixed = heard
    for fix in (ends[0][0], ends[1][0]):
        there = fixed.startswith(fix.said) if fix.where == "start" else fixed.endswith(fix.said)
        if not there and (placed := _placed(fixed, fix, fits)) is None:
            return None
        fixed = fixed if there else placed
    return fixed if fixed != heard and fits(fixed) else None


def _counted(heard: str, text: str, fits: Callable[[str], bool]) -> tuple[str, str] | None:
    """One of a digit the number has more than once taken out ("take out one of the fours", "one seven too
    many": when which one makes no difference; a fix said after it applied too); a digit named by which of
    its kind it is, changed or taken out ("the second seven should be a four", "take out the second eight",
    "the first oh's extra"), or a place whose digit is extra or missing ("the fifth digit's extra", "you've
    missed out the fourth digit, it's a nine"): (the new digits, how); None when the answer says none of
    these or the result does not fit."""
    if (one_of := _ONE_OF.search(text.lower())) is not None:
        word = one_of.group("b") or _PLURALS[next(one_of.group(k) for k in "acde" if one_of.group(k))]
        digit = _digit(word)
        fitting = {fixed for i, d in enumerate(heard)
                   if d == digit and fits(fixed := heard[:i] + heard[i + 1:])}
        if len(fitting) != 1:
            return None
        fixed, how = fitting.pop(), f"a fix (one {digit} taken out)"
        # "one too many ones, and the end is eight eight five not eight five eight"
        rest = text[one_of.end():]
        more = read_repair(fixed, rest, fits) if find_digit_runs(rest) else None
        if more is not None and more.digits is not None and not more.again and fits(more.digits):
            return more.digits, f"{more.how}, after {how}"
        return fixed, how
    canonical = _canonical(text)
    for m in _NTH_DIGIT.finditer(canonical):
        digit, nth = _digit(m.group("d")), _NTH[m.group("nth")]
        if any(pattern.search(canonical[:m.start()]) for name, pattern in _RELATIONS if name != "and"):
            continue  # "after the first seven it's a three": the fix is beside it
        places = [i for i, d in enumerate(heard) if d == digit]
        if not -len(places) <= nth < len(places):
            continue
        i = places[nth]
        named = f"the {m.group('nth')} {digit}"
        if (to := _TO_DIGIT.search(canonical[m.end():])) is not None:
            fixed, how = heard[:i] + _digit(to.group("said")) + heard[i + 1:], f"a fix ({named} changed)"
        elif _TAKE_OUT.search(canonical[:m.start()]) or _WRONG_AFTER.search(canonical[m.end():]):
            fixed, how = heard[:i] + heard[i + 1:], f"a fix ({named} taken out)"
        else:
            continue
        return (fixed, how) if fits(fixed) else None
    sentences = _SENTENCE.findall(canonical)
    for k, sentence in enumerate(sentences):
        m = _NTH_PLACE.search(sentence)
        if m is None:
            continue
        nth, named = _NTH[m.group("nth")], f"the {m.group('nth')} digit"
        rest = sentence[m.end():] if find_digit_runs(sentence[m.end():]) or k + 1 == len(sentences) \
            else sentences[k + 1]  # "you've missed out the fourth digit. it's a nine."
        if _TAKE_OUT.search(sentence[:m.start()]) or _WRONG_AFTER.search(sentence[m.end():]):
            i = nth if nth >= 0 else len(heard) - 1
            fixed, how = heard[:i] + heard[i + 1:], f"a fix ({named} taken out)"
        elif _MISSED.search(sentence) and (runs := find_digit_runs(rest)) \
                and len(said := str(runs[0].value)) == 1:  # (then digits on from it: "…, then four nine")
            i = nth if nth >= 0 else len(heard)
            fixed, how = heard[:i] + said + heard[i:], f"a fix ({named} put in)"
        else:
            continue
        return (fixed, how) if 0 <= i <= len(heard) and fits(fixed) else None
    return None


def _moved(heard: str, text: str, fits: Callable[[str], bool]) -> str | None:
    """``heard`` with a digit said to be in the wrong place moved beside the digit named ("the zero's in the
    wrong place, it comes after the three, not at the end"): the digit taken from the end or start when the
    answer says it is not there, else from its one place; None when the answer says no such move or which
    digit, or where, is not clear."""
    canonical = _ARTICLE_OH.sub(r"\1 zero", text.lower())
    m = _MISPLACED.search(canonical)
    if m is None:
        return None
    digit, anchor = _digit(m.group("d") or m.group("e")), _digit(m.group("anchor") or m.group("anchor2"))
    after = (m.group("rel") or m.group("rel2")) == "after"
    places = [i for i, d in enumerate(heard) if d == digit]
    if re.search(r"\bnot (?:at )?the (?:end|last)\b", canonical) and heard.endswith(digit):
        places = [len(heard) - 1]
    elif re.search(r"\bnot (?:at )?the (?:start|beginning|front|first)\b", canonical) \
            and heard.startswith(digit):
        places = [0]
    if len(places) != 1:
        return None
    rest = heard[:places[0]] + heard[places[0] + 1:]
    anchors = [i for i, d in enumerate(rest) if d == anchor]
    if len(anchors) != 1:
        return None
    at = anchors[0] + 1 if after else anchors[0]
    moved = rest[:at] + digit + rest[at:]
    return moved if moved != heard and fits(moved) else None


def _named_substitution(text: str) -> DigitFix | None:
    """ "the four's wrong, it's a five": the digit named as wrong and the one it should be."""
    m = _NAMED_WRONG.search(_canonical(text))
    if m is None:
        return None
    wrong = _digits(next(g for g in (m.group(name) for name in "abcdef") if g))
    return DigitFix(_digits(m.group("said"))[:len(wrong)], wrong)


def _digit(word: str) -> str:
    return word if word.isdigit() else str(DIGITS[word])


def _digits(words: str) -> str:
    return "".join(_digit(word) for word in words.split())


def _edit_placed(heard: str, edit: DigitEdit, fits: Callable[[str], bool]) -> str | None:
    """An end, start or position fix whose plain reading does not give the expected length (a number read back
    a digit short or over) placed as a piece where it changes the digits heard least: "the last four should be
    5 8 5 9" after nine digits, "you've missed the last one, it's a four" (the digit added at the end)."""
    if edit.kind in ("end", "start"):
        return _placed(heard, DigitFix(edit.digits, "", edit.kind), fits)
    if edit.kind == "at" and edit.position == -1:
        return _placed(heard, DigitFix(edit.digits, "", "end"), fits)
    return None


def _pair_swapped(heard: str, text: str) -> str | None:
    """``heard`` with two of its digits swapped, for a swap named by places: the last (first) two ("the last
    two are the wrong way round") or two places ("the seventh and eighth digits are swapped"), with no digits
    said or only the two in their new order ("…, should be six then four"); None for any other answer."""
    lowered = text.lower()
    pair = _PAIR.search(lowered) or _NTH_PAIR.search(lowered)
    if pair is None or not _SWAPPED.search(lowered) or len(heard) < 2:
        return None
    if pair.re is _PAIR:
        a, b = (0, 1) if pair.group("where") == "first" else (len(heard) - 2, len(heard) - 1)
    else:
        places = (_NTH[pair.group("a")], _NTH[pair.group("b")])
        if _PAIR_FROM_END.match(lowered[pair.end():]):  # "the third and second from last"
            places = tuple(-n - 1 if n >= 0 else n for n in places)
        a, b = sorted(n if n >= 0 else len(heard) + n for n in places)
        if a == b or b >= len(heard):
            return None
    said = "".join(str(run.value) for run in find_digit_runs(lowered[:pair.start()] + lowered[pair.end():]))
    return heard[:a] + heard[b] + heard[a + 1:b] + heard[a] + heard[b + 1:] \
        if said in ("", heard[b] + heard[a]) else None


def apply_digit_fixes(heard: str, fixes: list[DigitFix], fits: Callable[[str], bool]) -> str | None:
    """The number ``heard`` becomes with ``fixes`` placed (the last one that fits somewhere); None when none
    fits anywhere."""
    results = [r for r in (_applied(heard, fix, fits) for fix in fixes) if r is not None]
    return results[-1] if results else None


def _applied(heard: str, fix: DigitFix, fits: Callable[[str], bool]) -> str | None:
    if fix.wrong and fix.wrong in heard:
        places = _wrong_places(heard, fix)
        replaced = {heard[:i] + fix.said + heard[i + len(fix.wrong):] for i in places}
        fitting = {r for r in replaced if fits(r)}
        if len(fitting) == 1:
            return fitting.pop()
    elif fix.after_no:  # "oh no three seven at the end", and the number read back has no 3 7 there
        return _placed(heard, DigitFix(fix.wrong, "", fix.where), fits)
    if not fix.said or (fix.wrong and fix.said in fix.wrong):  # "a single six" where there is no 6 6: nothing
        return None
    return _placed(heard, fix, fits)


def _wrong_places(heard: str, fix: DigitFix) -> list[int]:
    """Where ``heard`` has the digits ``fix`` names as wrong, at its start or end if the fix says so."""
    ends = len(heard) - len(fix.wrong)
    return [i for i in _occurrences(heard, fix.wrong)
            if (fix.where != "start" or not i) and (fix.where != "end" or i == ends)]


def _occurrences(text: str, part: str) -> list[int]:
    return [i for i in range(len(text) - len(part) + 1) if text.startswith(part, i)]


def _placed(heard: str, fix: DigitFix, fits: Callable[[str], bool]) -> str | None:
    """``fix.said`` put over the stretch of ``heard`` it changes least (at its start or end if it says so)
    with a result that fits, over a stretch that has the digits the fix names as there (``fix.left``,
    ``fix.right``) or the one stretch it names as wrong (``fix.wrong``) when one does; None when two results
    fit as well."""
    best: dict[str, int] = {}
    anchored: dict[str, int] = {}
    wrong_at = _occurrences(heard, fix.wrong) if fix.wrong else []
    wrong_at = wrong_at if len(wrong_at) == 1 else []  # a stretch named as wrong, when it names one
    beside = _occurrences(heard, fix.left or fix.right)
    beside = beside[:1] if fix.which == "first" else beside[-1:] if fix.which == "last" else []
    for i in range(len(heard) + 1):
        for j in range(i, len(heard) + 1):
            if (fix.where == "start" and i) or (fix.where == "end" and j != len(heard)):
                continue
            candidate = heard[:i] + fix.said + heard[j:]
            if candidate != heard and fits(candidate):
                cost = digit_distance(heard[i:j], fix.said)
                best[candidate] = min(cost, best.get(candidate, cost))
                stretch = heard[i:j]
                if ((fix.left or fix.right) and len(stretch) >= len(fix.left) + len(fix.right)
                        and stretch.startswith(fix.left) and stretch.endswith(fix.right)
                        and (not beside or (i if fix.left else j - len(fix.right)) == beside[0])) \
                        or any(i <= k and k + len(fix.wrong) <= j for k in wrong_at):
                    anchored[candidate] = min(cost, anchored.get(candidate, cost))
    best = anchored or best
    if not best:
        return None
    least = min(best.values())
    winners = [c for c, cost in best.items() if cost == least]
    return winners[0] if len(winners) == 1 else None
