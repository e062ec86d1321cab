"""Conversation tests answer registered flow functions from the test file (``functions:``): loaded with the file's
default and each test's own, checked, and registered over the runner's functions."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicebot.designer.audio_tests import skip_reason
from voicebot.designer.conversation_tests import load_tests, stub_functions
from voicebot.dialog.actions import default_registry

FILE = """
bundle: retail
functions:
  queue_wait: {minutes: 15, offer_callback: true}
tests:
  - name: the file's answers
    turns: [{caller: "hi"}]
  - name: its own answers over the file's
    functions:
      queue_wait: {minutes: 1, offer_callback: false}
      request_callback: {error: "database down"}
    turns: [{caller: "hi"}]
  - name: a bad answer
    functions: {queue_wait: 12}
    turns: [{caller: "hi"}]
"""


def test_functions_load_with_the_files_default_and_each_tests_own(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "retail.test.yaml").write_text(FILE)
    tests, problems = load_tests(tmp_path)
    assert tests[0].functions == {"queue_wait": {"minutes": 15, "offer_callback": True}}
    assert tests[1].functions == {"queue_wait": {"minutes": 1, "offer_callback": False},
                                  "request_callback": {"error": "database down"}}
    assert tests[2].functions == {"queue_wait": {"minutes": 15, "offer_callback": True}}  # its own refused
    assert [(p.line, "functions maps a function name" in p.message) for p in problems] == [(14, True)]
    assert skip_reason(tests[0]) is not None and "text mode" in skip_reason(tests[0])


async def test_canned_answers_are_registered_over_the_runners_functions() -> None:
    registry = stub_functions(None, {"queue_wait": {"minutes": 15}, "request_callback": {"error": "down"}})
    assert registry.names() == ["make_reference", "queue_wait", "request_callback"]  # the built-ins stay
    answer = await registry.get("queue_wait")({"params": {"queue": "retail"}})
    assert answer == {"minutes": 15}
    answer["minutes"] = 0  # a caller's change does not leak into the next call's answer
    assert await registry.get("queue_wait")({}) == {"minutes": 15}
    with pytest.raises(RuntimeError, match="request_callback: down"):
        await registry.get("request_callback")({})
    assert default_registry().names() == ["make_reference"]  # the runner's own registry is not changed
