"""Callbacks that keep the caller's place: the durable queue (store/callbacks.py, on a SQLite file and on
PostgreSQL) and the scheduler (telephony/callbacks.py) through the real AMI client against the AMI peer over
TCP: the wait estimate from QueueStatus, a callback dialled only when its turn comes, in order, one number never
twice at once, again at its place after a restart cut its dial short (a bounded number of times), an agent's
scheduled callback at its time; and the flow functions that offer it, or a ticket (call/callbacks.py)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ami_peers import logged_in_client, running_peer
from databases import DATABASES, migrated_engine
from voicebot.call.callbacks import CallbackOffer, TicketRequest
from voicebot.call.routing import QueuePlan, RoutingPlan, estimate_wait
from voicebot.caller.ami_peer import AmiPeer, PeerEntry, PeerMember, PeerQueue
from voicebot.config import CallbackSettings
from voicebot.dialog.actions import ActionRequest, ActionRunner, default_registry
from voicebot.nlu.pii import PiiMasker, PiiRules
from voicebot.store.callbacks import SqlCallbackQueue
from voicebot.store.desktop import SqlDeskStore
from voicebot.store.tickets import SqlTicketStore
from voicebot.telephony.ami import AmiClient
from voicebot.telephony.callbacks import CallbackScheduler

SETTINGS = CallbackSettings(poll_interval_s=0.05, ring_timeout_s=2.0)


@pytest.fixture(params=DATABASES)
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A migrated database: a SQLite file, or a PostgreSQL schema of its own (dropped afterwards)."""
    async with migrated_engine(request.param, tmp_path) as engine:
        yield engine


@pytest.fixture
async def peer() -> AsyncIterator[AmiPeer]:
    async with running_peer([PeerQueue("voicebot-cards", talktime_s=120)]) as peer:
        yield peer


@pytest.fixture
async def client(peer: AmiPeer) -> AsyncIterator[AmiClient]:
    async with logged_in_client(peer) as client:
        yield client


def scheduler(engine: AsyncEngine, client: AmiClient) -> CallbackScheduler:
    return CallbackScheduler(SqlCallbackQueue(engine), client, SETTINGS, "voicebot-", 2.0)


def originated(peer: AmiPeer) -> list[dict[str, str]]:
    return [dict(a) for a in peer.actions if dict(a).get("Action") == "Originate"]


def dialled_numbers(peer: AmiPeer) -> list[str]:
    return [a["Channel"].removeprefix("Local/").removesuffix("@voicebot-outbound") for a in originated(peer)]


def ago(seconds: float) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)


def waiting_caller(name: str, waited_s: float, priority: int = 0) -> PeerEntry:
    return PeerEntry(channel=f"PJSIP/{name}", unique_id=name, priority=priority,
                     joined_at=time.time() - waited_s)


async def test_the_wait_is_estimated_from_the_live_queue_status(peer: AmiPeer, client: AmiClient) -> None:
    cards = peer.queues["voicebot-cards"]
    cards.members["PJSIP/1001"] = PeerMember("PJSIP/1001", status=2)
    cards.entries += [waiting_caller("a", 60), waiting_caller("b", 30)]
    [status] = await client.queue_status("voicebot-cards")
    wait = estimate_wait(status)
    assert (wait.ahead, wait.staffed, wait.free, wait.seconds) == (2, 1, 0, 360.0)
    cards.members["PJSIP/1002"] = PeerMember("PJSIP/1002")
    [status] = await client.queue_status("voicebot-cards")
    assert estimate_wait(status).seconds == 120.0  # one idle, one busy agent for two ahead: one talk time
    cards.members["PJSIP/1003"] = PeerMember("PJSIP/1003")
    cards.members["PJSIP/1004"] = PeerMember("PJSIP/1004")
    [status] = await client.queue_status("voicebot-cards")
    assert estimate_wait(status).seconds == 0.0  # three idle agents, two callers ahead: answered at once


async def test_a_callback_is_dialled_only_when_its_place_reaches_the_front(
        engine: AsyncEngine, peer: AmiPeer, client: AmiClient) -> None:
    cards = peer.queues["voicebot-cards"]
    cards.members["PJSIP/1001"] = PeerMember("PJSIP/1001")  # idle
    cards.entries.append(waiting_caller("earlier", 300))  # joined before the callback's caller
    requests = SqlCallbackQueue(engine)
    request = await requests.request("call-1", "5550001", "cards", 0, ago(120))
    assert await scheduler(engine, client).tick() == []  # the earlier caller goes first
    assert originated(peer) == []
    cards.entries.clear()  # answered
    cards.entries.append(waiting_caller("later", 60))  # joined after: does not hold the callback back
    [dialled] = await scheduler(engine, client).tick()
    assert dialled.answered and dialled.request.id == request.id
    [action] = originated(peer)
    assert (action["Channel"], action["Context"], action["Exten"]) == (
        "Local/5550001@voicebot-outbound", "voicebot-callback", "s")
    assert peer.channels[dialled.channel] == {
        "VOICEBOT_CALLBACK_ID": request.id, "VOICEBOT_CALL_ID": "call-1", "VOICEBOT_QUEUE": "cards",
        "VOICEBOT_PRIORITY": "0", "VOICEBOT_POSITION": "1"}
    done = await requests.get(request.id)
    assert done is not None and (done.state, done.channel) == ("connected", dialled.channel)
    assert await scheduler(engine, client).tick() == [] and len(originated(peer)) == 1  # never again


async def test_two_callbacks_keep_the_order_their_callers_joined_in(
        engine: AsyncEngine, peer: AmiPeer, client: AmiClient) -> None:
    peer.queues["voicebot-cards"].members["PJSIP/1001"] = PeerMember("PJSIP/1001")  # one idle agent
    requests = SqlCallbackQueue(engine)
    await requests.request("call-b", "5550002", "cards", 0, ago(60))  # asked first, joined later
    await requests.request("call-a", "5550001", "cards", 0, ago(90))
    first = await scheduler(engine, client).tick()
    assert [d.request.number for d in first] == ["5550001"]  # one agent: only the one who joined first
    second = await scheduler(engine, client).tick()
    assert [d.request.number for d in second] == ["5550002"]
    assert dialled_numbers(peer) == ["5550001", "5550002"]


async def test_a_dial_cut_short_by_a_restart_is_dialled_again_at_its_place_a_bounded_number_of_times(
        engine: AsyncEngine, peer: AmiPeer, client: AmiClient) -> None:
    cards = peer.queues["voicebot-cards"]
    cards.members["PJSIP/1001"] = PeerMember("PJSIP/1001")  # one idle agent
    requests = SqlCallbackQueue(engine)
    cut = await requests.request("call-1", "5550001", "cards", 0, ago(30))
    later = await requests.request("call-2", "5550002", "cards", 0, ago(20))
    assert await requests.claim(cut.id)  # a scheduler claimed it and stopped before its dial ended
    restarted = scheduler(engine, client)
    results = await restarted.tick()
    assert [d.request.number for d in results] == ["5550002"]  # its dial may still ring: the number waits
    assert dialled_numbers(peer) == ["5550002"]
    assert await requests.request("call-3", "5550001", "cards", 0, ago(1)) == await requests.get(cut.id)
    restarted.interrupted_after = timedelta(0)  # the cut dial has surely ended now
    cards.entries.append(waiting_caller("earlier", 120))  # joined before the cut callback's caller
    assert await restarted.tick() == []
    again = await requests.get(cut.id)
    assert again is not None and (again.state, again.attempts, again.joined_at) == ("waiting", 1, cut.joined_at)
    assert dialled_numbers(peer) == ["5550002"]  # the earlier caller first: a retry never jumps the line
    cards.entries.clear()
    [retried] = await restarted.tick()
    assert (retried.request.id, retried.answered) == (cut.id, True)
    assert dialled_numbers(peer) == ["5550002", "5550001"]
    assert (await requests.get(cut.id)).state == "connected"  # type: ignore[union-attr]
    assert (await requests.get(later.id)).state == "connected"  # type: ignore[union-attr]


async def test_a_callback_cut_short_max_attempts_times_is_failed_not_dialled_again(
        engine: AsyncEngine, peer: AmiPeer, client: AmiClient) -> None:
    peer.queues["voicebot-cards"].members["PJSIP/1001"] = PeerMember("PJSIP/1001")
    requests = SqlCallbackQueue(engine)
    cut = await requests.request("call-1", "5550001", "cards", 0, ago(30))
    dialler = scheduler(engine, client)  # max_attempts 3
    dialler.interrupted_after = timedelta(0)
    for attempt in (1, 2, 3):
        assert await requests.claim(cut.id)  # dialled and cut short again
        await asyncio.sleep(0.01)
        settled = await requests.settle_interrupted(datetime.now(UTC), SETTINGS.max_attempts)
        assert [(r.state, r.attempts) for r in settled] == [("waiting" if attempt < 3 else "failed", attempt)]
    assert await dialler.tick() == [] and originated(peer) == []
    failed = await requests.get(cut.id)
    assert failed is not None and (failed.state, failed.result) == ("failed", "interrupted")
    assert (await requests.request("call-2", "5550001", "cards", 0, ago(1))).id != cut.id  # the number is free


async def test_an_agents_scheduled_callback_waits_for_its_time_then_queues_like_a_caller_joining_then(
        engine: AsyncEngine, peer: AmiPeer, client: AmiClient) -> None:
    cards = peer.queues["voicebot-cards"]
    cards.members["PJSIP/1001"] = PeerMember("PJSIP/1001")
    requests = SqlCallbackQueue(engine)
    when = datetime.now(UTC) + timedelta(seconds=0.5)
    booked = await requests.request("call-1", "5550001", "cards", 0, when, not_before=when)
    assert booked.not_before == when
    assert await scheduler(engine, client).tick() == []  # not yet, though an agent is free
    await asyncio.sleep(0.6)
    cards.entries.append(waiting_caller("earlier", 5))  # was waiting at its time
    assert await scheduler(engine, client).tick() == []
    cards.entries.clear()
    [dialled] = await scheduler(engine, client).tick()
    assert dialled.request.id == booked.id and dialled_numbers(peer) == ["5550001"]


async def test_a_number_is_never_dialled_twice(engine: AsyncEngine, peer: AmiPeer, client: AmiClient) -> None:
    peer.queues["voicebot-cards"].members["PJSIP/1001"] = PeerMember("PJSIP/1001")
    peer.queues["voicebot-cards"].members["PJSIP/1002"] = PeerMember("PJSIP/1002")
    requests = SqlCallbackQueue(engine)
    first = await requests.request("call-1", "5550001", "cards", 0, ago(100))
    again = await requests.request("call-2", "5550001", "cards", 0, ago(10))  # called in again, asked again
    assert again == first  # the same request, its earlier place kept
    one, two = scheduler(engine, client), scheduler(engine, client)  # two schedulers on one database
    results = [*await one.tick(), *await two.tick()]
    assert [d.request.id for d in results] == [first.id]
    assert dialled_numbers(peer) == ["5550001"]
    assert not await requests.claim(first.id)


async def test_a_flow_hears_the_wait_and_asks_for_a_callback_that_keeps_its_place(
        engine: AsyncEngine, peer: AmiPeer, client: AmiClient) -> None:
    cards = peer.queues["voicebot-cards"]
    cards.members["PJSIP/1001"] = PeerMember("PJSIP/1001", status=2)  # busy
    cards.entries += [waiting_caller("a", 60), waiting_caller("b", 30)]
    plan = RoutingPlan(queues={"cards": QueuePlan("cards", max_wait_s=300)})
    offer = CallbackOffer(client, SqlCallbackQueue(engine), lambda flow: plan, "voicebot-")
    runner = ActionRunner(offer.register(default_registry()))

    async def call(function: str, call_id: str, **params: object) -> dict[str, object]:
        context = {"call_id": call_id, "caller_id": "5550001", "flow": "banking", "params": params}
        outcome = await runner.run(ActionRequest("function", function, context=context))
        assert outcome.status == "ok", outcome.detail
        return outcome.data

    wait = await call("queue_wait", "call-1", queue="cards")
    assert wait == {"queue": "cards", "open": True, "overflowed": False, "wait_s": 360, "minutes": 6,
                    "offer_callback": True}
    first = await call("request_callback", "call-1", queue="cards", priority=2)
    assert first["queued"] is True
    again = await call("request_callback", "call-2", queue="cards")  # the same number calls in again
    assert again == {"reference": first["reference"], "queued": False}
    assert await scheduler(engine, client).tick() == []  # no agent free yet
    cards.members["PJSIP/1001"] = PeerMember("PJSIP/1001")
    cards.entries.clear()
    [dialled] = await scheduler(engine, client).tick()
    assert (dialled.request.number, dialled.request.priority, dialled.answered) == ("5550001", 2, True)


async def test_a_caller_who_prefers_a_ticket_gets_an_open_ticket_with_their_number_noted_on_the_calls_desk_actions(
        engine: AsyncEngine) -> None:
    mask = PiiMasker(PiiRules()).mask  # on by default: free text loses the number, the contact field keeps it
    desk, tickets = SqlDeskStore(engine, mask), SqlTicketStore(engine, mask)
    runner = ActionRunner(TicketRequest(tickets, desk).register(default_registry()))
    context = {"call_id": "call-9", "caller_id": "+1 202-555-0143", "flow": "banking",
               "params": {"queue": "cards", "note": "card blocked twice"}}
    outcome = await runner.run(ActionRequest("function", "request_ticket", context=context))
    assert outcome.status == "ok", outcome.detail
    [opened] = await tickets.for_call("call-9")
    assert outcome.data["reference"] == opened.reference
    assert (opened.title, opened.queue, opened.status, opened.source, opened.created_by, opened.contact) == (
        "card blocked twice", "cards", "open", "flow", "banking", "+12025550143")
    assert opened.description == "The caller asked for a ticket instead of waiting."  # no number to mask
    [action] = await desk.actions("call-9")
    assert (action.kind, action.user_name) == ("ticket", "voicebot")
    assert action.data == {"reference": opened.reference, "queue": "cards", "number": "+1 202-555-0143",
                           "note": "card blocked twice"}

    withheld = {**context, "call_id": "call-10", "caller_id": "anonymous", "params": {"queue": "cards"}}
    assert (await runner.run(ActionRequest("function", "request_ticket", context=withheld))).status == "ok"
    [no_number] = await tickets.for_call("call-10")
    assert no_number.contact == ""
    given = {**context, "call_id": "call-11", "params": {"queue": "cards", "number": "07700 900123"}}
    assert (await runner.run(ActionRequest("function", "request_ticket", context=given))).status == "ok"
    [national] = await tickets.for_call("call-11")
    assert national.contact == "07700 900123"  # the flow's number wins; without a country it is kept as given


async def test_the_running_scheduler_dials_as_soon_as_an_agent_is_free(
        engine: AsyncEngine, peer: AmiPeer, client: AmiClient) -> None:
    cards = peer.queues["voicebot-cards"]
    cards.members["PJSIP/1001"] = PeerMember("PJSIP/1001", status=2)  # on a call
    await SqlCallbackQueue(engine).request("call-1", "5550001", "cards", 0, ago(30))
    slow = CallbackSettings(poll_interval_s=60.0, ring_timeout_s=2.0)  # only an event can wake it in time
    dialler = CallbackScheduler(SqlCallbackQueue(engine), client, slow, "voicebot-", 2.0)
    running = asyncio.create_task(dialler.run())
    try:
        await asyncio.sleep(0.3)  # the first tick: nobody free
        assert originated(peer) == []
        cards.members["PJSIP/1001"] = PeerMember("PJSIP/1001")
        peer.emit("AgentComplete", Queue="voicebot-cards", Interface="PJSIP/1001")
        deadline = time.monotonic() + 2.0
        while not originated(peer):
            assert time.monotonic() < deadline, "no callback dialled after the agent was free"
            await asyncio.sleep(0.02)
        assert dialled_numbers(peer) == ["5550001"]
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
