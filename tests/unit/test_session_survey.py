"""The post-call survey reaches the call record: a flow's survey step answered by key (or by voice) is published
once as SurveyAnswered, with the flow, the question and the score, and the recorder keeps it among the call's
events (what the reports count as CSAT). The real dialog engine on a small bundle; fake models."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fakes import FakeCallConnection, FakeCallStore, FakeNlu, FakeRecognizer, FakeSynthesizer

from voicebot.call.events import EventBus
from voicebot.call.session import CallServices, CallSession, DialogApp
from voicebot.config import Settings
from voicebot.dialog.actions import ActionRunner, default_registry
from voicebot.dialog.engine import DialogEngine
from voicebot.dialog.loader import load_bundle
from voicebot.dialog.schema import survey_questions
from voicebot.runtime import InferencePool
from voicebot.speech.tts import Speaker
from voicebot.store.recorder import CallRecorder
from voicebot.types import Dtmf

FLOW = """
name: shop
flows:
  main:
    steps:
      - say: "Your order is on its way."
      - id: survey
        survey: satisfaction
        prompt: "On a scale of one to five, how happy were you with this call? Press or say a number."
      - id: recommend
        survey: recommend
        prompt: "And how likely are you to recommend us, from one to five?"
      - end: "Thank you. Goodbye!"
"""


async def test_a_keyed_survey_answer_is_kept_with_the_call(tmp_path: Path) -> None:
    file = tmp_path / "shop.yaml"
    file.write_text(FLOW)
    bundle, problems = load_bundle(file)
    assert bundle is not None, problems
    assert survey_questions(bundle.spec.flows) == {"satisfaction", "recommend"}
    app = DialogApp("shop", "1", DialogEngine(bundle, ActionRunner(default_registry())), FakeNlu({}),
                    surveys=survey_questions(bundle.spec.flows))
    bus, store = EventBus(), FakeCallStore()
    services = CallServices(settings=Settings(), recognizer=FakeRecognizer([]), bus=bus,
                            speaker=Speaker(FakeSynthesizer(8000), tmp_path / "cache", InferencePool(1)),
                            dialog_for=lambda _info: app)
    recorder = CallRecorder.start(bus, store)
    conn = FakeCallConnection()
    conn.feed(Dtmf("4"))  # keyed during the prompts: kept for the first question
    session = CallSession(services, conn)
    running = asyncio.create_task(session.run())
    while "satisfaction" not in session.slots:
        await asyncio.sleep(0.01)
    conn.feed(Dtmf("9"))  # not 1-5: asked again, then skipped (no score for "recommend")
    await asyncio.sleep(0.5)
    conn.feed(Dtmf("7"))
    await asyncio.wait_for(running, 30)
    await bus.close()
    await recorder.close()
    call = store.calls[conn.call_id]
    answers = [e for e in call["events"] if e[0] == "survey_answered"]
    assert [data for _, data in answers] == [{"flow": "shop", "question": "satisfaction", "score": 4,
                                                 "via": "dtmf"}]
    assert call["outcome"] == "completed"


def test_the_survey_event_crosses_the_redis_bus_as_json() -> None:
    from voicebot import events as ev

    answer = ev.SurveyAnswered("c1", flow="shop", question="satisfaction", score=5, via="speech")
    assert ev.from_json(answer.to_json()) == answer and answer.kind == "survey_answered"
