"""Say-as: rewrite prompt text into the words a person would say, before it reaches the TTS voice.

``normalize(text)`` is pure and fast (regular expressions and a small number speller). It reads, in
this order:

* explicit tags (below), which always win;
* e-mail addresses ("help@bank.com" -> "help at bank dot com");
* money with a symbol or code: "$1,250.50" -> "one thousand two hundred fifty dollars and fifty cents",
  "€12", "£3.20", "40 EUR", "$1.5 million";
* dates: ISO "2026-03-23", "March 23[, 2026]", "23 March 2026", and slash dates "3/23/2026" (month first
  for English; a day above 12 decides the order) -> "March twenty-third, twenty twenty-six";
* times: "14:30" -> "two thirty p m", "9am", "9:05 p.m.", "12:00" -> "twelve noon";
* phone numbers ("+1 (555) 123-4567", "1-800-555-0199") and masked cards ("****1234" -> "ending in one
  two three four"), read digit by digit in their groups;
* percentages ("12.5%"), ordinals ("23rd"), decades ("1990s", "80s"), "#123" and numbers after id words (account, card, order,
  reference, ticket, case, PIN, code, "ending in", ...) read digit by digit;
* ids mixing letters and digits ("A1B-2045" -> "eh one B, two oh four five"), and bare integers of five
  digits or more or with a leading zero (unless a quantity word follows: "10000 points"), read character
  by character in groups;
* years after "in/since/by/..." ("in 1999" -> "nineteen ninety-nine"), other numbers as cardinals
  ("1,250" -> "one thousand two hundred fifty", "3.5" -> "three point five", "-4" -> "minus four");
* a few abbreviations the voice stumbles on (Mr., Mrs., Dr., e.g., &).

Tags let a dialog designer force a reading. Syntax: ``{kind:value}`` (no nesting, no braces in value):

=================  ===============================  ==================================================
tag                example                          spoken
=================  ===============================  ==================================================
``digits``         ``{digits:12345}``               one two three, four five (groups of three; spaces
                                                    or dashes in the value set the groups)
``spell``          ``{spell:AB12}``                 eh B one two (letters and digits one by one)
``number``         ``{number:1250}``                one thousand two hundred fifty (also decimals)
``ordinal``        ``{ordinal:3}``                  third
``money``          ``{money:12.50}``                twelve dollars and fifty cents; currency by symbol
                                                    or code: ``{money:€12.50}``, ``{money:12.50 GBP}``
``date``           ``{date:2026-03-23}``            March twenty-third, twenty twenty-six
                                                    (also ``{date:03-23}``, ``{date:2026-03}``)
``time``           ``{time:14:30}``                 two thirty p m
``phone``          ``{phone:+1 555 123 4567}``      plus one, five five five, one two three, ...
``percent``        ``{percent:12.5}``               twelve point five percent
``year``           ``{year:1999}``                  nineteen ninety-nine
``verbatim``       ``{verbatim:R2-D2}``             the value untouched, passed straight to the voice
=================  ===============================  ==================================================

A tag with an unknown kind or a value it cannot read falls back to the automatic rules on its value;
:func:`check_tags` reports such tags so flow validation can catch them before a call does.

Languages: every spoken word comes from a :class:`Language` (number speller, month names, currencies,
letter names, fixed words); ``normalize(text, language)`` picks one from ``LANGUAGES``. Only English
exists. The automatic patterns (id words, month abbreviations, quantity words) are English too: a new
language adds its ``Language`` and, where its written forms differ, its own rule list beside ``_RULES``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

# --------------------------------------------------------------------------------------------------
# English number speller
# --------------------------------------------------------------------------------------------------

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
         "fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ("", "thousand", "million", "billion", "trillion", "quadrillion")
_ORDINAL_WORDS = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                  "nine": "ninth", "twelve": "twelfth"}


def _below_thousand(n: int) -> str:
    words = []
    if n >= 100:
        words.append(f"{_ONES[n // 100]} hundred")
        n %= 100
    if n >= 20:
        words.append(_TENS[n // 10] + (f"-{_ONES[n % 10]}" if n % 10 else ""))
    elif n or not words:
        words.append(_ONES[n])
    return " ".join(words)


def english_cardinal(n: int) -> str:
    """1250 -> "one thousand two hundred fifty" (American style, no "and")."""
    if n < 0:
        return f"minus {english_cardinal(-n)}"
    if n == 0:
        return "zero"
    if n >= 1000 ** len(_SCALES):
        return english_digits(str(n), zero="zero")
    parts = []
    for scale in reversed(range(len(_SCALES))):
        chunk = (n // 1000 ** scale) % 1000
        if chunk:
            parts.append(_below_thousand(chunk) + (f" {_SCALES[scale]}" if scale else ""))
    return " ".join(parts)


def english_ordinal(n: int) -> str:
    """23 -> "twenty-third"."""
    words = english_cardinal(n)
    head, sep, last = words.rpartition(" ")
    prefix, hyphen, last = last.rpartition("-")
    if last in _ORDINAL_WORDS:
        last = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return f"{head}{sep}{prefix}{hyphen}{last}"


def english_year(n: int) -> str:
    """2026 -> "twenty twenty-six", 1905 -> "nineteen oh five", 2005 -> "two thousand five"."""
    if not 1000 <= n <= 9999 or 2000 <= n <= 2009:
        return english_cardinal(n)
    high, low = divmod(n, 100)
    if low == 0:
        return f"{english_cardinal(high)} hundred"
    return f"{english_cardinal(high)} {'oh ' + _ONES[low] if low < 10 else english_cardinal(low)}"


def english_digits(digits: str, zero: str = "oh") -> str:
    """"2045" -> "two oh four five" (non-digits are dropped)."""
    return " ".join(zero if d == "0" else _ONES[int(d)] for d in digits if d.isdigit())


# --------------------------------------------------------------------------------------------------
# Language: the extension point
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Currency:
    major: tuple[str, str]  # singular, plural
    minor: tuple[str, str]


@dataclass(frozen=True, slots=True)
class Language:
    """Everything language-specific that :func:`normalize` says."""

    code: str
    cardinal: Callable[[int], str]
    ordinal: Callable[[int], str]
    year: Callable[[int], str]
    digit_words: tuple[str, ...]  # 0..9 read one by one
    zero_in_ids: str  # "oh"; ids that contain the letter O use digit_words[0] instead
    letter_names: Mapping[str, str]  # letters the voice misreads on their own (English "A" -> "eh")
    months: tuple[str, ...]
    currencies: Mapping[str, Currency]  # symbol or ISO code -> names
    default_currency: str
    date_order: Literal["mdy", "dmy"]
    words: Mapping[str, str]  # fixed words: and, point, percent, plus, a_m, p_m, noon, midnight, ...
    abbreviations: Mapping[str, str]
    titles: frozenset[str]  # readings that precede a name: their full stop never ends a sentence


_DOLLAR = Currency(("dollar", "dollars"), ("cent", "cents"))
_EURO = Currency(("euro", "euros"), ("cent", "cents"))
_POUND = Currency(("pound", "pounds"), ("penny", "pence"))

ENGLISH = Language(
    code="en",
    cardinal=english_cardinal,
    ordinal=english_ordinal,
    year=english_year,
    digit_words=tuple(_ONES[:10]),
    zero_in_ids="oh",
    letter_names={"A": "eh"},  # Piper's espeak front end reads a lone "A" as the article
    months=("January", "February", "March", "April", "May", "June", "July", "August", "September",
            "October", "November", "December"),
    currencies={"$": _DOLLAR, "USD": _DOLLAR, "€": _EURO, "EUR": _EURO, "£": _POUND, "GBP": _POUND},
    default_currency="$",
    date_order="mdy",
    words={"and": "and", "to": "to", "point": "point", "minus": "minus", "percent": "percent", "plus": "plus",
           "a_m": "eh em",
           "p_m": "p m", "noon": "twelve noon", "midnight": "twelve midnight", "number": "number",
           "ending_in": "ending in", "at": "at", "dot": "dot", "twenty_four_seven": "twenty-four seven"},
    abbreviations={"Mr.": "Mister", "Mrs.": "Missus", "Ms.": "Miz", "Dr.": "Doctor", "e.g.": "for example",
                   "i.e.": "that is", "etc.": "et cetera", "vs.": "versus", "&": "and"},
    titles=frozenset({"Mister", "Missus", "Miz", "Doctor"}),
)

LANGUAGES: dict[str, Language] = {"en": ENGLISH}

# --------------------------------------------------------------------------------------------------
# Readings (value string -> words, or None when the value cannot be read that way)
# --------------------------------------------------------------------------------------------------

_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"


def _to_decimal(value: str) -> Decimal | None:
    try:
        return Decimal(value.replace(",", ""))
    except InvalidOperation:
        return None


def read_number(value: str, lang: Language = ENGLISH) -> str | None:
    """"1,250" -> cardinal, "3.05" -> "three point oh five"... digits after the point one by one."""
    value = value.strip()
    negative = value.startswith(("-", "−"))
    if negative:
        value = value[1:]
    if not re.fullmatch(_NUMBER, value):
        return None
    whole, _, fraction = value.replace(",", "").partition(".")
    words = lang.cardinal(int(whole))
    if fraction:
        words += f" {lang.words['point']} " + " ".join(lang.digit_words[int(d)] for d in fraction)
    return f"{lang.words['minus']} {words}" if negative else words


def read_ordinal(value: str, lang: Language = ENGLISH) -> str | None:
    digits = re.sub(r"(?i)(st|nd|rd|th)$", "", value.strip())
    return lang.ordinal(int(digits)) if digits.isdigit() else None


def read_year(value: str, lang: Language = ENGLISH) -> str | None:
    return lang.year(int(value)) if value.strip().isdigit() else None


def _groups(value: str) -> list[str]:
    """Split on spaces, dashes, dots, slashes and brackets; a run without separators is cut in threes
    (a lone last character joins the group before it)."""
    parts = [p for p in re.split(r"[\s\-./()]+", value) if p]
    if len(parts) > 1:
        return parts
    run = parts[0] if parts else ""
    if len(run) <= 4:
        return [run] if run else []
    groups = [run[i:i + 3] for i in range(0, len(run), 3)]
    if len(groups[-1]) == 1:
        groups[-2:] = [groups[-2] + groups[-1]]
    return groups


def read_spelled(value: str, lang: Language = ENGLISH) -> str | None:
    """Characters one by one, in groups: "A1B-2045" -> "eh one B, two oh four five"."""
    if not re.fullmatch(r"[\w\s\-./()]+", value) or not re.search(r"[^\W_]", value):
        return None
    zero = lang.digit_words[0] if re.search(r"[oO]", value) else lang.zero_in_ids
    spoken = []
    for group in _groups(value):
        chars = []
        for ch in group:
            if ch.isdigit():
                chars.append(zero if ch == "0" else lang.digit_words[int(ch)])
            elif ch.isalpha():
                chars.append(lang.letter_names.get(ch.upper(), ch.upper()))
        if chars:
            spoken.append(" ".join(chars))
    return ", ".join(spoken) or None


def read_digits(value: str, lang: Language = ENGLISH) -> str | None:
    return read_spelled(value, lang) if re.fullmatch(r"[\d\s\-./()]+", value) and re.search(r"\d", value) \
        else None


def read_phone(value: str, lang: Language = ENGLISH) -> str | None:
    value = value.strip()
    plus = value.startswith("+")
    digits = read_digits(value.lstrip("+"), lang)
    if digits is None:
        return None
    return f"{lang.words['plus']} {digits}" if plus else digits


def read_money(value: str, lang: Language = ENGLISH) -> str | None:
    """"$1,250.50", "12.50", "€3", "40 EUR", "1.5 million" -> words with the currency's names."""
    codes = "|".join(re.escape(c) for c in lang.currencies)
    match = re.fullmatch(
        rf"\s*(?P<pre>{codes})?\s*(?P<neg>-)?\s*(?P<amount>{_NUMBER})\s*(?P<scale>thousand|million|billion)?"
        rf"\s*(?P<post>{codes})?\s*", value, flags=re.IGNORECASE)
    if not match or (match["pre"] and match["post"]):
        return None
    code = (match["pre"] or match["post"] or lang.default_currency)
    currency = lang.currencies.get(code.upper()) or lang.currencies[code]
    amount = _to_decimal(match["amount"])
    if amount is None:
        return None
    minus = f"{lang.words['minus']} " if match["neg"] else ""
    if match["scale"]:
        return f"{minus}{read_number(match['amount'], lang)} {match['scale'].lower()} {currency.major[1]}"
    cents = amount * 100
    if cents != cents.to_integral_value():  # sub-cent amounts: read as a decimal
        return f"{minus}{read_number(match['amount'], lang)} {currency.major[1]}"
    major, minor = divmod(int(cents), 100)
    parts = []
    if major or not minor:
        parts.append(f"{lang.cardinal(major)} {currency.major[major != 1]}")
    if minor:
        parts.append(f"{lang.cardinal(minor)} {currency.minor[minor != 1]}")
    return minus + f" {lang.words['and']} ".join(parts)


def _say_date(lang: Language, month: int, day: int | None, year: int | None) -> str | None:
    if not 1 <= month <= 12 or (day is not None and not 1 <= day <= 31):
        return None
    words = lang.months[month - 1]
    if day is not None:
        words += f" {lang.ordinal(day)}"
    if year is not None:
        words += f"{',' if day is not None else ''} {lang.year(year)}"
    return words


def _month_number(name: str, lang: Language) -> int | None:
    name = name.rstrip(".").lower()
    for i, month in enumerate(lang.months, start=1):
        if len(name) >= 3 and month.lower().startswith(name):
            return i
    return None


def read_date(value: str, lang: Language = ENGLISH) -> str | None:
    """ISO "2026-03-23" / "2026-03" / "03-23", slash "3/23/2026", or "March 23, 2026" / "23 March"."""
    value = value.strip()
    if m := re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", value):
        return _say_date(lang, int(m[2]), int(m[3]), int(m[1]))
    if m := re.fullmatch(r"(\d{4})-(\d{1,2})", value):
        return _say_date(lang, int(m[2]), None, int(m[1]))
    if m := re.fullmatch(r"(\d{1,2})-(\d{1,2})", value):
        return _say_date(lang, int(m[1]), int(m[2]), None)
    if m := re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", value):
        first, second, year = int(m[1]), int(m[2]), int(m[3])
        month_first = lang.date_order == "mdy"
        if first > 12 >= second:
            month_first = False
        elif second > 12 >= first:
            month_first = True
        month, day = (first, second) if month_first else (second, first)
        return _say_date(lang, month, day, year)
    if m := re.fullmatch(r"([A-Za-z]+\.?)\s+(\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(\d{4}))?", value):
        month_number = _month_number(m[1], lang)
        return _say_date(lang, month_number, int(m[2]), int(m[3]) if m[3] else None) if month_number else None
    if m := re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?([A-Za-z]+\.?)(?:,?\s+(\d{4}))?", value):
        month_number = _month_number(m[2], lang)
        return _say_date(lang, month_number, int(m[1]), int(m[3]) if m[3] else None) if month_number else None
    return None


def read_time(value: str, lang: Language = ENGLISH) -> str | None:
    """"14:30" -> "two thirty p m", "9 am" -> "nine eh em", "12:00" -> "twelve noon"."""
    m = re.fullmatch(r"\s*(\d{1,2})(?::(\d{2}))?\s*(?:([aApP])\.?\s?[mM]\.?)?\s*", value)
    if not m or (m[2] is None and m[3] is None):
        return None
    hour, minute, marker = int(m[1]), int(m[2] or 0), (m[3] or "").lower()
    if minute > 59 or hour > 23 or (marker and not 1 <= hour <= 12):
        return None
    if not marker:
        if minute == 0 and hour in (0, 12):
            return lang.words["noon" if hour == 12 else "midnight"]
        marker = "a" if hour < 12 else "p"
        hour = hour % 12 or 12
    words = lang.cardinal(hour)
    if minute:
        words += f" {lang.zero_in_ids}" if minute < 10 else ""
        words += f" {lang.cardinal(minute)}"
    return f"{words} {lang.words['a_m' if marker == 'a' else 'p_m']}"


def _decade(digits: str, lang: Language) -> str | None:
    """"1990s" -> "nineteen nineties", "80s" -> "eighties"."""
    if not digits.endswith("0"):
        return None
    words = lang.year(int(digits)) if len(digits) == 4 else lang.cardinal(int(digits))
    return words[:-1] + "ies" if words.endswith("y") else words + "s"


def read_percent(value: str, lang: Language = ENGLISH) -> str | None:
    number = read_number(value.strip().rstrip("%").strip(), lang)
    return f"{number} {lang.words['percent']}" if number else None


def read_email(value: str, lang: Language = ENGLISH) -> str | None:
    user, at, domain = value.partition("@")
    if not at or not user or "." not in domain:
        return None
    dot = f" {lang.words['dot']} "
    return f"{user.replace('.', dot)} {lang.words['at']} {domain.replace('.', dot)}"


READERS: dict[str, Callable[[str, Language], str | None]] = {
    "digits": read_digits,
    "spell": read_spelled,
    "number": read_number,
    "ordinal": read_ordinal,
    "money": read_money,
    "date": read_date,
    "time": read_time,
    "phone": read_phone,
    "percent": read_percent,
    "year": read_year,
    "verbatim": lambda value, lang: value,
}

# --------------------------------------------------------------------------------------------------
# Automatic rules over plain text
# --------------------------------------------------------------------------------------------------

TAG = re.compile(r"\{(?P<kind>[a-z_]+):(?P<value>[^{}]*)\}")

_MONTH_NAME = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
               r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")
_ID_WORDS = (r"account|card|order|reference|ref|ticket|case|confirmation|tracking|policy|claim|invoice|"
             r"member|customer|pin|code|id|extension|ext|ending in|ends in|ending with|last (?:four|4)"
             r"(?: digits)?")
# A long bare number before one of these is a quantity ("10000 points"), not an id.
_QUANTITY_WORDS = (r"points|dollars|euros|pounds|cents|miles|kilometers|meters|feet|people|customers|calls|"
                   r"minutes|hours|days|weeks|months|years|items|steps|times|units|bytes")

Rule = tuple[re.Pattern[str], Callable[[re.Match[str], Language], str | None]]
_EMAIL = re.compile(r"(?<![\w.])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def _rules() -> list[Rule]:
    def sub(pattern: str, fn: Callable[[re.Match[str], Language], str | None], flags: int = 0) -> Rule:
        return re.compile(pattern, flags), fn

    return [
        sub(r"24/7", lambda m, lang: lang.words["twenty_four_seven"]),
        sub(rf"(?<![\w.])(?:[$€£]\s?-?(?:{_NUMBER})(?:\s?(?:thousand|million|billion)\b)?|"
            rf"-?(?:{_NUMBER})\s?(?:(?:thousand|million|billion)\s)?(?:USD|EUR|GBP)\b)",
            lambda m, lang: read_money(m[0], lang)),
        sub(r"\b\d{4}-\d{2}-\d{2}\b", lambda m, lang: read_date(m[0], lang)),
        sub(r"\b\d{1,2}/\d{1,2}/\d{4}\b", lambda m, lang: read_date(m[0], lang)),
        sub(rf"\b{_MONTH_NAME}\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s+\d{{4}}\b)?",
            lambda m, lang: read_date(m[0], lang)),
        sub(rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH_NAME}(?:,?\s+\d{{4}}\b)?",
            lambda m, lang: read_date(m[0], lang)),
        sub(r"\b\d{1,2}:\d{2}(?:\s?[aApP]\.?\s?[mM]\b\.?)?|\b\d{1,2}\s?[aApP]\.?\s?[mM]\b\.?",
            lambda m, lang: _keep_full_stop(m, read_time(m[0], lang))),
        sub(r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{3}\)\s?|\b\d{3}[\s.-])\d{3}[\s.-]\d{4}\b"
            r"|(?<![\w+])\b1[\s.-]\d{3}[\s.-]\d{3}[\s.-]\d{4}\b"
            r"|(?<![\w+])\+\d{1,3}(?:[\s.-]?\d{2,4}){2,5}\b",
            lambda m, lang: read_phone(m[0], lang)),
        sub(r"[*xX•]{2,}[\s-]?(\d{2,6})\b",
            lambda m, lang: f"{lang.words['ending_in']} {read_digits(m[1], lang)}"),
        sub(rf"(?<![\w.])-?(?:{_NUMBER})\s?%", lambda m, lang: read_percent(m[0], lang)),
        sub(r"\b\d+(?:st|nd|rd|th)\b", lambda m, lang: read_ordinal(m[0], lang)),
        sub(r"\b(\d{2}|1[1-9]\d{2}|20\d{2})'?s\b", lambda m, lang: _decade(m[1], lang)),
        sub(r"#\s?(\d+)\b", lambda m, lang: f"{lang.words['number']} {read_digits(m[1], lang)}"),
        sub(rf"\b(?P<word>{_ID_WORDS})(?P<sep>(?:\s+number|\s+no\.|\s+is|\s*:|\s*#)?\s*)"
            r"(?P<id>\d+(?:[\s-]\d+)*)\b",
            lambda m, lang: f"{m['word']}{re.sub('[#:]', '', m['sep'])}{read_digits(m['id'], lang)}",
            re.IGNORECASE),
        sub(r"\b(?=[A-Za-z0-9]*\d)(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\b"
            r"|\b\d+(?:-\d+)*-(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\b",
            lambda m, lang: read_spelled(m[0], lang)),
        sub(r"\b(?P<word>in|since|from|until|till|by|before|after|year|during)\s+"
            r"(?P<year>1[1-9]\d\d|20\d\d)\b",
            lambda m, lang: f"{m['word']} {lang.year(int(m['year']))}", re.IGNORECASE),
        sub(rf"(?<![\w.,])(?:0\d+|\d{{5,}})(?![\w,]|\.\d|\s+(?:{_QUANTITY_WORDS})\b)",
            lambda m, lang: read_digits(m[0], lang)),
        sub(r"(?<![\w.,-])(\d{1,2})\s?[-–]\s?(\d{1,2})(?![\w.,-])",
            lambda m, lang: f"{lang.cardinal(int(m[1]))} {lang.words['to']} {lang.cardinal(int(m[2]))}"),
        sub(rf"(?:(?<=^)|(?<=[\s(]))-(?:{_NUMBER})\b|(?<![\w.,])(?:{_NUMBER})(?![\w]|\.\d)",
            lambda m, lang: read_number(m[0], lang)),
    ]


_RULES = _rules()


def _keep_full_stop(match: re.Match[str], spoken: str | None) -> str | None:
    """Give back the full stop a match swallowed ("5 p.m.", "etc.") when it also ended the sentence."""
    ends_sentence = re.match(r"\s*$|\s+[A-Z0-9]", match.string[match.end():])
    return f"{spoken}." if spoken and match[0].endswith(".") and ends_sentence else spoken


def _expand_abbreviation(match: re.Match[str], lang: Language) -> str:
    words = lang.abbreviations[match[0]]
    return words if words in lang.titles else _keep_full_stop(match, words) or words


def _apply_rules(text: str, lang: Language) -> str:
    alternatives = "|".join(re.escape(a) for a in sorted(lang.abbreviations, key=len, reverse=True))
    text = re.sub(rf"(?<!\w)(?:{alternatives})(?!\w)", lambda m: _expand_abbreviation(m, lang), text)
    if "@" in text:
        text = _EMAIL.sub(lambda m: read_email(m[0], lang) or m[0], text)
    if any(ch.isdigit() for ch in text):  # every other rule reads digits: prompts without any skip them
        for pattern, reader in _RULES:
            text = pattern.sub(lambda m: reader(m, lang) or m[0], text)
    return text


def read_tag(kind: str, value: str, lang: Language = ENGLISH) -> str:
    """One tag's spoken form; unknown kinds and unreadable values fall back to the automatic rules."""
    reader = READERS.get(kind)
    spoken = reader(value, lang) if reader else None
    return spoken if spoken is not None else _apply_rules(value, lang)


def normalize(text: str, language: str = "en") -> str:
    """The words to synthesize for ``text`` (tags expanded, numbers/money/dates/ids spelled out)."""
    lang = LANGUAGES[language]
    out, last = [], 0
    for tag in TAG.finditer(text):
        out.append(_apply_rules(text[last:tag.start()], lang))
        out.append(read_tag(tag["kind"], tag["value"], lang))
        last = tag.end()
    out.append(_apply_rules(text[last:], lang))
    return re.sub(r"[ \t]{2,}", " ", "".join(out)).strip()


def check_tags(text: str, language: str = "en") -> list[str]:
    """Problems with the say-as tags in a prompt (unknown kind, unreadable value), for flow validation."""
    lang = LANGUAGES[language]
    problems = []
    for tag in TAG.finditer(text):
        reader = READERS.get(tag["kind"])
        if reader is None:
            problems.append(f"unknown say-as tag {tag[0]!r} (known: {', '.join(sorted(READERS))})")
        elif reader(tag["value"], lang) is None:
            problems.append(f"say-as tag {tag[0]!r}: cannot read {tag['value']!r} as {tag['kind']}")
    return problems


# --------------------------------------------------------------------------------------------------
# Sentences
# --------------------------------------------------------------------------------------------------

_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st jr sr vs etc e.g i.e no nos inc ltd co corp ave rd blvd mt ft approx dept est "
    "a.m p.m u.s u.k jan feb mar apr jun jul aug sep sept oct nov dec mon tue wed thu fri sat sun".split())
_BOUNDARY = re.compile(r"(?<=[.!?…])[\"')\]]*\s+|\n\s*")


def split_sentences(text: str) -> list[str]:
    """Sentences in ``text``. Abbreviations ("Mr.", "e.g."), initials ("J. Smith") and decimals ("3.5")
    do not end a sentence; a line break does."""
    sentences, start = [], 0
    for boundary in _BOUNDARY.finditer(text):
        candidate = text[start:boundary.start()].rstrip()
        if not candidate:
            continue
        if not boundary.group().startswith("\n"):
            last_word = candidate.rsplit(None, 1)[-1].lstrip("\"'(").rstrip(".").lower()
            if last_word in _ABBREVIATIONS or re.fullmatch(r"[a-z]", last_word):
                continue
            following = text[boundary.end():boundary.end() + 1]
            if following and following.islower():
                continue
        sentences.append(text[start:boundary.end()].strip())
        start = boundary.end()
    if text[start:].strip():
        sentences.append(text[start:].strip())
    return sentences
