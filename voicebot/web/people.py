"""The web app for people: login, logout and a home page per role, server-rendered (Jinja2, no build step).

* agent — their desktop: presence and the screen pop (``desktop.py``);
* supervisor, qa — the QA console's call list (``qa.py``: the calls, each call's review page);
* admin — the users (add, disable) and the API tokens.

Every page needs a session (else a redirect to the login page); every form carries the session's CSRF token
and every POST is refused without it or from another origin. Failed logins are throttled per username and
per client address, with one message whether or not the username exists.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from voicebot.engines import CallQueries
from voicebot.store.desktop import parse_queues
from voicebot.store.users import UserRecord
from voicebot.web.auth import SESSION_COOKIE, Role, token_digest
from voicebot.web.context import People
from voicebot.web.logins import (NAME_MAX, LoginThrottle, add_user, check_name, csrf_ok, csrf_token,
                                 new_session_secret, session_limits, verify_password)
from voicebot.web.pages import ADMINS, HEADERS, LoginNeeded, Pages, Refused, read_form
from voicebot.web.qa import QaPages
from voicebot.web.tickets import ticket_routes

HERE = Path(__file__).parent
LOGIN_CSRF_COOKIE = "voicebot_login_csrf"  # the login form's CSRF secret, before there is a session
WRONG = "Wrong username or password."
AgentView = Callable[[UserRecord], Awaitable[dict[str, Any]]]  # the agent desktop's page values


def mount_people(app: FastAPI, people: People, calls: CallQueries, agent_view: AgentView | None = None) -> None:
    """The pages at the root of the web app beside the API, their CSS under ``/static``; ``agent_view`` gives
    the agent desktop's values (``desktop.py``)."""
    pages = Pages(people)

    async def refused(request: Request, error: Exception) -> Response:
        assert isinstance(error, Refused)
        response = pages.templates.TemplateResponse(request, "refused.html", {"message": error.message},
                                                    status_code=error.status)
        response.headers.update(HEADERS)
        return response

    async def to_login(request: Request, _: Exception) -> Response:
        back = request.url.path if request.method == "GET" else "/"
        return RedirectResponse(f"/login?next={quote(back)}", status_code=303)

    app.include_router(people_routes(pages, calls, agent_view))
    if people.tickets is not None:
        app.include_router(ticket_routes(pages, people.tickets))
    app.add_exception_handler(Refused, refused)
    app.add_exception_handler(LoginNeeded, to_login)
    app.mount("/static", StaticFiles(directory=HERE / "static"))


def people_routes(pages: Pages, calls: CallQueries, agent_view: AgentView | None = None) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    people, page, current, person, posted = pages.people, pages.page, pages.current, pages.person, pages.posted
    settings = people.settings
    limits = session_limits(settings)
    throttle = LoginThrottle(settings.login_lock_minutes * 60)

    def login_form(request: Request, next: str, error: str = "", status: int = 200) -> HTMLResponse:
        secret = new_session_secret()
        response = page(request, "login.html", status, csrf=csrf_token(secret), next=local(next), error=error)
        response.set_cookie(LOGIN_CSRF_COOKIE, secret, httponly=True, samesite="lax",
                            secure=settings.cookie_secure, path="/login")
        return response

    @router.get("/login")
    async def login_page(request: Request, next: str = "/") -> Response:
        if await current(request) is not None:
            return RedirectResponse(local(next), status_code=303)
        return login_form(request, next)

    @router.post("/login")
    async def login(request: Request) -> Response:
        fields = await read_form(request)
        next = fields.get("next", "/")
        if not csrf_ok(request.cookies.get(LOGIN_CSRF_COOKIE), fields.get("csrf")):
            return login_form(request, next, "The form expired. Please log in again.", 403)
        name = fields.get("username", "").strip()[:NAME_MAX]
        address = request.client.host if request.client else ""
        keys = [(f"user:{name.casefold()}", settings.login_max_failures),
                (f"addr:{address}", settings.login_max_failures_per_address)]
        if wait := throttle.locked_for(keys):
            minutes = max(1, round(wait / 60))
            plural = "s" if minutes > 1 else ""
            return login_form(request, next, f"Too many failed logins. Try again in {minutes} minute{plural}.",
                              429)
        user = await people.users.get(name) if name else None
        if not verify_password(fields.get("password", ""), user) or user is None:  # as slow for unknown names
            throttle.failed(key for key, _ in keys)
            return login_form(request, next, WRONG, 401)
        throttle.succeeded(keys[0][0])
        secret = new_session_secret()
        await people.users.open_session(token_digest(secret), user.name, limits)
        response = RedirectResponse(local(next), status_code=303)
        response.set_cookie(SESSION_COOKIE, secret, max_age=int(limits.absolute.total_seconds()),
                            httponly=True, samesite="lax", secure=settings.cookie_secure, path="/")
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        await posted(request)
        await people.users.close_session(token_digest(request.cookies[SESSION_COOKIE]))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @router.get("/")
    async def home(request: Request) -> Response:
        user = await person(request)
        match Role(user.role):
            case Role.AGENT:
                return page(request, "agent.html", user=user, **(await agent_view(user) if agent_view else {}))
            case Role.ADMIN:
                return await admin_page(request, user)
            case _:  # supervisor, qa: the QA console's call list
                return await qa_pages.call_list(request, user)

    qa_pages = QaPages(pages, calls, people.qa)  # /calls, each call's review page, scores, export (web/qa.py)
    router.include_router(qa_pages.router)

    async def admin_page(request: Request, user: UserRecord, status: int = 200, message: str = "",
                         error: str = "") -> HTMLResponse:
        return page(request, "admin.html", status, user=user, users=await people.users.list(),
                    agents={a.name: a for a in await people.desktop.store.agents()} if people.desktop else None,
                    tokens=await people.tokens.list(), roles=[r.value for r in Role], message=message,
                    error=error)

    @router.post("/admin/users")
    async def add(request: Request) -> Response:
        user, fields = await posted(request, ADMINS)
        if fields.get("role") not in {r.value for r in Role}:
            return await admin_page(request, user, 422, error="Choose a role.")
        interface = fields.get("interface", "").strip()[:128]
        try:
            name = check_name(fields.get("username", ""))
            queues = parse_queues(fields.get("queues", ""))
            if interface and (people.desktop is None or fields.get("role") != Role.AGENT or not queues):
                raise ValueError("an agent's phone needs the agent role and their queues")
            if interface and (owner := next((a.name for a in await people.desktop.store.agents()
                                             if a.interface == interface), None)):
                raise ValueError(f"{interface} is {owner}'s phone")
            await add_user(people.users, name, Role(fields["role"]), fields.get("password", ""))
            if interface and people.desktop is not None:  # a queue member (the agent desktop)
                await people.desktop.store.set_agent(name, interface, queues)
        except ValueError as error:
            text = str(error)
            return await admin_page(request, user, 422, error=f"{text[:1].upper()}{text[1:]}.")
        return await admin_page(request, user, message=f"User {name} added.")

    @router.post("/admin/users/{name}/disable")
    async def disable(request: Request, name: str) -> Response:
        user, _ = await posted(request, ADMINS)
        if name == user.name:
            return await admin_page(request, user, 422, error="You cannot disable yourself.")
        if not await people.users.disable(name):
            return await admin_page(request, user, 404, error=f"No active user {name}.")
        return await admin_page(request, user, message=f"User {name} disabled; their sessions have ended.")

    return router


def local(target: str) -> str:
    """``target`` if it is a path on this site, else ``/`` (no open redirect after login)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return "/"
    return target
