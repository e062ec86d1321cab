"""The report queries on SQLite and PostgreSQL: calls, turns, survey answers and queue events written through
the real stores, read back by store/reports.py and counted by the reports (voicebot/reports/build.py); the JSON
and CSV API on the same data."""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from databases import DATABASES, migrated_call_store
from web_context import site_context

from voicebot.config import ReportSettings
from voicebot.reports.build import Reports
from voicebot.store.repo import SqlCallStore
from voicebot.store.reports import QueueEvent, SqlReportStore
from voicebot.store.tokens import SqlTokenStore
from voicebot.types import HandoffPacket, Turn
from voicebot.web.app import create_app
from voicebot.web.auth import Scope, issue_token

NOW = datetime.now(UTC).replace(microsecond=0)
DAY0 = NOW - timedelta(days=3)


@pytest.fixture(params=DATABASES)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlCallStore]:
    async with migrated_call_store(request.param, tmp_path) as opened:
        yield opened


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


async def _call(store: SqlCallStore, number: str, at: datetime, outcome: str, intents: list[str],
                emotion: str = "neutral", reason: str = "", survey: int | None = None, flow: str = "banking") -> str:
    call_id = str(uuid.uuid4())
    await store.call_started(call_id, number, flow, _epoch(at))
    for i, intent in enumerate(intents):
        turn = Turn(index=i, caller_text="words", intent=intent, emotion=emotion, state="s")
        turn.marks.update({"speech_end": 100.0, "asr_final": 100.2, "nlu_done": 100.21, "dialog_done": 100.22,
                           "tts_first_audio": 100.4, "first_frame_sent": 100.41 + i / 100})
        await store.turn_completed(call_id, turn)
    if survey is not None:
        await store.event(call_id, "survey_answered", {"flow": flow, "question": "satisfaction", "score": survey,
                                                      "via": "dtmf"}, at=_epoch(at + timedelta(seconds=50)))
    packet = HandoffPacket(call_id, number, "banking", None, 0, reason, "", {}, (), (), time.time()) \
        if outcome == "handoff" else None
    await store.call_ended(call_id, outcome, _epoch(at + timedelta(seconds=60)), packet)
    return call_id


async def _seed(store: SqlCallStore) -> None:
    await _call(store, "+1", DAY0, "completed", ["check_balance"], survey=5)
    await _call(store, "+1", DAY0 + timedelta(hours=3), "handoff", ["check_balance", "agent"], "angry",
                "caller_request")  # +1 called back: its first call is not contained
    await _call(store, "+2", DAY0, "completed", ["lost_card"], "frustrated", survey=2)
    await _call(store, "+2", DAY0 + timedelta(hours=30), "completed", ["lost_card"], survey=4)  # after 24 h
    await _call(store, "", DAY0, "completed", ["check_balance"])  # withheld
    await _call(store, "+3", DAY0, "abandoned", [], flow="retail")
    await _call(store, "+4", NOW - timedelta(days=30), "completed", ["check_balance"])  # before the period
    await store.flush()
    reports = SqlReportStore(store.engine)
    events = [QueueEvent(f"j{i}", DAY0 + timedelta(minutes=i), "QueueCallerJoin", "banking", unique_id=str(i))
              for i in range(3)]
    events += [QueueEvent("c0", DAY0 + timedelta(minutes=1), "AgentConnect", "banking", "0", agent="ann", hold_s=15),
               QueueEvent("c1", DAY0 + timedelta(minutes=2), "AgentConnect", "banking", "1", agent="ann", hold_s=45),
               QueueEvent("a2", DAY0 + timedelta(minutes=3), "QueueCallerAbandon", "banking", "2", hold_s=70),
               QueueEvent("k0", DAY0 + timedelta(minutes=5), "AgentComplete", "banking", "0", agent="ann", talk_s=120)]
    await reports.add_queue_events(events)
    await reports.add_queue_events(events[:2])  # heard again (another worker): kept once
    many = [QueueEvent(f"x{i}", NOW - timedelta(days=20), "QueueCallerJoin", "other") for i in range(3000)]
    await reports.add_queue_events(many)  # 3000 rows (42 000 values) at once: written in parts, outside the period


async def test_every_report_on_known_calls(store: SqlCallStore) -> None:
    await _seed(store)
    reports = Reports(SqlReportStore(store.engine), ReportSettings(service_level_s=20, repeat_window_h=24))
    period = reports.period(NOW - timedelta(days=7), NOW + timedelta(minutes=1))
    built = {r.name: r for r in await reports.build(["containment", "outcomes", "handoffs", "intents", "handle-time",
                                                      "csat", "emotions", "queues", "agents", "latency"], period)}
    raw, strict = built["containment"].records()
    assert (raw["calls"], raw["contained"], raw["rate"]) == (6, 4, round(4 / 6, 4))
    assert (strict["contained"], strict["rate"]) == (2, round(2 / 6, 4))  # +2 twice (24 h apart): both contained
    assert built["containment"].figures["repeat_called"] == 1 and built["containment"].figures["withheld_numbers"] == 1
    assert {r["outcome"]: r["calls"] for r in built["outcomes"].records()} == {"completed": 4, "handoff": 1,
                                                                             "abandoned": 1}
    assert built["handoffs"].records() == [{"reason": "caller_request", "calls": 1, "share": 1.0}]
    assert [(r["intent"], r["calls"]) for r in built["intents"].records()] == [
        ("check_balance", 3), ("lost_card", 2), ("agent", 1)]
    assert {r["emotion"]: r["turns"] for r in built["emotions"].records()} == {"neutral": 3, "angry": 2,
                                                                              "frustrated": 1}
    everyone = built["csat"].records()[0]
    assert (everyone["responses"], everyone["csat"], everyone["mean_score"]) == (3, round(2 / 3, 4), 3.7)
    assert built["handle-time"].records()[0] == {"group": "all", "calls": 6, "mean_s": 60.0, "p50_s": 60.0,
                                                 "p90_s": 60.0}
    (banking,) = built["queues"].records()
    assert (banking["offered"], banking["answered"], banking["abandoned"], banking["service_level"]) == (3, 2, 1, 0.3333)
    assert banking["asa_s"] == 30 and banking["avg_talk_s"] == 120
    latency = {r["stage"]: r for r in built["latency"].records()}
    assert latency["asr"]["turns"] == 6 and latency["asr"]["p50_ms"] == pytest.approx(200, abs=1)

    retail = await reports.build(["outcomes"], reports.period(NOW - timedelta(days=7), NOW, flow="retail"))
    assert retail[0].records() == [{"outcome": "abandoned", "calls": 1, "share": 1.0}]
    handed = await reports.build(["outcomes"], reports.period(NOW - timedelta(days=7), NOW, queue="banking"))
    assert handed[0].records() == [{"outcome": "handoff", "calls": 1, "share": 1.0}]  # the calls sent to it


async def test_the_report_api_answers_json_and_csv_and_refuses_bad_input(store: SqlCallStore) -> None:
    await _seed(store)
    tokens = SqlTokenStore(store.engine)
    reader = await issue_token(tokens, "reports", frozenset({Scope.READ}))
    dialplan = await issue_token(tokens, "asterisk", frozenset({Scope.DIALPLAN}))
    ctx = site_context(store.engine, tokens, reports=Reports(SqlReportStore(store.engine), ReportSettings()))
    app = create_app(ctx)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        auth = {"Authorization": f"Bearer {reader.secret}"}
        since = (NOW - timedelta(days=7)).date().isoformat()
        answer = await client.get("/api/reports/containment", params={"from": since}, headers=auth)
        assert answer.status_code == 200 and answer.json()["figures"]["strict_rate"] == round(2 / 6, 4)
        table = await client.get("/api/reports/csat.csv", params={"from": since, "flow": "banking"}, headers=auth)
        assert table.status_code == 200 and table.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(table.text)))
        assert rows[0]["group"] == "all" and rows[0]["responses"] == "3" and rows[0]["score_5"] == "1"
        assert (await client.get("/api/reports")).status_code == 401
        assert (await client.get("/api/reports", headers={"Authorization": f"Bearer {dialplan.secret}"})).status_code == 403
        assert (await client.get("/api/reports/nonsense", headers=auth)).status_code == 404
        for bad in ({"from": "yesterday"}, {"from": "2026-12-05", "to": "2026-12-01"}, {"to": "0001-01-01"},
                    {"from": "x" * 40}, {"flow": "bank\x00ing"}, {"queue": "q" * 65}):
            assert (await client.get("/api/reports/queues", params=bad, headers=auth)).status_code == 422, bad
