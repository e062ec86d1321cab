"""A real web app in a real browser: uvicorn on a free port serving ``create_app`` over a SQLite file (one
call, one person per role), and Debian's chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from voicebot.call.directory import MemoryCallDirectory
from voicebot.call.events import EventBus
from voicebot.config import WebSettings
from voicebot.store.queries import SqlCallQueries
from voicebot.store.repo import SqlCallStore
from voicebot.store.tickets import SqlTicketStore
from voicebot.store.tokens import SqlTokenStore
from voicebot.store.users import SqlUserStore
from voicebot.types import Turn, now
from voicebot.web.app import create_app
from voicebot.web.auth import store_lookup
from voicebot.web.context import People, WebContext
from voicebot.web.logins import add_user

from fakes import store_ok
from people_site import CALLER_WORDS, PASSWORD, PEOPLE, Site
from services import REQUIRED

CHROMIUM = Path("/usr/bin/chromium")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The web app served on 127.0.0.1 from a thread of its own (its own event loop), stopped afterwards."""
    folder = tmp_path_factory.mktemp("site")
    port, call_id = _free_port(), str(uuid.uuid4())
    ready, failed = threading.Event(), []
    servers: list[uvicorn.Server] = []

    async def serve() -> None:
        store = await SqlCallStore.open(f"sqlite+aiosqlite:///{folder / 'voicebot.db'}", folder / "spool")
        try:
            await store.call_started(call_id, "+15550001", "banking", now())
            await store.turn_completed(call_id, Turn(index=0, caller_text=CALLER_WORDS, intent="card_lost",
                                                     bot_text="I am sorry. Let me block it.", state="ask"))
            await store.call_ended(call_id, "handoff", now(), None)
            await store.flush()
            users, tokens = SqlUserStore(store.engine), SqlTokenStore(store.engine)
            for name, role in PEOPLE.items():
                await add_user(users, name, role, PASSWORD)
            ctx = WebContext(calls=SqlCallQueries(store.engine), directory=MemoryCallDirectory(), bus=EventBus(),
                             flow_names=lambda: ["banking"], routable=lambda name: True, active_calls=lambda: 0,
                             principal_for=store_lookup(tokens), store_health=store_ok,
                             people=People(users, tokens, WebSettings(), tickets=SqlTicketStore(store.engine)))
            server = uvicorn.Server(uvicorn.Config(create_app(ctx), host="127.0.0.1", port=port,
                                                   log_level="warning", lifespan="on"))
            servers.append(server)
            task = asyncio.create_task(server.serve())
            while not server.started and not task.done():
                await asyncio.sleep(0.05)
            ready.set()
            await task
        except BaseException as error:  # reported to the test thread
            failed.append(error)
            raise
        finally:
            ready.set()
            await store.close()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(60) and not failed, failed
    yield Site(f"http://127.0.0.1:{port}", call_id)
    servers[0].should_exit = True
    thread.join(15)


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
