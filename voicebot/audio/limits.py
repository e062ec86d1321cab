"""Per-call inbound limits: a peer may not send audio faster than real time, nor flood DTMF.

A token bucket per call: ``rate`` units per second of wall-clock time, at most ``burst`` saved up. What
exceeds it is dropped and counted; the caller's audio path never sees it, so one misbehaving peer costs
the others nothing but the parsing of its bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class TokenBucket:
    """``take(amount, at)`` is True while the peer stays within ``rate`` per second plus ``burst``."""

    rate: float
    burst: float
    tokens: float = field(init=False)
    updated: float | None = field(default=None, init=False)
    dropped: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self.tokens = self.burst

    def take(self, amount: float, at: float) -> bool:
        if self.updated is not None:
            self.tokens = min(self.burst, self.tokens + (at - self.updated) * self.rate)
        self.updated = at
        if self.tokens >= amount:
            self.tokens -= amount
            return True
        self.dropped += amount
        return False
