"""A caller asking the bot to wait, found by phrase patterns outside the intent classifier.

"Hang on.", "hold on a sec", "one moment please", "give me a minute, let me find my card", "bear with me,
I'm getting the letter": the caller is still there and will answer the question. Read as an intent, "hang
on" came out as ``goodbye`` ("hang up") and ended the call; a class of its own moved the bundles'
calibrated out-of-scope thresholds (eval/README.md, "Seventh session"), so it is a detector, as requests for
a person are.

Two ways to read it:

* the whole answer is a request to wait: every clause (split at punctuation) is a wait phrase, a search for
  what was asked ("let me find my card", not "let me check my balance") or a filler;
* a clause opens with a phrase that can only ask for time ("hold on", "hang tight", "bear with me", "give us a
  sec", "could you wait") and the rest is the caller's own business ("I'm putting you on speaker", "my husband
  has the card, I'll ask him"): nothing in it answers or asks anything — no number, no no, no correction, no
  question, no request ("hang on, I want to cancel it instead").

"Wait, I'd rather speak to an agent", "hold on, that's wrong", "Wait, no, it's four five", "I've been on hold
for ages" and "one second class stamp" are not.
"""

from __future__ import annotations

import re

from voicebot.nlu.normalize import find_digit_runs

_WHILE = r"(?: a| one| just a)? (?:sec|secs|second|seconds|moment|minute|min|mo|tick|bit)"
# A few of them: "two seconds", "a couple of minutes", "a few moments".
_FEW = r"(?:two|2|a few|a couple of|a couple) (?:secs|seconds|moments|minutes|mins)"
# The time asked for, said alone: "one sec", "half a mo", "just a minute", "two seconds".
_TIME = rf"(?:(?:one|a|half a|just a|just one|1)(?:{_WHILE})|{_FEW})"
# What a caller goes to find: the thing a question asks for, or a pronoun for it.
_THING = (
    r"(?:it|that|this|them|those|one|"
    r"(?:my|the|our|your|his|her) (?:[a-z']+ ){0,2}"
    r"(?:cards?|numbers?|letters?|receipts?|details|wallet|purse|bag|reference|code|pin|bills?|statements?|"
    r"paperwork|papers|documents?|glasses|phone|pen|email|invoice|notes?|book|file|form|slip|label|"
    r"parcel|package|box))(?: out| up| ready| handy)?"
)
_SEARCH = r"(?:find|get|grab|fetch|look for|look up|dig out|pull up|check|go get|go and get|get hold of)"
# Where the thing is: "it's in my other bag", "it's upstairs", "they're in the car".
_PLACE = (
    r"(?:it's|its|it is|they're|they are) (?:just |somewhere |probably |still )?"
    r"(?:upstairs|downstairs|in the other room|"
    r"(?:in|on|under|by|at) (?:my|the|our) (?:[a-z']+ ){0,2}"
    r"(?:bag|handbag|wallet|purse|pocket|coat|jacket|car|drawer|desk|room|kitchen|bedroom|office|house|"
    r"table|counter|inbox|email|emails|app|phone|folder|files?))"
)
_PHRASES = (
    rf"(?:hang|hold) (?:on|about)(?:{_WHILE})?",
    r"hold that thought",
    rf"(?:just )?{_FEW}",
    rf"(?:wait|hold it|hold up)(?:{_WHILE})?",
    r"(?:just )?(?:one|a|just a|1) (?:sec|second|moment|minute|min|mo|tick)",
    (rf"(?:can you |could you |will you |would you )?(?:give me|gimme|wait|hold on|hang on)"
     rf"(?:{_WHILE}| {_FEW})"),
    r"(?:can you |could you )?(?:hold on|hang on|wait)",
    rf"i need(?:{_WHILE})(?: to {_SEARCH}(?: {_THING})?)?",
    r"bear with me(?: a (?:sec|second|moment|minute))?",
    r"let me (?:just )?(?:see|think|have a look|look|have a think)",
    rf"let me (?:just )?{_SEARCH} {_THING}",
    rf"i(?:'ll| will|'m going to|'m gonna) (?:just )?(?:go and )?{_SEARCH} {_THING}",
    rf"i'm (?:just )?(?:looking for|getting|finding|grabbing|fetching|getting hold of) {_THING}",
    r"(?:it's|its) (?:just )?(?:here|somewhere|around) somewhere",
    r"(?:i )?won't be (?:a (?:sec|second|minute|moment|mo|tick)|long)",
)
# Said alone these are a request as often as a wait ("I need to find my phone", "I need to get a new PIN");
# after a wait phrase they are the reason for it ("one second, I need to look for it").
_REASONS = (
    rf"i(?: need to| have to|'ve got to| gotta) (?:just )?(?:go and )?{_SEARCH} {_THING}",
    rf"while i (?:just )?(?:go and )?{_SEARCH} {_THING}",
    _PLACE,
)
# A clause is one or more of the phrases: "hold on I'm getting my card" is said without a pause. Each is
# matched whole at the clause's next word, the longest first (no backtracking across phrases).
_MATCHERS = tuple((re.compile(rf"(?:{p})(?: please)?(?= |$)"), waits)
                  for group, waits in ((_PHRASES, True), (_REASONS, False)) for p in group)
_FILLERS = frozenset(
    "ok okay sure yes yeah yep um uh umm uhh er erm oh ah well so right alright sorry please thanks thank "
    "you hmm mm".split()
)
_CLAUSE_SPLIT = re.compile(r"[,.!?;:]+|\s+-\s+")
_JOINER = re.compile(r"(?:and|then|and then) ")  # between two phrases of a clause ("go and get" is one)
_LEADING_FILLERS = re.compile(r"^(?:(?:" + "|".join(sorted(_FILLERS, key=len, reverse=True)) + r")\s+)+")


# Phrases that open a clause and can only ask for time (a clause merely starting with "wait" or "one second"
# is not enough: "wait, no", "one second class stamp").
_LEAD = re.compile(
    r"^(?:just |only )?(?:"
    r"hang (?:on|tight|fire|about)|hold (?:on|up|tight|the line)|bear with me|"
    r"(?:wait|hang on|hold on)(?: a| one| just a)? (?:sec|secs|second|seconds|moment|minute|min|mo|tick|bit)|"
    r"wait(?: wait)*$|"
    rf"(?:give|gimme|give me|give us)(?: me| us)?(?:{_WHILE}| {_FEW})|"
    rf"(?:can|could|would|will) you (?:just |please )?(?:hang on|hold on|hold the line|wait|bear with me|"
    rf"hold(?= for| a |$)|give me(?:{_WHILE}| {_FEW}))|"
    r"would you mind (?:waiting|holding|hanging on)|"
    r"(?:can|could|may) i (?:have|get) (?:a|one|just a) (?:sec|second|moment|minute|min|mo)(?: please)?$|"
    rf"{_TIME}$"
    r")(?= |$)"
)
# What disqualifies the rest of the answer: it answers, corrects, asks or requests ("hold on, that's wrong",
# "wait, what's my balance", "hang on, I want to cancel it").
_NOT_WAITING = re.compile(
    r"(?:^|\b)(?:no|nope|not that|that's (?:wrong|not)|that is (?:wrong|not)|it's wrong|wrong|actually|"
    r"instead|i said|rather|i want|i wanna|i'd like|i would like|can i (?:speak|talk|get|ask)|"
    r"(?:can|could) you (?:tell|put|connect|transfer|cancel|check|give me the|send)|"
    r"what|what's|why|how|when|is there|is it|are you|do you|put me through|connect me|transfer me|"
    r"i need to (?:cancel|speak|talk|report|change|make|book|complain)|cancel|complain|complaint|stolen|"
    r"broken|damaged|refund|charged|not (?:the )?(?:right|correct|true|what)|understood)\b"
)
_TIMES = re.compile(rf"\b{_TIME}\b")


def _words(clause: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]", " ", clause.lower().replace("’", "'")).split())


# "Hang up." said alone is read as "hang on": whisper confuses the two (festival-ked's "hang on" was heard
# "Hang up." in a call, flite-awb's "hang up" "Hang on."), and nobody needs to ask a bot to hang up: a
# caller who is done puts the phone down. Hanging up on a caller who asked for a moment is the costlier
# mistake.
_HANG_UP_ALONE = re.compile(r"^\W*hang up\W*$", re.IGNORECASE)


def asks_to_wait(text: str) -> bool:
    """Whether the whole of ``text`` asks the bot to wait (module docstring)."""
    if _HANG_UP_ALONE.match(text):
        return True
    clauses = [_words(c) for c in _CLAUSE_SPLIT.split(text.lower())]
    clauses = [_LEADING_FILLERS.sub("", c) for c in clauses
               if c and not all(w in _FILLERS for w in c.split())]
    return bool(clauses) and (_all_waiting(clauses) or _led_by_wait(clauses))


def _all_waiting(clauses: list[str]) -> bool:
    """Every clause is made of wait phrases and reasons for them, one at least a wait phrase."""
    waited = False
    for clause in clauses:
        kinds = _phrase_kinds(clause)
        if kinds is None:
            return False
        waited = waited or any(kinds)
    return waited


def _led_by_wait(clauses: list[str]) -> bool:
    """A clause opens with a phrase that can only ask for time, and nothing said answers, corrects, asks or
    requests anything."""
    if not any(_LEAD.match(clause) for clause in clauses):
        return False
    rest = " ".join(_TIMES.sub(" ", clause) for clause in clauses)  # a number left over is an answer said
    return not _NOT_WAITING.search(rest) and not find_digit_runs(rest)


def _phrase_kinds(clause: str) -> list[bool] | None:
    """For each phrase ``clause`` is made of, whether it asks to wait (else it is a reason to); None when a
    part of it is no such phrase."""
    kinds: list[bool] = []
    position = 0
    while position < len(clause):
        if kinds and (joiner := _JOINER.match(clause, position)):
            position = joiner.end()
        found = [(m.end(), waits) for pattern, waits in _MATCHERS if (m := pattern.match(clause, position))]
        if not found:
            return None
        end, waits = max(found, key=lambda f: f[0])
        kinds.append(waits)
        position = end + 1
    return kinds
