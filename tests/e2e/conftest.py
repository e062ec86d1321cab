"""The shared `voicebot serve` for the end-to-end tests: one process for the session (under `make test`, one per
test process)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from harness import RunningService, start_service, stop_service


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    running = start_service(tmp_path_factory.mktemp("serve"))
    yield running
    stop_service(running)
