"""`voicebot test` over dialogs/example.yaml with the real NLU (MiniLM), and `voicebot chat` scripted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from voicebot.cli import app

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_example_conversation_tests_pass_with_the_real_nlu():
    result = CliRunner().invoke(app, ["test", str(ROOT / "dialogs"), "--flow", "example", "--json"])
    report = json.loads(result.stdout)
    failing = [(t["name"], t["failures"]) for t in report["tests"] if not t["passed"]]
    assert failing == [] and result.exit_code == 0
    assert report["total"] == report["passed"] >= 10


def test_chat_command_talks_to_the_example_flow():
    script = "where is my order\n#123456#\nyes\n/quit\n"
    result = CliRunner().invoke(
        app, ["chat", str(ROOT / "dialogs" / "example.yaml"), "--backend", "none"], input=script
    )
    assert result.exit_code == 0, result.output
    assert "intent order_status" in result.output
    assert "can't reach our order system" in result.output  # backend none: the on_error path
    assert "** handoff queue=example" in result.output
