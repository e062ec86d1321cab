"""A served web app with one recorded call, for the playback tests (httpx and chromium): uvicorn on a free port
in a thread of its own over a SQLite file; the recording is a real stereo WAV made by the recording writer (the
caller's tone left, the bot's right); one person per role, plus an agent who took the call (a disposition on
it) and one who did not; an API token with ``read`` and one with ``dialplan`` only."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from databases import recorded_call
from served import served_web_app
from web_context import site_context

from voicebot.audio.audiosocket import HEADER, KIND_FOR_RATE
from voicebot.audio.recording import RecordingWriter
from voicebot.call.recording import record_of
from voicebot.config import DesktopSettings, WebSettings
from voicebot.store.desktop import SqlDeskStore
from voicebot.store.recordings import SqlRecordingStore
from voicebot.store.repo import SqlCallStore
from voicebot.store.tokens import SqlTokenStore
from voicebot.store.users import SqlUserStore
from voicebot.types import AudioFrame, Turn
from voicebot.web.auth import Role, Scope, issue_token, token_digest
from voicebot.web.context import Desktop, People, RecordingAccess, WebContext
from voicebot.web.logins import add_user, new_session_secret, session_limits

PASSWORD = "correct horse battery"
PEOPLE = {"ann": Role.AGENT, "bob": Role.AGENT, "sue": Role.SUPERVISOR, "quinn": Role.QA, "ada": Role.ADMIN}
TOOK_THE_CALL = "ann"
RATE = 8000


@dataclass
class RecordingSite:
    url: str
    call_id: str  # the recorded call
    unrecorded_call_id: str  # a call without a recording
    read_token: str
    dialplan_token: str
    sessions: dict[str, str]  # person -> session cookie
    recording: bytes  # the file's bytes
    played: list[tuple[str, str, str]] = field(default_factory=list)  # the audit: (who, role, call id)


def _tone(seconds: float, freq: float) -> bytes:
    t = np.arange(int(seconds * RATE)) / RATE
    return (np.sin(2 * np.pi * freq * t) * 0.3 * 32767).astype("<i2").tobytes()


async def _record(directory: Path, call_id: str):
    """Two seconds of the caller (0.2-1.2 s) and the bot (1.4-2.4 s), through the real writer."""
    writer = RecordingWriter(directory)
    rec = writer.open(call_id, RATE, 0.0)
    for side, start, freq in (("caller", 0.2, 300.0), ("bot", 1.4, 700.0)):
        pcm = _tone(1.0, freq)
        for n in range(50):
            chunk = pcm[n * 320:(n + 1) * 320]
            if side == "caller":
                rec.caller(AudioFrame(chunk, RATE, timestamp=start + 0.02 * n))
            else:
                rec.bot(HEADER.pack(KIND_FOR_RATE[RATE], len(chunk)) + chunk, start + 0.02 * n)
    written = await rec.close()
    await asyncio.to_thread(writer.close)
    return written


@contextmanager
def serve_recording_site(folder: Path) -> Iterator[RecordingSite]:
    call_id, other_id = str(uuid.uuid4()), str(uuid.uuid4())

    async def build(store: SqlCallStore, url: str) -> tuple[WebContext, RecordingSite]:
        for call in (call_id, other_id):
            await recorded_call(store, "handoff", Turn(index=0, caller_text="my card was stolen", bot_text="Sorry."),
                                call_id=call)
        written = await _record(folder / "recordings", call_id)
        recordings = SqlRecordingStore(store.engine)
        await recordings.add(record_of(call_id, "banking", written, 30, datetime.now(UTC)))
        users, tokens, desk = SqlUserStore(store.engine), SqlTokenStore(store.engine), SqlDeskStore(store.engine)
        sessions = {}
        web = WebSettings()
        for name, role in PEOPLE.items():
            await add_user(users, name, role, PASSWORD)
            secret = new_session_secret()
            await users.open_session(token_digest(secret), name, session_limits(web))
            sessions[name] = secret
        await desk.add_action(call_id, TOOK_THE_CALL, "disposition", {"disposition": "resolved"})
        read = await issue_token(tokens, "qa-script", frozenset({Scope.READ}))
        dialplan = await issue_token(tokens, "asterisk", frozenset({Scope.DIALPLAN}))
        site = RecordingSite(url, call_id, other_id, read.secret, dialplan.secret, sessions,
                             written.path.read_bytes())

        async def audit(who: str, role: str, call: str) -> None:
            site.played.append((who, role, call))

        ctx = site_context(store.engine, tokens,
                           people=People(users, tokens, web, Desktop(desk, None, DesktopSettings())),
                           recordings=RecordingAccess(recordings, audit))
        return ctx, site

    with served_web_app(folder, build) as site:
        yield site
