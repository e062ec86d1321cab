"""A caller asking the bot to wait, found by phrase patterns outside the intent classifier.

"Hang on.", "hold on a sec", "one moment please", "give me a minute, let me find my card", "bear with me,
I'm getting the letter": the caller is still there and will answer the question. Read as an intent, "hang
on" came out as ``goodbye`` ("hang up") and ended the call; a class of its own moved the bundles'
calibrated out-of-scope thresholds (eval/README.md, "Seventh session"), so it is a detector, as requests for
a person are.

The whole answer must be a request to wait: every clause (split at punctuation) is a wait phrase,
a search for what was asked ("let me find my card", not "let me check my balance") or a filler. "Wait, I'd
rather speak to an agent", "hold on, that's wrong", "I've been on hold for ages" and "one second class stamp"
are not.
"""

from __future__ import annotations

import re

_WHILE = r"(?: a| one| just a)? (?:sec|secs|second|seconds|moment|minute|min|mo|tick|bit)"
# What a caller goes to find: the thing a question asks for, or a pronoun for it.
_THING = (
    r"(?:it|that|this|them|those|one|"
    r"(?:my|the|our|your|his|her) (?:[a-z']+ ){0,2}"
    r"(?:cards?|numbers?|letters?|receipts?|details|wallet|purse|bag|reference|code|pin|bills?|statements?|"
    r"paperwork|papers|documents?|glasses|phone|pen|email|invoice|notes?|book|file|form|slip|label|"
    r"parcel|package|box))(?: out| up| ready| handy)?"
)
_SEARCH = r"(?:find|get|grab|fetch|look for|look up|dig out|pull up|check|go get|go and get|get hold of)"
_PHRASES = (
    rf"(?:hang|hold) on(?:{_WHILE})?",
    rf"(?:wait|hold it|hold up)(?:{_WHILE})?",
    r"(?:just )?(?:one|a|just a|1) (?:sec|second|moment|minute|min|mo|tick)",
    rf"(?:can you |could you |will you |would you )?(?:give me|gimme|wait|hold on|hang on)(?:{_WHILE})",
    r"(?:can you |could you )?(?:hold on|hang on|wait)",
    rf"i need(?:{_WHILE})(?: to {_SEARCH}(?: {_THING})?)?",
    r"bear with me(?: a (?:sec|second|moment|minute))?",
    r"let me (?:just )?(?:see|think|have a look|look|have a think)",
    rf"let me (?:just )?{_SEARCH} {_THING}",
    rf"i(?:'ll| will|'m going to|'m gonna) (?:just )?(?:go and )?{_SEARCH} {_THING}",
    rf"i'm (?:just )?(?:looking for|getting|finding|grabbing|fetching|getting hold of) {_THING}",
    r"(?:it's|its) (?:just )?(?:here|somewhere|around) somewhere",
)
# Said alone these are a request as often as a wait ("I need to find my phone", "I need to get a new PIN");
# after a wait phrase they are the reason for it ("one second, I need to look for it").
_REASONS = (
    rf"i(?: need to| have to|'ve got to| gotta) (?:just )?(?:go and )?{_SEARCH} {_THING}",
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
    clauses = [c for c in clauses if c]
    waited = False
    for clause in clauses:
        if all(word in _FILLERS for word in clause.split()):
            continue
        kinds = _phrase_kinds(_LEADING_FILLERS.sub("", clause))
        if kinds is None:
            return False
        waited = waited or any(kinds)
    return waited


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
