"""Structured logging (structlog) for the service: console lines for people, JSON for log shippers."""

from __future__ import annotations

import logging
import sys

import structlog


class _CurrentStderr:
    """``sys.stderr`` as it is when a line is written: loggers are cached on first use, and a command run
    in-process (typer's CliRunner) swaps the stream and closes it afterwards."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str = "INFO", json: bool = False, stderr: bool = False) -> None:
    """Structured lines to stdout (the service), or to stderr for commands whose stdout is their answer."""
    logging.basicConfig(level=level.upper(), format="%(message)s")
    # per-request/per-decode lines at INFO; alembic: its context lines at every start (store/database.py
    # logs the migrations it applies)
    for chatty in ("faster_whisper", "httpx", "httpcore", "alembic"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLevelName(level.upper())))
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(_CurrentStderr() if stderr else sys.stdout),
        cache_logger_on_first_use=True,
    )
