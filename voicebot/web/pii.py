"""Unmasked text, for the roles allowed to read it, and the audit log of every read (``store/audit.py``).

``GET /api/calls/{uuid}/unmasked`` answers a call's turns as they were before masking (only kept with
``pii.keep_unmasked``): admins, and QA people when ``pii.qa_reads_unmasked``; anyone else with the read scope
gets 403, and no read happens. ``?download=true`` answers it as a file (an export). Each view or export
writes one audit row (who, in which role, which call and turns, when) in the same transaction as it reads;
admins read the log at ``GET /api/pii/audit``.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import JSONResponse

from voicebot.store.audit import SqlPiiVault
from voicebot.web.auth import Principal, Role, Scope

MAX_OFFSET = 1_000_000_000
Dependency = Callable[..., Awaitable[Principal]]


@dataclass(frozen=True, slots=True)
class PiiAccess:
    """The originals and their audit log, and whether the QA role may read them (``pii.qa_reads_unmasked``)."""

    vault: SqlPiiVault
    qa_reads_unmasked: bool = False


def may_read_unmasked(principal: Principal, access: PiiAccess) -> bool:
    """Admins (people or admin tokens), and QA people when configured."""
    return principal.may(Scope.ADMIN) or (access.qa_reads_unmasked and principal.role is Role.QA)


def pii_routes(access: PiiAccess, reader: Dependency, admin: Dependency) -> APIRouter:
    router = APIRouter(tags=["pii"])
    refusals: dict[int | str, dict[str, Any]] = {
        401: {"description": "No valid credentials"},
        403: {"description": "The role may not read unmasked text"},
        404: {"description": "Unmasked text is not kept (pii.keep_unmasked is off)"}}

    @router.get("/api/calls/{call_id}/unmasked", responses=refusals)
    async def unmasked(call_id: uuid.UUID, download: bool = False,
                       principal: Principal = Depends(reader)) -> JSONResponse:  # noqa: B008 - FastAPI's idiom
        """The call's turns before masking; the read is written to the audit log."""
        if not may_read_unmasked(principal, access):
            raise HTTPException(403, "reading unmasked text needs the admin role (or qa with pii.qa_reads_unmasked)")
        role = principal.role.value if principal.role is not None else "token"
        try:
            originals = await access.vault.read(str(call_id), actor=principal.name, role=role,
                                                action="export" if download else "view")
        except LookupError as error:
            raise HTTPException(404, str(error)) from None
        headers = {"Content-Disposition": f'attachment; filename="{call_id}-unmasked.json"'} if download else None
        return JSONResponse({"call_id": str(call_id), "turns": [asdict(o) for o in originals]}, headers=headers)

    @router.get("/api/pii/audit", responses=refusals)
    async def audit(call_id: uuid.UUID | None = None, actor: str | None = Query(None, max_length=64),
                    limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0, le=MAX_OFFSET),
                    _: Principal = Depends(admin)) -> dict[str, Any]:  # noqa: B008 - FastAPI's idiom
        """Who read or exported unmasked text, what and when; newest first."""
        entries = await access.vault.audit(call_id=str(call_id) if call_id else None, actor=actor, limit=limit,
                                           offset=offset)
        return {"entries": [{**asdict(e), "at": e.at.isoformat()} for e in entries]}

    return router
