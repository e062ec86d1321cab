"""A QA reviewer's day in Debian's chromium: log in, find a call by a word said in it, open it, hear a turn
(the recording seeks to the line clicked, by mouse or keyboard, and the line being played is highlighted),
correct a line, score the call, see the score per flow and export the corrected line as a training example;
a call without a recording says so; the pages fit a phone."""

from __future__ import annotations

import time
import uuid
import wave
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from people_site import PASSWORD, PEOPLE, Site
from playwright.sync_api import Page, expect
from served import served_web_app
from starlette.applications import Starlette
from starlette.responses import FileResponse
from starlette.routing import Route
from test_people_pages import log_in
from web_context import site_context

from voicebot.config import CHECKOUT, QaSettings, WebSettings
from voicebot.qa.forms import load_forms
from voicebot.store.models import CallRow, TurnRow
from voicebot.store.qa import SqlQaStore
from voicebot.store.repo import SqlCallStore
from voicebot.store.tokens import SqlTokenStore
from voicebot.store.users import SqlUserStore
from voicebot.web.context import People, QaConsole, WebContext
from voicebot.web.logins import add_user

STARTED = datetime.now(UTC) - timedelta(hours=1)
STOLEN, QUIET = str(uuid.uuid4()), str(uuid.uuid4())
# (seconds into the call when the turn was recorded, its marks in ms, caller, intent, bot): turn starts 2, 8, 14 s
TURNS = [(4.05, "my card was stolen", "check_balance", "I'm sorry. Let's block your card. What's your account number?"),
         (10.05, "one two three four five six seven eight", None, "Thanks. I'll block the card ending in {digits:5678}."),
         (16.05, "thank you", "goodbye", "You're welcome. Goodbye!")]
MARKS = {"speech_start": 0, "speech_end": 1500, "asr_final": 1680, "nlu_done": 1720, "dialog_done": 1760,
         "tts_first_audio": 1990, "first_frame_sent": 2050}


def _silence(path: Path, seconds: int) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1), out.setsampwidth(2), out.setframerate(8000)
        out.writeframes(b"\0\0" * 8000 * seconds)


async def _seed(store: SqlCallStore) -> None:
    """Two banking calls with turns at known times (written as the store writes them), one without words."""
    async with store.engine.begin() as conn:
        for call_id, words in ((STOLEN, TURNS), (QUIET, TURNS[2:])):
            await conn.execute(CallRow.__table__.insert(), [{
                "id": call_id, "caller_id": "+15550001", "flow": "banking", "started_at": STARTED,
                "ended_at": STARTED + timedelta(seconds=20), "outcome": "completed", "duration_s": 20.0}])
            await conn.execute(TurnRow.__table__.insert(), [{
                "id": uuid.uuid4().hex, "call_id": call_id, "index": index,
                "recorded_at": STARTED + timedelta(seconds=at), "caller_text": caller, "intent": intent,
                "intent_confidence": 0.8 if intent else None, "bot_text": bot, "entities": {},
                "decision": f"heard {caller!r}", "state": "main", "marks": MARKS, "response_ms": 550.0,
                "input_kind": "speech", "barged_in": False}
                for index, (at, caller, intent, bot) in enumerate(words)])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The web app with the QA console over a SQLite file, from a thread of its own; the first call's recording
    (20 s of silence) answers at /calls/{id}/recording with range requests, the second call has none."""
    folder = tmp_path_factory.mktemp("qa")
    _silence(folder / "call.wav", 20)

    async def build(store: SqlCallStore, url: str) -> tuple[WebContext, Site]:
        await _seed(store)
        users, tokens = SqlUserStore(store.engine), SqlTokenStore(store.engine)
        for name, role in PEOPLE.items():
            await add_user(users, name, role, PASSWORD)
        qa = QaConsole(SqlQaStore(store.engine), load_forms(CHECKOUT / "dialogs" / "qa"), QaSettings())
        recording = Starlette(routes=[Route("/", lambda _: FileResponse(folder / "call.wav", media_type="audio/wav"))])
        ctx = site_context(store.engine, tokens, people=People(users, tokens, WebSettings(), qa=qa),
                           mounts={f"/calls/{STOLEN}/recording": recording})
        return ctx, Site(url, STOLEN)

    with served_web_app(folder, build) as site:
        yield site


def _wait_until(check, timeout_s: float = 15.0) -> None:
    """Poll ``check`` (the page's CSP allows no eval, so no wait_for_function)."""
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _player_at(page: Page) -> float:
    return page.evaluate("document.getElementById('recording').currentTime")


def test_a_qa_reviewers_day(page: Page, site: Site) -> None:
    log_in(page, "quinn")
    expect(page.get_by_role("heading", level=1)).to_have_text("Latest calls")
    expect(page.get_by_role("status")).to_contain_text("2 calls match")
    page.get_by_label("Words said in the call").fill("stolen")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("1 call matches")
    page.get_by_role("link", name="from +15550001").click()
    expect(page).to_have_url(f"{site.url}/calls/{STOLEN}")

    # The bot's say-as markup is shown as spoken; each stage's latency is there.
    expect(page.get_by_text("the card ending in five six seven eight")).to_be_visible()
    expect(page.get_by_role("list", name="Stage latencies of turn 1")).to_contain_text("asr final +180 ms")

    # Hear a turn: the player seeks to it and the line is highlighted; the keyboard does the same.
    _wait_until(lambda: page.evaluate("document.getElementById('recording').readyState") >= 1)  # length known
    page.get_by_role("button", name="Play turn 2 from 0:08").click()
    assert abs(_player_at(page) - 8.0) < 0.3
    expect(page.locator("#turn-1")).to_have_attribute("aria-current", "true")
    page.get_by_role("button", name="Play turn 3 from 0:14").focus()
    page.keyboard.press("Enter")
    assert abs(_player_at(page) - 14.0) < 0.3
    expect(page.locator("#turn-2")).to_have_attribute("aria-current", "true")
    expect(page.locator("#turn-1")).not_to_have_attribute("aria-current", "true")
    page.locator("#turn-0 p.caller").click()  # a click on a line's words
    assert abs(_player_at(page) - 2.0) < 0.3
    expect(page.locator("#turn-0")).to_have_attribute("aria-current", "true")
    page.evaluate("document.getElementById('recording').pause()")

    # Correct the first line: what was said and the intent meant.
    page.get_by_text("Correct turn 1").click()
    page.get_by_label("What the caller said").first.fill("my card was stolen yesterday")
    page.get_by_label("The intent they meant").first.fill("lost_card")
    page.get_by_role("button", name="Save correction").first.click()
    expect(page.get_by_role("status")).to_have_text("Turn 1 corrected.")
    expect(page.locator("#turn-0 .qa-said")).to_have_text("my card was stolen yesterday")
    expect(page.locator("#turn-0")).to_contain_text("heard: my card was stolen")
    expect(page.locator("#turn-0")).to_contain_text("Corrected by quinn")

    # Score it: the rules answered from the record, the reviewer answers the rest.
    card = page.locator("#card-service")
    expect(card).to_contain_text("The bot said no sensitive or rude word")
    card.get_by_role("group", name="The bot understood what the caller wanted").get_by_label("No").check()
    card.get_by_role("group", name="The caller's need was met").get_by_label("Yes").check()
    card.get_by_role("group", name="Tone and clarity").get_by_label("4").check()
    card.get_by_label("Comment").fill("Misheard the stolen card as a balance request.")
    card.get_by_role("button", name="Save score").click()
    expect(page.get_by_role("status")).to_contain_text("Service quality: scored")
    expect(page.locator("#card-service")).to_contain_text("by quinn")
    score = float(page.locator("#card-service p.ok").inner_text().split()[1])
    assert 0 < score < 100  # one "no" among yeses

    # Scores per flow, then the export of the correction as a training example.
    page.goto("/calls")
    page.get_by_role("link", name="Scores per flow").click()
    expect(page.get_by_role("table")).to_contain_text("banking")
    expect(page.get_by_role("table")).to_contain_text(f"{score:g}")
    page.goto("/calls")
    page.get_by_role("link", name="Export training examples").click()
    expect(page.get_by_role("listitem").filter(has_text="lost_card")).to_have_text("lost_card: 1 example")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download banking.examples.yaml").click()
    exported = yaml.safe_load(Path(download.value.path()).read_text())
    assert exported == {"intents": {"lost_card": {"examples": ["my card was stolen yesterday"]}}}


def test_a_call_without_a_recording_says_so(page: Page, site: Site) -> None:
    log_in(page, "sue")
    page.goto(f"/calls/{QUIET}")
    expect(page.get_by_text("There is no recording of this call.")).to_be_visible()
    expect(page.get_by_role("button", name="Play turn 1 from 0:14")).to_be_disabled()


def test_the_review_page_fits_a_phone(browser, site: Site) -> None:
    context = browser.new_context(base_url=site.url, viewport={"width": 375, "height": 740}, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    try:
        log_in(page, "quinn")
        page.goto(f"/calls/{STOLEN}")
        expect(page.get_by_role("button", name="Save score").first).to_be_attached()
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.goto("/calls?words=stolen")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
    finally:
        context.close()
