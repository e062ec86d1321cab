"""The four demo bundles against the demo backend, without models: their shape, their webhooks and the flow
functions they call."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.routing import APIRoute

from voicebot.call.callbacks import CallbackOffer, TicketRequest
from voicebot.dialog.actions import default_registry
from voicebot.dialog.loader import Bundle, load_directory
from voicebot.dialog.schema import CallStep, HandoffStep, SurveyStep
from voicebot.demo.backend import create_demo_app

DIALOGS = Path(__file__).resolve().parents[2] / "dialogs"
QUEUES = {"banking": {"banking", "cards"}, "retail": {"retail"}, "logistics": {"logistics"},
          "public_service": {"public"}}
# What the service registers (app.py; the callback functions only with AMI, so a flow needs on_error for them)
FUNCTIONS = set(CallbackOffer(None, None, None, "").register(  # type: ignore[arg-type]
    TicketRequest(None, None).register(default_registry())).names())  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def bundles() -> dict[str, Bundle]:
    loaded, problems = load_directory(DIALOGS)
    assert [str(p) for p in problems if p.severity == "error" and Path(p.file).stem in QUEUES] == []
    return {name: loaded[name] for name in QUEUES}


@pytest.fixture(scope="module")
def routes(tmp_path_factory: pytest.TempPathFactory) -> list[APIRoute]:
    app = create_demo_app(tmp_path_factory.mktemp("demo") / "demo.db")
    return [r for r in app.routes if isinstance(r, APIRoute)]


def steps(bundle: Bundle):
    for flow_name, flow in bundle.flows.items():
        for step in flow.steps:
            yield flow_name, step


@pytest.mark.parametrize("name", sorted(QUEUES))
def test_intents_have_many_distinct_examples(bundles: dict[str, Bundle], name: str) -> None:
    seen: dict[str, str] = {}
    for intent, spec in bundles[name].spec.intents.items():
        assert 15 <= len(spec.examples) <= 40, intent
        assert any(len(e.split()) <= 2 for e in spec.examples), f"{intent}: add a one- or two-word request"
        for example in spec.examples:
            key = example.lower()
            assert key not in seen, f"{example!r} is in {seen.get(key)} and {intent}"
            seen[key] = intent
    assert not {e.lower() for e in bundles[name].spec.out_of_scope} & set(seen)


@pytest.mark.parametrize("name", sorted(QUEUES))
def test_handoffs_use_the_industry_queues(bundles: dict[str, Bundle], name: str) -> None:
    bundle = bundles[name]
    queues = {step.handoff.queue for _, step in steps(bundle) if isinstance(step, HandoffStep)}
    queues |= {h.handoff.queue for h in bundle.handlers.values() if h.handoff is not None}
    assert queues <= QUEUES[name] and queues


@pytest.mark.parametrize("name", sorted(QUEUES))
def test_every_backend_call_has_a_fallback_and_a_route(bundles: dict[str, Bundle], routes: list[APIRoute],
                                                       name: str) -> None:
    calls = [(flow, step) for flow, step in steps(bundles[name]) if isinstance(step, CallStep)]
    assert calls
    for flow, step in calls:
        assert step.on_error, f"{flow}: a call without on_error"
        if step.call.function is not None:
            assert step.call.function in FUNCTIONS, f"{flow}: {step.call.function} is not a registered function"
            continue
        path = re.sub(r"\{[^{}]*\}", "1234", step.call.webhook.split("?")[0])
        assert any(r.path_regex.match(path) and step.call.method in r.methods for r in routes), \
            f"{flow}: {step.call.method} {path} is not a demo backend route"


@pytest.mark.parametrize("name", sorted(QUEUES))
def test_self_served_calls_end_with_a_survey(bundles: dict[str, Bundle], name: str) -> None:
    main = bundles[name].flows["main"].steps
    assert any(isinstance(step, SurveyStep) for step in main)
