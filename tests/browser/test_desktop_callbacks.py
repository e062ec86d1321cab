"""A callback keeps the caller's place, in Debian's chromium (issue 14, deliverable 8). A caller in the demo shop
chose to be called back (the flow's request_callback, through the registered function); callers who joined the
queue later wait in Asterisk's queue (the AMI peer); the running scheduler does not dial while an earlier caller
waits or no agent is free, then dials the customer ahead of the later callers, at position 1; and when Asterisk
connects the answered customer to the agent (the dialplan's [voicebot-callback] sets VOICEBOT_UUID to the
originate's VOICEBOT_CALL_ID), that agent's open page pops the original call, as a callback, with the customer's
profile. The site is the real web app, AMI client, presence desk and callback scheduler (voicebot/caller/desk_bench.py)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from voicebot.call.callbacks import CallbackOffer
from voicebot.call.routing import QueuePlan, RoutingPlan
from voicebot.caller.ami_peer import PeerEntry
from voicebot.caller.desk_bench import DeskSite, Person, desk_site, log_in
from voicebot.store.callbacks import CallbackRequest
from voicebot.types import Turn
from voicebot.web.auth import Role

ANN = "PJSIP/1001"
CUSTOMER = "+15550101001"  # Maria Garcia in the demo back office
POLL_S = 0.1


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeskSite]:
    people = {"ann": Person(Role.AGENT, ANN, (("banking", 0),))}
    with desk_site(tmp_path_factory.mktemp("callbacks"), people, callbacks_poll_s=POLL_S) as site:
        yield site


def caller(name: str, waited_s: float) -> PeerEntry:
    return PeerEntry(channel=f"PJSIP/{name}", unique_id=name, joined_at=time.time() - waited_s)


def originates(desk: DeskSite) -> list[dict[str, str]]:
    return [dict(a) for a in desk.peer.actions if dict(a).get("Action") == "Originate"]


def quiet(page: Page, desk: DeskSite, seconds: float = 0.6) -> None:
    """Let the scheduler tick several times; nothing may be dialled meanwhile."""
    page.wait_for_timeout(seconds * 1000)
    assert originates(desk) == []


def test_a_callback_keeps_its_place_against_later_callers_and_pops_on_the_agent_who_takes_it(
        browser, desk: DeskSite) -> None:  # noqa: ANN001
    page = browser.new_context(base_url=desk.url).new_page()
    log_in(page, "ann")
    page.get_by_role("button", name="Available").click()
    expect(page.locator("#presence-state")).to_have_text("available")
    page.locator("body[data-live=yes]").wait_for(state="attached")
    banking = desk.peer.queues["voicebot-banking"]
    banking.members[ANN].status = 2  # ann is on another call: nobody free
    banking.entries.append(caller("earlier", 300))  # joined before the callback's caller

    call_id = str(uuid.uuid4())

    async def the_call_that_asked_for_a_callback() -> CallbackRequest:
        await desk.store.call_started(call_id, CUSTOMER, "banking", time.time() - 90)
        await desk.store.turn_completed(call_id, Turn(index=0, caller_text="my card was stolen", intent="card_lost",
                                                      bot_text="The wait is about 12 minutes. Shall we call you "
                                                               "back instead?", emotion="frustrated",
                                                      emotion_score=0.66))
        await desk.store.turn_completed(call_id, Turn(index=1, caller_text="yes call me back",
                                                      bot_text="We'll call you back when it's your turn."))
        await desk.store.call_ended(call_id, "completed", time.time(), None)
        await desk.store.flush()
        plan = RoutingPlan(queues={"banking": QueuePlan("banking", max_wait_s=300)})
        offer = CallbackOffer(desk.desk.control, desk.callbacks, lambda flow: plan, "voicebot-")
        asked = await offer.request_callback({"call_id": call_id, "caller_id": CUSTOMER, "flow": "banking",
                                              "params": {"queue": "banking", "priority": 0}})
        assert asked["queued"] is True
        request = await desk.callbacks.for_call(call_id)
        assert request is not None
        return request

    request = desk.run(the_call_that_asked_for_a_callback())
    page.wait_for_timeout(200)  # the callback's caller has waited a little before the later callers join
    banking.entries += [caller("later-1", 0.1), caller("later-2", 0)]
    quiet(page, desk)  # nobody free
    banking.members[ANN].status = 1  # ann is free; the earlier caller is still ahead
    quiet(page, desk)
    banking.entries[:] = [e for e in banking.entries if e.unique_id != "earlier"]  # ann took the earlier caller
    def dialled_channels() -> list[str]:
        return [c for c, variables in desk.peer.channels.items() if variables.get("VOICEBOT_CALLBACK_ID")]

    deadline = time.monotonic() + 10
    while not (originates(desk) and dialled_channels()):  # the originate, then its channel with the variables
        assert time.monotonic() < deadline, "the callback was not dialled once its place reached the front"
        page.wait_for_timeout(50)
    [dial] = originates(desk)
    assert (dial["Channel"], dial["Context"]) == (f"Local/{CUSTOMER}@voicebot-outbound", "voicebot-callback")
    [channel] = dialled_channels()
    variables = desk.peer.channels[channel]
    assert (variables["VOICEBOT_CALL_ID"], variables["VOICEBOT_POSITION"]) == (call_id, "1")  # before the later two
    assert [e.unique_id for e in banking.entries] == ["later-1", "later-2"]  # still waiting behind it
    done = desk.run(desk.callbacks.get(request.id))
    while done is not None and done.state == "dialing":  # the originate's answer is recorded just after its channel
        assert time.monotonic() < deadline, "the answered callback was not recorded"
        page.wait_for_timeout(50)
        done = desk.run(desk.callbacks.get(request.id))
    assert done is not None and done.state == "connected" and done.attempts == 1

    # [voicebot-callback]: Set(__VOICEBOT_UUID=${VOICEBOT_CALL_ID}), Queue(); the queue connects ann
    desk.connect(ANN, variables["VOICEBOT_CALL_ID"])
    pop = page.locator("#pop")
    expect(pop).to_be_visible()
    expect(page.get_by_role("heading", name=f"Caller {CUSTOMER}")).to_be_visible()
    expect(page.locator("#presence-state")).to_have_text("on call")
    expect(pop.locator("[data-field=reason]")).to_have_text("callback")
    expect(pop.locator("[data-field=callback]")).to_contain_text(f"reference {request.id[:8].upper()}")
    expect(pop.locator("[data-field=intent_summary]")).to_have_text("Caller wanted: card_lost")
    expect(pop.locator("#pop-transcript")).to_contain_text("yes call me back")
    expect(pop.locator("#pop-emotions")).to_have_text("frustrated 0.66")
    expect(pop.locator("#pop-profile")).to_contain_text("Maria Garcia")
    assert len(originates(desk)) == 1  # dialled once
    page.context.close()
