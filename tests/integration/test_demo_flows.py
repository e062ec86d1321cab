"""The four demo flows' conversation tests (dialogs/tests/*.test.yaml), with the real NLU and the seeded
demo backend: what ``voicebot test dialogs/`` runs, one pytest case per conversation."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from voicebot.dialog.loader import load_directory
from voicebot.designer.conversation_tests import (BackendSpec, ConversationTest, TextDriver, load_tests, real_nlu_factory,
                                     run_test)
from voicebot.models import ModelMissing, resolve
from voicebot.demo.backend import create_demo_app

pytestmark = pytest.mark.slow

DIALOGS = Path(__file__).resolve().parents[2] / "dialogs"
DEMO_BUNDLES = ("banking", "retail", "logistics", "public_service")
CONVERSATIONS = [test for name in DEMO_BUNDLES for test in load_tests(DIALOGS, name)[0]]


def emotion_model_missing() -> str | None:
    try:
        resolve("emotion")
    except ModelMissing as missing:
        return str(missing)
    return None


def needs_emotion(test: ConversationTest) -> bool:
    return any(isinstance(t.expect.handoff, dict) and t.expect.handoff.get("reason") == "frustration"
               for t in test.turns)


@pytest.fixture(scope="module")
def bundles():
    loaded, _ = load_directory(DIALOGS)
    return loaded


@pytest.fixture(scope="module")
def make_nlu(tmp_path_factory: pytest.TempPathFactory):
    return real_nlu_factory(tmp_path_factory.mktemp("nlu-cache"))


def test_every_demo_bundle_has_conversation_tests() -> None:
    for name in DEMO_BUNDLES:
        tests, problems = load_tests(DIALOGS, name)
        assert [p for p in problems if Path(p.file).name == f"{name}.test.yaml"] == []
        assert len(tests) >= 10, name


@pytest.mark.parametrize("test", CONVERSATIONS, ids=[f"{t.bundle}: {t.name}" for t in CONVERSATIONS])
async def test_demo_conversation(test: ConversationTest, bundles, make_nlu) -> None:
    if needs_emotion(test) and (missing := emotion_model_missing()):
        pytest.skip(f"frustration needs the emotion head: {missing}")
    bundle = bundles[test.bundle]
    result = await run_test(test, TextDriver(bundle, make_nlu(bundle)))
    assert result.failures == []
    assert not any("went wrong" in text for speaker, text in result.transcript if speaker == "bot")


async def test_flows_reach_the_backend_over_real_http(bundles, make_nlu, tmp_path: Path) -> None:
    """The first test of every demo bundle again, with the back office behind uvicorn on a free port."""
    web = FastAPI()
    web.mount("/demo", create_demo_app(tmp_path / "demo.db"))
    config = uvicorn.Config(web, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/demo"
    failures = []
    try:
        for name in DEMO_BUNDLES:
            first = dataclasses.replace(load_tests(DIALOGS, name)[0][0], backend=BackendSpec("live"))
            driver = TextDriver(bundles[name], make_nlu(bundles[name]), backend_url=url)
            result = await run_test(first, driver)
            failures += [f"{name}: {f}" for f in result.failures]
    finally:
        server.should_exit = True
        await serving
    assert failures == []
