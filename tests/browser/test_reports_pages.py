"""The reports in Debian's chromium: a supervisor opens them, sees the charts drawn (Chart.js served from the
package), narrows the period and the flow, and downloads a report as CSV; an agent is refused."""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from people_site import PASSWORD, PEOPLE, Site
from playwright.sync_api import Page, expect
from served import served_web_app
from test_people_pages import log_in
from web_context import site_context

from voicebot.config import ReportSettings, WebSettings
from voicebot.reports.build import Reports
from voicebot.store.repo import SqlCallStore
from voicebot.store.reports import QueueEvent, SqlReportStore
from voicebot.store.tokens import SqlTokenStore
from voicebot.store.users import SqlUserStore
from voicebot.types import HandoffPacket, Turn
from voicebot.web.context import People, WebContext
from voicebot.web.logins import add_user

NOW = datetime.now(UTC)


async def _seed(store: SqlCallStore) -> None:
    for i in range(8):
        call_id, at = str(uuid.uuid4()), NOW - timedelta(hours=2 + i)
        flow = "banking" if i < 6 else "retail"
        outcome = "completed" if i % 3 else "handoff"
        await store.call_started(call_id, f"+1555000{i}", flow, at.timestamp())
        turn = Turn(index=0, caller_text="my balance please", intent="check_balance" if i % 2 else "lost_card",
                    emotion="neutral" if i % 4 else "frustrated", state="s")
        turn.marks.update({"speech_end": 0.0, "asr_final": 0.2 + i / 100, "nlu_done": 0.22 + i / 100,
                           "dialog_done": 0.23 + i / 100, "tts_first_audio": 0.4 + i / 100,
                           "first_frame_sent": 0.41 + i / 100})
        await store.turn_completed(call_id, turn)
        if outcome == "completed":
            await store.event(call_id, "survey_answered", {"flow": flow, "question": "satisfaction",
                                                          "score": 1 + i % 5, "via": "speech"})
        packet = HandoffPacket(call_id, "", "banking", None, 0, "caller_request", "", {}, (), (), time.time()) \
            if outcome == "handoff" else None
        await store.call_ended(call_id, outcome, (at + timedelta(seconds=40 + i)).timestamp(), packet)
    await store.flush()
    await SqlReportStore(store.engine).add_queue_events([
        QueueEvent("j1", NOW - timedelta(hours=3), "QueueCallerJoin", "banking", "1"),
        QueueEvent("c1", NOW - timedelta(hours=3), "AgentConnect", "banking", "1", agent="ann", hold_s=9),
        QueueEvent("j2", NOW - timedelta(hours=2), "QueueCallerJoin", "banking", "2"),
        QueueEvent("a2", NOW - timedelta(hours=2), "QueueCallerAbandon", "banking", "2", hold_s=33)])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The web app with reports over a SQLite file of eight calls, from a thread of its own."""
    async def build(store: SqlCallStore, url: str) -> tuple[WebContext, Site]:
        await _seed(store)
        users, tokens = SqlUserStore(store.engine), SqlTokenStore(store.engine)
        for name, role in PEOPLE.items():
            await add_user(users, name, role, PASSWORD)
        ctx = site_context(store.engine, tokens, flow_names=lambda: ["banking", "retail"],
                           people=People(users, tokens, WebSettings()),
                           reports=Reports(SqlReportStore(store.engine), ReportSettings()))
        return ctx, Site(url, "")

    with served_web_app(tmp_path_factory.mktemp("reports"), build) as site:
        yield site


def test_a_supervisor_sees_the_charts_and_downloads_a_csv(page: Page, site: Site) -> None:
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" and "404" not in message.text else None)  # the browser asks for a favicon
    missing: list[str] = []
    page.on("response", lambda answer: missing.append(answer.url)
            if answer.status >= 400 and not answer.url.endswith("/favicon.ico") else None)
    log_in(page, "sue")
    page.get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reports")
    expect(page.locator("canvas[data-drawn=true]")).to_have_count(10)  # every report drew its chart
    drawn = page.evaluate("""() => {
        const canvas = document.querySelector('#containment canvas');
        const chart = Chart.getChart(canvas);
        const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        return {labels: chart.data.labels, values: chart.data.datasets[0].data,
                inked: pixels.some((value, i) => i % 4 === 3 && value > 0)};
    }""")
    assert drawn["labels"] == ["raw", "strict"] and drawn["inked"]
    assert drawn["values"][0] == pytest.approx(5 / 8)  # 5 of 8 calls ended in the flow
    assert not errors and not missing, (errors, missing)  # nothing refused by the page's CSP, nothing missing
    queues = page.locator("#queues table")
    expect(queues).to_contain_text("banking")
    expect(page.locator("#csat [data-figure=csat]")).to_have_text("20.0 %")  # one 5 among the answers 2, 3, 5, 1, 3

    page.get_by_label("Flow").select_option("retail")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(f"{site.url}/reports?from={(NOW - timedelta(days=7)).date().isoformat()}&"
                             f"to={NOW.date().isoformat()}&flow=retail&queue=")
    expect(page.locator("#outcomes table tbody tr")).to_have_count(2)  # retail: one call served, one handed off

    with page.expect_download() as download:
        page.get_by_role("link", name="Download Intent mix as CSV").click()
    saved = download.value
    assert saved.suggested_filename.startswith("intents_") and saved.suggested_filename.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(Path(saved.path()).read_text(encoding="utf-8"))))
    assert {row["intent"] for row in rows} == {"check_balance", "lost_card"} and sum(int(r["calls"]) for r in rows) == 2


def test_an_agent_may_not_see_the_reports(page: Page, site: Site) -> None:
    log_in(page, "ann")
    page.goto("/reports")
    expect(page.get_by_text("not open to the agent role")).to_be_visible()
    assert page.request.get("/api/reports/containment").status == 403
    expect(page.get_by_role("link", name="Reports")).to_have_count(0)
