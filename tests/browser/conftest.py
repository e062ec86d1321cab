"""A real web app in a real browser: uvicorn on a free port serving ``create_app`` over a SQLite file (one
call, one person per role), and Debian's chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from databases import recorded_call
from people_site import CALLER_WORDS, PASSWORD, PEOPLE, Site
from served import served_web_app
from services import REQUIRED
from web_context import site_context

from voicebot.config import WebSettings
from voicebot.store.repo import SqlCallStore
from voicebot.store.tickets import SqlTicketStore
from voicebot.store.tokens import SqlTokenStore
from voicebot.store.users import SqlUserStore
from voicebot.types import Turn
from voicebot.web.context import People, WebContext
from voicebot.web.logins import add_user

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The web app over a SQLite file with one handed-off call and one person per role (tests/served.py)."""
    call_id = str(uuid.uuid4())

    async def build(store: SqlCallStore, url: str) -> tuple[WebContext, Site]:
        await recorded_call(store, "handoff", Turn(index=0, caller_text=CALLER_WORDS, intent="card_lost",
                                                   bot_text="I am sorry. Let me block it.", state="ask"),
                            call_id=call_id)
        users, tokens = SqlUserStore(store.engine), SqlTokenStore(store.engine)
        for name, role in PEOPLE.items():
            await add_user(users, name, role, PASSWORD)
        ctx = site_context(store.engine, tokens,
                           people=People(users, tokens, WebSettings(), tickets=SqlTicketStore(store.engine)))
        return ctx, Site(url, call_id)

    with served_web_app(tmp_path_factory.mktemp("site"), build) as site:
        yield site


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists() or shutil.which("chromium") is None:
        problem = "Debian's chromium is not installed (apt-get install chromium; `make system-deps`)"
        if REQUIRED:  # CI installs it (make test → system-deps): missing there is a broken set-up
            pytest.fail(f"{problem}; VOICEBOT_REQUIRE_SERVICES=1 requires it", pytrace=False)
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        launched.close()


@pytest.fixture
def page(browser, site: Site):
    context = browser.new_context(base_url=site.url)
    yield context.new_page()
    context.close()
