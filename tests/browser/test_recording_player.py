"""The recording on the call page in Debian's chromium: the page's <audio> element loads the call's recording
(chromium asks for it with range requests: 206), knows its duration and plays it."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from recording_site import RecordingSite, serve_recording_site

from voicebot.web.auth import SESSION_COOKIE


@pytest.fixture(scope="module")
def recorded_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecordingSite]:
    with serve_recording_site(tmp_path_factory.mktemp("recordings")) as site:
        yield site


def player(page, field: str):
    """A property of the page's audio element (read over the DevTools protocol: the page's CSP allows no eval)."""
    return page.evaluate(f"document.getElementById('recording').{field}")


def wait_until(check, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_the_call_page_plays_the_recording(browser, recorded_site: RecordingSite) -> None:
    site = recorded_site
    context = browser.new_context(base_url=site.url)
    context.add_cookies([{"name": SESSION_COOKIE, "value": site.sessions["quinn"], "url": site.url}])
    page = context.new_page()
    statuses: list[int] = []
    page.on("response", lambda r: statuses.append(r.status) if r.url.endswith("/recording") else None)
    try:
        page.goto(f"/calls/{site.call_id}")
        assert page.locator("audio#recording").get_attribute("src") == f"/calls/{site.call_id}/recording"
        wait_until(lambda: (player(page, "duration") or 0) > 0)
        assert player(page, "duration") == pytest.approx(2.4, abs=0.05)  # the caller from 0.2 s, the bot to 2.4 s
        page.evaluate("const a = document.getElementById('recording'); a.muted = true; a.play()")
        wait_until(lambda: player(page, "currentTime") > 0.3)
        assert player(page, "error") is None
        assert 206 in statuses and all(status in (200, 206) for status in statuses)
    finally:
        context.close()
