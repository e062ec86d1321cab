"""The demo backend over a fresh seeded SQLite file, through the ASGI transport (no sockets)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import date
from pathlib import Path

import httpx
import pytest

from voicebot.demo.backend import create_demo_app, day_text, digits

TODAY = date(2026, 3, 18)  # a Wednesday


@pytest.fixture
async def client(tmp_path: Path):
    app = create_demo_app(tmp_path / "demo.db", today=TODAY)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://demo") as c:
        yield c


async def token(client: httpx.AsyncClient, account: str = "12345678", **factor: str) -> str:
    r = await client.post("/banking/verify", json={"account_number": account, **(factor or {"pin": "4567"})})
    assert r.status_code == 200, r.text
    return r.json()["token"]


def test_seed_is_deterministic(tmp_path: Path) -> None:
    create_demo_app(tmp_path / "a.db")
    create_demo_app(tmp_path / "b.db")
    dumps = []
    for name in ("a.db", "b.db"):
        with sqlite3.connect(tmp_path / name) as conn:
            dumps.append([line for line in conn.iterdump() if "complaints" not in line])  # created_at is wall time
    assert dumps[0] == dumps[1]
    with sqlite3.connect(tmp_path / "a.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM accounts").fetchone()[0] > 40
        assert conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0] > 150
        assert conn.execute("SELECT COUNT(*) FROM parcels").fetchone()[0] > 200
        numbers = [r[0] for r in conn.execute("SELECT number FROM accounts")]
        assert all(len(n) == 8 and n.isdigit() for n in numbers)
        assert all(len(r[0]) == 10 for r in conn.execute("SELECT tracking_number FROM parcels"))


def test_existing_database_is_kept(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    create_demo_app(db)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE accounts SET balance_cents = 1 WHERE number = '12345678'")
    create_demo_app(db)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT balance_cents FROM accounts WHERE number = '12345678'").fetchone()[0] == 1


def test_spoken_helpers() -> None:
    assert digits("1234 5678") == "12345678"
    assert digits("1234-5678") == "12345678"
    assert day_text(0, TODAY) == "today"
    assert day_text(1, TODAY) == "tomorrow"
    assert day_text(-1, TODAY) == "yesterday"
    assert day_text(2, TODAY) == "on Friday"
    assert day_text(-3, TODAY) == "on Sunday"
    assert day_text(10, TODAY) == "on March 28"
    assert day_text(None, TODAY) is None


async def test_health(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"ok": True}


# ------------------------------------------------------------------------------------------ banking


@pytest.mark.parametrize("factor", [{"pin": "4567"}, {"dob": "1985-03-14"}, {"dob": "03141985"},
                                    {"ssn_last4": "6789"}, {"pin": "4 5 6 7"}])
async def test_verify_accepts_any_one_factor(client: httpx.AsyncClient, factor: dict[str, str]) -> None:
    r = await client.post("/banking/verify", json={"account_number": "1234-5678", **factor})
    assert r.status_code == 200
    body = r.json()
    assert body["verified"] is True and body["token"]
    assert body["customer"]["first_name"] == "Maria"
    assert body["account"] == {"number": "12345678", "kind": "checking"}


async def test_verify_failures_are_clear(client: httpx.AsyncClient) -> None:
    wrong = await client.post("/banking/verify", json={"account_number": "12345678", "pin": "1111"})
    assert wrong.status_code == 401
    assert wrong.json() == {"error": "verification_failed", "message": "Those details do not match our records."}
    unknown = await client.post("/banking/verify", json={"account_number": "99999999", "pin": "1111"})
    assert (unknown.status_code, unknown.json()) == (wrong.status_code, wrong.json())  # no probing for accounts
    missing = await client.post("/banking/verify", json={"account_number": "12345678"})
    assert missing.status_code == 400 and missing.json()["error"] == "missing_factor"


async def test_vip_customer_has_priority(client: httpx.AsyncClient) -> None:
    r = await client.post("/banking/verify", json={"account_number": "87654321", "ssn_last4": "7777"})
    assert r.json()["customer"] == {"first_name": "James", "last_name": "Wilson", "tier": "private",
                                    "vip": True, "priority": 10}


async def test_webhook_envelope_is_unwrapped(client: httpx.AsyncClient) -> None:
    envelope = {"call_id": "c1", "caller_id": "+15550101001", "flow": "verify", "slots": {"x": 1}, "vars": {},
                "params": {"account_number": "12345678", "pin": "4567"}}
    r = await client.post("/banking/verify", json=envelope)
    assert r.status_code == 200 and r.json()["verified"]


async def test_balance_needs_a_session_for_that_customer(client: httpx.AsyncClient) -> None:
    assert (await client.get("/banking/accounts/12345678")).status_code == 401
    bad = await client.get("/banking/accounts/12345678", params={"token": "nope"})
    assert bad.status_code == 401 and bad.json()["error"] == "session_expired"
    tok = await token(client)
    r = await client.get("/banking/accounts/12345678", headers={"X-Session-Token": tok})
    assert r.json() == {"number": "12345678", "kind": "checking", "balance": 2431.57, "available": 2406.57,
                        "pending": 25.0, "currency": "USD"}
    savings = await client.get("/banking/accounts/12345679", params={"token": tok})
    assert savings.json()["balance"] == 15200.0
    other = await client.get("/banking/accounts/87654321", params={"token": tok})
    assert other.status_code == 403


async def test_block_card_by_kind_is_idempotent(client: httpx.AsyncClient) -> None:
    tok = await token(client)
    first = await client.post("/banking/cards/block", params={"token": tok}, json={"kind": "debit",
                                                                                   "reason": "stolen"})
    assert first.status_code == 200
    body = first.json()
    assert body["blocked"] == [{"last4": "4421", "kind": "debit"}] and not body["already_blocked"]
    again = await client.post("/banking/cards/block", params={"token": tok}, json={"last4": "4421"})
    assert again.json()["reference"] == body["reference"] and again.json()["already_blocked"]
    cards = (await client.get("/banking/cards", params={"token": tok})).json()["cards"]
    assert [(c["last4"], c["status"]) for c in cards] == [("4421", "blocked"), ("8810", "active")]
    missing = await client.post("/banking/cards/block", params={"token": tok}, json={"last4": "0000"})
    assert missing.status_code == 404


async def test_block_all_cards_and_already_blocked_card(client: httpx.AsyncClient) -> None:
    tok = await token(client)
    r = await client.post("/banking/cards/block", params={"token": tok}, json={"reason": "lost"})
    assert {c["last4"] for c in r.json()["blocked"]} == {"4421", "8810"}
    aisha = await token(client, "24681357", pin="2468")
    r = await client.post("/banking/cards/block", params={"token": aisha}, json={"last4": "5150"})
    assert r.json()["already_blocked"] and r.json()["reference"] == "900100"


async def test_transfers_newest_first(client: httpx.AsyncClient) -> None:
    tok = await token(client)
    r = await client.get("/banking/transfers", params={"token": tok})
    transfers = r.json()["transfers"]
    assert [t["reference"] for t in transfers] == ["50012345", "50012301"]
    assert transfers[0] == {"reference": "50012345", "payee": "John Smith", "amount": 250.0,
                                 "status": "pending", "status_text": "on its way", "sent": "2026-03-17",
                                 "sent_text": "yesterday", "expected": "2026-03-19", "expected_text": "tomorrow",
                                 "note": ""}
    one = await client.get("/banking/transfers/5001 2345", params={"token": tok})
    assert one.json()["payee"] == "John Smith"
    foreign = await client.get("/banking/transfers/50012288", params={"token": tok})
    assert foreign.status_code == 404


# ------------------------------------------------------------------------------------------ retail


async def test_order_status(client: httpx.AsyncClient) -> None:
    r = await client.get("/retail/orders/1234567")
    body = r.json()
    assert body["status"] == "shipped" and body["expected"] == "2026-03-20" and body["expected_text"] == "on Friday"
    assert body["item_summary"] == "wireless headphones" and body["tracking_number"] == "1234567890"
    assert (await client.get("/retail/orders/2345678")).json()["item_summary"] == \
        "running shoes and 2 cotton T-shirts"
    assert (await client.get("/retail/orders/1234567", params={"zip": "94107"})).status_code == 200
    assert (await client.get("/retail/orders/1234567", params={"zip": "10001"})).status_code == 403
    unknown = await client.get("/retail/orders/0000000")
    assert unknown.status_code == 404 and "0000000" in unknown.json()["message"]


@pytest.mark.parametrize(("order", "eligible", "reason"), [
    ("2345678", True, "within the return window"),
    ("3456789", False, "the return window of 30 days has closed"),
    ("5678901", False, "final-sale items cannot be returned"),
    ("4567890", False, "the order is being prepared, not delivered yet"),
    ("1122334", False, "the order was cancelled and refunded"),
])
async def test_return_eligibility(client: httpx.AsyncClient, order: str, eligible: bool, reason: str) -> None:
    body = (await client.get(f"/retail/orders/{order}/return-eligibility")).json()
    assert (body["eligible"], body["reason"]) == (eligible, reason)


async def test_create_return_once(client: httpx.AsyncClient) -> None:
    first = await client.post("/retail/orders/2345678/returns", json={"reason": "too small"})
    assert first.status_code == 201
    assert first.json() == {"rma": "700101", "refund": 170.0, "items": ["running shoes", "cotton T-shirt"],
                            "label": "by email", "existing": False}
    again = await client.post("/retail/orders/2345678/returns", json={})
    assert again.status_code == 200 and again.json()["rma"] == "700101" and again.json()["existing"]
    closed = await client.post("/retail/orders/3456789/returns", json={})
    assert closed.status_code == 409 and closed.json()["error"] == "not_returnable"


async def test_concurrent_writes_do_not_collide(client: httpx.AsyncClient) -> None:
    same = await asyncio.gather(*(client.post("/retail/orders/2345678/returns", json={}) for _ in range(4)))
    assert {r.json()["rma"] for r in same} == {"700101"}
    assert sorted(r.status_code for r in same) == [200, 200, 200, 201]
    tickets = await asyncio.gather(*(client.post("/public/complaints", json={"description": f"noise {i}"})
                                     for i in range(5)))
    assert sorted(r.json()["ticket"] for r in tickets) == [str(n) for n in range(4100004, 4100009)]


# ------------------------------------------------------------------------------------------ logistics


async def test_parcel_tracking(client: httpx.AsyncClient) -> None:
    body = (await client.get("/logistics/parcels/123 456 7890")).json()
    assert body["status"] == "in_transit" and body["eta_text"] == "on Friday"
    assert body["last_event"]["description"] == "arrived at the hub" and len(body["events"]) == 3
    assert body["redelivery_allowed"] is False
    assert (await client.get("/logistics/parcels/9876543210")).json()["redelivery_allowed"] is True
    assert (await client.get("/logistics/parcels/1111111111")).status_code == 404


async def test_redelivery_slots_for_a_week(client: httpx.AsyncClient) -> None:
    slots = (await client.get("/logistics/parcels/9876543210/redelivery-slots")).json()["slots"]
    dates = sorted({s["date"] for s in slots})
    assert dates == [f"2026-03-{d}" for d in range(19, 26)]
    assert len(slots) == 7 * 3 - 1
    assert slots[0] == {"id": "20260319-morning", "date": "2026-03-19", "date_text": "tomorrow",
                        "window": "morning", "window_text": "between 8 in the morning and noon"}
    assert not any(s["window"] == "evening" and s["date"] == "2026-03-22" for s in slots)  # Sunday
    refused = await client.get("/logistics/parcels/5555512345/redelivery-slots")
    assert refused.status_code == 409 and "delivered" in refused.json()["message"]


async def test_book_and_move_redelivery(client: httpx.AsyncClient) -> None:
    first = await client.post("/logistics/parcels/9876543210/redelivery", json={"day": "friday",
                                                                                "window": "afternoon"})
    assert first.json() == {"reference": "600101", "date": "2026-03-20", "date_text": "on Friday",
                            "window": "afternoon", "window_text": "between noon and 5 in the afternoon", "rescheduled": False}
    moved = await client.post("/logistics/parcels/9876543210/redelivery", json={"window": "evening"})
    assert moved.json()["reference"] == "600101" and moved.json()["date"] == "2026-03-19"
    assert moved.json()["rescheduled"]
    parcel = (await client.get("/logistics/parcels/9876543210")).json()
    assert parcel["redelivery"]["window"] == "evening" and parcel["redelivery_allowed"] is False
    first_slot = await client.post("/logistics/parcels/1122334455/redelivery", json={})
    assert first_slot.json()["date_text"] == "tomorrow" and first_slot.json()["reference"] == "600102"
    sunday = await client.post("/logistics/parcels/1122334455/redelivery", json={"day": "sunday",
                                                                                 "window": "evening"})
    assert sunday.status_code == 409 and sunday.json()["error"] == "slot_unavailable"
    returned = await client.post("/logistics/parcels/3344556677/redelivery", json={})
    assert returned.status_code == 409 and returned.json()["error"] == "redelivery_not_possible"


# ------------------------------------------------------------------------------------------ public service


@pytest.mark.parametrize(("question", "topic"), [
    ("when are you open on saturday", "opening_hours"),
    ("what documents do I need for a passport", "passport"),
    ("how much does a parking permit cost", "parking_permit"),
    ("I moved house, how do I register my new address", "address_change"),
    ("bulky furniture pickup", "waste_collection"),
    ("what are the fees", "fees"),
])
async def test_info_search(client: httpx.AsyncClient, question: str, topic: str) -> None:
    body = (await client.get("/public/info/search", params={"q": question})).json()
    assert body["topic"] == topic and body["answer"]


async def test_info_topics(client: httpx.AsyncClient) -> None:
    topics = (await client.get("/public/info")).json()["topics"]
    assert len(topics) == 8
    hours = (await client.get("/public/info/opening_hours")).json()
    assert "Monday to Friday" in hours["answer"]
    assert (await client.get("/public/info/quantum_physics")).status_code == 404
    assert (await client.get("/public/info/search", params={"q": "zebra"})).status_code == 404


async def test_complaint_ticket_is_idempotent_per_call(client: httpx.AsyncClient) -> None:
    envelope = {"call_id": "call-42", "caller_id": "+15550100", "flow": "complaint", "slots": {}, "vars": {},
                "params": {"category": "roads", "description": "pothole on Elm Street"}}
    first = await client.post("/public/complaints", json=envelope)
    assert first.status_code == 201
    assert first.json() == {"ticket": "4100004", "category": "roads", "status": "open", "response_days": 2}
    again = await client.post("/public/complaints", json=envelope)
    assert again.status_code == 200 and again.json()["ticket"] == "4100004"
    other = await client.post("/public/complaints", json={"category": "llamas", "description": "x"})
    assert other.status_code == 201 and other.json() == {"ticket": "4100005", "category": "other",
                                                         "status": "open", "response_days": 5}
    status = (await client.get("/public/complaints/4100004")).json()
    assert status["status_text"] == "received and waiting to be assigned"
    assert (await client.get("/public/complaints/4100001")).json()["status"] == "in_progress"
    empty = await client.post("/public/complaints", json={"category": "roads", "description": ""})
    assert empty.status_code == 422


async def test_customer_by_phone_is_the_desks_with_its_key(tmp_path: Path) -> None:
    app = create_demo_app(tmp_path / "demo.db", today=TODAY, desk_key="k3y")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://demo") as c:
        r = await c.get("/customers/by-phone/+1 555 010 1001", headers={"X-Desk-Key": "k3y"})
        assert r.status_code == 200, r.text
        maria = r.json()
        assert (maria["name"], maria["tier"], maria["vip"]) == ("Maria Garcia", "standard", False)
        assert {"kind": "checking", "last4": "5678"} in maria["accounts"]
        assert [c["last4"] for c in maria["cards"]] == ["4421", "8810"]
        assert {o["number"] for o in maria["orders"]} == {"1234567", "2345678"}
        assert [c["ticket"] for c in maria["complaints"]] == ["4100001"]
        james = (await c.get("/customers/by-phone/5550101002", headers={"X-Desk-Key": "k3y"})).json()
        assert (james["name"], james["vip"], james["priority"]) == ("James Wilson", True, 10)
        assert (await c.get("/customers/by-phone/+15559999999", headers={"X-Desk-Key": "k3y"})).status_code == 404
        assert (await c.get("/customers/by-phone/12", headers={"X-Desk-Key": "k3y"})).status_code == 404
        assert (await c.get("/customers/by-phone/+15550101001")).status_code == 403
        assert (await c.get("/customers/by-phone/+15550101001", headers={"X-Desk-Key": "no"})).status_code == 403


async def test_customer_by_phone_refused_without_a_desk_key(client: httpx.AsyncClient) -> None:
    r = await client.get("/customers/by-phone/+15550101001", headers={"X-Desk-Key": ""})
    assert r.status_code == 403
    assert r.json()["error"] == "not_allowed"
