"""A caller asking for a person, found by phrase patterns whatever the flow's intent examples say.

"Agent please", "operator", "just put me through", "can I talk to a real person", "get me a human now",
"I don't want to talk to a machine": a request, at any question. "No I don't need an agent", "please don't
transfer me": a request declined. "A person stole my card", "transfer fifty dollars", "I spoke to an
agent yesterday", "am I talking to a real person?": neither.

Each clause (split at punctuation and "but") is read on its own: a request said in one clause is not undone
by a "no" or a "don't" in another ("No! Just let me talk to someone."). A clause declines when a negation
governs the request: only words of asking ("want", "need", "to talk to", "a") stand between them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Who a caller asks for. Strong names stand alone ("operator", "customer service please"); weak ones
# ("someone", "a person") need words of asking, or "real" / "live" in front ("a real person").
_STRONG = (
    r"(?:live |real |human |actual |an? |the |your |some )*"
    r"(?:agents?|operators?|representatives?|reps?|advis[eo]rs?|humans?(?: beings?)?|managers?|supervisors?|"
    r"customer (?:services?|care|support)(?: (?:agents?|representatives?|reps?|team|people))?|colleagues?|"
    r"(?:real|live|actual) (?:persons?|people|someone|somebody|humans?)|member of (?:staff|the team)|"
    r"(?:someone|somebody|anyone|anybody) (?:real|actual|human|live)|"
    r"staff member|one of (?:your|the) (?:staff|team|colleagues|people|agents|advisors)|"
    r"(?:someone|somebody|whoever(?: is)?) in charge)"
)
_WEAK = r"(?:an? |the |some )?(?:someone|somebody|anyone|anybody|persons?|people|whoever)"
_WHO = rf"(?:{_STRONG}|{_WEAK})"
# A caller's words around a bare name: "uh yeah can I get an operator please", "hello? agent?".
_FILLER = (
    "please now right just ok okay yes yeah yep hi hello hey um uh umm uhh er erm oh well so can could may "
    "i i'd id me get have a an the some to speak talk with let quick quickly immediately "
    "again sir madam there straight away no and sure certainly absolutely definitely".split()
)
# "Operator" as the recogniser writes it alone over a poor line: "Upperator", "Authorator", "I'm a creator",
# "Operate or", "moderator", "of the reator" (flite voices over μ-law and GSM, eval/README.md "Menu
# answers"): a clause that is nothing but such a word (and fillers) asks for a person. Real words of this
# shape said alone to a call centre's bot ("curator", "narrator") are rare enough.
_OPERATOR_HEARD = re.compile(r"[a-z]{0,6}(?:rator|reator|rate or)s?")
_OPERATOR_FILLER = frozenset(("i'm", "im", "all", "oh", "of"))
_MACHINE = (r"(?:machines?|robots?|computers?|bots?|automated (?:system|voice|thing)|recordings?|"
            r"recorded voice)")
# Words of asking that may stand between a negation and what it negates: "I don't really want to talk to".
_ASKING = frozenset(
    "i want wanna need would like to talk speak chat be being really actually have ask asking asked for a an "
    "the any get put transferred transfer connected connect through me with right now just yet at all even "
    "need needed please wish any anyone anybody someone somebody you".split()
)
_NEGATION = re.compile(r"\b(?:don't|dont|do not|doesn't|does not|didn't|did not|never|not|won't|will not|"
                       r"without|no need)\b")

_REQUESTS = [re.compile(p) for p in (
    # talk to whom: "can I talk to a real person", "let me speak with one of your staff"
    rf"\b(?:talk|speak|chat|talking|speaking|have a word|have a chat)(?: directly| properly)? (?:to|with) "
    rf"(?:you )?{_WHO}\b(?!')",  # ("speak to you a person": a word the recogniser put in)
    # asked for with the verb misheard, before a strong name only: "can I adjust to a real person" (festival
    # voice over GSM, "can I just talk to a real person")
    # (not a verb that takes a thing: "can I send it to your manager")
    rf"\b(?:can|could|may) (?:i|we) (?:please |just )?"
    rf"(?!(?:send|give|pay|mail|post|email|write|show|return|bring|take|hand|forward|sell|lend)\b)[a-z']+ "
    rf"(?:to|with) {_STRONG}\b(?!')",
    # the "to" lost by the recogniser, before a strong name only: "I want to speak the real person"
    rf"\b(?:talk|speak)(?: directly| properly)? {_STRONG}\b(?!')",
    # … or before any name when the caller asks leave to: "can I just speak the person about it"
    rf"\b(?:can|could|may) (?:i|we) (?:please |just )?(?:talk|speak) {_WEAK}\b(?!')",
    # "rather" than the bot, whoever is named as the recogniser heard it: "I'd rather speak to the nation" (a
    # festival voice over GSM, "I'd rather speak to an agent"); not "my wife"
    r"\b(?:i'?d|i would) (?:much )?rather (?:talk|speak|chat) (?:to|with) "
    r"(?:a|an|the|some|someone|somebody)\b",
    # a person "instead", whatever tense the recogniser gave the verb: "I talked to a real person instead"
    # (festival voice, "can I talk to a real person instead"); "instead of …" says what was done
    rf"\b(?:talk|talked|speak|spoke|chat|chatted|talking|speaking)(?: directly| properly)? (?:to|with) "
    rf"{_WHO} instead\b(?! of\b)",
    # get me through to whom: "put me through to someone", "get me a human", "connect me with a rep"
    rf"\b(?:put|get|transfer|connect|pass|patch|forward|route|switch|give|find) me "
    rf"(?:(?:through|over|across|on|back) )?(?:(?:to|with|onto|on to) )?{_WHO}\b(?!')",
    # through, with no one named: "just put me through", "transfer me please", "can I be put through"
    r"\b(?:put|patch) me through\b",
    # whom they want to help: "can someone real help me", "could an agent deal with this"
    rf"\b(?:can|could|will|would) {_STRONG} (?:please |just )?(?:help|assist|deal with|sort)\b",
    r"\b(?:transfer|connect) me(?: (?:now|please|right now|already|then|over|through))*$",
    r"\b(?:be|get|being) (?:transferred|put through|connected)\b",
    # whom they want: "I need a manager", "can I have an operator", "is there a real person"
    rf"\b(?:want|need|prefer|rather have|request|requesting|ask(?:ed|ing)? for|looking for|is there|where is|"
    rf"where's|bring|(?:can|could|may) (?:i|we) (?:please |just )?(?:have|get)|(?:i'd|i would|id) like) "
    rf"{_STRONG}\b(?!')",
    # a weak name wanted, and nothing else: "I just want someone", "I need somebody who can actually help"
    rf"\b(?:want|need|(?:can|could) i (?:have|get)|is there) {_WEAK}(?: (?:please|now|real quick|here|"
    rf"on the (?:line|phone)|who can (?:actually )?help(?: me)?|to help me|"
    rf"(?:there )?(?:that |who )?i can (?:talk|speak) (?:to|with)))*$",
    rf"\b{_WHO} (?:there )?(?:that |who )?i can (?:talk|speak) (?:to|with)\b",
    # no machine: "I don't want to talk to a robot", "stop the robot", "I'm done with this machine"
    rf"\b(?:stop|enough of|done with|sick of|hate) (?:this |the |these |talking to (?:a |the |this )?)?"
    rf"{_MACHINE}",
    r"\b(?:press(?:ed|ing)?|dial(?:led|ing)?|hit(?:ting)?) (?:zero|0)\b",
)]
# Negated, these ask for a person: "I don't want to talk to a machine", "I'm not talking to a robot".
_NO_MACHINE = re.compile(rf"\b(?:talk|speak|talking|speaking|deal|dealing|chat)(?: to| with)? "
                         rf"(?:a |an |the |this |some |your )?(?:stupid |bloody |damn )?{_MACHINE}\b")
# Whom the caller is talking to, asked or told: "am I talking to a real person?", "I was talking to an agent".
_ASKING_WHO = re.compile(r"^(?:(?:am i|are you|is this|is that|is it|are we|was i|was that) "
                         r"(?:even |actually |really |just )?(?:talking|speaking|a|an|the)|"
                         r"(?:i was|we were|i've been|i have been|i already|i've already) "
                         r"(?:talking|speaking|chatting))\b")
# Declined in so many words: "no need for an agent", "no operator needed, thanks", "not an agent".
_NO_ONE = re.compile(rf"\bno need (?:for|of|to (?:talk|speak) (?:to|with)) {_WHO}|"
                     rf"\bno {_WHO} (?:needed|necessary|required|thanks|thank you)\b|^not {_STRONG}$")
_BARE = re.compile(rf"{_STRONG}(?: {_STRONG})*")
_CLAUSE = re.compile(r"[.,;:!?]+|\s+but\s+|\s+-+\s+")
# What the recogniser writes for a word of the request: "a gent please", "super visor", "customer services".
_HEARD_AS = [(re.compile(p), r) for p, r in (
    (r"\ba gents?\b", "agent"), (r"\bage(?:nt|n) please\b", "agent please"),
    (r"\bsuper visor\b", "supervisor"),
    (r"\bopera tor\b", "operator"), (r"\brepresent[ai]tive\b", "representative"), (r"\bhooman\b", "human"),
    (r"\b(?:took|push) me through(?= (?:to|too|two|\d+)\b|[.!?]*$)", "put me through"),
    # "get me a human being now" written "got me …" or "set me …" (festival voices over GSM): an order, said
    # first in its clause or after a filler, before whom it names ("she got me the manager" tells, it does
    # not ask)
    (r"(^|[,.!?] |\b(?:yeah|yes|just|so|please|ok|okay|and|well|now|oh) )(?:got|set) me (?=(?:an? |the |some )?"
     r"(?:real |live |actual )?(?:humans?|persons?|agents?|operators?|managers?|supervisors?|someone|somebody|"
     r"representatives?)\b)", r"\1get me "),
    (r"\bwanna\b", "want to"), (r"\bgimme\b", "give me"), (r"\blemme\b", "let me"),
)]


@dataclass(frozen=True, slots=True)
class HumanRequest:
    """A request for a person in an utterance. ``declined``: negated ("I don't need an agent");
    ``explicit``: said with words of asking ("put me through", "talk to"), not a bare "agent please";
    ``phrase``: the words found."""

    declined: bool
    explicit: bool
    phrase: str


def normalise(text: str) -> str:
    """Lower case, plain apostrophes, the recogniser's spellings of the request's words mended."""
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    for pattern, replacement in _HEARD_AS:
        text = pattern.sub(replacement, text)
    return re.sub(r"[^a-z0-9'.,;:!?\- ]+", " ", text)


def find_human_request(text: str) -> HumanRequest | None:
    """The request for a person in ``text``, if any: a request in one clause wins over a clause declining."""
    declined: HumanRequest | None = None
    for clause in _CLAUSE.split(normalise(text)):
        clause = " ".join(clause.split())
        found = _clause_request(clause)
        if found is not None and not found.declined:
            return found
        declined = declined or found
    return declined


def asks_whom(text: str) -> bool:
    """Whether ``text`` only asks or tells whom the caller is talking to ("Are you a real person?"): no
    request for a person, whatever an intent classifier makes of its words."""
    clauses = [" ".join(c.split()) for c in _CLAUSE.split(normalise(text))]
    return any(_ASKING_WHO.match(c) for c in clauses if c) and find_human_request(text) is None


def asks_for_human(text: str) -> bool:
    """Whether ``text`` asks for a person (and does not decline one)."""
    found = find_human_request(text)
    return found is not None and not found.declined


def _clause_request(clause: str) -> HumanRequest | None:
    if not clause or _ASKING_WHO.match(clause):
        return None
    if (no_one := _NO_ONE.search(clause)) is not None:
        return HumanRequest(True, True, no_one.group(0))
    machine = _NO_MACHINE.search(clause)
    if machine is not None and _negated(clause, machine.start()):
        return HumanRequest(False, True, machine.group(0))  # "I don't want to talk to a machine"
    for pattern in _REQUESTS:
        if (match := pattern.search(clause)) is not None:
            return HumanRequest(_negated(clause, match.start()), True, match.group(0))
    words = clause.split()
    rest = " ".join(word for word in words if word not in _FILLER)
    if rest and (_BARE.fullmatch(rest) or (rest in ("someone", "somebody") and "please" in words)):
        return HumanRequest(False, False, rest)  # "operator please", "uh a real person", "agent agent"
    heard = " ".join(word for word in rest.split() if word not in _OPERATOR_FILLER)
    if _OPERATOR_HEARD.fullmatch(heard):
        return HumanRequest(False, False, heard)  # "Upperator, please."
    return None


def _negated(clause: str, start: int) -> bool:
    """Whether a negation governs the words at ``start``: only words of asking between them."""
    before = clause[:start]
    for negation in _NEGATION.finditer(before):
        between = before[negation.end():].split()
        if all(word in _ASKING for word in between):
            return True
    return False
