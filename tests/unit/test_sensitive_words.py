"""Sensitive words: found whole in any case, and a prompt that says one fails validation with its line, from the
flow's own list, the service's list (``pii.sensitive_words``) and through ``voicebot validate``; hot reload keeps
the running flows when an edit adds one."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from voicebot.cli import app
from voicebot.dialog.loader import FlowRegistry, load_bundle
from voicebot.nlu.pii import SensitiveWords

FLOW = """\
sensitive_words: [guaranteed return]
intents:
  invest:
    examples: [I want to invest, investments, how do I invest, put money in funds, buy shares]
flows:
  main:
    steps:
      - id: menu
        menu:
          prompt: "How can I help?"
      - end: "Bye"
  invest:
    intent: invest
    steps:
      - say: "Our funds have a guaranteed   return of five percent."
      - say: "Speak to a broker about a lawsuit."
"""


def test_words_are_found_whole_in_any_case_and_spacing() -> None:
    words = SensitiveWords(["lawsuit", "Guaranteed  Return", " "])
    assert words.words == ("guaranteed return", "lawsuit")
    assert words.found("A LAWSUIT, a guaranteed\nreturn, lawsuits and another lawsuit.") == ["lawsuit",
                                                                                         "guaranteed return"]
    assert SensitiveWords().found("anything") == []


def test_a_prompt_with_a_sensitive_word_fails_validation_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bank.yaml"
    path.write_text(FLOW)
    bundle, problems = load_bundle(path)
    assert bundle is None
    assert [(p.line, p.message) for p in problems] == [
        (15, "says the sensitive word 'guaranteed return', which the bot never says")]
    _, problems = load_bundle(path, words=["lawsuit"])  # the service's list adds to the flow's
    assert [(p.line, p.severity) for p in problems] == [(15, "error"), (16, "error")]


def test_voicebot_validate_reads_the_service_list(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "bank.yaml"
    path.write_text(FLOW.replace("sensitive_words: [guaranteed return]\n", ""))
    assert CliRunner().invoke(app, ["validate", str(tmp_path)]).exit_code == 0
    monkeypatch.setenv("VOICEBOT_PII__SENSITIVE_WORDS", '["lawsuit"]')
    result = CliRunner().invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 1 and "bank.yaml:15:" in result.output and "'lawsuit'" in result.output


def test_a_reload_that_adds_a_sensitive_word_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bank.yaml"
    path.write_text(FLOW.replace("sensitive_words: [guaranteed return]\n", "").replace("a lawsuit", "fees"))
    registry = FlowRegistry.load(tmp_path, words=["lawsuit"])
    path.write_text(FLOW.replace("sensitive_words: [guaranteed return]\n", ""))
    problems = registry.reload()
    assert any("'lawsuit'" in p.message for p in problems) and registry.names() == ["bank"]
