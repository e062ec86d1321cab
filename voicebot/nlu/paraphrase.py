"""Rule-based variants of a flow's examples, the way callers wrap a request on the phone.

Flow examples are short and written ("I lost my card"); callers add openings, hedges and politeness and the
recogniser writes lower case without punctuation ("hi yeah um i think i lost my card can you help").
Mean-pooled sentence embeddings drift with those extra words, so the intent head learns from both:
each example also appears lower-cased without punctuation, with one caller opening, and with one closing
(picked deterministically from the text, so a flow's cache key still decides everything). Out-of-scope
examples get the same wrapping: the wrapping itself must not look in scope. No model, no randomness.
"""

from __future__ import annotations

import hashlib
import re

OPENINGS = (
    "um", "hi", "yeah hi", "hello there", "hi um", "so", "ok so", "right so", "er yes hello", "hello",
    "i'm calling because", "i'm ringing because", "i was wondering", "i think", "basically",
    "sorry to bother you but", "hi i need some help", "yeah so",
)
CLOSINGS = (
    "please", "thanks", "thank you", "if that's ok", "can you help", "can you help me with that",
    "what do i do", "could you sort that out", "please help", "if you can",
)
_PUNCTUATION = re.compile(r"[^\w\s']")


def spoken(text: str) -> str:
    """Lower case without punctuation, as the recogniser often writes."""
    return " ".join(_PUNCTUATION.sub(" ", text.lower()).split())


def _pick(options: tuple[str, ...], text: str, salt: str) -> str:
    digest = hashlib.sha256(f"{salt}:{text}".encode()).digest()
    return options[int.from_bytes(digest[:4], "big") % len(options)]


def variants(text: str) -> list[str]:
    """The example's caller-like variants (not the example itself), without duplicates."""
    plain = spoken(text)
    out = [plain, f"{_pick(OPENINGS, plain, 'open')} {plain}", f"{plain} {_pick(CLOSINGS, plain, 'close')}"]
    return [v for v in dict.fromkeys(out) if v and v != text]
