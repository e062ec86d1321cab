"""A caller's fix to a number read back, as they said it: the words the recogniser wrote for its digits put
back (whisper on festival voices: "after the free", "purple free", "8.6", "the 9th numbers and 8th"), and a part
the caller took back replaced by what they said instead ("the ninth one is a two, no, sorry, a three"). What the
fix then says is read by ``nlu/digit_fix.py``; the forms each came from are in eval/README.md ("Repairs of a number
read back")."""

from __future__ import annotations

import re

from voicebot.nlu.normalize import DIGITS, ORDINALS, UNITS, find_digit_runs

DIGIT_NAME = "|".join(DIGITS)  # zero, oh, o, nought, one … nine
DIGIT_WORD = rf"(?:{DIGIT_NAME}|[0-9])"
# the caller takes back what they just said and says it again: "the ninth one is a two, no, sorry, a three"
# (a transcript without commas: "swap the five and the six wait no the nine and the five")
_TAKEN_BACK = re.compile(
    r"(?:[,.;!?]\s*|\s+)(?:(?:no|oh|um|er|erm)\b[,.!]?\s*)*(?:sorry|wait|i mean|or rather|scratch that|oops|"
    r"hang on)\b(?:[,.!]?\s*(?:no|i mean|sorry|it'?s|let me (?:look|check|see)|yeah|yes|right|okay|ok)\b)*"
    r"[,.!]?\s*", re.IGNORECASE)  # ("…, no, sorry, let me look, yeah, two nine six")
# Words of a fix as the recogniser writes festival voices (eval/README.md, "Repairs of a number read back"): a
# digit heard as a word after the words that name one ("after the free", "it's innate", "one for there"), a
# digit after "o" written as one word ("double O9"), "knots" for noughts, "the second digits in eight"
# (digit's an), "it's parts with" (it starts with), "purple free" (double three), "just the 1-8" (the one
# eight), "8.6" (eight six), "oh" heard "no" inside a run of digits ("one no five nine"; between two single
# digits, "not": "that last one's a zero no six")
_HEARD_DIGIT = {"free": "three", "tree": "three", "aid": "eight", "ate": "eight", "date": "eight",
                "nade": "eight", "won": "one", "for": "four", "fore": "four", "note": "nought"}
_DIGIT_HEARD = re.compile(
    r"\b(?P<lead>an?|the|one|single|double|triple|purple|level|is|it'?s|not|after|before)\s+"
    r"(?P<w>free|tree|aid|ate|date|nade|won|note)\b|"
    rf"\b(?P<lead3>purple|level)(?=\s+(?:{DIGIT_NAME}|\d)\b)|"
    r"\b(?P<lead2>an?|the|one|single|double|triple)\s+(?P<w2>for|fore)\b"
    r"(?!\s+(?:me|you|us|it|that|this|now)\b)",
    re.IGNORECASE)
_NUMERAL_PLURAL = {"0": "zeros", "1": "ones", "2": "twos", "3": "threes", "4": "fours", "5": "fives",
                   "6": "sixes", "7": "sevens", "8": "eights", "9": "nines"}  # "8s" as written
_PLURAL_OF_WORD = {word: _NUMERAL_PLURAL[str(value)] for word, value in DIGITS.items()}  # "five" -> "fives"
# an order said with or without its "th" ("the six no seven digit")
_PLACE = rf"(?:{'|'.join([*ORDINALS, *UNITS])}|\d{{1,2}}(?:st|nd|rd|th))"
_AS_SAID = ((re.compile(r"\binnate\b", re.IGNORECASE), "an eight"),
            (re.compile(r"\b[oO](\d)\b"), r"oh \1"),
            (re.compile(r"\bknots\b", re.IGNORECASE), "noughts"),
            (re.compile(r"\b((?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last|"
                        r"\d{1,2}(?:st|nd|rd|th)) (?:digit|number))s (?:in|an|and|of|are) (?=an? |\w)",
                        re.IGNORECASE), r"\1 is "),
            (re.compile(r"\b(is|be|an?) (\d)(?:st|nd|rd|th)\b(?!\s+(?:digit|number|one)s?\b)", re.IGNORECASE),
             r"\1 \2"),  # "the ninth number is 8th": an eight
            (re.compile(r"\bit'?s (?:parts|hearts|stars) with\b", re.IGNORECASE), "it starts with"),
            (re.compile(r"\b(second|third) the last\b", re.IGNORECASE), r"\1 to last"),
            (re.compile(r"\byou(?:'ve| have)? set\b", re.IGNORECASE), "you've said"),
            (re.compile(r"\b(?:two|to) (?:weights|eighths?)\b", re.IGNORECASE), "two eights"),
            (re.compile(r"\b(\d)'?s\b"), lambda m: _NUMERAL_PLURAL[m.group(1)]),  # "take one of the 8s out"
            (re.compile(rf"\btravel(?= {DIGIT_WORD}\b)", re.IGNORECASE), "triple"),  # (festival's "triple")
            (re.compile(rf"\b(not|it'?s|is) to (?=(?:double|triple|{DIGIT_NAME})\b)", re.IGNORECASE),
             r"\1 two "),
            # a place taken back: "the six no seven digit should be a three" (the sixth, no, seventh)
            (re.compile(rf"\bthe {_PLACE}\W+no\W+(?:the )?({_PLACE}) (digit|number|one)\b", re.IGNORECASE),
             r"the \1 \2"),
            # sentences the recogniser ran together after a digit: "there's only one one it's five two …"
            # (not "after the seven it's a two"), "… not double three three seven seven oh five"
            (re.compile(rf"(?<!after the )(?<!before the )(?<!and the )(?<!after )(?<!before )"
                        rf"\b({DIGIT_WORD}) "
                        rf"(?=(?:it'?s|there'?s|there is) (?:{DIGIT_NAME}\b|\d|double\b|triple\b|an?\b))",
                        re.IGNORECASE), r"\1. "),
            # the digits a place is said to have: "an extra five near the start, seven five two three"
            (re.compile(rf"\b((?:at|near|towards) the (?:start|beginning|front|end|middle)),"
                        rf"(?= {DIGIT_WORD}\b)", re.IGNORECASE), r"\1."),
            (re.compile(rf"\b(not (?:double|triple) {DIGIT_WORD})(?= {DIGIT_WORD}\b)", re.IGNORECASE),
             r"\1."),
            # a fix said after digits with no stop between: "three nine four seven you cut off the seven"
            (re.compile(r"(?<=\w) (?=you(?:'ve| have)? (?:just )?(?:missed|cut off|dropped|forgot|forgotten|"
                        r"skipped|lost|left out)\b)", re.IGNORECASE), ". "),
            (re.compile(r"\b(only|just) (the )?1-(\d)\b", re.IGNORECASE), r"\1 \2one \3"),  # "just the 1-8"
            # digits set against others, not decimals: "it ends 8.6 not 8.4" (not "it goes 8.0, 5.1": a run)
            (re.compile(r"\b(\d)\.(\d)(?= not \d\b)|(?<=\bnot )(\d)\.(\d)\b(?!\.\d)"),
             lambda m: " ".join(d for d in m.groups() if d)),
            # a word said again after "yeah" to make it sure: "a four. yeah, four" ("the floor yeah floor")
            (re.compile(r"\b(\w+)[,.]?\s+(?:yeah|yes|yep)[,.]?\s+\1\b", re.IGNORECASE), r"\1"),
            # the ninth set's festival transcripts: "double low" (double oh), "only one to" (only one two),
            # "the third one last" (third from last), "three sevens in the row", "at this target" (at the
            # start), "between the 9th and 2" (the nine and the two), "the two ends and nine" (the two and
            # the nine)
            (re.compile(r"\bdouble low\b", re.IGNORECASE), "double oh"),
            (re.compile(r"\b(only|just) (the one|one|a single) (?:to|too)\b", re.IGNORECASE), r"\1 \2 two"),
            (re.compile(r"\b(second|third|fourth) one last\b", re.IGNORECASE), r"\1 from last"),
            (re.compile(r"\bin the row\b", re.IGNORECASE), "in a row"),
            (re.compile(r"\bat this (?:target|start)\b", re.IGNORECASE), "at the start"),
            (re.compile(r"\bbetween the (\d)(?:st|nd|rd|th) and (?:the )?(\d)\b(?!st|nd|rd|th)",
                        re.IGNORECASE), r"between the \1 and the \2"),
            (re.compile(rf"\bthe ({DIGIT_WORD}) ends and (?:the )?({DIGIT_WORD})\b", re.IGNORECASE),
             r"the \1 and the \2"),
            # a count set against a repeated digit, its plural lost: "only double five, not three five"
            (re.compile(rf"\b((?:double|triple) ({DIGIT_NAME})\b[^.;]{{0,30}}?\bnot (?:two|three|four)) \2\b"
                        rf"(?!\s+{DIGIT_WORD}\b)", re.IGNORECASE),
             lambda m: f"{m.group(1)} {_PLURAL_OF_WORD[m.group(2).lower()]}"),
            # a digit made clear: "oh as in zero", "seven as in lucky seven"
            (re.compile(rf"[,.]?\s*\b(?:{DIGIT_WORD}) (?:as|is|has) in (?:\w+ )?(?:{DIGIT_WORD})\b",
                        re.IGNORECASE), ""))
_ONE_DIGIT = rf"(?:{DIGIT_NAME}|[0-9])"
_NO_INSIDE = re.compile(  # (not after "oh", "ah", "oh no three seven at the end")
    rf"\b(?P<a>(?:{_ONE_DIGIT} )?(?!oh\b|o\b){_ONE_DIGIT}) no (?P<b>{_ONE_DIGIT}(?: {_ONE_DIGIT})?)\b",
    re.IGNORECASE)
_DIGIT_LIST = re.compile(
    rf"\b{_ONE_DIGIT}(?:, {_ONE_DIGIT}\b){{2,}}(?= (?:at|in) the (?:end|start|beginning|middle)\b)",
    re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9']+", re.IGNORECASE)
_CLAUSE_END = re.compile(r"[,.;!?]")


def as_said(text: str) -> str:
    """``text`` with the words the recogniser wrote for a fix's digits put back (``_DIGIT_HEARD``,
    ``_AS_SAID``), an "oh" heard "no" inside a run of digits ("one no five nine" -> "one zero five nine", when
    the digits on one side are two or more; "zero no six", one on each side, is "zero not six"), and a list of
    single digits with commas between them before the place it names ("it's 1, 6, 6, 5 at the end") one run."""
    def heard(m: re.Match) -> str:
        lead = m.group("lead") or m.group("lead2") or m.group("lead3")
        lead = "double" if lead.lower() in ("purple", "level") else lead  # "purple free": double three
        if m.group("lead3"):
            return lead
        return f"{lead} {_HEARD_DIGIT[(m.group('w') or m.group('w2')).lower()]}"

    text = _DIGIT_HEARD.sub(heard, text)
    for pattern, put in _AS_SAID:
        text = pattern.sub(put, text)
    text = _NO_INSIDE.sub(lambda m: f"{m.group('a')} zero {m.group('b')}"
                          if len(m.group("a").split()) + len(m.group("b").split()) > 2
                          else f"{m.group('a')} not {m.group('b')}", text)
    return _DIGIT_LIST.sub(lambda m: m.group().replace(",", ""), text)


def _units(text: str) -> list[tuple[int, str]]:
    """The words of ``text`` (where each starts, what it is), a run of digits within a clause one unit "#":
    the shape the words of a fix have whatever the digits."""
    units: list[tuple[int, str]] = []
    end = 0
    for m in _WORD.finditer(text):
        word = m.group().lower()
        kind = "#" if word in DIGITS or word.isdigit() else word
        digits_go_on = kind == "#" and units and units[-1][1] == "#" \
            and not _CLAUSE_END.search(text[end:m.start()])
        if not digits_go_on:
            units.append((m.start(), kind))
        end = m.end()
    return units


def taken_back(text: str) -> str:
    """``text`` with a part the caller took back replaced by what they said instead, when what they said
    again has the shape of the words it replaces ("swap the five and the six, wait, no, the nine and the
    five" -> "swap the nine and the five"; "… three one eight, sorry, three one eight two seven five" ->
    "… three one eight two seven five"); else as it is."""
    for m in reversed(list(_TAKEN_BACK.finditer(text))):
        before, after = text[:m.start()], text[m.end():]
        again = [kind for _, kind in _units(re.split(r"[,.;!?]", after, maxsplit=1)[0])]
        units = _units(before)
        if again and len(again) <= len(units) and [kind for _, kind in units[-len(again):]] == again:
            start = units[-len(again)][0]
            if again[0] == "#" and (kept := _said_up_to(before[start:], after)):
                return taken_back(f"{before[:start]}{' '.join(kept)} {after}")
            return taken_back(before[:start] + after)
    return text


def _said_up_to(digits_before: str, after: str) -> str:
    """The digits said before a take-back that the caller did not say again, when they say again two or more
    of its last ("four nine oh six three one eight, sorry, three one eight two seven five": "4906")."""
    runs, again = find_digit_runs(digits_before), find_digit_runs(after)
    if len(runs) != 1 or not again:
        return ""
    said, said_again = str(runs[0].value), str(again[0].value)
    overlap = next((k for k in range(min(len(said) - 1, len(said_again)), 1, -1)
                    if said.endswith(said_again[:k])), 0)
    return said[:-overlap] if overlap else ""
