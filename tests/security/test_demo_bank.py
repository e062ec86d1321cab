"""The demo back office behaves like a bank: PIN attempts limited per account, unknown accounts look like
wrong PINs, complaints without a key never collide."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import httpx
import pytest

from voicebot.demo.backend import MAX_VERIFY_FAILURES, create_demo_app


@pytest.fixture
async def bank(tmp_path: Path):
    app = create_demo_app(tmp_path / "demo.db", today=date(2026, 3, 18))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://demo") as client:
        yield client


async def verify(client: httpx.AsyncClient, account: str, pin: str) -> httpx.Response:
    return await client.post("/banking/verify", json={"account_number": account, "pin": pin})


async def test_pin_attempts_lock_the_account_then_even_the_right_pin_is_refused(bank) -> None:
    for _ in range(MAX_VERIFY_FAILURES - 1):
        assert (await verify(bank, "12345678", "0000")).status_code == 401
    assert (await verify(bank, "12345678", "4567")).status_code == 200  # success before the limit resets it
    for _ in range(MAX_VERIFY_FAILURES):
        assert (await verify(bank, "12345678", "0000")).status_code == 401
    locked = await verify(bank, "12345678", "4567")
    assert locked.status_code == 423 and locked.json()["error"] == "account_locked"
    by_birth = await bank.post("/banking/verify", json={"account_number": "12345678", "dob": "1985-03-14"})
    assert by_birth.status_code == 423  # every factor, not only the PIN
    assert (await verify(bank, "87654321", "1234")).status_code == 200  # other accounts are not affected


async def test_unknown_accounts_cannot_be_told_from_wrong_pins(bank) -> None:
    known, unknown = await verify(bank, "12345678", "0000"), await verify(bank, "99999999", "0000")
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    for _ in range(MAX_VERIFY_FAILURES):
        await verify(bank, "99999998", "0000")
    # an unknown number locks the same way a real one does, so a lock reveals nothing either
    assert (await verify(bank, "99999998", "0000")).status_code == 423


async def test_complaints_without_a_key_are_each_filed(bank, tmp_path: Path) -> None:
    complaint = {"category": "roads", "description": "pothole on Elm Street", "idempotency_key": "", "call_id": ""}
    first = await bank.post("/public/complaints", json=complaint)
    second = await bank.post("/public/complaints", json=complaint)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["ticket"] != second.json()["ticket"]
    keyed = {**complaint, "idempotency_key": "call-1"}
    again = [await bank.post("/public/complaints", json=keyed) for _ in range(2)]
    assert [r.status_code for r in again] == [201, 200] and again[0].json() == again[1].json()


def test_an_older_demo_database_gains_the_lockout_table(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    create_demo_app(db)
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE verify_failures")
    create_demo_app(db)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM verify_failures").fetchone() == (0,)
