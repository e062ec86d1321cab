"""Hot reload never leaves calls without a flow: removing the default flow's file, or a flow a route points
at, is rejected like a broken edit, with the running flows kept and one structured log record."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from structlog.testing import capture_logs

from voicebot.call.directory import CallInfo, FlowRouter
from voicebot.dialog.loader import FlowRegistry

ROOT = Path(__file__).resolve().parents[2]


def _flows(tmp_path: Path) -> Path:
    directory = tmp_path / "dialogs"
    directory.mkdir()
    for name in ("banking.yaml", "retail.yaml", "logistics.yaml"):
        shutil.copy(ROOT / "dialogs" / name, directory / name)
    return directory


def test_deleting_the_default_flow_is_rejected_and_calls_still_get_it(tmp_path: Path) -> None:
    directory = _flows(tmp_path)
    registry = FlowRegistry.load(directory)
    router = FlowRouter("banking", {"5552000": "retail"})
    banking = registry.get("banking")
    (directory / "banking.yaml").unlink()
    problems = registry.reload(router.required())
    assert [p.severity for p in problems] == ["error"] and "'banking'" in problems[0].message
    assert registry.get("banking") is banking  # the running flows stay
    assert registry.get(router.choose(CallInfo(dnis="999"), registry.names())).name == "banking"


def test_removing_a_routed_flow_is_rejected_but_an_unrouted_one_may_go(tmp_path: Path) -> None:
    directory = _flows(tmp_path)
    registry = FlowRegistry.load(directory)
    router = FlowRouter("banking", {"5552000": "retail"})
    (directory / "retail.yaml").unlink()
    assert any("'retail'" in p.message for p in registry.reload(router.required()))
    assert "retail" in registry.names()
    shutil.copy(ROOT / "dialogs" / "retail.yaml", directory / "retail.yaml")
    (directory / "logistics.yaml").unlink()  # nothing routes there: an ordinary edit
    assert not [p for p in registry.reload(router.required()) if p.severity == "error"]
    assert registry.names() == ["banking", "retail"]


async def test_the_watcher_rejects_a_deletion_with_one_structured_record(tmp_path: Path) -> None:
    from voicebot.app import VoicebotService

    directory = _flows(tmp_path)
    service = VoicebotService.__new__(VoicebotService)  # only what the reload watcher uses
    service.flows = FlowRegistry.load(directory)
    service.router = FlowRouter("banking", {})
    with capture_logs() as logs:
        task = asyncio.create_task(service._watch_flows())
        await asyncio.sleep(0.1)
        (directory / "banking.yaml").unlink()
        os.utime(directory, None)
        for _ in range(100):
            if any(line["event"] == "flow edit rejected; running flows kept" for line in logs):
                break
            await asyncio.sleep(0.05)
        task.cancel()
    rejected = [line for line in logs if line["event"] == "flow edit rejected; running flows kept"]
    assert len(rejected) == 1 and rejected[0]["log_level"] == "error" and rejected[0]["errors"] == 1
    assert "banking" in rejected[0]["problems"][0]["message"]
    assert service.flows.names() == ["banking", "logistics", "retail"]
