"""The engine's phases: an input read into typed moves without touching the state, and corrections that
come from the NLU in ``Understanding.correction``, never re-read from the text by the engine."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from fakes import FakeEmbedder
from dialogs import example_bundle
from voicebot.dialog.actions import ActionRunner
from voicebot.dialog.engine import DialogEngine
from voicebot.dialog.interpret import Interpreter
from voicebot.dialog.moves import Frustrated, HandlerHandoff, Heard, Keyed, NoMatch, StartFlow
from voicebot.dialog.questions import Questions
from voicebot.nlu.entities import SlotTypeSpec
from voicebot.nlu.intents import IntentClassifier
from voicebot.nlu.understand import Nlu
from voicebot.types import CallStart, DigitsInput, Emotion, Entity, Understanding

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bundle():
    return example_bundle()


async def at_the_menu(bundle):
    engine = DialogEngine(bundle, ActionRunner())
    state = engine.start("call-1")
    await engine.step(state, CallStart())
    return engine, state


async def test_an_input_becomes_typed_moves_and_the_state_is_untouched(bundle):
    _, state = await at_the_menu(bundle)
    interpreter = Interpreter(bundle, Questions(bundle))
    before = copy.deepcopy(state)
    request = Understanding("where is my order", "order_status", 0.91)
    assert interpreter.interpret(state, request, None) == [
        Heard(request),
        StartFlow("order_status", request, "intent order_status (0.91) matched flow order_status"),
    ]
    assert interpreter.interpret(state, DigitsInput("7"), None) == [
        Keyed("7", False),
        NoMatch("DTMF '7' is not a menu option"),
    ]
    angry = Understanding("this is useless", None, 0.2, emotion=Emotion("angry", 0.95, -0.9))
    assert interpreter.interpret(replace(state, frustration=1), angry, None) == [
        Heard(angry),
        Frustrated("angry", 0.95),
        HandlerHandoff("frustration", "frustration limit reached"),
    ]
    assert state == before


async def test_a_correction_is_the_nlus_not_read_again_from_the_text(bundle):
    async def after_the_day_is_given(bundle):
        engine, state = await at_the_menu(bundle)
        await engine.step(state, Understanding("call me back", "request_callback", 0.9))
        await engine.step(state, DigitsInput("1234", terminated=True))
        tomorrow = Entity("callback_day", "2026-11-26", "tomorrow")
        await engine.step(state, Understanding("tomorrow", None, 0.1, (tomorrow,)))
        return engine, state

    text = "no I said the 27th"
    said = Understanding(text, None, 0.1, (Entity("callback_day", "2026-11-27", "the 27th"),))
    engine, state = await after_the_day_is_given(bundle)
    r = await engine.step(state, said)  # no correction from the NLU: the engine does not look for one
    assert state.slots["day"] == "2026-11-26" and not any(d.startswith("correction") for d in r.decisions)
    engine, state = await after_the_day_is_given(bundle)
    r = await engine.step(state, replace(said, correction="the 27th"))
    assert state.slots["day"] == "2026-11-27"
    assert "correction: slot day '2026-11-26' → '2026-11-27'" in r.decisions


def test_the_nlu_gives_the_corrected_part(tmp_path):
    examples = {"balance": ["what is my balance", "check my balance", "account balance"],
                "lost_card": ["I lost my card", "my card was stolen", "block my card"]}
    classifier = IntentClassifier.train(examples, FakeEmbedder(), cache_dir=tmp_path)
    nlu = Nlu(classifier, {"pin": SlotTypeSpec("pin", "digits", 4, 4)}, None, None)
    corrected = nlu.understand_sync("no, I said 4 3 2 1", expected_slot="pin", today=date(2026, 1, 1))
    assert corrected.correction == "4 3 2 1" and corrected.entity("pin").value == "4321"
    assert nlu.understand_sync("check my balance").correction is None
