"""What the browser tests' site holds: one call, one person per role (all with one password)."""

from __future__ import annotations

from dataclasses import dataclass

from voicebot.web.auth import Role

PASSWORD = "correct horse battery"
PEOPLE = {"ann": Role.AGENT, "sue": Role.SUPERVISOR, "quinn": Role.QA, "ada": Role.ADMIN}
CALLER_WORDS = "my card was stolen yesterday"


@dataclass(frozen=True)
class Site:
    url: str  # where the web app answers
    call_id: str  # the call in its database
