"""Call recordings for the service: which calls are recorded (settings and the flow's ``recording:`` section),
the consent prompt and the caller's opt-out, the record of each file, and retention.

* :func:`policy_for` resolves a flow bundle's ``recording:`` section against the ``recordings`` settings once
  per bundle (``app.py``); the session asks :class:`Recordings` to ``start`` a recording when the policy
  says so, and ``finish``\\ es it when the call ends (the file is written by ``audio/recording.py``'s writer
  thread; the row by this module, in the background).
* Consent: the prompt is said before the greeting. With an opt-out the caller has ``opt_out_wait_s`` after
  it to press the key or say no (:func:`declines`): the recording is then discarded (what was written is
  deleted) and the call goes on unrecorded.
* A process that stops mid-call leaves the call's raw channel files; the service finishes them when it starts
  again (:meth:`Recordings.recover`).
* Retention: each row carries ``expires_at`` (created + the flow's ``retain_days``, else the setting's).
  :meth:`Recordings.purge` deletes the files past it and marks their rows; the service runs it every
  ``purge_interval_s`` and ``voicebot recordings purge [--dry-run]`` on demand.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from voicebot.audio.recording import CallRecording, RecordedFile, RecordingWriter, recover_unfinished
from voicebot.config import RecordingSettings
from voicebot.dialog.bundle import Bundle
from voicebot.dialog.schema import ConsentSpec
from voicebot.engines import CallRecorderTap
from voicebot.store import database
from voicebot.store.recordings import RecordingRecord, SqlRecordingStore

log = structlog.get_logger(__name__)

# Said no: a negation ("no", "don't", "not") in a short answer, or anywhere in one that mentions recording.
_NEGATION = re.compile(r"\b(no|nope|not|don'?t|do not|never|stop)\b")
_RECORDING = re.compile(r"\brecord")


@dataclass(frozen=True, slots=True)
class Consent:
    prompt: str  # said before the greeting ("" for none)
    opt_out: str = ""  # how to decline, said after it ("" : no opt-out)
    opt_out_key: str = "9"
    opt_out_wait_s: float = 3.0
    declined: str = "Okay, this call will not be recorded."

    @property
    def said(self) -> str:
        """What the caller hears before the greeting: the prompt, then how to decline."""
        return f"{self.prompt} {self.opt_out}".strip() if self.prompt else ""


@dataclass(frozen=True, slots=True)
class RecordingPolicy:
    """Whether a flow's calls are recorded, for how long, and what the caller hears about it."""

    enabled: bool = False
    retain_days: int = 90
    consent: Consent = Consent("")

    def prompts(self) -> list[str]:
        """The fixed texts a recorded call may hear (pre-rendered at start-up)."""
        c = self.consent
        return [text for text in (c.said, c.declined if c.said and c.opt_out else "") if text] if self.enabled else []


def policy_for(bundle: Bundle, settings: RecordingSettings) -> RecordingPolicy:
    """The bundle's ``recording:`` section over the settings' defaults (texts in the bundle's default language)."""
    spec = bundle.spec.recording

    def text(value: object) -> str:
        return bundle.text(value, bundle.default_language) or ""  # type: ignore[arg-type]

    if spec.consent is False:
        consent = Consent("")
    elif isinstance(spec.consent, ConsentSpec):
        c = spec.consent
        consent = Consent(text(c.prompt) if c.prompt is not None else settings.consent_prompt, text(c.opt_out),
                          c.opt_out_key, c.opt_out_wait_s, text(c.declined))
    else:
        consent = Consent(settings.consent_prompt)
    return RecordingPolicy(enabled=settings.enabled if spec.enabled is None else spec.enabled,
                           retain_days=spec.retain_days or settings.retain_days, consent=consent)


def declines(text: str) -> bool:
    """The caller's answer to the opt-out offer declines the recording ("no", "please don't record me")."""
    said = text.casefold().replace("’", "'")
    return bool(_NEGATION.search(said)) and (len(said.split()) <= 3 or bool(_RECORDING.search(said)))


@dataclass(frozen=True, slots=True)
class PurgeResult:
    expired: list[RecordingRecord]  # past retention (deleted unless a dry run)
    missing: int  # of which the file was already gone


class Recordings:
    """The service's recordings: the writer thread, the rows, the retention purge."""

    def __init__(self, settings: RecordingSettings, engine: AsyncEngine) -> None:
        self.settings = settings
        self.store = SqlRecordingStore(engine)
        self.directory = settings.dir.absolute()
        self.writer = RecordingWriter(self.directory, settings.queue_frames)
        self._saving: set[asyncio.Task[None]] = set()

    def start(self, call_id: str, rate: int, t0: float) -> CallRecording:
        """A recording of this call from ``t0`` (monotonic) at ``rate``; the caller hands it frames."""
        return self.writer.open(call_id, rate, t0, self.settings.format)

    def finish(self, recording: CallRecorderTap, flow: str, policy: RecordingPolicy) -> None:
        """The call is over: the writer finishes the file, then its row is written (in the background)."""
        task = asyncio.create_task(self._save(recording, flow, policy), name="recording")
        self._saving.add(task)
        task.add_done_callback(self._saving.discard)

    async def _save(self, recording: CallRecorderTap, flow: str, policy: RecordingPolicy) -> None:
        written: RecordedFile | None = await recording.close()
        if written is None:
            return
        try:
            await self.store.add(record_of(written.call_id, flow, written, policy.retain_days, datetime.now(UTC)))
        except Exception:  # noqa: BLE001 - the file stays; its row is missing
            log.exception("recording row not written", call_id=written.call_id, path=str(written.path))
            return
        log.info("recording written", call_id=written.call_id, seconds=round(written.duration_s, 1),
                 bytes=written.size_bytes, format=written.format, dropped_frames=written.dropped_frames)

    async def purge(self, now: datetime | None = None, dry_run: bool = False) -> PurgeResult:
        """Delete the files of recordings past their retention and mark their rows (a dry run only lists them)."""
        return await purge(self.store, now or datetime.now(UTC), dry_run)

    async def recover(self) -> list[RecordedFile]:
        """Finish the recordings a stopped process left unfinished and write their rows (flow unknown, kept for
        ``retain_days``)."""
        recovered = await asyncio.to_thread(recover_unfinished, self.directory)
        for written in recovered:
            await self.store.add(record_of(written.call_id, "", written, self.settings.retain_days, datetime.now(UTC)))
        return recovered

    async def run_retention(self) -> None:
        """Recover what a stopped process left unfinished, then purge now and every ``purge_interval_s`` until
        cancelled; a failed round is logged and retried."""
        try:
            await self.recover()
        except Exception:  # noqa: BLE001 - the leftovers stay for the next start
            log.exception("unfinished recordings not recovered")
        while True:
            try:
                result = await self.purge()
                if result.expired:
                    log.info("recordings purged", deleted=len(result.expired), already_missing=result.missing)
            except Exception:  # noqa: BLE001 - the next round tries again
                log.exception("recordings purge failed")
            await asyncio.sleep(self.settings.purge_interval_s)

    async def close(self) -> None:
        """Finish every open recording and write the rows of those finished (at shutdown, after the calls)."""
        await asyncio.to_thread(self.writer.close)
        if self._saving:
            await asyncio.wait(set(self._saving), timeout=10)


def record_of(call_id: str, flow: str, written: RecordedFile, retain_days: int, now: datetime) -> RecordingRecord:
    return RecordingRecord(call_id=call_id, flow=flow, path=str(written.path), format=written.format,
                           sample_rate=written.sample_rate, duration_s=written.duration_s,
                           size_bytes=written.size_bytes, dropped_frames=written.dropped_frames, created_at=now,
                           expires_at=now + timedelta(days=retain_days))


async def purge(store: SqlRecordingStore, now: datetime, dry_run: bool = False) -> PurgeResult:
    """Delete every recording past its retention at ``now``: the file, then the row is marked deleted."""
    expired: list[RecordingRecord] = []
    missing = 0
    while batch := await store.expired(now):
        for record in batch:
            if not Path(record.path).exists():
                missing += 1
        expired += batch
        if dry_run:
            break
        for record in batch:
            with contextlib.suppress(FileNotFoundError):
                await asyncio.to_thread(Path(record.path).unlink)
        await store.mark_deleted([r.call_id for r in batch], now)
    return PurgeResult(expired, missing)


async def purge_at(url: str, dry_run: bool = False) -> PurgeResult:
    """``voicebot recordings purge``: bring the database up to date, then purge (or list) what is past retention."""
    engine = database.connect(url)
    try:
        await database.upgrade(engine)
        return await purge(SqlRecordingStore(engine), datetime.now(UTC), dry_run)
    finally:
        await engine.dispose()
