"""Playback of call recordings, with HTTP range requests (an ``<audio>`` element seeks with them).

* ``GET /api/calls/{id}/recording`` — for API tokens with the ``read`` scope (and people whose role reads calls);
* ``GET /calls/{id}/recording`` — for people: supervisors, QA and admins, and the agent the call was handed to
  (connected to them, or an action of theirs on it on the desktop); the call page's player uses it.

Both answer the file as it is (``audio/wav`` or ``audio/ogg``) with ``Accept-Ranges: bytes``; a ``Range`` gives
``206 Partial Content`` with its ``Content-Range``, one that cannot be satisfied ``416`` (Starlette's
``FileResponse``). No recording, or one purged by retention: ``404``. Each playback (a request without a range
or from byte 0; seeking does not count) is logged (``recording played``: who, their role, the call) and written
to the audit log (``RecordingAccess.audit``: the ``pii_audit`` table, action ``play_recording``).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import structlog
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse

from voicebot.store.users import UserRecord
from voicebot.web.auth import SESSION_COOKIE, Principal, Role, Scope, token_digest
from voicebot.web.context import People, RecordingAccess
from voicebot.web.desktop import DesktopHub
from voicebot.web.logins import session_limits

log = structlog.get_logger(__name__)

LISTENERS = frozenset({Role.SUPERVISOR, Role.QA, Role.ADMIN})  # hear every call
TookCall = Callable[[UserRecord, str], Awaitable[bool]]  # (an agent, a call id): was the call handed to them?
AUDIO: dict[int | str, dict[str, Any]] = {
    200: {"content": {"audio/wav": {}, "audio/ogg": {}}, "description": "The whole recording"},
    206: {"content": {"audio/wav": {}, "audio/ogg": {}}, "description": "The requested byte range"},
    401: {"description": "No valid credentials (a session or an API token)"},
    403: {"description": "The credentials lack the route's scope"},
    404: {"description": "No recording of this call (never made, declined, or past its retention)"},
    416: {"description": "The range is outside the file"}}


def handed_to(hub: DesktopHub) -> TookCall:
    """An agent took a call if it was connected to them (the desktop's pop) or they acted on it (a disposition, a
    note, a ticket, a callback)."""

    async def took(user: UserRecord, call_id: str) -> bool:
        return hub.may_act(user, call_id) or any(a.user_name == user.name for a in await hub.store.actions(call_id))

    return took


def recording_routes(access: RecordingAccess, reader: Any, people: People | None,
                     took_call: TookCall | None = None) -> APIRouter:
    """The two playback routes; ``reader`` is the API's ``read`` dependency, ``people`` the logins (None: the API
    route only)."""
    router = APIRouter()

    async def answer(request: Request, call_id: str, who: str, role: str) -> FileResponse:
        record = await access.store.get(call_id)
        if record is None or record.deleted_at is not None or not Path(record.path).is_file():
            raise HTTPException(404, f"no recording of call {call_id}")
        if request.headers.get("range", "bytes=0-").replace(" ", "").startswith("bytes=0-"):  # a playback
            log.info("recording played", call_id=call_id, who=who, role=role)
            if access.audit is not None:
                await access.audit(who, role, call_id)
        return FileResponse(record.path, media_type=record.media_type,
                            headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})

    @router.get("/api/calls/{call_id}/recording", dependencies=[reader], response_class=FileResponse,
                responses=AUDIO)
    async def api_recording(call_id: uuid.UUID, request: Request) -> FileResponse:
        """The call's recording (stereo: the caller left, the bot right)."""
        principal: Principal = request.state.principal
        return await answer(request, str(call_id), principal.name,
                            principal.role.value if principal.role else Scope.READ.value)

    if people is None:
        return router
    limits = session_limits(people.settings)

    @router.get("/calls/{call_id}/recording", include_in_schema=False)
    async def page_recording(call_id: str, request: Request) -> FileResponse:
        secret = request.cookies.get(SESSION_COOKIE)
        user = await people.users.session_user(token_digest(secret), limits) if secret else None
        if user is None:
            raise HTTPException(401, "log in first")
        try:
            canonical = str(uuid.UUID(call_id))
        except ValueError:
            raise HTTPException(404, f"no call {call_id[:80]}") from None
        role = Role(user.role)
        allowed = role in LISTENERS or (role is Role.AGENT and took_call is not None
                                        and await took_call(user, canonical))
        if not allowed:
            raise HTTPException(403, f"recordings are not open to the {user.role} role")
        return await answer(request, canonical, user.name, user.role)

    return router
