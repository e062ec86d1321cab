"""Structured logging (structlog) for the service: console lines for people, JSON for log shippers.

Every line carries ``worker`` (which ``voicebot serve`` wrote it: several share one log store at scale), and
every line written for a call, whichever module writes it, carries ``call_id``: the call's task runs inside
:func:`call_logging`, and asyncio tasks (and ``asyncio.to_thread``) inherit its context. Records of the standard
``logging`` module (uvicorn, asyncpg, alembic, …) go through the same processors and renderer, with their
``logger`` name: in JSON mode every line is one JSON object.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager

import structlog
from structlog.typing import EventDict, WrappedLogger


class _CurrentStream:
    """``sys.stdout`` or ``sys.stderr`` as it is when a line is written: loggers are cached on first use, and a
    command run in-process (typer's CliRunner, pytest's capture) swaps the stream and closes it afterwards."""

    def __init__(self, name: str) -> None:
        self._name = name

    def write(self, text: str) -> int:
        return getattr(sys, self._name).write(text)

    def flush(self) -> None:
        getattr(sys, self._name).flush()


class _StructlogHandler(logging.StreamHandler):
    """The standard ``logging`` module's records, rendered by structlog's processors as they are configured when
    the record is written (with ``logger``: the record's name)."""

    def __init__(self, stream: _CurrentStream) -> None:
        super().__init__(stream)
        self.setFormatter(structlog.stdlib.ProcessorFormatter(processors=[_configured_chain]))


def _configured_chain(logger: WrappedLogger, method: str, event: EventDict) -> str:
    """structlog's configured processors (the renderer last) over a foreign record's event dictionary."""
    record = event.pop("_record")
    event.pop("_from_structlog", None)
    event["logger"] = record.name
    if record.exc_info and "exc_info" not in event:
        event["exc_info"] = record.exc_info
    result: object = event
    for processor in structlog.get_config()["processors"]:
        result = processor(logger, method, result)
    return str(result)


def default_worker_id() -> str:
    """``<host name>-<pid>``: unique among workers on one machine and across machines."""
    return f"{socket.gethostname()}-{os.getpid()}"


def call_logging(call_id: str) -> AbstractContextManager[object]:
    """Inside this block (and in tasks started from it) every log line carries ``call_id``."""
    return structlog.contextvars.bound_contextvars(call_id=call_id)


def configure_logging(level: str = "INFO", json: bool = False, stderr: bool = False,
                      worker_id: str | None = None) -> None:
    """Structured lines to stdout (the service), or to stderr for commands whose stdout is their answer.
    ``worker_id`` (the service: ``Settings.worker_id`` or :func:`default_worker_id`) is added to every line."""
    stream = _CurrentStream("stderr" if stderr else "stdout")
    root = logging.getLogger()
    root.setLevel(level.upper())
    for handler in [h for h in root.handlers if isinstance(h, _StructlogHandler)]:
        root.removeHandler(handler)
    root.addHandler(_StructlogHandler(stream))
    # per-request/per-decode lines at INFO; alembic: its context lines at every start (store/database.py
    # logs the migrations it applies)
    for chatty in ("faster_whisper", "httpx", "httpcore", "alembic"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLevelName(level.upper())))
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)

    def add_worker(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
        event.setdefault("worker", worker_id)
        return event

    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *([add_worker] if worker_id else []),
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream),
        # Not cached: a logger bound once keeps the processors of that moment, so a later configuration (the PII
        # mask added after start-up, a command run in-process by a test) would not reach modules' loggers.
        cache_logger_on_first_use=False,
    )


UNMASKED_LOG_KEYS = frozenset({"timestamp", "level", "logger", "worker"})  # and every key ending in _id


def mask_logged_text(mask: Callable[[str], str]) -> None:
    """From now on every text value of a log line (caller words, an exception's message and traceback) goes
    through ``mask`` (``nlu/pii.py``) before it is written; ids and timestamps are left as they are."""
    processors = list(structlog.get_config()["processors"])

    def masked(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
        for key, value in event.items():
            if isinstance(value, str) and key not in UNMASKED_LOG_KEYS and not key.endswith("_id"):
                event[key] = mask(value)
        return event

    structlog.configure(processors=[*processors[:-1], masked, processors[-1]])  # just before the renderer
