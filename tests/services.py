"""PostgreSQL and Redis for the tests that need them: skip, saying why, when they are not reachable; fail
instead when ``VOICEBOT_REQUIRE_SERVICES=1`` (``.ci/run`` sets it: CI machines have both, so a test that
would skip there is a broken set-up, not a pass)."""

from __future__ import annotations

import os
import socket

import pytest

REQUIRED = os.environ.get("VOICEBOT_REQUIRE_SERVICES", "") == "1"


def require_service(name: str, host: str, port: int) -> None:
    """Return when ``host:port`` accepts a connection; otherwise skip the test (or fail it, on CI)."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return
    except OSError as error:
        problem = f"{name} is not reachable on {host}:{port} ({error})"
    if REQUIRED:
        pytest.fail(f"{problem}; VOICEBOT_REQUIRE_SERVICES=1 requires it", pytrace=False)
    pytest.skip(problem)
