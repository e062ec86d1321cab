"""The QA call page tags a turn in which the caller said a sensitive word (its ``entities.sensitive_words``, set
by the session) and no other turn; the real web app over a SQLite file, a QA person's session."""

from __future__ import annotations

import re
from pathlib import Path

from databases import recorded_call
from fastapi.testclient import TestClient
from web_context import site_context

from voicebot.config import CHECKOUT, QaSettings, WebSettings
from voicebot.qa.forms import load_forms
from voicebot.store.qa import SqlQaStore
from voicebot.store.repo import SqlCallStore
from voicebot.store.tokens import SqlTokenStore
from voicebot.store.users import SqlUserStore
from voicebot.types import Turn
from voicebot.web.app import create_app
from voicebot.web.auth import SESSION_COOKIE, Role, token_digest
from voicebot.web.context import People, QaConsole
from voicebot.web.logins import add_user, new_session_secret, session_limits


def _turn_items(html: str) -> dict[int, str]:
    """Each turn's list item of the timeline, by turn index."""
    return {int(n): item for n, item in re.findall(r'<li id="turn-(\d+)"(.*?)</li>', html, re.DOTALL)}


async def test_a_turn_with_a_sensitive_word_is_tagged(tmp_path: Path) -> None:
    store = await SqlCallStore.open(f"sqlite+aiosqlite:///{tmp_path / 'voicebot.db'}", tmp_path / "spool")
    try:
        call = await recorded_call(store, "completed",
                                   Turn(index=0, caller_text="I want my balance", bot_text="Sure."),
                                   Turn(index=1, caller_text="this is a scam", bot_text="I understand.",
                                        entities={"sensitive_words": ["scam"]}))
        users, web = SqlUserStore(store.engine), WebSettings()
        await add_user(users, "quinn", Role.QA, "correct horse battery")
        secret = new_session_secret()
        await users.open_session(token_digest(secret), "quinn", session_limits(web))
        qa = QaConsole(SqlQaStore(store.engine), load_forms(CHECKOUT / "dialogs" / "qa"), QaSettings())
        tokens = SqlTokenStore(store.engine)
        ctx = site_context(store.engine, tokens, people=People(users, tokens, web, qa=qa))
        with TestClient(create_app(ctx), cookies={SESSION_COOKIE: secret}) as client:
            page = client.get(f"/calls/{call}")
        assert page.status_code == 200
        turns = _turn_items(page.text)
        assert set(turns) == {0, 1}
        assert "sensitive word</span>" in turns[1] and 'title="The caller said: scam"' in turns[1]
        assert "sensitive word" not in turns[0]
    finally:
        await store.close()
