"""Shared fixtures. Paths to the protocol captures and third-party dev data in ../shared."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import structlog

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.exists():
        pytest.skip("../shared is not beside this checkout")
    return SHARED


_LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access")  # the root logger, and those uvicorn configures
_PRISTINE = {name: (logging.getLogger(name).handlers[:], logging.getLogger(name).level,
                    logging.getLogger(name).propagate) for name in _LOGGERS}


@pytest.fixture(autouse=True)
def _logging_as_it_was():
    """A test, or a command or web server it runs in process, that configures logging (voicebot.logs, uvicorn's
    own logging config, also from a module's fixture) leaves structlog's defaults and the root and uvicorn loggers
    as they were before any test, so a later test's ``capture_logs`` or JSON log lines see every line."""
    yield
    structlog.reset_defaults()
    for name, (handlers, level, propagate) in _PRISTINE.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate
