"""Logging in to the web pages from a test's HTTP client (Starlette's TestClient or httpx), as a browser's login
form would."""

from __future__ import annotations

import re
from typing import Any

CSRF = re.compile(r'name="csrf" value="([^"]*)"')


def csrf_of(html: str) -> str:
    """The CSRF token the page's forms carry."""
    found = CSRF.search(html)
    assert found is not None, "no form with a CSRF token on the page"
    return found.group(1)


def log_in(client: Any, name: str, password: str) -> str:
    """Log ``name`` in (the client's cookies cleared first); the session's CSRF token."""
    client.cookies.clear()
    form = client.get("/login")
    client.post("/login", data={"username": name, "password": password, "csrf": csrf_of(form.text), "next": "/"})
    return csrf_of(client.get("/").text)
