"""Backend actions: a failing or slow webhook is logged for operators with the call, the flow step and the
cause; the webhook's URL reaches the record with its credentials and query string redacted."""

from __future__ import annotations

import asyncio

import httpx
from structlog.testing import capture_logs

from voicebot.dialog.actions import ActionRequest, ActionRunner, redact_url


def _runner(handler) -> ActionRunner:
    return ActionRunner(client=httpx.AsyncClient(transport=httpx.MockTransport(handler)))


def _request(target: str, timeout_s: float = 4.0) -> ActionRequest:
    return ActionRequest("webhook", target, method="GET", timeout_s=timeout_s, step="balance.fetch",
                         context={"call_id": "c-1", "flow": "balance"})


async def test_a_session_token_in_the_url_never_reaches_the_decision_text() -> None:
    outcome = await _runner(lambda request: httpx.Response(200, json={"balance": 1})).run(
        _request("https://user:pw@bank.example/banking/accounts?token=SECRET123&limit=1"))
    assert outcome.status == "ok"
    assert "SECRET123" not in outcome.detail and "pw" not in outcome.detail and "user" not in outcome.detail
    assert outcome.detail == "webhook GET https://***@bank.example/banking/accounts?token=***&limit=*** → HTTP 200"
    assert redact_url("http://h/api/session/abc123/x") == "http://h/api/session/***/x"


async def test_failures_and_timeouts_are_logged_with_call_step_and_cause() -> None:
    async def never_answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)  # a real backend that hangs: the request's own timeout must end it
        writer.close()

    server = await asyncio.start_server(never_answers, "127.0.0.1", 0)
    hanging = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/y"
    with capture_logs() as logs:
        refused = await _runner(lambda r: httpx.Response(503, json={})).run(_request("https://b/x?token=S"))
        timed_out = await ActionRunner().run(_request(hanging, timeout_s=0.2))
        missing = await _runner(lambda r: httpx.Response(404, json={"error": "unknown"})).run(_request("https://b/z"))
    assert (refused.status, timed_out.status, missing.status) == ("error", "error", "fail")
    warnings = [line for line in logs if line["event"] == "backend action failed"]
    assert [w["status"] for w in warnings] == ["error", "error", "fail"]
    assert all(w["call_id"] == "c-1" and w["step"] == "balance.fetch" and w["log_level"] == "warning"
               for w in warnings)
    assert "503" in warnings[0]["cause"] and "timed out" in warnings[1]["cause"] and "404" in warnings[2]["cause"]
    assert "token=S" not in warnings[0]["cause"]
    server.close()
