"""Tickets in Debian's chromium: a supervisor opens one about a call with the number to call back and assigns it,
the agent finds it on their list and works it (status, comment and a corrected number land in the history; a
number that is not one is refused with a message), an agent never sees another's ticket, and the list filters by
status, words and number."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from people_site import Site
from test_people_pages import log_in


def test_a_ticket_about_a_call_is_assigned_worked_and_kept_with_its_history(page: Page, site: Site) -> None:
    log_in(page, "sue")
    page.goto(f"/tickets?call={site.call_id}")
    page.get_by_label("Title").fill("Send a new card to the caller")
    page.get_by_label("What needs doing").fill("The card was stolen; the bot blocked it.")
    page.get_by_label("Assign to").fill("ann")
    page.get_by_label("Contact number (optional)").fill("+1 (202) 555-0143")
    page.get_by_role("button", name="Open the ticket").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Send a new card to the caller")
    reference = page.get_by_role("heading", level=1).inner_text().split(":")[0]
    expect(page.locator("#ticket-assignee")).to_have_text("ann")
    expect(page.get_by_role("link", name="+12025550143")).to_have_attribute("href", "tel:+12025550143")
    expect(page.get_by_role("link", name=site.call_id)).to_be_visible()
    page.get_by_role("button", name="Log out").click()

    log_in(page, "ann")
    page.goto("/tickets")
    page.get_by_role("link", name=reference).click()
    page.get_by_label("Status").select_option("in_progress")
    page.get_by_label("Comment").fill("Ordered the new card.")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page.locator("#ticket-status")).to_have_text("in progress")
    history = page.locator("#ticket-history")
    expect(history).to_contain_text("status: open → in_progress")
    expect(history).to_contain_text("Ordered the new card.")
    expect(page.get_by_label("Priority")).to_have_count(0)  # only supervisors change the priority

    page.get_by_label("Contact number").fill("call me after five")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Not saved: a contact number is 3 to 15 digits, with + ( ) - . / or spaces.")
    expect(page.locator("#ticket-contact")).to_have_text("+12025550143")
    page.get_by_label("Contact number").fill("+44 20 7946 0018")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page.locator("#ticket-contact")).to_have_text("+442079460018")
    expect(history).to_contain_text("contact: +12025550143 → +442079460018")
    page.goto("/tickets?q=7946")
    expect(page.get_by_role("row", name=reference)).to_contain_text("+442079460018")

    page.goto("/tickets?status=in_progress&q=new+card")
    expect(page.get_by_role("link", name=reference)).to_be_visible()
    page.goto("/tickets?status=closed")
    expect(page.get_by_text("No tickets match these filters.")).to_be_visible()


def test_an_agent_sees_only_the_tickets_assigned_to_them_or_opened_by_them(page: Page, site: Site) -> None:
    log_in(page, "quinn")
    page.goto("/tickets")
    page.get_by_text("Open a ticket", exact=True).click()  # the form folds away when no call is chosen
    page.get_by_label("Title").fill("Review the greeting")
    page.get_by_role("button", name="Open the ticket").click()
    reference = page.get_by_role("heading", level=1).inner_text().split(":")[0]
    page.get_by_role("button", name="Log out").click()

    log_in(page, "ann")
    page.goto("/tickets")
    expect(page.get_by_role("link", name=reference)).to_have_count(0)
    assert page.request.get(f"/tickets/{reference}").status == 404
    assert page.request.get("/api/tickets").status == 403  # the agent role reads no tickets through the API
