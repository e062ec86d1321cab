"""Spoken forms to written values, with their position in the text.

ASR writes numbers both ways ("four five six", "4 5 6", "456", "$50"), so every parser here accepts
spoken words and numerals alike. Each ``find_*`` returns :class:`Match` es in text order; character
offsets refer to the original text.

Conventions (documented for flow authors):
- digits: "oh"/"o" is 0 inside a digit run; "double"/"triple" repeat the next digit; "twelve",
  "thirty four", "five hundred" inside a run give their digits ("12", "34", "500").
- dates without a year take the next such date on or after ``today``; "3/23" is month/day (US).
- times without am/pm: 1–7 o'clock are afternoon (business hours), 8–11 morning, 12 noon.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal
from typing import Any, Literal

_TOKEN = re.compile(r"\d+(?:[.,:]\d+)*(?:st|nd|rd|th)?|[a-z]+(?:'[a-z]+)?|[^\sa-z\d]", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Token:
    text: str  # lower-cased
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Match:
    """A value found in text: ``text[start:end]`` is what was said."""

    value: Any
    start: int
    end: int


def tokens(text: str) -> list[Token]:
    """Words, numerals (with , . : inside and ordinal suffixes) and single punctuation marks.

    A hyphen inside a word ("seventy-five", "uh-huh") is dropped: its halves are separate words."""
    found = [Token(m.group().lower(), m.start(), m.end()) for m in _TOKEN.finditer(text)]
    return [t for k, t in enumerate(found)
            if not (t.text == "-" and 0 < k < len(found) - 1 and found[k - 1].end == t.start
                    and found[k + 1].start == t.end and found[k - 1].text.isalpha() and found[k + 1].text.isalpha())]


# --------------------------------------------------------------------------------------------------
# Number words
# --------------------------------------------------------------------------------------------------

DIGITS = {"zero": 0, "oh": 0, "o": 0, "nought": 0, "one": 1, "two": 2, "three": 3, "four": 4,
          "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9}
UNITS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
         "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
         "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
        "eighty": 80, "ninety": 90}
SCALES = {"thousand": 1000, "million": 1_000_000, "billion": 1_000_000_000}
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
            "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
            "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
            "nineteenth": 19, "twentieth": 20, "thirtieth": 30}
REPEATS = {"double": 2, "triple": 3, "treble": 3}
_NUMERAL = re.compile(r"^\d+(?:,\d{3})*(?:\.\d+)?$")
_ORDINAL_NUMERAL = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)$")


def _numeral(word: str) -> Decimal | None:
    if _NUMERAL.match(word):
        return Decimal(word.replace(",", ""))
    return None


def _is_number_word(word: str) -> bool:
    return word in UNITS or word in TENS or word in SCALES or word == "hundred" or _numeral(word) is not None


def _cardinal(toks: list[Token], i: int) -> tuple[Decimal, int] | None:
    """A cardinal number starting at token ``i``: (value, index after it). "one hundred and five" -> 105.

    A second unit after a unit ends the number ("five five" is two numbers, not ten).
    """
    n = len(toks)
    if i < n and toks[i].text == "a" and i + 1 < n and toks[i + 1].text in ("hundred", "thousand", "million"):
        i += 1
        total, current, last = Decimal(0), Decimal(1), "unit"
    else:
        total, current, last = Decimal(0), Decimal(0), ""
    j = i
    while j < n:
        w = toks[j].text
        numeral = _numeral(w)
        if numeral is not None and last in ("", "scale", "hundred"):
            current += numeral
            last = "numeral"
        elif w in UNITS and (last in ("", "scale", "hundred") or (last == "tens" and 0 < UNITS[w] < 10)):
            current += UNITS[w]
            last = "unit"
        elif w in TENS and last in ("", "scale", "hundred"):
            current += TENS[w]
            last = "tens"
        elif w == "hundred" and last in ("unit", "numeral") and 0 < current % 1000 < 10:
            current += (current % 10) * 99
            last = "hundred"
        elif w == "hundred" and last in ("unit", "tens") and not total and 10 < current < 100:
            current *= 100  # "forty-four hundred" -> 4400, "nineteen hundred and five" -> 1905
            last = "hundred"
        elif w in HOMOPHONES and last == "scale" and (after := _hundred_at(toks, j + 1)) is not None:
            current += HOMOPHONES[w]  # "two million free, hundred …": a digit heard as a word, then its hundred
            last = "unit"
            j = after - 1
        elif w in SCALES and last in ("unit", "tens", "numeral", "hundred") and current:
            total += current * SCALES[w]
            current = Decimal(0)
            last = "scale"
        elif (w == "and" and last in ("hundred", "scale") and j + 1 < n
              and (toks[j + 1].text in UNITS or toks[j + 1].text in TENS)):
            pass
        elif w == "point" and last in ("unit", "tens", "numeral") and j + 1 < n and toks[j + 1].text in DIGITS:
            decimals = ""
            while j + 1 < n and toks[j + 1].text in DIGITS:
                j += 1
                decimals += str(DIGITS[toks[j].text])
            current += Decimal("0." + decimals)
            last = "decimal"
        else:
            break
        j += 1
    if last in ("", "scale") and j == i:
        return None
    if j > 0 and toks[j - 1].text == "and":
        j -= 1
    return total + current, j


def _hundred_at(toks: list[Token], j: int) -> int | None:
    """The index of "hundred" at token ``j`` or right after a comma there, or None."""
    k = j + (j < len(toks) and toks[j].text == ",")
    return k if k < len(toks) and toks[k].text == "hundred" else None


def find_numbers(text: str) -> list[Match]:
    """Cardinal numbers: "twenty three" -> 23, "one hundred and five" -> 105, "1,250" -> 1250, "3.5"."""
    toks = tokens(text)
    found, i = [], 0
    while i < len(toks):
        parsed = _cardinal(toks, i) if toks[i].text in ("a",) or _is_number_word(toks[i].text) else None
        if parsed is None:
            i += 1
            continue
        value, j = parsed
        found.append(Match(int(value) if value == value.to_integral() else float(value),
                           toks[i].start, toks[j - 1].end))
        i = j
    return found


# --------------------------------------------------------------------------------------------------
# Digit strings and phone numbers
# --------------------------------------------------------------------------------------------------

_RUN_GLUE = {"-", ",", ".", "dash", "hyphen", "/"}
_RUN_FILLERS = {"uh", "um", "umm", "er", "erm", "ah", "hmm"}  # a hesitation inside a digit string
_GROUPED_NUMERAL = re.compile(r"^\d+(?:,\d+)+$")
_DOTTED_DIGITS = re.compile(r"^\d+(?:\.\d+){2,}$")
_DIGIT_DOT_DIGIT = re.compile(r"^\d\.\d$")  # "9.0": a decimal alone, two digits in a run of them


def _next_is_digit_dot_digit(toks: list[Token], j: int) -> bool:
    k = j + 2 if j + 1 < len(toks) and toks[j + 1].text in _RUN_GLUE else j + 1
    return k < len(toks) and bool(_DIGIT_DOT_DIGIT.match(toks[k].text))


def _digit_piece(toks: list[Token], j: int, in_run: bool) -> tuple[str, int] | None:
    """The digits one spoken piece contributes at token ``j``: (digits, next index), or None."""
    n = len(toks)
    w = toks[j].text
    if w in REPEATS:
        k = j + 1 + (j + 1 < n and toks[j + 1].text == ",")  # whisper writes "double, five"
        nxt = toks[k].text if k < n else ""
        if nxt in DIGITS:
            return str(DIGITS[nxt]) * REPEATS[w], k + 1
        if nxt.isdigit():  # "double 7", or whisper's "Double 710392" for "double seven one oh three nine two"
            return nxt[0] * REPEATS[w] + nxt[1:], k + 1
        return None
    if w.isdigit():
        return w, j + 1
    if _GROUPED_NUMERAL.match(w):  # ASR writes a spoken digit string as a number: "12,345,678", "2,000615399"
        return w.replace(",", ""), j + 1
    if _DOTTED_DIGITS.match(w):  # or in pieces with dots: "9.0.9.0", "99555.4.4" (not a decimal: 2+ dots)
        return w.replace(".", ""), j + 1
    if _DIGIT_DOT_DIGIT.match(w) and (in_run or _next_is_digit_dot_digit(toks, j)):  # "9.0 9.0"
        return w.replace(".", ""), j + 1
    if w in DIGITS and not (j + 1 < n and toks[j + 1].text in ("hundred", *SCALES)):
        if w in ("oh", "o") and not in_run and not _zero_starts_run(toks, j):
            return None
        return str(DIGITS[w]), j + 1
    if w in UNITS or w in TENS or (w in DIGITS and j + 1 < n):
        parsed = _cardinal(toks, j)
        if parsed and parsed[0] == parsed[0].to_integral():
            return str(int(parsed[0])), parsed[1]
    return None


def _zero_starts_run(toks: list[Token], j: int) -> bool:
    """ "oh" at ``j`` is a zero when another digit follows, maybe after more "oh"s, commas or fillers
    ("oh seven", "Oh, oh, 7"). "Oh, oh, oh, oh" alone (whisper under the digits grammar hearing no digit)
    is no zero."""
    k = j + 1
    while k < len(toks) and (toks[k].text in ("oh", "o") or toks[k].text in _RUN_GLUE or toks[k].text in _RUN_FILLERS):
        k += 1
    return k < len(toks) and (toks[k].text in DIGITS or toks[k].text.isdigit() or toks[k].text in TENS)


def _next_piece_at(toks: list[Token], j: int) -> int:
    """Where the next piece of a digit run may start: after a comma, dash or dot, or a hesitation
    ("four five, uh, six")."""
    k = j
    while k < len(toks) - 1 and k - j < 3 and (toks[k].text in _RUN_GLUE or toks[k].text in _RUN_FILLERS):
        k += 1
    return k


def _for_me(toks: list[Token], at: int, piece: tuple[str, int]) -> bool:
    """Whether the piece at ``at`` is the recogniser's "4" for the "for" of "for me": "track parcel
    5-5-5-5-1, 2-3-4-5-4-me" is nine digits and "for me"; nobody says "four me"."""
    if piece != ("4", at + 1):
        return False
    k = at + 1
    while k < len(toks) and toks[k].text in _RUN_GLUE:
        k += 1
    return k < len(toks) and toks[k].text == "me"


def find_digit_runs(text: str) -> list[Match]:
    """Digit strings as said or written: "four five six", "4 5 6", "double seven", "triple oh", "o four",
    pairs and hundreds ("forty-two seventeen" -> "4217", "nine hundred" -> "900"), with commas, dashes or
    a hesitation between groups ("nine eight seven, uh, six five four")."""
    toks = tokens(text)
    found, i = [], 0
    while i < len(toks):
        piece = _digit_piece(toks, i, in_run=False)
        if piece is None or _for_me(toks, i, piece):
            i += 1
            continue
        digits, j = piece
        start, end = toks[i].start, toks[j - 1].end
        while j < len(toks):
            at = _next_piece_at(toks, j)
            nxt = _digit_piece(toks, at, in_run=True)
            if nxt is None or _for_me(toks, at, nxt):
                break
            digits += nxt[0]
            j = nxt[1]
            end = toks[j - 1].end
        found.append(Match(digits, start, end))
        i = j
    return found


def find_phone_numbers(text: str) -> list[Match]:
    """Digit runs of 7–15 digits; a leading "plus"/"+" is kept."""
    found = []
    for run in find_digit_runs(text):
        if 7 <= len(run.value) <= 15:
            before = text[:run.start].rstrip().lower()
            plus = before.endswith("+") or before.endswith("plus")
            start = run.start - (len(text[:run.start]) - len(before)) - (1 if before.endswith("+") else 4) \
                if plus else run.start
            found.append(Match(("+" if plus else "") + run.value, start, run.end))
    return found


# --------------------------------------------------------------------------------------------------
# Money
# --------------------------------------------------------------------------------------------------

CURRENCY_SYMBOLS = {"$": "USD", "£": "GBP", "€": "EUR"}
CURRENCY_WORDS = {"dollar": "USD", "dollars": "USD", "buck": "USD", "bucks": "USD", "euro": "EUR",
                  "euros": "EUR", "pound": "GBP", "pounds": "GBP", "quid": "GBP"}
CENT_WORDS = {"cent", "cents", "pence", "p"}
_CENT = Decimal("0.01")
# Larger is no amount a caller means, and too long to round to cents: whisper's runaway "$2,300,000,000,…"
MAX_AMOUNT = Decimal(10) ** 15


def find_money(text: str) -> list[Match]:
    """Amounts: "fifty dollars", "$50", "fifty bucks", "twelve dollars and fifty cents", "$12.50",
    "twelve fifty dollars" -> Decimal('12.50'); "ninety nine cents" -> Decimal('0.99')."""
    toks = tokens(text)
    found, i = [], 0
    while i < len(toks):
        symbol = toks[i].text in CURRENCY_SYMBOLS
        parsed = _cardinal(toks, i + 1 if symbol else i)
        if parsed is None:
            i += 1
            continue
        amount, j = parsed
        end_tok = j - 1
        if symbol:
            pass
        elif j < len(toks) and toks[j].text in CURRENCY_WORDS:
            end_tok, j = j, j + 1
        elif j < len(toks) and toks[j].text in CENT_WORDS and amount < 100:
            found.append(Match((amount * _CENT).quantize(_CENT), toks[i].start, toks[j].end))
            i = j + 1
            continue
        elif (j + 1 < len(toks) and toks[j + 1].text in CURRENCY_WORDS and amount < 100
              and (cents_first := _cardinal(toks, j)) and cents_first[1] == j + 1 and cents_first[0] < 100):
            amount, end_tok, j = amount + cents_first[0] * _CENT, j + 1, j + 2  # "twelve fifty dollars"
        else:
            i = j
            continue
        k = j + 1 if j < len(toks) and toks[j].text == "and" else j
        cents = _cardinal(toks, k) if k < len(toks) else None
        if cents and cents[0] < 100:
            after = cents[1]
            if after < len(toks) and toks[after].text in CENT_WORDS:
                amount, end_tok, j = amount + cents[0] * _CENT, after, after + 1
            elif k == j and not symbol and (after == len(toks) or toks[after].text in ".,!?"):
                amount, end_tok, j = amount + cents[0] * _CENT, after - 1, after  # "twelve dollars fifty"
        if amount < MAX_AMOUNT:
            found.append(Match(amount.quantize(_CENT), toks[i].start, toks[end_tok].end))
        i = j
    return found


# --------------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------------

MONTHS = {name: n for n, names in enumerate(
    [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
     ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"),
     ("november", "nov"), ("december", "dec")], start=1) for name in names}
WEEKDAYS = {name: n for n, names in enumerate(
    [("monday", "mon"), ("tuesday", "tue", "tues"), ("wednesday", "wed"), ("thursday", "thu", "thurs"),
     ("friday", "fri"), ("saturday", "sat"), ("sunday", "sun")]) for name in names}
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_SLASH_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?\b")


def _day(toks: list[Token], j: int) -> tuple[int, int] | None:
    """A day of the month at token j: "23rd", "23", "twenty third", "third", "twenty three"."""
    if j >= len(toks):
        return None
    w = toks[j].text
    if m := _ORDINAL_NUMERAL.match(w):
        return int(m.group(1)), j + 1
    if w in ORDINALS:
        return ORDINALS[w], j + 1
    if w in TENS and j + 1 < len(toks) and toks[j + 1].text in ORDINALS and ORDINALS[toks[j + 1].text] < 10:
        return TENS[w] + ORDINALS[toks[j + 1].text], j + 2
    if w.isdigit() and 1 <= int(w) <= 31:
        return int(w), j + 1
    parsed = _cardinal(toks, j)
    if parsed and 1 <= parsed[0] <= 31 and parsed[0] == parsed[0].to_integral():
        return int(parsed[0]), parsed[1]
    return None


def _year(toks: list[Token], j: int) -> tuple[int, int] | None:
    """A year at token j: "2027", "twenty twenty seven", "two thousand and six", "nineteen eighty five", after a
    comma or a word the recogniser puts between a day and its year ("March 14th to 1985", "August 30 of 1969")."""
    if j < len(toks) and toks[j].text in (",", "of", "to", "in"):
        j += 1
    if j >= len(toks):
        return None
    w = toks[j].text
    if w.isdigit() and len(w) == 4:
        return int(w), j + 1
    if w in UNITS and UNITS[w] >= 10 or w in TENS:  # "nineteen eighty five", "twenty twenty six"
        century = UNITS.get(w) or TENS[w]
        rest = _cardinal(toks, j + 1)
        if 19 <= century <= 20 and rest and rest[0] < 100:
            return int(century * 100 + rest[0]), rest[1]
    parsed = _cardinal(toks, j)
    if parsed and 1900 <= parsed[0] <= 2100:
        return int(parsed[0]), parsed[1]
    return None


def _resolve(month: int, day: int, year: int | None, today: date) -> date | None:
    try:
        if year is not None:
            return date(year, month, day)
        candidate = date(today.year, month, day)
        return candidate if candidate >= today else date(today.year + 1, month, day)
    except ValueError:
        return None


def find_dates(text: str, today: date | None = None) -> list[Match]:
    """Dates as ``datetime.date``: "twenty third of March", "March 23rd", "the 1st of may 2027", "3/23",
    "2026-03-23", "today", "tomorrow", "day after tomorrow", "yesterday", "next Monday", "in 3 days"."""
    today = today or date.today()
    found: list[Match] = []
    for m in _ISO_DATE.finditer(text):
        if d := _resolve(int(m.group(2)), int(m.group(3)), int(m.group(1)), today):
            found.append(Match(d, m.start(), m.end()))
    for m in _SLASH_DATE.finditer(text):
        year = m.group(3) and int(m.group(3)) + (2000 if len(m.group(3)) == 2 else 0)
        if d := _resolve(int(m.group(1)), int(m.group(2)), year, today):
            found.append(Match(d, m.start(), m.end()))
    toks = tokens(text)
    i = 0
    while i < len(toks):
        w = toks[i].text
        match: tuple[date | None, int] | None = None
        if w in MONTHS and not (w == "may" and not _day(toks, i + 1)):
            k = i + 2 if i + 1 < len(toks) and toks[i + 1].text == "the" else i + 1
            if day := _day(toks, k):
                year = _year(toks, day[1])
                match = _resolve(MONTHS[w], day[0], year and year[0], today), (year or day)[1]
        elif (day := _day(toks, i + 1 if w == "the" else i)) is not None:
            k = day[1] + (1 if day[1] < len(toks) and toks[day[1]].text == "of" else 0)
            if k < len(toks) and toks[k].text in MONTHS:
                year = _year(toks, k + 1)
                match = _resolve(MONTHS[toks[k].text], day[0], year and year[0], today), \
                    year[1] if year else k + 1
            elif w == "the" and _is_ordinal(toks[day[1] - 1].text):  # "the 5th": the next 5th of a month
                match = _next_day_of_month(day[0], today), day[1]
        if match is None:
            match = _relative_date(toks, i, today)
        if match and match[0] is not None:
            found.append(Match(match[0], toks[i].start, toks[match[1] - 1].end))
            i = match[1]
        else:
            i += 1
    return sorted(found, key=lambda m: m.start)


def _is_ordinal(word: str) -> bool:
    return word in ORDINALS or bool(_ORDINAL_NUMERAL.match(word))


def _next_day_of_month(day: int, today: date) -> date | None:
    year, month = today.year, today.month
    for _ in range(3):
        try:
            candidate = date(year, month, day)
        except ValueError:
            candidate = None
        if candidate and candidate >= today:
            return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def _relative_date(toks: list[Token], i: int, today: date) -> tuple[date, int] | None:
    words = [t.text for t in toks[i:i + 4]]
    if words[:4] == ["the", "day", "after", "tomorrow"] or words[:3] == ["day", "after", "tomorrow"]:
        return today + timedelta(days=2), i + (4 if words[0] == "the" else 3)
    if words[:4] == ["the", "day", "before", "yesterday"] or words[:3] == ["day", "before", "yesterday"]:
        return today - timedelta(days=2), i + (4 if words[0] == "the" else 3)
    shifts = {"today": 0, "tonight": 0, "tomorrow": 1, "tmrw": 1, "yesterday": -1}
    if words[0] in shifts:
        return today + timedelta(days=shifts[words[0]]), i + 1
    if words[0] in ("next", "this", "last", "coming") and len(words) > 1 and words[1] in WEEKDAYS:
        ahead = (WEEKDAYS[words[1]] - today.weekday()) % 7
        if words[0] == "last":
            return today - timedelta(days=(today.weekday() - WEEKDAYS[words[1]]) % 7 or 7), i + 2
        return today + timedelta(days=ahead or (7 if words[0] == "next" else 0)), i + 2
    if words[0] in WEEKDAYS and len(words[0]) > 3:
        return today + timedelta(days=(WEEKDAYS[words[0]] - today.weekday()) % 7), i + 1
    if words[0] == "in" and len(words) > 2:
        amount = _cardinal(toks, i + 1) if words[1] != "a" else (Decimal(1), i + 2)
        if amount and amount[1] < len(toks) and amount[0] == amount[0].to_integral():
            unit = toks[amount[1]].text
            days = {"day": 1, "days": 1, "week": 7, "weeks": 7}.get(unit)
            if days:
                return today + timedelta(days=int(amount[0]) * days), amount[1] + 1
    return None


# --------------------------------------------------------------------------------------------------
# Times
# --------------------------------------------------------------------------------------------------

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_HALF_DAY = {"am": "am", "pm": "pm", "morning": "am", "afternoon": "pm", "evening": "pm", "tonight": "pm",
             "night": "pm"}
_DOTTED_HALF_DAY = re.compile(r"\b([ap])\.m\.?", re.IGNORECASE)


def _hour_24(hour: int, half: str | None) -> int:
    if half == "am":
        return 0 if hour == 12 else hour
    if half == "pm":
        return hour if hour == 12 else hour + 12
    return hour + 12 if 1 <= hour <= 7 else hour


def _half_day(toks: list[Token], j: int) -> tuple[str | None, int]:
    """am/pm marker after a time: "pm", "p m", "in the morning", "this afternoon", "at night", "tonight"."""
    words = [t.text for t in toks[j:j + 3]]
    if words[:2] in (["a", "m"], ["p", "m"]):
        return words[0] + "m", j + 2
    if words[:1] and words[0] in ("am", "pm", "tonight"):
        return _HALF_DAY[words[0]], j + 1
    if words[:2] == ["in", "the"] and len(words) > 2 and words[2] in _HALF_DAY:
        return _HALF_DAY[words[2]], j + 3
    if words[:1] and words[0] in ("this", "at") and len(words) > 1 and words[1] in _HALF_DAY:
        return _HALF_DAY[words[1]], j + 2
    return None, j


def _small(toks: list[Token], j: int, limit: int) -> tuple[int, int] | None:
    parsed = _cardinal(toks, j) if j < len(toks) and _is_number_word(toks[j].text) else None
    if parsed and parsed[0] == parsed[0].to_integral() and 0 <= parsed[0] <= limit:
        return int(parsed[0]), parsed[1]
    return None


def find_times(text: str) -> list[Match]:
    """Times of day as ``datetime.time``: "half past two", "quarter to three", "ten past four",
    "two thirty", "2:30 pm", "three o'clock", "seven pm", "noon", "14:30"."""
    text = _DOTTED_HALF_DAY.sub(lambda m: m.group(1) + "m" + " " * (len(m.group()) - 2), text)  # same offsets
    toks = tokens(text)
    found, i = [], 0
    while i < len(toks):
        w = toks[i].text
        hit: tuple[int, int, int] | None = None  # hour (1-12 or 0-23), minute, next index
        rel = {"half": 30, "quarter": 15}.get(w)
        if w in ("noon", "midday"):
            found.append(Match(time(12, 0), toks[i].start, toks[i].end))
            i += 1
            continue
        if w == "midnight":
            found.append(Match(time(0, 0), toks[i].start, toks[i].end))
            i += 1
            continue
        if m := _CLOCK.match(w):
            hit = int(m.group(1)), int(m.group(2)), i + 1
        elif rel is None and (minutes := _small(toks, i, 30)) and minutes[1] < len(toks) \
                and toks[minutes[1]].text in ("past", "after", "to", "till") \
                and (hour := _small(toks, minutes[1] + 1, 12)):
            sign = -1 if toks[minutes[1]].text in ("to", "till") else 1
            hit = _relative(hour[0], sign * minutes[0]) + (hour[1],)
        elif rel is not None and i + 2 < len(toks) and toks[i + 1].text in ("past", "after", "to", "till") \
                and (hour := _small(toks, i + 2, 12)):
            sign = -1 if toks[i + 1].text in ("to", "till") else 1
            hit = _relative(hour[0], sign * rel) + (hour[1],)
        elif (hour := _small(toks, i, 12)) and hour[0] >= 1:
            j = hour[1]
            if j < len(toks) and toks[j].text in ("o'clock", "oclock"):
                hit = hour[0], 0, j + 1
            elif (j < len(toks) and toks[j].text in ("oh", "o") and (mins := _small(toks, j + 1, 9))):
                hit = hour[0], mins[0], mins[1]  # "nine oh five"
            elif (mins := _small(toks, j, 59)) and mins[0] >= 10 and _is_time_context(toks, i, mins[1]):
                hit = hour[0], mins[0], mins[1]  # "two thirty"
            elif _half_day(toks, j)[0] is not None or _is_time_context(toks, i, j):
                hit = hour[0], 0, j  # "seven pm", "at three"
        if hit is None:
            i += 1
            continue
        hour, minute, j = hit
        half, j2 = _half_day(toks, j)
        if not 0 <= hour <= 23 or not 0 <= minute <= 59:
            i += 1
            continue
        value = time(hour if hour > 12 else _hour_24(hour, half), minute)
        end = toks[(j2 if half else j) - 1].end
        found.append(Match(value, toks[i].start, end))
        i = j2 if half else j
    return found


def _is_time_context(toks: list[Token], i: int, j: int) -> bool:
    """"two thirty" is a time only near "at"/"by"/"around" or an am/pm marker (not a digit string); "before
    ten", "after five", "between two and four" too, unless a unit follows ("after five days")."""
    before = toks[i - 1].text if i > 0 else ""
    after = toks[j].text if j < len(toks) else ""
    return (before in ("at", "by", "around", "about", "until", "till", "from")
            or (before in ("before", "after", "between") and after not in _UNITS)
            or _half_day(toks, j)[0] is not None)


# Words that make "after five …" a count, not a time.
_UNITS = frozenset("minute minutes min mins hour hours day days week weeks month months year years time "
                   "times pound pounds dollar dollars euro euros percent items item of".split())


def _relative(hour: int, minutes: int) -> tuple[int, int]:
    total = (hour % 12) * 60 + minutes
    h, m = divmod(total % (12 * 60), 60)
    return (h or 12), m


# --------------------------------------------------------------------------------------------------
# Yes / no, e-mail, corrections, compact spoken codes
# --------------------------------------------------------------------------------------------------

_NO = re.compile(
    r"\b((?<!wouldn't say )(?<!would not say )no(?! (?:problem|worries|idea|clue|one|doubt|bother)\b)"
    r"(?!\W+i (?:don'?t|do not) mind(?: at all)?\W*$)|nope|nah|"  # "no, I don't mind": a yes
    r"naw|nae(?! bother\b)|negative|incorrect|wrong|"
    r"(?:i'?m |i am )?afraid not|(?:i'?ll|i will) pass|"
    # the recogniser's "no" at the start of an answer: "know that's someone else's number"
    r"^\W*know(?= that| thanks| thank you)|unfortunately not|nuh-? ?uh|don'?t worry about it|"
    # and its "now" for "nah": "now that's it thanks", "now you're all right", "now i'm right thanks"
    r"^\W*now(?=\W+(?:that'?s (?:it|all|everything)|you'?re (?:all ?right|alright|ok|okay|good|fine)|"
    r"i'?m (?:all )?(?:right|good|fine|ok|okay|alright|grand|sorted|set)|leave it|i want(?:ed)?\b))|"
    r"^\W*(?:and|in) correct\W*$|"  # "incorrect" as the recogniser may write it
    r"(?:i'?d|i would) prefer (?:you|it) (?:didn'?t|did not|wasn'?t|was not)|"
    r"(?:that'?s|that is|it'?s|it is) not my (?:number|account|order)|"
    r"^\W*not(?=\W*$)|not (?:really(?! sure)|right|correct|quite)|"
    # an answer opening with "not" (the recogniser's "nah": "nah, you're alright" heard "not you're alright")
    r"^\W*not\b(?!\W+(?:sure|certain|a problem|bad|that I know|where|what|how|why|when|who)\b)|"
    r"that'?s (?:not right|not correct|wrong|incorrect)|"
    r"(?:i )?(?:don'?t|do not) think (?:so|(?:that'?s|it'?s|that is|it is) (?:right|correct|it))|no way|"
    r"not at all|(?:absolutely|of course|definitely|certainly|surely|obviously) not|cancel|"
    r"not (?:yet|now|today|at the moment)|"
    r"(?:i'?d|i would) rather not|rather not|(?:i )?(?:don'?t|do not) (?:want|need)|please don'?t|"
    r"maybe (?:later|another time)|never ?mind|not interested|no need|that'?s me (?:sorted|done)|"
    r"(?:i'?m|i am) (?:ok|okay|good|alright|all right|sorted|grand)(?: thanks| thank you)?|hold off|"
    r"not just yet|^\W*uh[- ]?uh(?=\W*$)|"  # (not "uh-huh")
    r"(?:don'?t|do not) (?:do|block|cancel|send|book|change|bother|go ahead|text|call|ring|phone|e-?mail|"
    r"put me|transfer)|better not|"
    r"(?:i'?d|i would|i) (?:rather|sooner) you (?:didn'?t|did not|wouldn'?t)|"
    r"(?:won'?t|will not) be necessary|"
    r"(?:i'?d|i would) sooner not|(?:i'?m|i am) not (?:comfortable|happy|keen|okay|ok) (?:with|about)\b|"
    # "you're alright (thanks)": no thanks; "you're way off"; a digit said as it should be
    r"^\W*you'?re (?:alright|all right|ok|okay|fine|good)\b(?!\W+(?:but|though)\b)|"
    r"(?:way|miles|a mile|completely|totally) off|not even close|"
    r"should (?:be|have been|say|read) (?:an? )?"
    r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|\d)\b|"
    r"not necessary|leave it (?:for now|as it is|alone|be)|that'?s not (?:it|the one)|"
    r"(?:i'?ll|i will|we'?ll|i'?d better|i) leave it|not for (?:me|us)|^\W*na\b|"
    r"(?:i'?ll|i will|i can|i'?d rather|i would rather|i'?d sooner|i'?d prefer to) (?:\w+ ){1,4}?myself|"
    r"that'?s not what i (?:said|ask(?:ed)? for|meant|wanted)|"
    r"(?:i'?d |i would )?prefer not(?: to)?)\b",
    re.IGNORECASE)
_YES = re.compile(
    r"\b(yes|yeah|yea|yep|yup|yas|aye|ja|^\W*ya(?= ya\b|\W*$)|"
    r"(?<!not )(?<!n't )(?<!not really )(?<!n't really )sure|"
    r"correct|right|exactly|affirmative|absolutely|totally|course you can|"
    r"definitely|certainly|"
    r"of course|please do|go ahead|go on|go for it|okay|ok|alright|all right|uh-huh|mm-? ?hm+|righto|right-o|"
    r"by all means|obviously|(?<!n't )(?<!not )do that|"
    # "mm hmm" as the recogniser writes it: "mm hm", "mmh mmh", "m h m m"
    r"m+\s?h+\s?m+h?(?:\s?m+h?)*|"
    r"that'?s (?:right|correct|it|fine)|it is|that is|"
    r"i do(?! not)|i did(?! not)|i would(?! not)|i'?d like that|"
    r"sounds (?:good|great)|"
    r"perfect|no (?:problem|worries)|why not|let'?s do (?:it|that)|do it|i think so|"
    r"(?:i'?m|i am|i'?d be|i would be) (?:happy|glad) to|(?:i'?m|i am) happy with that|"
    r"(?<!i'm )(?<!i am )fine|(?:that|it) works|works for me|suits me|uh huh|mhm|"
    r"(?:that would|that'?d) be (?:great|lovely|good|brilliant|perfect)|i (?:suppose|guess) so|"
    r"that'?s the one|(?:that|it)'?s my (?:number|account|order)|(?:that|it) is my (?:number|account|order)|"
    r"you(?:'ve)? got it|you bet|spot on|bang on|indeed|too right|for sure|no doubt|"
    r"without (?:a|any|the) doubt|"
    # "sure thing" as the recogniser writes it; "that's lovely"; "there you go"
    r"(?:sure|short|shirt) thing|(?:that'?s|that is) (?:lovely|great|brilliant|grand)|there you go|"
    r"(?:i )?(?:don'?t|do not) mind(?: at all)?(?!\W+(?:either|which|whichever|what))|"
    r"(?:wouldn'?t|would not) say no|n(?:o|ae) bother|"
    r"(?:fire|ask|record|shoot) away|"
    r"(?:a |one )?hundred (?:percent|per cent)|100(?= ?(?:%|percent|per cent))|"
    r"^\W*please(?=\W*$))\b", re.IGNORECASE)
# Neither a yes nor a no: "yes and no", "sort of yes, sort of no"; "sort of, but not really"
_YES_AND_NO = re.compile(r"\b(?:yes|yeah) and no\b|\b(?:sorta|sort of|kinda|kind of) (?:yes|yeah)\b",
                         re.IGNORECASE)
_YEAH_NO = re.compile(r"^\W*(?:yeah|yes|yep)\W+no\W+(?=\w)", re.IGNORECASE)
_SORT_OF_NOT = re.compile(r"\b(?:sorta|sort of|kinda|kind of)\W+but not\b", re.IGNORECASE)
# A hedge is no yes: part of it right ("half of it's right", "the first bit was right", "the first part is
# right but …"), "it depends (what it is)", a condition ("only if it's free"), one part named ("only the
# house number is right")
_HEDGED = re.compile(
    r"\b(?:half|part|some|most|bits?|(?:first|last|second) (?:bits?|part|half|few)|start|beginning|end)"
    r"(?: of it)?(?:'s| is| was| are| were| of its)? (?:right|correct)\b|\bit (?:all )?depends\b|\bonly if\b|"
    r"\b(?:only|just) (?:the|that|this|my) (?:\w+ ){0,2}?\w+(?:'s| is| was| are| were) (?:right|correct)\b|"
    r"\b(?:right|correct)\W+but (?:the|my|that|this) (?:\w+ ){0,2}?\w+(?:'s| is)? ?(?:isn'?t|not)\b",
    re.IGNORECASE)
# An acknowledgement that is no answer when a question follows it ("Right, so what happens now?", "Sure, what
# was the question?"); a yes of substance stays one ("yes, how long will it take?").
_WEAK_YES = frozenset(("right", "sure", "okay", "ok", "alright", "all right", "fine"))
_QUESTION = re.compile(r"^\W*(?:so |and |but )?(?:what|what's|which|who|who's|how|why(?! not)|where|when|"
                       r"is it|is there|is this|is that|was that|are you|do you|does|did you|can you|"
                       r"could you|will it|can i|could i|should i)\b|\?\W*$",
                       re.IGNORECASE)
# after an acknowledgement, a question in the same breath ("right and then what", "sure about what")
_QUESTION_NEXT = re.compile(
    r"^\W*(?:(?:so|and|but|then|about|of)\W+)*(?:what|which|who|how|why(?! not)|where|when)\b", re.IGNORECASE)
_CLAUSE = re.compile(r"[^,.;!?]*[,.;!?]*")
# The end of a request list ("Anything else?" "That's all."): a no when no yes word is said.
_DONE = re.compile(
    r"\b(that'?s (?:all|everything|it for (?:now|today))|that is all|nothing (?:else|more)|"
    r"(?:i'?m|i am) (?:good|done|all set|all said|fine)|all (?:set|done)|that'?ll be all|that will be all)\b",
    re.IGNORECASE)  # ("all said": the recogniser's "all set")
# A farewell ending the answer ("Okay, goodbye.", "thanks, bye bye"): the caller is done, whatever an
# acknowledgement before it says; only a yes of substance ("yes", "sure", "please do") still counts.
_BYE = r"good ?bye|bye(?:[ -]bye)?"
_FAREWELL = re.compile(rf"\b(?:{_BYE}|see you(?: later| soon)?|take care)(?: now| then| for now)?\W*$",
                       re.IGNORECASE)
_ACKNOWLEDGEMENTS = frozenset(("okay", "ok", "alright", "all right", "right", "fine", "perfect"))


# The whole answer says the caller needs nothing more: "no, that's everything, thanks", "nope, I'm all set".
_LEADS = r"(?:no|nope|nah|okay|ok|alright|great|lovely|right|well|um|uh|actually|and|so|oh|thanks|thank you)"
_CLOSINGS = (r"(?:that'?s (?:all|everything|it)|that is all|nothing (?:else|more)|"
             r"(?:i'?m|i am) (?:all )?(?:good|done|set|fine)|all (?:set|done)|that'?ll be all|"
             r"that will be all|"
             r"that was (?:all|everything) i needed|no more questions)")
_TAILS = (r"(?:(?:thanks|thank you)(?: very much| so much| a lot| again| anyway)?|thanks a million|ta|"
          r"cheers|mate|love|much appreciated|appreciate it|have a (?:good|nice|great) (?:day|one|evening)|"
          rf"{_BYE}|for (?:now|today)|then|really)")
_SAYS_DONE = re.compile(rf"^(?:{_LEADS}\W+)*{_CLOSINGS}(?:\W+{_TAILS})*\W*$", re.IGNORECASE)


def says_done(text: str) -> bool:
    """Whether the whole answer says the caller needs nothing more ("nope, that's everything, thanks"): at a
    menu reached again after "Anything else?", the end of the call, not a request out of scope."""
    return bool(_SAYS_DONE.match(text.strip()))


# "I'm fine" as small talk, not "no thanks": "I'm fine thanks, how are you?", "I'm fine, but my parcel isn't"
_SMALL_TALK = re.compile(r"^\W*(?:well\W+)?(?:i'?m|i am) (?:fine|good|ok|okay|alright|all right)\b"
                         r"[^.?!]*?(?:\bbut\b|how are you)", re.IGNORECASE)


def find_yes_no(text: str) -> Match | None:
    """True for "yes", "yeah go on", "sure thing", "that's right"…; False for "no", "nope", "not yet",
    "I'd rather not", "not right now, I'll think about it", "that's wrong"….

    A negation wins when it comes first ("no, that's not right"; "not correct"). Without a yes or no
    word, the end of a request list is a no ("that's all", "nothing else", "that's everything"), and so is an
    answer ending in a farewell after at most an acknowledgement ("okay, goodbye"). "Yeah, no" before a yes is
    that yes ("yeah no that's right")."""
    if (lead := _YEAH_NO.match(text)) and (rest := find_yes_no(text[lead.end():])) and rest.value is True:
        return Match(True, lead.end() + rest.start, lead.end() + rest.end)
    no, yes = _NO.search(text), _YES.search(text)
    if (no and yes and _YES_AND_NO.search(text)) or _SORT_OF_NOT.search(text):
        return None
    if _SMALL_TALK.search(text) and not (no and no.group().lower() in ("no", "nope", "nah")):
        return None
    if no and _in_question(text, no):  # "what do you mean, yes or no?"
        no = None
    if no and (not yes or no.start() <= yes.start() or no.end() >= yes.end()):
        return Match(False, no.start(), no.end())
    if yes and _HEDGED.search(text):
        yes = None
    farewell = _FAREWELL.search(text)
    if farewell and (not yes or yes.group().lower() in _ACKNOWLEDGEMENTS):
        return Match(False, farewell.start(), farewell.end())
    if yes and not _asked_back(text, yes):
        return Match(True, yes.start(), yes.end())
    if done := _DONE.search(text):
        return Match(False, done.start(), done.end())
    return None


def _own_clause(text: str, word: re.Match) -> tuple[int, int] | None:
    clauses = [(m.start(), m.end()) for m in _CLAUSE.finditer(text) if m.group().strip()]
    return next(((a, b) for a, b in clauses if a <= word.start() < b), None)


def _in_question(text: str, word: re.Match) -> bool:
    """``word``'s own clause is a question ("Is it the right one?", "what do you mean, yes or no")."""
    own = _own_clause(text, word)
    return own is not None and bool(_QUESTION.search(text[own[0]:own[1]]))


def _asked_back(text: str, yes: re.Match) -> bool:
    """The yes word is no answer: its own clause is a question ("Is it the right one?", "Yes? Who is this?"),
    or it is a mere acknowledgement and a question follows ("Right, so what happens now?")."""
    clauses = [(m.start(), m.end()) for m in _CLAUSE.finditer(text) if m.group().strip()]
    own = _own_clause(text, yes)
    if own is None:
        return False
    if _in_question(text, yes):
        return True
    later = [text[a:b] for a, b in clauses if a >= own[1]]
    if yes.group().lower() not in _WEAK_YES:
        return False
    # the recogniser's transcript of an answer often has no punctuation: "right so what happens now"
    return any(_QUESTION.search(c) for c in later) or bool(_QUESTION_NEXT.search(text[yes.end():own[1]]))


# Number words as the recogniser mishears a lone short answer ("four" -> "for.", "three" -> "Free.").
# Only read when the whole answer is that one word and a small number is expected.
HOMOPHONES = {"won": 1, "to": 2, "too": 2, "tu": 2, "free": 3, "tree": 3, "for": 4, "fore": 4, "fo": 4,
              "ate": 8}
# Readings plausible only on a rating scale (1 to 5..10): "five" heard as "Bye." or "Fine."
SCALE_HOMOPHONES = {"bye": 5, "fine": 5}
# Words around a short answer that do not change it ("um, number four please", "I'd say three").
_SHORT_FILLERS = {"um", "uh", "er", "erm", "hmm", "mm", "ah", "well", "so", "i", "i'd", "id", "say", "think",
                  "guess", "it's", "its", "it", "is", "a", "an", "the", "number", "option", "press",
                  "pressing",
                  "please", "maybe", "probably", "like", "about", "give", "i'll", "go", "with", "just",
                  "definitely", "ok", "okay", "yeah", "let's", "lets", "choose", "pick", "take", "that's",
                  "thats", "one", "star", "stars"}
_OUT_OF = re.compile(r"\b(?:out )?of (?:five|ten|5|10)\b", re.IGNORECASE)  # "four out of five"


def find_short_number(text: str, low: int, high: int) -> Match | None:
    """A lone small number answering a numeric choice: "four", "4", "number four please", "for." -> 4;
    "the second one" -> 2.

    The answer must be that one number (with filler words at most: a "for" inside a sentence is not 4).
    Homophones (``HOMOPHONES``) count; "bye" / "fine" for five only on a rating scale (``low`` 1, ``high``
    5-10)."""
    text = _OUT_OF.sub(lambda m: " " * len(m.group()), text)  # same offsets
    toks = [t for t in tokens(text) if t.text.isalnum() or "'" in t.text]
    content = [t for t in toks if t.text not in _SHORT_FILLERS]
    if not content and toks and [t.text for t in toks].count("one") == 1:
        content = [t for t in toks if t.text == "one"]  # "one" is both a filler ("the first one") and 1
    if len(content) > 1 and {t.text for t in content} == {content[0].text} \
            and {t.text for t in toks if t.text in UNITS or t.text.isdigit()} == {content[0].text}:
        content = content[:1]  # the same number said twice: "two, two"
    if len(content) != 1:
        return None
    tok = content[0]
    w = tok.text
    value = UNITS.get(w)
    if value is None and w.isdigit():
        value = int(w)
    if value is None:
        value = HOMOPHONES.get(w)
    if value is None and w in ORDINALS and ORDINALS[w] < 10:  # "the second one", "first option"
        value = ORDINALS[w]
    if value is None and low == 1 and 5 <= high <= 10:
        value = SCALE_HOMOPHONES.get(w)
    if value is None or not low <= value <= high:
        return None
    return Match(value, tok.start, tok.end)


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_EMAIL_WORDS = {"at": "@", "dot": ".", "period": ".", "point": ".", "underscore": "_", "dash": "-",
                "hyphen": "-", "minus": "-", "plus": "+"}


def find_email(text: str) -> Match | None:
    """An e-mail address, written or spoken: "john dot smith at example dot com" -> "john.smith@example.com"."""
    if m := _EMAIL.search(text):
        return Match(m.group().lower().rstrip("."), m.start(), m.end())
    toks = [t for t in tokens(text) if t.text not in (",",)]
    at = [k for k, t in enumerate(toks) if t.text in ("at", "@")]
    for k in at:
        right, j = [], k + 1
        while j < len(toks):
            w = toks[j].text
            if w in ("dot", "period", "point", ".") and j + 1 < len(toks):
                right.append(".")
            elif w in ("dash", "hyphen", "-"):
                right.append("-")
            elif (w.isalnum() and not (right and right[-1] not in ".-")) or w.isdigit():
                right.append(w)
            elif w.isalpha() and len(right[-1]) == 1 and right[-1].isalpha():
                right[-1] += w  # a name spelt apart: "at g mail dot com"
            else:
                break
            j += 1
        domain = "".join(right)
        if "." not in domain.strip(".") or domain.endswith("."):
            continue
        left, i = [], k - 1
        while i >= 0:
            w = toks[i].text
            if w in _EMAIL_WORDS and w != "at":
                left.append(_EMAIL_WORDS[w])
            elif w in DIGITS and w not in ("o", "oh"):
                left.append(str(DIGITS[w]))
            elif w.isalnum() and (len(w) == 1 or not left or left[-1] in "._-+" or _spelled(left)):
                left.append(w)
            else:
                break
            i -= 1
            if left and len(left[-1]) > 1 and (i < 0 or toks[i].text not in _EMAIL_WORDS) \
                    and not (i >= 0 and len(toks[i].text) == 1 and _spelled(left)):
                break
        if left and left[-1] not in "._-+":
            return Match("".join(reversed(left)) + "@" + domain, toks[i + 1].start, toks[j - 1].end)
    return None


def _spelled(pieces: list[str]) -> bool:
    return bool(pieces) and all(len(p) == 1 for p in pieces)


_CORRECTION = re.compile(
    r"(?:^|[.,!?]\s*|\b)(?:no[,.!]?\s+)?(?:i said|i meant|i mean|it'?s actually|actually(?: it'?s)?|"
    r"sorry,? (?:i meant|it'?s)|not that,?|that'?s wrong,?|that'?s not (?:right|it),?|"
    r"correction,?|let me correct (?:that|it),?|make that|change (?:that|it) to|it should be|"
    r"should be|it'?s)\s+(?P<value>.+)$", re.IGNORECASE)
_LEADING_NO = re.compile(r"^\s*(?:no|nope|nah)\b[,.!]?\s+(?P<value>.+)$", re.IGNORECASE)


# The caller says the bot got an earlier answer wrong, in so many words: "no, I said …", "that's not what I said".
_MISHEARD = re.compile(
    r"^\W*(?:(?:no|nope|nah|sorry|um|uh|oh|well)\W+)*(?:i said|i meant|that'?s (?:wrong|not (?:right|it|what i "
    r"said))|that is (?:wrong|not right)|not that|you misheard|you got (?:that|it) wrong|correction)\b",
    re.IGNORECASE)


def names_a_mishearing(text: str) -> bool:
    """Whether the caller opens by saying an earlier answer was taken wrong ("No, I said …", "that's wrong, …"):
    a correction even when what follows cannot be read."""
    return bool(_MISHEARD.match(text))


def find_correction(text: str) -> str | None:
    """The corrected part of a correction: "no, I said 4 5 7" -> "4 5 7"; "no it's the 5th" -> "the 5th".

    A bare "no" is not a correction (None): the dialog treats it as a denial.
    """
    m = _CORRECTION.search(text)
    if m is None or not (text[:m.start("value")].strip().lower().startswith(("no", "nope", "nah", "i ", "not",
                                                                               "sorry", "actually", "that",
                                                                               "correction", "let", "make",
                                                                               "change", "it", "should"))):
        m = _LEADING_NO.match(text)
        if m is None:
            return None
    value = m.group("value").strip(" .!?,")
    while (again := _CORRECTION.match(value)) and again.start("value") > 0:
        value = again.group("value").strip(" .!?,")  # "actually make that fifty" -> "fifty"
    return value or None


# Said inside one answer, between a value and the value that replaces it: "Tuesday, no sorry, Wednesday".
_TAKE_BACK = re.compile(r"\b(?:no|nope|sorry|i mean|i meant|actually|or rather|scratch that|make (?:that|it)|"
                        r"correction|let me start (?:again|over))\b[\s,.!?;:-]*", re.IGNORECASE)


def _last_take_back(text: str) -> re.Match[str] | None:
    """The last take-back in ``text`` with words on both sides of it."""
    last = None
    for match in _TAKE_BACK.finditer(text):
        if re.search(r"\w", text[:match.start()]) and re.search(r"\w", text[match.end():]):
            last = match
    return last


def find_restatement(text: str) -> tuple[str, str] | None:
    """An answer taken back and said again in one breath, split at the last take-back: "Tuesday, no sorry,
    Wednesday" -> ("Tuesday, no sorry, ", "Wednesday"). None when nothing comes before or after it. The caller
    keeps the restated part only when both parts hold a value of the slot asked for ("Tuesday, no later than
    noon" is no restatement)."""
    last = _last_take_back(text)
    return (text[:last.end()], text[last.end():]) if last is not None else None


def take_back_words(text: str) -> str | None:
    """What was said between a number and the number that replaces it, around the last take-back in ``text``
    ("7 7 2 2. Sorry, I mean 7 7 2 8" -> "Sorry, I mean"); None when there is no take-back
    (:func:`find_restatement`)."""
    last = _last_take_back(text)
    if last is None:
        return None
    first = last.start()
    for match in reversed(list(_TAKE_BACK.finditer(text[:first]))):
        if match.end() != first:
            break
        first = match.start()  # "no sorry": one take-back in two cues
    runs = find_digit_runs(text)
    start = max((run.end for run in runs if run.end <= last.start()), default=first)
    end = min((run.start for run in runs if run.start >= last.end()), default=last.end())
    return text[start:end].strip(" ,.!?;:-")


@dataclass(frozen=True, slots=True)
class DigitEdit:
    """A caller's fix to a digit string read back to them.

    ``kind``: "at" (the digit at ``position`` is ``digits``; 0-based, negative from the end), "from" (the
    digits from ``position`` on are ``digits``: "the fifth is a zero, then three one nine"), "end" (it ends
    in ``digits``), "start" (it starts with ``digits``), "append" / "prepend" (``digits`` are added at the
    end / the start)."""

    kind: Literal["at", "from", "end", "start", "append", "prepend"]
    digits: str
    position: int = 0


_EDIT_VERB = r"(?:'s|\s+is|\s+was|\s+are|\s+were|\s+should\s+be|\s+needs?\s+to\s+be|\s+actually|\s+an?|\s+:)*"
_EDIT_ORDINAL = (r"(?P<ord>(?:second|third)[\s-]+(?:to[\s-]+)?last|(?:one|digit|number) before (?:the )?last|"
                 r"(?:one|digit|number) (?:just |right )?before the \w+ (?:at|on) the end|"
                 r"last but one|penultimate|last|final|[a-z]+(?:st|nd|rd|th)|\d{1,2}(?:st|nd|rd|th))")
# counted from the end: "the third from the end is a seven", "counting from the end, the third one …"
_FROM_END = r"\s+from\s+(?:the\s+)?(?:end|last|back|right)"
_COUNTED_FROM_END = re.compile(rf"\bcount(?:ing|ed)?(?:\s+(?:it|back|backwards))*{_FROM_END}\b",
                               re.IGNORECASE)
_EDIT_AT = re.compile(
    rf"\b{_EDIT_ORDINAL}"
    r"(?:\s+(?P<count>two|three|four|five|six|seven|eight|nine|\d)(?:\s+(?:digit|number|numeral)s)?"
    r"|\s+(?:digit|number|one|numeral|agent)s?)"  # "the seventh agent should be …": whisper's "digit"
    rf"(?P<from_end>{_FROM_END})?"
    + _EDIT_VERB
    + r"\s*(?P<value>.+)$", re.IGNORECASE)
# the place said without "digit" or "one": "the fifth is a three", "the second last's an eight"
_EDIT_AT_BARE = re.compile(
    rf"\bthe\s+{_EDIT_ORDINAL}(?P<count>)(?:\s+(?:digit|number|one))?(?P<from_end>{_FROM_END})?"
    r"(?:'s|\s+is|\s+was|\s+should\s+be|\s+needs?\s+to\s+be)"
    r"(?:\s+actually)?(?:\s+an?)?\s*(?P<value>.+)$", re.IGNORECASE)
_BESIDE = re.compile(r"\b(?:after|before|following|behind)\s+(?:the\s+)?$", re.IGNORECASE)
_PENULTIMATE = ("second last", "second to last", "one before last", "digit before last", "number before last",
                "last but one", "penultimate")
# "the one before the zero at the end" (with "the" taken out)
_BEFORE_THE_LAST = re.compile(r"^(?:one|digit|number) (?:just |right )?before \w+ (?:at|on) end$")
# the digits said on from a place fixed: "the fifth digit should be a zero, then it carries on three one nine"
_THEN_ON = re.compile(r"^\W*(?:and\s+)?then\b"
                      r"(?:\s+(?:it|that)(?:'s|\s+is|\s+goes|\s+carries\s+on|\s+continues))?"
                      r"(?:\s+(?:on|with))?\W*(?=\S)", re.IGNORECASE)
_EDIT_ENDS = re.compile(r"\b(?:ends?|ending|finish(?:es)?|stops?)\s+(?:in|with|at|on)\s+(?P<value>.+)$",
                        re.IGNORECASE)
# "it ends five seven oh only one zero …": the digits right after it, up to the first word (not "it ends two,
# so double four eight six": digits said on)
_EDIT_ENDS_BARE = re.compile(r"\b(?:ends|finishes)\s+(?P<value>.+)$", re.IGNORECASE)
_WORD_AFTER_DIGITS = re.compile(r"^,?\s+(?!(?:so|oh|o|and|then|double|triple)\b)[a-z]", re.IGNORECASE)
_EDIT_STARTS = re.compile(r"\b(?:starts?|starting|begins?|beginning)\s+with\s+(?P<value>.+)$", re.IGNORECASE)
_EDIT_ADD = re.compile(
    r"\b(?:add|put|there'?s|you missed|missed|plus|with|and)\s+(?P<value>.+?)\s+(?:at|on|to)\s+the\s+"
    r"(?P<where>end|start|beginning|front)\b", re.IGNORECASE)
_COUNTS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}


def _edit_digits(value: str) -> str:
    """The digits of a fix, up to "not" / "instead of" ("an eight, not a six" -> "8"), or of its second
    sentence when that says the first one's digits again and more ("a two. two seven six oh" -> "2760"); a
    lone homophone is its digit ("the seventh digit should be a free": the recogniser's "three")."""
    value = re.split(r"\b(?:not|instead|rather than)\b", value, maxsplit=1, flags=re.IGNORECASE)[0]
    said = [d for sentence in re.split(r"[.!?;]", value)  # (a lone "oh" is a zero: "starts with oh. oh five")
            if (d := "0" if sentence.strip().lower() in ("oh", "o")
                else "".join(run.value for run in find_digit_runs(sentence)))]
    if len(said) == 2 and len(said[1]) > len(said[0]) and said[1].startswith(said[0]):
        return said[1]  # "a two. two seven six oh": the same part said again, longer
    clauses = re.split(r"[,.;!?]\s*", value)
    for k in range(1, len(clauses)):  # up to a clause that opens with words: "389, there's only one 8" -> 389
        runs = find_digit_runs(clauses[k])
        if (not runs or runs[0].start > 0) and find_digit_runs(" ".join(clauses[:k])):
            value = " ".join(clauses[:k])
            break
    digits = "".join(run.value for run in find_digit_runs(value))
    words = [w for w in re.findall(r"[a-z']+", value.lower()) if w not in ("a", "an")]
    if not digits and len(words) == 1 and words[0] in HOMOPHONES:
        return str(HOMOPHONES[words[0]])
    return digits


def find_digit_edit(text: str) -> DigitEdit | None:
    """A fix to part of a digit string: "the last one is eight" -> at -1 "8"; "the third digit is five" ->
    at 2 "5"; "the last two are four two", "it ends in 42" -> end "42"; "it starts with 12" -> start
    "12"; "add a 9 at the end" -> append "9". None when the text names no part (a whole number restated
    is a plain digits answer)."""
    if m := _EDIT_ADD.search(text):
        digits = _edit_digits(m.group("value"))
        # "you missed the nine, it goes six nine three seven at the end": the end is the last clause's own
        last_clause = re.split(r"[,.;!?]", m.group("value"))[-1]
        if digits and digits == (_edit_digits(last_clause) or digits):
            return DigitEdit("append" if m.group("where").lower() == "end" else "prepend", digits)
    if m := _EDIT_ENDS.search(text):
        if digits := _edit_digits(m.group("value")):
            return DigitEdit("end", digits)
    m = _EDIT_ENDS_BARE.search(text)
    if m and (runs := find_digit_runs(m.group("value"))) and not runs[0].start \
            and _WORD_AFTER_DIGITS.match(m.group("value")[runs[0].end:]):
        return DigitEdit("end", str(runs[0].value))
    if m := _EDIT_STARTS.search(text):
        if digits := _edit_digits(m.group("value")):
            return DigitEdit("start", digits)
    m = _EDIT_AT.search(text) or _EDIT_AT_BARE.search(text)
    if m and not _BESIDE.search(text[:m.start()]):  # not "after the first seven, it's a three"
        digits = _edit_digits(m.group("value"))
        word = re.sub(r"[\s-]+", " ", m.group("ord").lower()).replace(" the ", " ")
        count = m.group("count")
        if not digits or (count and word not in ("first", "last", "final")):
            return None  # (not "the second three": which three, for ``digit_fix``)
        if word in ("last", "final"):
            if count or len(digits) > 1:  # "the last two are 4 2"
                return DigitEdit("end", digits)
            return DigitEdit("at", digits, -1)
        if word in _PENULTIMATE or _BEFORE_THE_LAST.match(word) or word in ("third last", "third to last"):
            return DigitEdit("at", digits[:1], -3 if "third" in word else -2)
        if word == "first" and (count or len(digits) > 1):  # "the first three are 1 2 3"
            return DigitEdit("start", digits)
        numeral = _ORDINAL_NUMERAL.match(word)
        position = ORDINALS.get(word) or (int(numeral.group(1)) if numeral else None)
        if position and len(digits) == 1:
            from_end = m.groupdict().get("from_end") or _COUNTED_FROM_END.search(text[:m.start()])
            if not from_end and (on := _said_on(m.group("value"))):
                return DigitEdit("from", digits + on, position - 1)
            return DigitEdit("at", digits, -position if from_end else position - 1)
    return None


def digit_distance(a: str, b: str) -> int:
    """Edits (insert, delete, replace, swap two neighbours) from ``a`` to ``b``."""
    d = [[i + j if not i * j else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[-1][-1]


def _said_on(value: str) -> str:
    """The digits said on after a place's digit with "then" ("a zero, then it carries on three one nine" ->
    "319"), or ""."""
    runs = find_digit_runs(value)
    then = _THEN_ON.match(value[runs[0].end:]) if len(runs) >= 2 else None
    if then is None or runs[1].start != runs[0].end + then.end():
        return ""
    return str(runs[1].value)


def apply_digit_edit(heard: str, edit: DigitEdit, fits: Callable[[str], bool]) -> str | None:
    """``heard`` with ``edit`` applied; None when the edit names a digit that is not there.

    "ends in" / "starts with": a string that already ``fits`` the expected length has its end (start)
    replaced; a short one is completed when that fits (sharing the digits already heard: "1234" + "ends in
    456" -> "123456"), else its end (start) is replaced."""
    d = edit.digits
    if edit.kind == "append":
        return heard + d
    if edit.kind == "prepend":
        return d + heard
    if edit.kind == "at":
        i = edit.position if edit.position >= 0 else len(heard) + edit.position
        if i == len(heard):
            return heard + d  # "the eighth digit is 5" after seven digits
        if not 0 <= i < len(heard):
            return None
        return heard[:i] + d + heard[i + 1:]
    if edit.kind == "from":  # over the digits heard from there that it changes least, when one such fits
        if edit.position > len(heard):
            return None
        at = edit.position
        fitting = {heard[:at] + d + heard[j:]: digit_distance(heard[at:j], d)
                   for j in range(at, len(heard) + 1) if fits(heard[:at] + d + heard[j:])}
        lowest = min(fitting.values(), default=None)
        least = [digits for digits, cost in fitting.items() if cost == lowest]
        return least[0] if len(least) == 1 else heard[:at] + d + heard[at + len(d):]
    if edit.kind == "end":
        replaced = heard[:max(0, len(heard) - len(d))] + d
        overlap = next(k for k in range(min(len(d), len(heard)), -1, -1) if heard.endswith(d[:k]))
        completed = heard + d[overlap:]
    else:
        replaced = d + heard[len(d):]
        overlap = next(k for k in range(min(len(d), len(heard)), -1, -1) if heard.startswith(d[len(d) - k:]))
        completed = d[:len(d) - overlap] + heard
    if fits(heard) or not fits(completed):
        return replaced
    return completed


_LETTER = re.compile(r"^[a-z]$")


def compact_spoken(text: str) -> str:
    """Spoken codes joined: "A B one two three" -> "AB123", "x ray 4 double 5" -> "X RAY 455".

    Single letters and digit pieces next to each other are joined without spaces and upper-cased;
    other words stay, upper-cased and space-separated. Regex slot types match against this form.
    """
    toks = tokens(text)
    out: list[str] = []
    joinable = False
    i = 0
    while i < len(toks):
        joinable = joinable or (i > 0 and toks[i].start == toks[i - 1].end and out and toks[i - 1].text.isalnum())
        piece = _digit_piece(toks, i, in_run=joinable) if toks[i].text not in ("a", "o") or joinable \
            or (i + 1 < len(toks) and _digit_piece(toks, i + 1, True)) else None
        if piece is not None and toks[i].text not in ("a",):
            text_piece, i = piece[0], piece[1]
        elif _LETTER.match(toks[i].text) or (toks[i].text.isalnum() and any(c.isdigit() for c in toks[i].text)):
            text_piece, i = toks[i].text.upper(), i + 1
        elif toks[i].text in ("-", "dash", "hyphen") and joinable:
            i += 1
            continue
        else:
            out.append(" " + toks[i].text.upper() if out else toks[i].text.upper())
            joinable = False
            i += 1
            continue
        out.append(text_piece if joinable or not out else " " + text_piece)
        joinable = True
    return "".join(out)
