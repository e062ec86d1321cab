"""Every people's page in Debian's chromium, with the keyboard and on a phone: the login, the agent desktop, the
calls list, a call's detail, the scores per flow, the export, the reports, the tickets list and a ticket, the admin
page. Each visible control is reached with Tab and shows where the focus is, each form has a submit button (so
Enter sends it: checked on the search forms and the admin's), and at 390×844 the page body never scrolls sideways
(tables scroll inside their own regions)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from databases import recorded_call
from people_site import PASSWORD, PEOPLE
from playwright.sync_api import Browser, Page, expect
from served import served_web_app
from test_people_pages import log_in
from web_context import site_context

from voicebot.caller.desk_bench import DeskSite, Person, desk_site
from voicebot.config import CHECKOUT, QaSettings, ReportSettings, WebSettings
from voicebot.qa.forms import load_forms
from voicebot.reports.build import Reports
from voicebot.store.qa import SqlQaStore
from voicebot.store.repo import SqlCallStore
from voicebot.store.reports import SqlReportStore
from voicebot.store.tickets import SqlTicketStore
from voicebot.store.tokens import SqlTokenStore
from voicebot.store.users import SqlUserStore
from voicebot.types import Turn
from voicebot.web.auth import Role
from voicebot.web.context import People, QaConsole, WebContext
from voicebot.web.logins import add_user

PHONE = {"width": 390, "height": 844}

# Marks each visible, enabled control with a key (one per radio group: Tab stops once in a group) and lists them.
CONTROLS = """() => {
  const selector = 'a[href], button, input:not([type=hidden]), select, textarea, summary, audio[controls], '
                 + '[tabindex]:not([tabindex="-1"])';
  const folded = el => { const details = el.closest('details:not([open])');  // a closed <details>: its summary only
                         return details !== null && el !== details.querySelector(':scope > summary'); };
  const shown = el => el.checkVisibility({visibilityProperty: true}) && !folded(el) && !el.disabled;
  const keys = new Set();
  let i = 0;
  for (const el of document.querySelectorAll(selector)) {
    if (!shown(el)) continue;
    el.dataset.tabKey = el.type === 'radio' ? `radio ${el.form ? el.form.getAttribute('action') : ''} ${el.name}`
                                            : `${el.tagName.toLowerCase()} ${i++} ${(el.textContent || el.name || el.id || '').trim().slice(0, 40)}`;
    keys.add(el.dataset.tabKey);
  }
  return [...keys];
}"""
# Where the focus is, and whether it is drawn (an outline or a ring); the browser draws it on the controls inside
# an element (the audio player's buttons, a date's calendar button), where the element itself is not :focus.
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const drawn = !el.matches(':focus') || (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0)
                || style.boxShadow !== 'none';
  return {key: el.dataset.tabKey || `${el.tagName} unmarked`, drawn};
}"""
# Forms shown on the page without a submit button (Enter would not send them).
NO_SUBMIT = """() => [...document.forms].filter(form => form.getBoundingClientRect().height > 0
  && !form.querySelector('button:not([type=button]):not([type=reset]), input[type=submit], input[type=image]'))
  .map(form => form.getAttribute('action') || form.id || '?')"""
# Elements sticking out of the page on the right, outside the regions that scroll on their own.
OVERFLOW = """() => [...document.body.querySelectorAll('*')].filter(el => {
    if (el.getBoundingClientRect().right <= document.documentElement.clientWidth + 1) return false;
    for (let up = el.parentElement; up; up = up.parentElement) {
      if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(up).overflowX)) return false;
    }
    return true;
  }).slice(0, 5).map(el => el.outerHTML.slice(0, 160))"""


@dataclass(frozen=True)
class Sites:
    url: str  # the console, reports, tickets and admin pages
    call_id: str
    ticket: str  # a ticket's reference
    desk: DeskSite  # the agent desktop


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    """The web app with every people's part over a SQLite file (a call, a ticket, one person per role), and the
    agent desktop's site (voicebot/caller/desk_bench.py)."""
    call_id = str(uuid.uuid4())

    async def build(store: SqlCallStore, url: str) -> tuple[WebContext, tuple[str, str]]:
        await recorded_call(store, "handoff", *(
            Turn(index=index, caller_text=said, intent=intent, bot_text="Let me pass you to a colleague.", state="ask")
            for index, (said, intent) in enumerate((("my card was stolen yesterday", "lost_card"),
                                                    ("I want to speak to an agent", "agent")))), call_id=call_id)
        users, tokens, tickets = SqlUserStore(store.engine), SqlTokenStore(store.engine), SqlTicketStore(store.engine)
        for name, role in PEOPLE.items():
            await add_user(users, name, role, PASSWORD)
        opened = await tickets.open(title="Send a new card", description="Stolen card.", call_id=call_id,
                                    assignee="ann", source="supervisor", created_by="sue")
        qa = QaConsole(SqlQaStore(store.engine), load_forms(CHECKOUT / "dialogs" / "qa"), QaSettings())
        ctx = site_context(store.engine, tokens, people=People(users, tokens, WebSettings(), qa=qa, tickets=tickets),
                           reports=Reports(SqlReportStore(store.engine), ReportSettings()))
        return ctx, (url, opened.reference)

    with served_web_app(tmp_path_factory.mktemp("access"), build) as (url, ticket), \
            desk_site(tmp_path_factory.mktemp("access-desk"),
                      {"ann": Person(Role.AGENT, "PJSIP/1001", (("banking", 0),))}) as desk:
        yield Sites(url, call_id, ticket, desk)


def _pages(sites: Sites) -> list[tuple[str, str | None, str]]:
    """(site, who, path) of every people's page."""
    return [(sites.url, None, "/login"), (sites.desk.url, "ann", "/"), (sites.url, "sue", "/calls"),
            (sites.url, "quinn", f"/calls/{sites.call_id}"), (sites.url, "quinn", "/qa/scores"),
            (sites.url, "quinn", "/qa/export"), (sites.url, "sue", "/reports"), (sites.url, "sue", "/tickets"),
            (sites.url, "sue", f"/tickets/{sites.ticket}"), (sites.url, "ada", "/")]


def _open(browser: Browser, url: str, who: str | None, path: str, **options) -> Page:
    page = browser.new_context(base_url=url, **options).new_page()
    if who:
        log_in(page, who)
        expect(page.get_by_role("button", name="Log out")).to_be_visible()
    page.goto(path)
    page.wait_for_load_state("load")
    return page


def _tab_through(page: Page) -> tuple[set[str], list[str]]:
    """Tab from the top until every control was reached (or far past their number): the controls never reached,
    and the ones reached with no visible focus."""
    wanted = set(page.evaluate(CONTROLS))
    reached: set[str] = set()
    unseen: list[str] = []
    for _ in range(len(wanted) * 3 + 30):  # the audio player has several stops of its own
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is None:
            continue
        reached.add(focused["key"])
        if not focused["drawn"]:
            unseen.append(focused["key"])
        if wanted <= reached:
            break
    return wanted - reached, unseen


def test_every_control_is_reached_with_tab_and_shows_its_focus(browser: Browser, sites: Sites) -> None:
    problems = {}
    for url, who, path in _pages(sites):
        page = _open(browser, url, who, path)
        try:
            missed, unseen = _tab_through(page)
            without_submit = page.evaluate(NO_SUBMIT)
            if missed or unseen or without_submit:
                problems[path] = {"not reached": sorted(missed), "focus not shown": sorted(set(unseen)),
                                  "forms without a submit button": without_submit}
        finally:
            page.context.close()
    assert not problems, json.dumps(problems, indent=1)


def test_forms_are_sent_with_enter(browser: Browser, sites: Sites) -> None:
    page = _open(browser, sites.url, "sue", "/tickets")
    try:
        page.get_by_label("Words").fill("new card")
        page.keyboard.press("Enter")
        expect(page).to_have_url(f"{sites.url}/tickets?status=&assignee=&queue=&source=&call=&q=new+card")
        expect(page.get_by_role("link", name=sites.ticket)).to_be_visible()
        page.goto("/calls")
        page.get_by_label("Words said in the call").fill("stolen")
        page.keyboard.press("Enter")
        expect(page.get_by_role("status")).to_contain_text("1 call matches")
    finally:
        page.context.close()
    page = _open(browser, sites.url, "ada", "/")
    try:
        page.get_by_label("Username").fill("walt")
        page.get_by_label("Password (8 characters or more)").fill(PASSWORD)
        page.keyboard.press("Enter")
        expect(page.get_by_role("cell", name="walt", exact=True)).to_be_visible()
    finally:
        page.context.close()


def test_no_page_scrolls_sideways_on_a_phone(browser: Browser, sites: Sites) -> None:
    wide = {}
    for url, who, path in _pages(sites):
        page = _open(browser, url, who, path, viewport=PHONE, is_mobile=True, has_touch=True)
        try:
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > PHONE["width"]:
                wide[path] = (width, page.evaluate(OVERFLOW))
        finally:
            page.context.close()
    assert not wide, wide
