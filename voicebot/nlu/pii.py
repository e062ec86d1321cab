"""Personal data in free text: found as typed spans, masked with a label before anything is kept.

What callers say reaches the record as the ASR writes it ("4532 1234 5678 9012", "four five three two …",
"john dot smith at gmail dot com"), so detection reads digit runs and e-mail addresses the way
``nlu/normalize.py`` parses them, spoken or keyed, and decides their kind by their shape and by the words
around them:

* **card**: a run of 13–19 digits that passes the Luhn check (masked ``[card ****1234]``);
* **national id**: a US SSN (``123-45-6789``, or nine digits after "social security"), a UK National
  Insurance number (``QQ 12 34 56 C``), and any configured pattern;
* **date of birth**: a date, or 6–8 digits, after "born", "birth", "birthday", "DOB";
* **pin**: 3–8 digits next to "PIN", "passcode", "security code", "CVV";
* **phone**: 7–15 digits next to "phone", "mobile", "call me", …, or a valid number (``phonenumbers``)
  in a configured region, or one written ``(555) 123-4567`` or with a ``+``;
* **account**: any other run of ``min_account_digits`` (8) digits or more, or 5 or more after "account";
* **email**: an address, written or spoken, or a domain-like word after "email" (the ASR's
  "john.smithatgmail.com"), with the name said before it ("john.smitha example.com"), or a spoken one whose
  "at" was lost ("john dot smitha gmail dot com", "jsmith hotmail dot co dot uk").

Not personal data: amounts, times, quantities ("four or five days"), short numbers, and order, tracking or
reference numbers named as such.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import phonenumbers

from voicebot.config import PiiSettings
from voicebot.nlu.normalize import Match, find_dates, find_digit_runs, find_email, find_money, find_times


class PiiKind(enum.StrEnum):
    CARD = "card"
    ACCOUNT = "account"
    PIN = "pin"
    PHONE = "phone"
    EMAIL = "email"
    DOB = "dob"
    NATIONAL_ID = "national_id"


LABELS = {PiiKind.CARD: "card", PiiKind.ACCOUNT: "account", PiiKind.PIN: "pin", PiiKind.PHONE: "phone",
          PiiKind.EMAIL: "email", PiiKind.DOB: "date of birth", PiiKind.NATIONAL_ID: "national id"}
KEEP_LAST = {PiiKind.CARD: 4}  # characters left in clear in the mask (PCI DSS allows a card's last four)


@dataclass(frozen=True, slots=True)
class PiiSpan:
    """Personal data at ``text[start:end]``; ``value`` is its normalised form (digits, the address)."""

    kind: PiiKind
    start: int
    end: int
    value: str


@dataclass(frozen=True, slots=True)
class PiiRules:
    """What is looked for (from ``Settings.pii``)."""

    kinds: frozenset[PiiKind] = frozenset(PiiKind)
    phone_regions: tuple[str, ...] = ("US", "GB")
    national_id_patterns: tuple[str, ...] = ()  # more regular expressions, matched case-insensitively
    min_account_digits: int = 8

    @classmethod
    def from_settings(cls, settings: PiiSettings) -> PiiRules:
        return cls(frozenset(PiiKind(k) for k in settings.kinds), tuple(settings.phone_regions),
                   tuple(settings.national_id_patterns), settings.min_account_digits)


def _words(*words: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(words) + r")\b", re.IGNORECASE)


_PIN_CONTEXT = _words("pin", "pin number", "passcode", "pass code", "password", "security code", "cvv", "cvc",
                      "security number", "access code")
_DOB_CONTEXT = _words("born", "birth", "birthday", "dob", "d o b", "d.o.b")
_SSN_CONTEXT = _words("social security", "social", "ssn", "s s n", "tax id", "taxpayer")
_PHONE_CONTEXT = _words("phone", "mobile", "cell", "cellphone", "telephone", "landline", "call me", "reach me",
                        "ring me", "text me", "call back", "callback", "contact number", "number to call",
                        "my number", "home number", "work number")
_ACCOUNT_CONTEXT = _words("account", "acct", "iban", "sort code", "routing", "customer number", "member number",
                          "membership number", "policy number", "card number", "card")
_NOT_PERSONAL = _words("order", "tracking", "parcel", "package", "shipment", "reference", "ref", "ticket",
                       "confirmation", "case", "invoice", "booking", "item", "flight", "room", "extension")
_SSN = re.compile(r"(?<![\w-])\d{3}[-\s]\d{2}[-\s]\d{4}(?![\w-])")
_NI = re.compile(r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]\b")  # valid prefixes
_NI_SAID = re.compile(r"\b[A-Z]\s?[A-Z]\s?(?:\d\s?){6}[A-D]\b", re.IGNORECASE)  # after "national insurance"
_NI_CONTEXT = _words("national insurance", "n i number", "ni number", "insurance number")
_WRITTEN_PHONE = re.compile(r"\(\d{3}\)\s*\d{3}[-.\s]\d{4}\b|\+\d[\d\s().-]{6,18}\d")
_EMAIL_WORDS = ("email", "e-mail", "e mail", "mail")
_EMAIL_CONTEXT = _words(*_EMAIL_WORDS, "email address")
_TOP_DOMAINS = ("co.uk", "org.uk", "com", "org", "net", "edu", "gov", "io", "info", "biz", "uk", "de", "fr",
                "es", "it", "nl", "ca", "au", "ie")  # the two-part ones first
# what the ASR makes of a spoken address it half heard: "john.smithatgmail.com" (no "@", "at" glued)
_GLUED_ADDRESS = re.compile(r"(?<![\w@.])[\w+-]+(?:\.[\w+-]+)*\.(?:" + "|".join(map(re.escape, _TOP_DOMAINS))
                            + r")(?![\w.])", re.IGNORECASE)
# a spoken address whose "at" the recogniser lost or glued to the name ("john dot smitha gmail dot com"): a
# name said with "dot" (or one or two words before a mail provider's name) before a spoken domain is an
# address, whatever words came before
_SPOKEN_TLD = "(?:" + "|".join(d.replace(".", " dot ") for d in _TOP_DOMAINS) + ")"
_NOT_A_NAME = (r"(?:is|are|it|it'?s|to|at|the|my|your|our|his|her|their|an?|for|from|on|in|of|was|be|by|me|"
               r"with|and|or|via|use|using|through|address|email|mail)")
_SAID_WITHOUT_AT = re.compile(
    r"(?<![\w.@])(?:[a-z0-9]+(?:\s+(?:dot|underscore|dash)\s+[a-z0-9]+)+\s+(?!dot\b)[a-z0-9]+"
    rf"|(?:(?!{_NOT_A_NAME}\s)[a-z0-9]+\s+){{1,2}}"
    r"(?:gmail|googlemail|yahoo|hotmail|outlook|icloud|aol|protonmail|proton|btinternet|gmx))"
    rf"(?:\s+dot\s+(?!{_SPOKEN_TLD}\b)[a-z0-9]+)*\s+dot\s+{_SPOKEN_TLD}(?![\w@])", re.IGNORECASE)
_SENTENCE_END = re.compile(r"\.(?=\s|$|['\")\]])")
_MASKED = re.compile(r"\[[a-z ]+(?: \*{4}\d*)?\]|\*{4}\w*")  # already masked: never read again
BEFORE, AFTER = 40, 16  # characters of context read before and after a number


def luhn_ok(digits: str) -> bool:
    """The Luhn check every payment card number passes."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def mask_label(span: PiiSpan) -> str:
    """``[card ****1234]``, ``[email]``: what a span becomes in the record."""
    keep = KEEP_LAST.get(span.kind, 0)
    tail = f" ****{span.value[-keep:]}" if keep and len(span.value) > keep else ""
    return f"[{LABELS[span.kind]}{tail}]"


def _overlaps(start: int, end: int, spans: Iterable[PiiSpan | Match | tuple[int, int]]) -> bool:
    for span in spans:
        s, e = (span[0], span[1]) if isinstance(span, tuple) else (span.start, span.end)
        if start < e and s < end:
            return True
    return False


class PiiMasker:
    """Finds personal data in text and masks it. Pure, thread-safe, built once from the settings."""

    def __init__(self, rules: PiiRules | None = None) -> None:
        self.rules = rules or PiiRules()
        self._id_patterns = [re.compile(p, re.IGNORECASE) for p in self.rules.national_id_patterns]

    def find(self, text: str) -> list[PiiSpan]:
        """Every span of personal data in ``text``, in text order, none overlapping."""
        if not text.strip():
            return []
        kinds = self.rules.kinds
        found: list[PiiSpan] = []
        masked = [(m.start(), m.end()) for m in _MASKED.finditer(text)]

        def add(kind: PiiKind, start: int, end: int, value: str) -> None:
            if kind in kinds and not _overlaps(start, end, found) and not _overlaps(start, end, masked):
                found.append(PiiSpan(kind, start, end, value))

        unstopped = _SENTENCE_END.sub(" ", text)  # same offsets; "at gmail.com." ends a sentence
        for m in [*_emails(unstopped), *_emails(text)]:  # "… at gmail.com." and "… at Gmail. com."
            start = _local_part_start(text, m.start)  # "my email is john smith at …": "john" too
            add(PiiKind.EMAIL, start, m.end, str(m.value))
        for m in _GLUED_ADDRESS.finditer(unstopped):
            if _EMAIL_CONTEXT.search(_before(text, m.start())):
                start = _local_part_start(text, m.start())
                add(PiiKind.EMAIL, start, m.end(), text[start:m.end()].lower())
        for m in _SAID_WITHOUT_AT.finditer(unstopped):
            add(PiiKind.EMAIL, m.start(), m.end(), re.sub(r"\s+dot\s+", ".", m.group().lower()))
        for pattern in (_SSN, *self._id_patterns):
            for m in pattern.finditer(text):
                add(PiiKind.NATIONAL_ID, m.start(), m.end(), re.sub(r"[\s-]", "", m.group()))
        for m in (_NI_SAID if _NI_CONTEXT.search(text) else _NI).finditer(text):
            add(PiiKind.NATIONAL_ID, m.start(), m.end(), re.sub(r"\s", "", m.group()).upper())
        for date in find_dates(text):
            if _DOB_CONTEXT.search(_before(text, date.start)):
                add(PiiKind.DOB, date.start, date.end, str(date.value))
        for m in _WRITTEN_PHONE.finditer(text):
            digits = re.sub(r"\D", "", m.group())
            if 7 <= len(digits) <= 15 and not _is_card(digits):
                add(PiiKind.PHONE, m.start(), m.end(), digits)
        not_numbers = [*find_money(text), *find_times(text)]
        for run in find_digit_runs(text):
            if any(m.start <= run.start and run.end <= m.end for m in not_numbers) or (
                    len(run.value) < 7 and _overlaps(run.start, run.end, not_numbers)):
                continue  # an amount or a time ("eight oh two" inside a longer run of digits is neither)
            if (kind := self._kind(text, run)) is not None:
                add(kind, run.start, run.end, str(run.value))
        return sorted(found, key=lambda s: s.start)

    def _kind(self, text: str, run: Match) -> PiiKind | None:
        """What a run of digits is, by its length, its check digit and the words around it."""
        digits = str(run.value)
        n = len(digits)
        glued = text[run.start - 1:run.start].isalnum() or text[run.end:run.end + 1].isalpha()
        if glued and not _is_card(digits):
            return None  # part of a code ("1Z999AA1012…", "A12B"), not a number
        before, around = _before(text, run.start), _before(text, run.start) + " " + text[run.end:run.end + AFTER]
        if _is_card(digits):
            return PiiKind.CARD
        if 3 <= n <= 8 and _PIN_CONTEXT.search(around):
            return PiiKind.PIN
        if n == 9 and _SSN_CONTEXT.search(before):
            return PiiKind.NATIONAL_ID
        if 6 <= n <= 8 and _DOB_CONTEXT.search(before):
            return PiiKind.DOB
        if _NOT_PERSONAL.search(_nearest_words(before)) and not _ACCOUNT_CONTEXT.search(_nearest_words(before)):
            return None
        if 7 <= n <= 15 and _PHONE_CONTEXT.search(before):
            return PiiKind.PHONE
        if n >= 5 and _ACCOUNT_CONTEXT.search(before):
            return PiiKind.ACCOUNT
        if 7 <= n <= 15 and self._valid_phone(text, run):
            return PiiKind.PHONE
        return PiiKind.ACCOUNT if n >= self.rules.min_account_digits else None

    def _valid_phone(self, text: str, run: Match) -> bool:
        digits = str(run.value)
        plus = text[:run.start].rstrip().lower().endswith(("+", "plus"))
        if plus:
            return _valid("+" + digits, None)
        # a national number has its area code: shorter runs are local numbers or quantities
        return len(digits) >= 10 and any(_valid(digits, region) for region in self.rules.phone_regions)

    def mask(self, text: str) -> str:
        """``text`` with every span replaced by its label."""
        return self.mask_spans(text, self.find(text))

    @staticmethod
    def mask_spans(text: str, spans: Sequence[PiiSpan]) -> str:
        for span in sorted(spans, key=lambda s: s.start, reverse=True):
            text = text[:span.start] + mask_label(span) + text[span.end:]
        return text


def masker_for(settings: PiiSettings) -> PiiMasker | None:
    """The service's masker; None when ``pii.mask`` is off."""
    return PiiMasker(PiiRules.from_settings(settings)) if settings.mask else None


def _is_card(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and luhn_ok(digits)


def _valid(number: str, region: str | None) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(number, region))
    except phonenumbers.NumberParseException:
        return False


# The words between "email (address) is" and a half-heard domain: the address's name part ("john.smitha" for
# "john.smith at", "john smith", "john.smith a"), at most three words, the first not a small word ("email to
# x.com").
_LOCAL_PART = re.compile(r"\b(?:" + "|".join(_EMAIL_WORDS) + r")(?: address)?(?: is| it's| would be|:)?\s+"
                         r"((?!(?:is|it'?s|to|at|the|my|an?|for|from|on|was|would|be)\s)[\w.+-]+\s+"
                         r"(?:[\w.+-]+\s+){0,2})$",
                         re.IGNORECASE)


def _local_part_start(text: str, domain_start: int) -> int:
    """Where an address whose domain starts at ``domain_start`` begins: before the name part said between the
    e-mail context and the domain, when there is one."""
    found = _LOCAL_PART.search(_before(text, domain_start))
    return domain_start - len(found.group(1)) if found else domain_start


def _before(text: str, start: int) -> str:
    return text[max(0, start - BEFORE):start]


def _nearest_words(before: str) -> str:
    """The last four words before a number: "my order number is" decides, not a word a sentence ago."""
    return " ".join(before.split()[-4:])


def _emails(text: str, offset: int = 0) -> list[Match]:
    """Every e-mail address in the text from ``offset`` (``find_email`` gives one: a written address before a
    spoken one, wherever they are)."""
    found: list[Match] = []
    while offset < len(text) and (m := find_email(text[offset:])) is not None:
        start = m.start + offset
        found += _emails(text[:start], offset)  # a spoken address before the written one
        while start > offset and (text[start - 1].isalnum() or text[start - 1] in "._+-"
                                  or (text[start - 2:start] == ". " and text[start - 3:start - 2].isalnum())):
            start -= 1  # "maria.garcia at yahoo.co.uk", "John. Smith at …": not at "garcia", "Smith"
        found.append(Match(m.value, start, m.end + offset))
        offset += m.end
    return found


class SensitiveWords:
    """Words and phrases the bot never says (``pii.sensitive_words`` and a flow's ``sensitive_words``), found
    whole and in any case; a phrase matches across any spacing."""

    def __init__(self, words: Iterable[str] = ()) -> None:
        self.words = tuple(sorted({" ".join(w.lower().split()) for w in words if w.strip()}, key=len, reverse=True))
        alternatives = "|".join(r"\s+".join(map(re.escape, w.split())) for w in self.words)
        self._pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE) if self.words else None

    def found(self, text: str) -> list[str]:
        """The listed words in ``text``, each once, in the order they first occur."""
        if self._pattern is None or not text:
            return []
        return list(dict.fromkeys(" ".join(m.group().lower().split()) for m in self._pattern.finditer(text)))
