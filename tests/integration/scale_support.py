"""What the scale tests share: real `voicebot serve` workers on PostgreSQL with a Redis bus, a witness that hears
every event the workers publish, the records those events must leave (as the call recorder decides), and the
records PostgreSQL really holds."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from glob import glob
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from harness import service_env
from services import REQUIRED

from voicebot.call.bus_redis import RedisEventBus
from voicebot.caller.launcher import RunningService, free_port, start, stop
from voicebot.events import CallEvent
from voicebot.store.recorder import CallRecorder
from voicebot.types import CallOutcome, HandoffPacket, Turn
from voicebot.web.auth import Scope, create_token_at

REDIS_URL = "redis://127.0.0.1:6379/0"


def asyncpg_dsn(url: str) -> str:
    """``postgresql+asyncpg://…`` (SQLAlchemy) as asyncpg takes it."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def start_worker(workdir: Path, store_url: str, channel: str, worker_id: str) -> RunningService:
    """``voicebot serve`` as one of several workers: the shared database, the Redis bus, JSON logs."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = service_env({
        "VOICEBOT_DIALOG__HOT_RELOAD": "false",
        "VOICEBOT_STORE__URL": store_url,
        "VOICEBOT_EVENTS__BUS": "redis",
        "VOICEBOT_EVENTS__REDIS_URL": REDIS_URL,
        "VOICEBOT_EVENTS__REDIS_CHANNEL": channel,
        "VOICEBOT_LOG_JSON": "true",
        "VOICEBOT_WORKER_ID": worker_id,
    })
    return await start(workdir, env, ready_timeout=300, cwd=workdir)


@dataclass
class Workers:
    """Two workers on one database and bus; ``codes``: their exit codes once stopped."""

    first: RunningService
    second: RunningService
    codes: list[int] = field(default_factory=list)


@contextlib.asynccontextmanager
async def two_workers(folder: Path, store_url: str, channel: str) -> AsyncIterator[Workers]:
    """``worker-1`` and ``worker-2``, started one after the other (both bring the schema up to date under one
    advisory lock, and two model loads at once would only slow each other on a small machine); both stopped
    afterwards (one the test stopped already just gives its exit code again)."""
    first = await start_worker(folder / "w1", store_url, channel, "worker-1")
    try:
        second = await start_worker(folder / "w2", store_url, channel, "worker-2")
    except BaseException:
        await asyncio.to_thread(stop, first)
        raise
    workers = Workers(first, second)
    try:
        yield workers
    finally:
        workers.codes = list(await asyncio.gather(asyncio.to_thread(stop, first), asyncio.to_thread(stop, second)))


async def api_token(store_url: str, name: str) -> str:
    """A dialplan + read token in the shared database (the launcher's own token is in a SQLite file)."""
    return (await create_token_at(store_url, name, frozenset({Scope.DIALPLAN, Scope.READ}))).secret


@dataclass
class Witness:
    """Hears every call event on the Redis channel, as any worker's web app would."""

    bus: RedisEventBus
    events: list[CallEvent] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def on(cls, channel: str) -> AsyncIterator[Witness]:
        witness = cls(await RedisEventBus.open(REDIS_URL, channel, queue_size=100_000))
        subscription = witness.bus.subscribe()

        async def hear() -> None:
            async for event in subscription:
                witness.events.append(event)

        witness.task = asyncio.create_task(hear())
        try:
            yield witness
        finally:
            await witness.bus.close()
            await witness.task

    async def expected_records(self, call_ids: set[str]) -> dict[str, CallRecords]:
        """The records the call recorder keeps of the events heard, per call."""
        store = ExpectedRecords()
        recorder = CallRecorder(self.bus, store)
        for event in self.events:
            if event.call_id in call_ids:
                await recorder.record(event)
        return store.calls


@dataclass
class CallRecords:
    """One call's records: how often it started and ended, its turns' indexes, its events' kinds."""

    starts: int = 0
    ends: int = 0
    outcome: str | None = None
    turns: list[int] = field(default_factory=list)
    events: Counter[str] = field(default_factory=Counter)


class ExpectedRecords:
    """A call store that only counts what it is asked to write (``engines.CallStore``)."""

    def __init__(self) -> None:
        self.calls: dict[str, CallRecords] = {}

    def _call(self, call_id: str) -> CallRecords:
        return self.calls.setdefault(call_id, CallRecords())

    async def call_started(self, call_id: str, caller_id: str, flow: str, started_at: float) -> None:
        self._call(call_id).starts += 1

    async def turn_completed(self, call_id: str, turn: Turn) -> None:
        self._call(call_id).turns.append(turn.index)

    async def event(self, call_id: str, kind: str, data: dict[str, Any], at: float | None = None) -> None:
        self._call(call_id).events[kind] += 1

    async def call_ended(self, call_id: str, outcome: CallOutcome, ended_at: float,
                         handoff: HandoffPacket | None) -> None:
        self._call(call_id).ends += 1
        self._call(call_id).outcome = outcome


async def stored_records(dsn: str, call_ids: set[str]) -> dict[str, CallRecords]:
    """What the database holds for these calls: a call row counts as one start, and as one end once ended."""
    conn = await asyncpg.connect(dsn)
    try:
        ids = sorted(call_ids)
        stored: dict[str, CallRecords] = {}
        for row in await conn.fetch("SELECT id, outcome, ended_at FROM calls WHERE id = ANY($1)", ids):
            stored[row["id"]] = CallRecords(starts=1, ends=int(row["ended_at"] is not None), outcome=row["outcome"])
        for row in await conn.fetch('SELECT call_id, "index" FROM turns WHERE call_id = ANY($1) '
                                    'ORDER BY call_id, "index"', ids):
            stored.setdefault(row["call_id"], CallRecords()).turns.append(row["index"])
        for row in await conn.fetch("SELECT call_id, kind FROM events WHERE call_id = ANY($1)", ids):
            stored.setdefault(row["call_id"], CallRecords()).events[row["kind"]] += 1
        return stored
    finally:
        await conn.close()


def assert_stored_exactly_once(expected: dict[str, CallRecords], stored: dict[str, CallRecords]) -> None:
    """Every call, turn and event the workers published is in the database, and none twice."""
    assert set(stored) == set(expected), (set(stored) ^ set(expected))
    for call_id, want in expected.items():
        got = stored[call_id]
        assert (want.starts, want.ends) == (1, 1), (call_id, want)
        assert (got.starts, got.ends, got.outcome) == (1, 1, want.outcome), (call_id, got, want)
        assert sorted(got.turns) == sorted(want.turns), (call_id, got.turns, want.turns)
        assert len(set(got.turns)) == len(got.turns), (call_id, got.turns)
        assert got.events == want.events, (call_id, got.events, want.events)


def json_log(service: RunningService) -> list[dict[str, Any]]:
    """The worker's log lines (every line must be JSON)."""
    return [json.loads(line) for line in service.log_text().splitlines() if line.strip()]


def assert_call_lines_named(lines: list[dict[str, Any]], worker_id: str, call_ids: set[str]) -> int:
    """Every line names the worker; every line that mentions one of the calls names it as its ``call_id``.
    Returns how many lines named one of the calls."""
    named = 0
    for line in lines:
        assert line.get("worker") == worker_id, line
        mentioned = {call_id for call_id in call_ids if call_id in json.dumps(line)}
        if mentioned:
            assert line.get("call_id") in mentioned, line
            named += 1
    return named


class PrivatePostgres:
    """A PostgreSQL server of the test's own (Debian's binaries, a temporary directory, a free port), so the test
    may stop and restart it without touching the machine's shared server. Runs as the ``postgres`` user when the
    tests run as root (initdb refuses root)."""

    def __init__(self) -> None:
        binaries = sorted(glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
        if not binaries:
            problem = "PostgreSQL's server binaries (/usr/lib/postgresql/*/bin/initdb) are not installed"
            if REQUIRED:
                pytest.fail(f"{problem}; VOICEBOT_REQUIRE_SERVICES=1 requires them (apt-get install postgresql)",
                            pytrace=False)
            pytest.skip(problem)
        self.bin = Path(binaries[-1]).parent
        self.root = Path(tempfile.mkdtemp(prefix="voicebot-pg-"))
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.root, "postgres")
        self.port = free_port()
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"
        self._run("initdb", "-D", str(self.root / "data"), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--no-sync")

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.as_user, str(self.bin / tool), *args], check=True, capture_output=True,
                       timeout=120)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.root / "data"), "-l", str(self.root / "server.log"), "-w", "-t", "60",
                  "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1", "start")

    def stop(self) -> None:
        """``pg_ctl stop -m fast``: open transactions are rolled back, clients are disconnected."""
        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "-t", "60", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
