"""People's pages in Debian's chromium: login per role, refusals, a wrong password, a form without its CSRF
token, a login with the keyboard only, and a phone-sized screen."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from people_site import CALLER_WORDS, PASSWORD, Site

HOMES = {"ann": "Your desktop", "sue": "Latest calls", "quinn": "Latest calls", "ada": "Users and API tokens"}


def log_in(page: Page, name: str, password: str = PASSWORD, *, here: bool = False) -> None:
    """Fill in the login form (of the page shown when ``here``, else of a fresh /login)."""
    if not here:
        page.goto("/login")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_each_role_logs_in_to_its_own_home_page(page: Page, site: Site) -> None:
    for name, heading in HOMES.items():
        log_in(page, name)
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        expect(page.get_by_text(f"{name} (")).to_be_visible()
        page.get_by_role("button", name="Log out").click()
        expect(page).to_have_url(f"{site.url}/login")
    log_in(page, "sue")
    page.get_by_role("link", name="from +15550001").click()
    expect(page.get_by_text(CALLER_WORDS)).to_be_visible()
    expect(page.get_by_role("heading", name="Transcript")).to_be_visible()


def test_nothing_shows_without_a_login(page: Page, site: Site) -> None:
    page.goto(f"/calls/{site.call_id}")
    expect(page).to_have_url(f"{site.url}/login?next=/calls/{site.call_id}")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert CALLER_WORDS not in page.content()
    assert page.request.get("/api/calls").status == 401
    log_in(page, "quinn", here=True)  # back where the person was going
    expect(page).to_have_url(f"{site.url}/calls/{site.call_id}")
    expect(page.get_by_text(CALLER_WORDS)).to_be_visible()
    assert page.request.get("/api/calls").status == 200  # the session opens the API for reading


def test_a_wrong_password_is_refused_with_a_clear_message(page: Page, site: Site) -> None:
    log_in(page, "ada", "not the password")
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    expect(page).to_have_url(f"{site.url}/login")
    assert page.request.get("/api/calls").status == 401


def test_a_form_without_its_csrf_token_is_refused(page: Page, site: Site) -> None:
    log_in(page, "ada")
    expect(page.get_by_role("heading", level=1)).to_have_text("Users and API tokens")
    refused = page.request.post("/admin/users", form={"username": "eve", "role": "admin", "password": PASSWORD})
    assert refused.status == 403
    page.get_by_label("Username").fill("eve")
    page.get_by_label("Password (8 characters or more)").fill(PASSWORD)
    page.eval_on_selector("form[action='/admin/users'] input[name=csrf]", "e => e.remove()")
    page.get_by_role("button", name="Add user").click()
    expect(page.get_by_role("alert")).to_contain_text("CSRF token is missing or wrong")
    page.goto("/")
    expect(page.get_by_role("cell", name="eve", exact=True)).to_have_count(0)


def test_logging_in_with_the_keyboard_only(page: Page, site: Site) -> None:
    page.goto("/login")
    # the form has the focus at once (autofocus: the browser applies it after parsing, a moment after goto
    # returns on a loaded machine)
    page.wait_for_function("document.activeElement && document.activeElement.id === 'username'", timeout=5000)
    assert page.evaluate("document.activeElement.id") == "username"
    page.keyboard.type("quinn")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    focused = page.evaluate("[document.activeElement.textContent, getComputedStyle(document.activeElement).outlineStyle]")
    assert focused == ["Log in", "solid"]  # focus is visible
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Latest calls")
    tabbed: list[str] = []
    while "Log out" not in tabbed and len(tabbed) < 12:
        page.keyboard.press("Tab")
        tabbed.append(page.evaluate("document.activeElement.textContent.trim()"))
    assert tabbed[:3] == ["Skip to content", "Home", "Calls"] and tabbed[-1] == "Log out"  # the main menu in order
    for _ in tabbed[2:-1]:  # back to "Calls"
        page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")  # follow "Calls" with the keyboard
    expect(page).to_have_url(f"{site.url}/calls")


def test_pages_fit_a_phone(browser, site: Site) -> None:
    context = browser.new_context(base_url=site.url, viewport={"width": 375, "height": 740}, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    try:
        page.goto("/login")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        log_in(page, "sue")
        expect(page.get_by_role("heading", level=1)).to_have_text("Latest calls")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375  # the table scrolls in its region
        expect(page.get_by_role("button", name="Log out")).to_be_in_viewport()
        page.get_by_role("link", name="from +15550001").click()
        expect(page.get_by_text(CALLER_WORDS)).to_be_in_viewport()
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
    finally:
        context.close()
