"""Backend actions: webhooks over HTTP (MockTransport), registered functions, timeouts and failures."""

from __future__ import annotations

import asyncio
import json

import httpx

from voicebot.dialog.actions import ActionRegistry, ActionRequest, ActionRunner, default_registry


def client(handler) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def test_post_sends_the_call_context_as_json_and_stores_the_answer():
    seen = {}

    def handle(request: httpx.Request) -> httpx.Response:
        seen["url"] = str(request.url)
        seen["body"] = json.loads(request.content)
        seen["token"] = request.headers.get("x-session-token")
        return httpx.Response(200, json={"balance": 12.5})

    runner = ActionRunner(client=client(handle))
    context = {
        "call_id": "c1",
        "caller_id": "+1",
        "flow": "f",
        "slots": {"a": "1"},
        "vars": {},
        "params": {"x": 1},
    }
    outcome = await runner.run(
        ActionRequest("webhook", "/accounts/balance", "POST", 2.0, context, {"X-Session-Token": "t"}),
        "http://bank.test/api/",
    )
    assert outcome.status == "ok"
    assert outcome.data == {"balance": 12.5, "ok": True, "status": 200}
    assert seen == {"url": "http://bank.test/api/accounts/balance", "body": context, "token": "t"}


async def test_settings_backend_url_overrides_the_bundle_backend():
    urls = []
    runner = ActionRunner(
        client=client(lambda r: urls.append(str(r.url)) or httpx.Response(200, json={})),
        base_url="http://override.test",
    )
    await runner.run(ActionRequest("webhook", "orders/1", "GET"), "http://bundle.test")
    assert urls == ["http://override.test/orders/1"]


async def test_4xx_is_a_fail_with_the_answer_and_5xx_an_error():
    runner = ActionRunner(client=client(lambda r: httpx.Response(404, json={"message": "unknown order"})))
    outcome = await runner.run(ActionRequest("webhook", "http://x.test/o/1", "GET"))
    assert (
        outcome.status == "fail"
        and outcome.data["message"] == "unknown order"
        and outcome.data["status"] == 404
    )
    runner = ActionRunner(client=client(lambda r: httpx.Response(503, text="busy")))
    assert (await runner.run(ActionRequest("webhook", "http://x.test/o/1", "GET"))).status == "error"
    runner = ActionRunner(client=client(lambda r: httpx.Response(200, text="not json")))
    assert (await runner.run(ActionRequest("webhook", "http://x.test/o/1", "GET"))).status == "error"


async def test_connection_error_timeout_and_missing_backend_are_errors():
    def refuse(request):
        raise httpx.ConnectError("refused", request=request)

    def slow(request):
        raise httpx.ReadTimeout("slow", request=request)

    assert (
        await ActionRunner(client=client(refuse)).run(ActionRequest("webhook", "http://x.test/a"))
    ).status == "error"
    outcome = await ActionRunner(client=client(slow)).run(
        ActionRequest("webhook", "http://x.test/a", timeout_s=0.5)
    )
    assert outcome.status == "error" and "timed out" in outcome.detail
    outcome = await ActionRunner(client=client(refuse)).run(ActionRequest("webhook", "/a"), None)
    assert outcome.status == "error" and "no backend URL" in outcome.detail


async def test_registered_functions_sync_async_timeout_and_bad_result():
    registry = ActionRegistry()

    @registry.register("double")
    def double(ctx):
        return {"value": ctx["params"]["n"] * 2}

    @registry.register("later")
    async def later(ctx):
        await asyncio.sleep(5)
        return {}

    registry.register("bad")(lambda ctx: ["not", "a", "dict"])
    runner = ActionRunner(registry)
    ok = await runner.run(ActionRequest("function", "double", context={"params": {"n": 21}}))
    assert ok.status == "ok" and ok.data == {"value": 42}
    assert (await runner.run(ActionRequest("function", "later", timeout_s=0.05))).status == "error"
    assert (await runner.run(ActionRequest("function", "bad"))).status == "error"
    assert (await runner.run(ActionRequest("function", "nope"))).status == "error"
    assert registry.names() == ["bad", "double", "later"]


async def test_make_reference_is_stable_and_speakable():
    runner = ActionRunner(default_registry())
    request = ActionRequest("function", "make_reference", context={"call_id": "c1", "params": {"a": 1}})
    first = await runner.run(request)
    again = await runner.run(request)
    ref = first.data["reference"]
    assert first.data == again.data and len(ref) == 6 and ref[:2].isalpha() and ref[2:].isdigit()
