"""The agent desktop in Debian's chromium: presence buttons reach the PBX's queues (the AMI peer), a handed-off
call pops on the open page of the agent Asterisk connected it to (and nowhere else) with its content, and the
agent's disposition, note, ticket and callback are saved. The site is the real web app with the real AMI client
and presence desk (voicebot/caller/desk_bench.py, which `voicebot bench desktop` measures)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from voicebot.caller.desk_bench import PASSWORD, DeskSite, Person, desk_site, log_in, packet
from voicebot.store.desktop import AgentRecord
from voicebot.store.tickets import SqlTicketStore
from voicebot.types import Turn
from voicebot.web.auth import Role

ANN, BOB = "PJSIP/1001", "PJSIP/1002"
CALLER = "+15550101001"  # Maria Garcia in the demo back office


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeskSite]:
    people = {"ann": Person(Role.AGENT, ANN, (("banking", 0), ("cards", 1))),
              "bob": Person(Role.AGENT, BOB, (("banking", 0),)), "sue": Person(Role.SUPERVISOR),
              "ada": Person(Role.ADMIN)}
    with desk_site(tmp_path_factory.mktemp("desk"), people) as site:
        yield site


def agent_page(browser, desk: DeskSite, name: str) -> Page:  # noqa: ANN001
    page = browser.new_context(base_url=desk.url).new_page()
    log_in(page, name)
    expect(page.get_by_role("heading", level=1)).to_have_text("Your desktop")
    return page


def saved(page: Page, button: str) -> None:
    """Send a desk action's form and wait for its answer (the page says so)."""
    with page.expect_response(lambda r: r.url.endswith("/desktop/actions")) as answer:
        page.get_by_role("button", name=button).click()
    assert answer.value.status == 303
    expect(page.locator("#pop-saved")).to_have_text("Saved.")


def live(page: Page) -> None:
    page.locator("body[data-live=yes]").wait_for(state="attached")


def test_presence_chosen_on_the_desktop_reaches_the_queues(browser, desk: DeskSite) -> None:  # noqa: ANN001
    page = agent_page(browser, desk, "bob")
    expect(page.locator("#presence-state")).to_have_text("offline")
    page.get_by_role("button", name="Available").click()
    expect(page.locator("#presence-state")).to_have_text("available")
    member = desk.peer.queues["voicebot-banking"].members[BOB]
    assert not member.paused and member.name == "bob"
    page.get_by_label("Break reason").fill("lunch")
    page.get_by_role("button", name="Take a break").click()
    expect(page.locator("#presence-state")).to_have_text("break")
    expect(page.locator("#presence-reason")).to_have_text(" (lunch)")
    assert member.paused and member.paused_reason == "lunch"
    page.get_by_role("button", name="Go offline").click()
    expect(page.locator("#presence-state")).to_have_text("offline")
    assert BOB not in desk.peer.queues["voicebot-banking"].members
    page.context.close()


def test_a_handed_off_call_pops_on_the_connected_agents_page_only(browser, desk: DeskSite) -> None:  # noqa: ANN001
    earlier = str(uuid.uuid4())

    async def previous_call() -> None:
        started = (datetime.now(UTC) - timedelta(days=2)).timestamp()
        await desk.store.call_started(earlier, CALLER, "banking", started)
        await desk.store.turn_completed(earlier, Turn(index=0, caller_text="what is my balance",
                                                      intent="check_balance", intent_confidence=0.9))
        await desk.store.call_ended(earlier, "completed", started + 60, None)
        await desk.store.flush()

    desk.run(previous_call())
    ann, bob = agent_page(browser, desk, "ann"), agent_page(browser, desk, "bob")
    ann.get_by_role("button", name="Available").click()
    bob.get_by_role("button", name="Available").click()
    live(ann), live(bob)
    call_id = str(uuid.uuid4())
    desk.hand_off(packet(call_id, CALLER))
    ann.wait_for_timeout(50)  # the handoff reaches the desktop's bus subscription
    desk.connect(ANN, call_id)

    pop = ann.locator("#pop")
    expect(pop).to_be_visible()
    expect(ann.get_by_role("heading", name=f"Caller {CALLER}")).to_be_visible()
    expect(ann.locator("#presence-state")).to_have_text("on call")
    expect(pop.locator("[data-field=reason]")).to_have_text("caller_request")
    expect(pop.locator("[data-field=intent_summary]")).to_contain_text("Caller wanted: card_lost")
    expect(pop.locator("[data-field=verified]")).to_have_text("No (not verified by the bot)")
    expect(pop.locator("#pop-slots")).to_contain_text("account number****4321")
    expect(pop.locator("#pop-transcript")).to_contain_text("just put me through to a person")
    expect(pop.locator("#pop-emotions")).to_have_text("neutral 0.71 → frustrated 0.64")
    expect(pop.locator("#pop-previous")).to_contain_text("banking · completed · check_balance")
    profile = pop.locator("#pop-profile")  # from the demo back office, by the caller's number
    expect(profile).to_contain_text("Maria Garcia")
    expect(profile).to_contain_text("standard")
    expect(profile).to_contain_text("debit …4421 active")
    expect(profile).to_contain_text("2345678 delivered")
    expect(profile).to_contain_text("4100001 roads in_progress")
    expect(ann.locator("#waiting")).to_be_hidden()

    bob.wait_for_timeout(300)  # time enough for a pop that should not come
    expect(bob.locator("#pop")).to_be_hidden()
    expect(bob.locator("#waiting")).to_be_visible()
    assert CALLER not in bob.content() and "****4321" not in bob.content()

    ann.reload()  # the call stays on the agent's screen
    expect(ann.locator("#pop")).to_be_visible()
    expect(ann.locator("#pop [data-field=call_id]")).to_have_text(call_id)

    ann.get_by_label("Disposition").select_option("resolved")
    saved(ann, "Save disposition")
    ann.get_by_label("Note").fill("card blocked, new one sent")
    saved(ann, "Add note")
    when = (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0)
    ann.get_by_label("Callback number").fill(CALLER)
    ann.get_by_label("Callback at").fill(when.strftime("%Y-%m-%dT%H:%M"))  # the site's time zone: UTC
    saved(ann, "Schedule callback")
    ann.get_by_label("Ticket").fill("send the new card by courier")
    contact = ann.get_by_label("Number to call back")
    expect(contact).to_have_value(CALLER)  # the caller id by default, editable
    saved(ann, "Open ticket")
    expect(contact).to_have_value(CALLER)  # still there for the next ticket
    contact.fill("call me")
    ann.get_by_label("Ticket").fill("ring the caller's mobile")
    ann.get_by_role("button", name="Open ticket").click()
    expect(ann.locator("#pop-saved")).to_have_text(
        "Not saved: A contact number is 3 to 15 digits, with + ( ) - . / or spaces.")
    contact.fill("+44 7700 900123")
    saved(ann, "Open ticket")
    actions = desk.run(desk.desks.actions(call_id))
    assert [(a.kind, a.user_name) for a in actions] == [("disposition", "ann"), ("note", "ann"), ("callback", "ann"),
                                                         ("ticket", "ann"), ("ticket", "ann")]
    first, mobile = desk.run(SqlTicketStore(desk.store.engine).for_call(call_id))[::-1]  # the agent's, oldest first
    assert (first.title, first.assignee, first.source, first.status, first.contact) == (
        "send the new card by courier", "ann", "agent", "open", CALLER)
    assert (mobile.title, mobile.contact) == ("ring the caller's mobile", "+447700900123")
    assert actions[3].data == {"text": "send the new card by courier", "contact": CALLER,
                               "reference": first.reference}
    assert actions[0].data["disposition"] == "resolved"
    assert actions[1].data["text"] == "card blocked, new one sent"
    scheduled = desk.run(desk.callbacks.get(actions[2].data["callback"]))  # queued for the scheduler to dial
    assert scheduled is not None
    assert (scheduled.number, scheduled.queue, scheduled.priority, scheduled.state, scheduled.not_before) == \
        (CALLER, "banking", 2, "waiting", when)
    assert actions[2].data == {"number": CALLER, "when": when.strftime("%Y-%m-%dT%H:%M"), "at": when.isoformat(),
                               "text": "", "callback": scheduled.id, "already_waiting": False}

    desk.complete(ANN, call_id)
    expect(ann.locator("#presence-state")).to_have_text("available")  # wrap-up is 0 s on this site
    ann.context.close(), bob.context.close()


def test_an_admin_gives_a_new_agent_a_phone_and_queues(browser, desk: DeskSite) -> None:  # noqa: ANN001
    page = browser.new_context(base_url=desk.url).new_page()
    log_in(page, "ada")
    page.get_by_label("Username").fill("carl")
    page.get_by_label("Role").select_option("agent")
    page.get_by_label("Password (8 characters or more)").fill(PASSWORD)
    page.get_by_label("Agent's phone (e.g. PJSIP/1001)").fill("PJSIP/1005")
    page.get_by_label("Agent's queues (banking,cards:2)").fill("cards:1")
    page.get_by_role("button", name="Add user").click()
    expect(page.get_by_role("status")).to_have_text("User carl added.")
    expect(page.get_by_role("row", name="carl")).to_contain_text("PJSIP/1005")
    assert desk.run(desk.desks.agent("carl")) == AgentRecord("carl", "PJSIP/1005", (("cards", 1),))
    page.get_by_label("Username").fill("dora")
    page.get_by_label("Password (8 characters or more)").fill(PASSWORD)
    page.get_by_label("Agent's phone (e.g. PJSIP/1001)").fill("PJSIP/1005")  # carl's
    page.get_by_label("Agent's queues (banking,cards:2)").fill("cards")
    page.get_by_role("button", name="Add user").click()
    expect(page.get_by_role("alert")).to_contain_text("PJSIP/1005 is carl's phone")
    expect(page.get_by_role("row", name="dora")).to_have_count(0)  # refused before the user was added
    page.context.close()
