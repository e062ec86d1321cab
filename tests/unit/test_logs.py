"""Structured JSON logs at scale: every line names its worker, and every line written for a call (in the call's
task, in tasks it starts, in threads it hands work to) names the call, with concurrent calls kept apart."""

from __future__ import annotations

import asyncio
import json

import pytest
import structlog

from voicebot.logs import call_logging, configure_logging, default_worker_id


@pytest.fixture
def json_lines(capsys: pytest.CaptureFixture[str]):
    configure_logging("INFO", json=True, worker_id="worker-7")
    yield lambda: [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    structlog.reset_defaults()


async def test_call_lines_carry_their_call_id_and_every_line_the_worker(json_lines) -> None:
    session, listener = structlog.get_logger("voicebot.call.session"), structlog.get_logger("voicebot.speech.x")

    async def call(call_id: str) -> None:
        with call_logging(call_id):
            session.info("call started")
            await asyncio.sleep(0.01)  # the other call logs meanwhile
            await asyncio.create_task(asyncio.sleep(0, listener.info("turn ended", turn=1)))
            await asyncio.to_thread(listener.warning, "decode slow")
            session.info("call ended")

    await asyncio.gather(call("call-a"), call("call-b"))
    structlog.get_logger("voicebot.app").info("service line")
    lines = json_lines()
    assert len(lines) == 9 and all(line["worker"] == "worker-7" for line in lines)
    for call_id in ("call-a", "call-b"):
        own = [line["event"] for line in lines if line.get("call_id") == call_id]
        assert own == ["call started", "turn ended", "decode slow", "call ended"]
    assert "call_id" not in lines[-1]


async def test_a_logger_bound_to_a_call_keeps_its_own_id(json_lines) -> None:
    with call_logging("outer"):
        structlog.get_logger().bind(call_id="inner").info("bound")
    assert json_lines()[0]["call_id"] == "inner"


def test_default_worker_id_names_host_and_process() -> None:
    import os
    import socket

    assert default_worker_id() == f"{socket.gethostname()}-{os.getpid()}"


async def test_standard_logging_records_are_json_lines_with_worker_logger_and_call(json_lines) -> None:
    import logging

    with call_logging("call-c"):
        logging.getLogger("uvicorn.error").warning("port %s busy", 8080)
        try:
            raise ValueError("bad frame")
        except ValueError:
            logging.getLogger("asyncpg").exception("connection lost")
    logging.getLogger("alembic").info("not shown below the alembic level")
    busy, lost = json_lines()
    assert busy == {"event": "port 8080 busy", "logger": "uvicorn.error", "call_id": "call-c", "worker": "worker-7",
                    "level": "warning", "timestamp": busy["timestamp"]}
    assert lost["level"] == "error" and "ValueError: bad frame" in lost["exception"]
