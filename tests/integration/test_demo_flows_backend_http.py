"""The demo backend over real HTTP: uvicorn on a free port, httpx as the client, a sub-app under /demo."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from voicebot.demo.backend import create_demo_app

pytestmark = pytest.mark.slow


@pytest.fixture
async def base_url(tmp_path: Path):
    main = FastAPI()
    main.mount("/demo", create_demo_app(tmp_path / "demo.db"))  # as the main web app mounts it
    server = uvicorn.Server(uvicorn.Config(main, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/demo"
    server.should_exit = True
    await task


async def test_banking_session_over_http(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
        envelope = {"call_id": "c-1", "caller_id": "+15550101002", "flow": "verify", "slots": {}, "vars": {},
                    "params": {"account_number": "8765 4321", "pin": "1234"}}
        auth = (await client.post("/banking/verify", json=envelope)).json()
        assert auth["customer"]["vip"] is True
        balance = await client.get(f"/banking/accounts/87654321?token={auth['token']}")
        assert balance.status_code == 200 and balance.json()["balance"] == 48250.1
        transfers = (await client.get("/banking/transfers", params={"token": auth["token"]})).json()
        assert [t["status"] for t in transfers["transfers"]] == ["on_hold", "failed"]
        wrong = await client.post("/banking/verify", json={"account_number": "87654321", "pin": "0000"})
        assert wrong.status_code == 401 and wrong.json()["error"] == "verification_failed"


async def test_parcel_and_complaint_over_http(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
        parcel = (await client.get("/logistics/parcels/9876543210")).json()
        assert parcel["status"] == "delivery_attempted" and parcel["redelivery_allowed"]
        booking = (await client.post("/logistics/parcels/9876543210/redelivery", json={"window": "morning"})).json()
        assert booking["reference"] == "600101" and booking["window"] == "morning"
        ticket = await client.post("/public/complaints", json={"category": "noise", "description": "loud party"})
        assert ticket.status_code == 201 and ticket.json()["ticket"] == "4100004"
        assert (await client.get("/openapi.json")).json()["info"]["title"] == "voicebot demo backend"
