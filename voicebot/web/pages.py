"""What every page for people shares: the templates, the logged-in person checked against the page's roles,
forms checked for their origin and CSRF token, and the security headers on every answer.

Routers for people (``people.py``, the QA console, reports, tickets, recordings) take a ``Pages`` and never
repeat these checks. A refused request raises ``Refused`` (a page that says why) or ``LoginNeeded`` (a
redirect to the login page); ``mount_people`` installs the handlers for both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from voicebot.store.users import UserRecord
from voicebot.web.auth import SESSION_COOKIE, Role, token_digest
from voicebot.web.context import People
from voicebot.web.logins import csrf_ok, csrf_token, session_limits

TEMPLATES = Path(__file__).parent / "templates"
FORM_MAX_BYTES = 4096
READERS = frozenset({Role.SUPERVISOR, Role.QA, Role.ADMIN})  # who sees the calls pages
ADMINS = frozenset({Role.ADMIN})
HEADERS = {"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
           "X-Content-Type-Options": "nosniff",
           "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'"}


class Refused(Exception):
    """A request refused with a page that says why: a form from another origin or without its CSRF token, a
    page not open to the person's role, a call that does not exist."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class LoginNeeded(Exception):
    """No valid session: the browser is sent to the login page (and back here afterwards, for a GET)."""


class Pages:
    """Rendering and checks for the pages of one web app."""

    def __init__(self, people: People, templates: Jinja2Templates | None = None) -> None:
        self.people = people
        self.templates = templates or Jinja2Templates(directory=TEMPLATES)
        self._limits = session_limits(people.settings)

    def page(self, request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
        """``name`` rendered with ``values`` (and the session's CSRF token for its forms)."""
        secret = request.cookies.get(SESSION_COOKIE)
        values.setdefault("csrf", csrf_token(secret) if secret else "")
        response = self.templates.TemplateResponse(request, name, values, status_code=status)
        response.headers.update(HEADERS)
        return response

    async def current(self, request: Request) -> UserRecord | None:
        """The person whose session cookie came with ``request``, if the session is alive."""
        secret = request.cookies.get(SESSION_COOKIE)
        return await self.people.users.session_user(token_digest(secret), self._limits) if secret else None

    async def person(self, request: Request, roles: frozenset[Role] = frozenset(Role), *,
                     api: bool = False) -> UserRecord:
        """The logged-in person, if their role is one of ``roles``. Without a session a page sends the browser
        to the login page; an ``api`` endpoint (a script's event stream, a form posted by script) answers 401."""
        user = await self.current(request)
        if user is None:
            if api:
                raise Refused(401, "Log in first.")
            raise LoginNeeded
        if Role(user.role) not in roles:
            raise Refused(403, f"This page is not open to the {user.role} role.")
        return user

    async def posted(self, request: Request, roles: frozenset[Role] = frozenset(Role), *,
                     api: bool = False) -> tuple[UserRecord, dict[str, str]]:
        """The person posting a form with their session's CSRF token, and the form's fields."""
        fields = await read_form(request)
        user = await self.person(request, roles, api=api)
        if not csrf_ok(request.cookies.get(SESSION_COOKIE), fields.get("csrf")):
            raise Refused(403, "The form's CSRF token is missing or wrong: reload the page and try again.")
        return user, fields


async def read_form(request: Request) -> dict[str, str]:
    """The urlencoded body of a POST (at most ``FORM_MAX_BYTES``), after the origin check."""
    if not same_origin(request):
        raise Refused(403, "This form was sent from another site.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_MAX_BYTES:
            raise Refused(413, "This form is too large.")
    try:
        return dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=16))
    except ValueError:
        raise Refused(422, "This form has too many fields.") from None


def same_origin(request: Request) -> bool:
    """A POST's ``Origin`` (or, without it, its ``Referer``) names this site; requests with neither (not from
    a browser) pass here and still need the CSRF token."""
    sent = request.headers.get("origin") or request.headers.get("referer")
    if not sent:
        return True
    return urlsplit(sent).netloc == request.headers.get("host", "")
