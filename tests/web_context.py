"""The web app's context for a test site: the calls of a database, one flow (banking) routable, no call in
progress, API tokens checked against a token store; the site's own parts (people, reports, mounts, …) given."""

from __future__ import annotations

from typing import Any

from fakes import store_ok
from sqlalchemy.ext.asyncio import AsyncEngine

from voicebot.call.directory import MemoryCallDirectory
from voicebot.call.events import EventBus
from voicebot.store.queries import SqlCallQueries
from voicebot.store.tokens import SqlTokenStore
from voicebot.web.auth import store_lookup
from voicebot.web.context import WebContext


def site_context(engine: AsyncEngine, tokens: SqlTokenStore, **parts: Any) -> WebContext:
    """``parts``: the WebContext fields this site sets (``flow_names`` too, to list other flows)."""
    defaults: dict[str, Any] = {"flow_names": lambda: ["banking"], "routable": lambda name: True,
                                "active_calls": lambda: 0, "store_health": store_ok}
    return WebContext(calls=SqlCallQueries(engine), directory=MemoryCallDirectory(), bus=EventBus(),
                      principal_for=store_lookup(tokens), **{**defaults, **parts})
