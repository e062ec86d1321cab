"""Demo back office for the four demo flows: a bank, a shop, a parcel carrier and a city hotline.

``create_demo_app(db_path)`` returns a FastAPI app (mounted under ``/demo`` by the service when
``web.demo_backend`` is on, or run alone with ``voicebot demo-backend``). The SQLite file is created and
seeded on first start when absent (``voicebot.demo.seed``; same data every time). JSON in and out; errors are
``{"error": code, "message": text}`` with a 4xx status. A POST body is either the plain fields below or
the dialog engine's webhook envelope ``{call_id, caller_id, flow, slots, vars, params}`` whose ``params``
carry the fields (a flow's ``call: {webhook: ..., params: {...}}``). Numbers are strings of digits
(spaces and dashes in requests are ignored). Dates are ISO; ``*_text`` fields say them the way a person
would ("today", "tomorrow", "on Friday", "on November 27"). Money is a number in dollars.

Routes
------
``GET  /health``                                   ``{"ok": true}``

Customers (the agent desktop's screen pop; only with the ``desk_key`` the app was made with, in the
``X-Desk-Key`` header, so nobody else can look people up by number):

- ``GET  /customers/by-phone/{number}`` → ``{name, first_name, last_name, tier, vip, priority,
  accounts: [{kind, last4}], cards: [{last4, kind, status}], orders: [{number, status}], complaints: [{ticket,
  category, status}]}``: the bank customer with that phone number (the last 10 digits are compared, so
  ``+1 555 010 1001`` and ``5550101001`` are one number), their shop orders by name, their city
  complaints by number. 404 for an unknown number, 403 without the key.

Banking (an account-scoped session token from ``/banking/verify`` is required by the rest; pass it as
``X-Session-Token`` header or ``token`` query parameter; tokens live 15 minutes):

- ``POST /banking/verify`` ``{account_number, pin | dob | ssn_last4}`` → ``{verified, token, customer:
  {first_name, last_name, tier, vip, priority}, account: {number, kind}}``. 401 when the factor does not
  match or the account does not exist (the same answer: nobody can probe for account numbers); 423 after 5
  failures for one number, for 30 minutes, whatever is given. ``dob`` is ``YYYY-MM-DD`` or 8 digits ``MMDDYYYY``.
- ``GET  /banking/accounts/{number}`` → ``{number, kind, balance, available, pending, currency}``
  (403 when the token belongs to another customer).
- ``GET  /banking/cards`` → the customer's cards ``[{last4, kind, status, account_number}]``.
- ``POST /banking/cards/block`` ``{last4? | kind?: debit|credit|all, reason: lost|stolen|damaged|other}``
  → ``{reference, blocked: [{last4, kind}], already_blocked, replacement_days}``. With neither ``last4``
  nor a card kind: every card on the verified account. Idempotent: blocking a blocked card returns its
  reference again.
- ``GET  /banking/transfers?limit=3`` → the verified account's recent outgoing transfers, newest first;
  ``GET /banking/transfers/{reference}`` → one. Each: ``{reference, payee, amount, status,
  status_text, sent, sent_text, expected, expected_text, note}``.

Retail:

- ``GET  /retail/orders/{number}?zip=`` → ``{number, status, status_text, placed, expected,
  expected_text, delivered, delivered_text, carrier, tracking_number, total, items: [...]}``
  (403 when ``zip`` is given and does not match).
- ``GET  /retail/orders/{number}/return-eligibility`` → ``{eligible, reason, days_left,
  returnable_items, returnable_text, refund}``. 30-day window from delivery; final-sale items excluded.
- ``POST /retail/orders/{number}/returns`` ``{reason}`` → 201 ``{rma, refund, items, label,
  existing: false}``; 200 with the same ``rma`` and ``existing: true`` when asked again; 409 when not
  eligible.

Logistics:

- ``GET  /logistics/parcels/{tracking_number}`` → ``{tracking_number, status, status_text, eta,
  eta_text, delivered, delivered_text, city, service, last_event, events, redelivery_allowed,
  redelivery}``.
- ``GET  /logistics/parcels/{tracking_number}/redelivery-slots`` → ``{slots: [{id, date, date_text,
  window, window_text}]}`` for the next seven days, no Sunday evenings (409 when redelivery is not
  possible).
- ``POST /logistics/parcels/{tracking_number}/redelivery`` ``{slot_id? | (date? | day?) and/or
  window?}`` → ``{reference, date, date_text, window, window_text, rescheduled}``. ``day`` may be
  "today", "tomorrow" or a weekday; with only ``window`` the first slot in that window is taken; with
  nothing the first slot. One booking per parcel: booking again moves it and keeps the reference.

Public service (city hotline):

- ``GET  /public/info`` → topic list; ``GET /public/info/{topic}`` → ``{topic, title, answer}``;
  ``GET /public/info/search?q=`` → best topic by keywords (404 when nothing matches).
- ``POST /public/complaints`` ``{category, description, location?, caller_phone?, idempotency_key?}``
  → 201 ``{ticket, category, status, response_days}``; the same ``idempotency_key`` (default: the
  envelope's call id) returns the same ticket with 200. Categories: roads, waste, noise,
  street_lighting, parks, service, other (anything else is filed as other).
- ``GET  /public/complaints/{ticket}`` → ``{ticket, category, status, status_text, created}``.

Featured demo data (more generated records exist):

- Bank: account 12345678 (Maria Garcia, PIN 4567, born 1985-03-14, SSN last 4 6789; cards 4421 debit
  and 8810 credit; transfer 50012345 pending), 87654321 (James Wilson, private tier = VIP, PIN 1234,
  born 1972-11-02, SSN 7777; transfer on hold and a failed one), 24681357 (Aisha Khan, gold, PIN
  2468; debit 5150 already blocked), 11223344 (Tom Becker, PIN 9090, overdrawn).
- Shop orders: 1234567 shipped, 2345678 delivered 5 days ago (returnable), 3456789 delivered 45 days
  ago (window closed), 4567890 processing, 5678901 final sale, 7654321 out for delivery, 1122334
  cancelled.
- Parcels: 1234567890 in transit, 9876543210 delivery attempted (redelivery), 5555512345 delivered,
  1122334455 held at depot (redelivery), 2233445566 out for delivery, 3344556677 returned to sender.
- City topics: opening_hours, passport, id_card, address_change, parking_permit, waste_collection,
  birth_certificate, fees. Complaint tickets 4100001–4100003 exist; new ones follow.
"""


import re
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, Field, model_validator

from voicebot.demo.seed import COMPLAINT_CATEGORIES, VERIFY_FAILURES_TABLE, seed

SESSION_TTL_S = 15 * 60
MAX_VERIFY_FAILURES = 5  # failed verifications of one account number before phone banking locks it
VERIFY_LOCKOUT_S = 30 * 60
RETURN_WINDOW_DAYS = 30
TIER_PRIORITY = {"standard": 0, "gold": 5, "private": 10}
WINDOWS = {"morning": "between 8 in the morning and noon", "afternoon": "between noon and 5 in the afternoon",
           "evening": "between 5 and 8 in the evening"}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class DemoError(Exception):
    """A client error with a status, a machine code and a sentence for people."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


def digits(value: str) -> str:
    """Keep the digits of a spoken or typed number ("1234 5678", "1234-5678")."""
    return re.sub(r"\D", "", value)


def day_text(offset: int | None, today: date) -> str | None:
    """Say a day relative to today: "today", "tomorrow", "yesterday", "on Friday", "on November 27"."""
    if offset is None:
        return None
    named = {0: "today", 1: "tomorrow", -1: "yesterday"}
    if offset in named:
        return named[offset]
    day = today + timedelta(days=offset)
    if -7 < offset < 7:
        return f"on {day:%A}"
    return f"on {day:%B} {day.day}"


def iso(offset: int | None, today: date) -> str | None:
    return None if offset is None else (today + timedelta(days=offset)).isoformat()


def dollars(cents: int) -> float:
    return round(cents / 100, 2)


# --------------------------------------------------------------------------------------------------
# Request bodies
# --------------------------------------------------------------------------------------------------


def _digits_or_none(value: Any) -> str | None:
    kept = None if value is None else digits(str(value))
    return kept or None


DigitStr = Annotated[str, BeforeValidator(_digits_or_none)]


class DemoRequest(BaseModel):
    """A request body: plain JSON, or the dialog engine's webhook envelope ``{call_id, caller_id, flow,
    slots, vars, params}``, whose ``params`` are the fields (plus ``call_id`` and ``caller_id``)."""

    call_id: str | None = None
    caller_id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _unwrap(cls, data: Any) -> Any:
        if isinstance(data, dict) and "call_id" in data and isinstance(data.get("params"), dict):
            return {**data["params"], "call_id": data["call_id"], "caller_id": data.get("caller_id")}
        return data


class VerifyRequest(DemoRequest):
    account_number: DigitStr
    pin: DigitStr | None = None
    dob: str | None = None
    ssn_last4: DigitStr | None = None


class BlockRequest(DemoRequest):
    last4: DigitStr | None = None
    kind: Literal["debit", "credit", "all"] | None = None
    reason: str = "lost"


class ReturnRequest(DemoRequest):
    reason: str = "not specified"


class RedeliveryRequest(DemoRequest):
    slot_id: str | None = None
    date: str | None = None
    day: str | None = None
    window: Literal["morning", "afternoon", "evening"] | None = None


class ComplaintRequest(DemoRequest):
    category: str = "other"
    description: str = Field(min_length=1, max_length=2000)
    location: str = ""
    caller_phone: str = ""
    idempotency_key: str | None = None


# --------------------------------------------------------------------------------------------------
# The app
# --------------------------------------------------------------------------------------------------


def open_db(db_path: Path) -> None:
    """Create and seed the database file when it is absent (an older file gains the tables added since)."""
    if db_path.exists():
        with closing(sqlite3.connect(db_path, timeout=10)) as conn, conn:
            conn.executescript(VERIFY_FAILURES_TABLE)
        return
    db_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = db_path.with_name(db_path.name + ".seeding")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp)
    try:
        conn.execute("PRAGMA synchronous = OFF")  # a fresh file: nothing to lose until it is renamed
        seed(conn)
    finally:
        conn.close()
    tmp.replace(db_path)  # atomic: a half-seeded file is never seen


def create_demo_app(db_path: Path, today: date | None = None, desk_key: str | None = None) -> FastAPI:
    """The demo backend over the SQLite file at ``db_path`` (created and seeded if absent).

    ``today`` pins the demo calendar (tests); by default it is the real date of each request. ``desk_key``
    opens the customer look-up by phone number to whoever sends it (the service's agent desktop); without
    one that route refuses everybody.
    """
    open_db(db_path)
    app = FastAPI(title="voicebot demo backend", summary="Bank, shop, parcel carrier and city hotline")

    def get_db() -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(db_path, timeout=10, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        try:
            yield conn
        finally:
            conn.close()

    def get_today() -> date:
        return today or date.today()

    Db = Annotated[sqlite3.Connection, Depends(get_db)]
    Today = Annotated[date, Depends(get_today)]

    @app.exception_handler(DemoError)
    async def _demo_error(_: Request, exc: DemoError) -> JSONResponse:
        return JSONResponse({"error": exc.error, "message": exc.message}, status_code=exc.status)

    @app.get("/health")
    def health() -> dict[str, bool]:
        return {"ok": True}

    # ---------------------------------------------------------------------------------- customers

    @app.get("/customers/by-phone/{number}")
    def customer_by_phone(number: str, db: Db, x_desk_key: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        """The profile an agent sees when the caller pops on their screen."""
        if desk_key is None or x_desk_key is None or not secrets.compare_digest(x_desk_key, desk_key):
            raise DemoError(403, "not_allowed", "Customer look-ups are for the agent desktop.")
        wanted = digits(number)[-10:]
        customer = next((r for r in db.execute("SELECT * FROM customers ORDER BY id")
                         if len(wanted) == 10 and digits(r["phone"])[-10:] == wanted), None)
        if customer is None:
            raise DemoError(404, "unknown_customer", "No customer has that phone number.")
        name = f"{customer['first_name']} {customer['last_name']}"
        accounts = db.execute("SELECT number, kind FROM accounts WHERE customer_id = ? ORDER BY number",
                              (customer["id"],)).fetchall()
        cards = db.execute("SELECT last4, kind, status FROM cards WHERE customer_id = ? ORDER BY id",
                           (customer["id"],)).fetchall()
        orders = db.execute("SELECT number, status FROM orders WHERE customer_name = ? ORDER BY placed_day DESC",
                            (name,)).fetchall()
        complaints = db.execute("SELECT ticket, category, status, caller_phone FROM complaints "
                                "WHERE caller_phone != '' ORDER BY created_at DESC").fetchall()
        return {
            "name": name, "first_name": customer["first_name"], "last_name": customer["last_name"],
            "tier": customer["tier"], "vip": customer["tier"] == "private", "priority": TIER_PRIORITY[customer["tier"]],
            "accounts": [{"kind": a["kind"], "last4": a["number"][-4:]} for a in accounts],
            "cards": [{"last4": c["last4"], "kind": c["kind"], "status": c["status"]} for c in cards],
            "orders": [{"number": o["number"], "status": o["status"]} for o in orders],
            "complaints": [{"ticket": c["ticket"], "category": c["category"], "status": c["status"]}
                           for c in complaints if digits(c["caller_phone"])[-10:] == wanted],
        }

    # ---------------------------------------------------------------------------------- banking

    def session(
        db: Db,
        x_session_token: Annotated[str | None, Header()] = None,
        token: Annotated[str | None, Query()] = None,
    ) -> sqlite3.Row:
        value = x_session_token or token
        if not value:
            raise DemoError(401, "not_verified", "Please verify the caller first.")
        row = db.execute("SELECT * FROM sessions WHERE token = ?", (value,)).fetchone()
        if row is None or row["expires_at"] < time.time():
            raise DemoError(401, "session_expired", "The verification has expired. Please verify again.")
        return row

    Session = Annotated[sqlite3.Row, Depends(session)]

    def check_dob(given: str, actual: str) -> bool:
        given = given.strip()
        for fmt in ("%Y-%m-%d", "%m%d%Y", "%m/%d/%Y", "%Y%m%d"):
            try:
                return datetime.strptime(given, fmt).date().isoformat() == actual
            except ValueError:
                continue
        return False

    @app.post("/banking/verify")
    def verify(body: VerifyRequest, db: Db) -> dict[str, Any]:
        """A bank's answer: an unknown account and a wrong PIN look the same, and after
        ``MAX_VERIFY_FAILURES`` failures the number is locked for ``VERIFY_LOCKOUT_S`` (423, whatever is given)."""
        if not (body.pin or body.dob or body.ssn_last4):
            raise DemoError(400, "missing_factor", "Give a PIN, a date of birth or the last 4 of the SSN.")
        with _write(db):
            record = db.execute("SELECT failures, locked_until FROM verify_failures WHERE account_number = ?",
                                (body.account_number,)).fetchone()
            locked = record is not None and record["locked_until"] > time.time()
            account = db.execute(
                "SELECT a.number, a.kind, c.* FROM accounts a JOIN customers c ON c.id = a.customer_id "
                "WHERE a.number = ?", (body.account_number,)).fetchone()
            ok = not locked and account is not None and (
                (body.pin is None or body.pin == account["pin"])
                and (body.ssn_last4 is None or body.ssn_last4 == account["ssn_last4"])
                and (body.dob is None or check_dob(body.dob, account["dob"])))
            if ok:
                db.execute("DELETE FROM verify_failures WHERE account_number = ?", (body.account_number,))
            elif not locked:
                failures = (record["failures"] if record is not None else 0) + 1
                until = time.time() + VERIFY_LOCKOUT_S if failures >= MAX_VERIFY_FAILURES else 0
                db.execute("INSERT OR REPLACE INTO verify_failures VALUES (?,?,?)",
                           (body.account_number, 0 if until else failures, until))
        if locked:
            raise DemoError(423, "account_locked", "Phone banking is locked for this account after too many "
                                                   "failed attempts. A colleague can help.")
        if not ok:
            raise DemoError(401, "verification_failed", "Those details do not match our records.")
        token = secrets.token_urlsafe(16)
        with _write(db):
            db.execute("DELETE FROM sessions WHERE expires_at < ?", (time.time(),))
            db.execute("INSERT INTO sessions VALUES (?,?,?,?)",
                       (token, account["id"], account["number"], time.time() + SESSION_TTL_S))
        return {
            "verified": True,
            "token": token,
            "customer": {"first_name": account["first_name"], "last_name": account["last_name"],
                         "tier": account["tier"], "vip": account["tier"] == "private",
                         "priority": TIER_PRIORITY[account["tier"]]},
            "account": {"number": account["number"], "kind": account["kind"]},
        }

    @app.get("/banking/accounts/{number}")
    def account(number: str, db: Db, sess: Session) -> dict[str, Any]:
        row = db.execute("SELECT * FROM accounts WHERE number = ?", (digits(number),)).fetchone()
        if row is None:
            raise DemoError(404, "unknown_account", f"No account has the number {digits(number)}.")
        if row["customer_id"] != sess["customer_id"]:
            raise DemoError(403, "not_your_account", "That account belongs to another customer.")
        return {"number": row["number"], "kind": row["kind"], "balance": dollars(row["balance_cents"]),
                "available": dollars(row["balance_cents"] - row["pending_cents"]),
                "pending": dollars(row["pending_cents"]), "currency": row["currency"]}

    @app.get("/banking/cards")
    def cards(db: Db, sess: Session) -> dict[str, Any]:
        rows = db.execute("SELECT * FROM cards WHERE customer_id = ? ORDER BY id", (sess["customer_id"],))
        return {"cards": [{"last4": r["last4"], "kind": r["kind"], "status": r["status"],
                           "account_number": r["account_number"]} for r in rows]}

    @app.post("/banking/cards/block")
    def block_card(body: BlockRequest, db: Db, sess: Session) -> dict[str, Any]:
        with _write(db):
            return _block(db, sess, body)

    def _block(db: sqlite3.Connection, sess: sqlite3.Row, body: BlockRequest) -> dict[str, Any]:
        if body.last4:
            rows = db.execute("SELECT * FROM cards WHERE customer_id = ? AND last4 = ?",
                              (sess["customer_id"], body.last4)).fetchall()
            if not rows:
                raise DemoError(404, "unknown_card", f"No card ending in {body.last4} is on this profile.")
        elif body.kind in ("debit", "credit"):
            rows = db.execute("SELECT * FROM cards WHERE customer_id = ? AND kind = ? ORDER BY id",
                              (sess["customer_id"], body.kind)).fetchall()
            if not rows:
                raise DemoError(404, "unknown_card", f"There is no {body.kind} card on this profile.")
        else:
            rows = db.execute("SELECT * FROM cards WHERE account_number = ? ORDER BY id",
                              (sess["account_number"],)).fetchall()
            if not rows:
                raise DemoError(404, "no_cards", "There is no card on this account.")
        active = [r for r in rows if r["status"] == "active"]
        if not active:  # idempotent: report the earlier block
            return {"reference": rows[0]["block_reference"], "already_blocked": True,
                    "blocked": [{"last4": r["last4"], "kind": r["kind"]} for r in rows],
                    "replacement_days": 5}
        reference = _next_number(db, "cards", "block_reference", 900101)
        db.executemany(
            "UPDATE cards SET status = 'blocked', block_reason = ?, block_reference = ?, blocked_day = 0 "
            "WHERE id = ?", [(body.reason, reference if i == 0 else f"{reference}-{i}", r["id"])
                             for i, r in enumerate(active)])
        return {"reference": reference, "already_blocked": False,
                "blocked": [{"last4": r["last4"], "kind": r["kind"]} for r in active],
                "replacement_days": 5}

    def transfer_json(r: sqlite3.Row, day: date) -> dict[str, Any]:
        status_text = {"pending": "on its way", "completed": "completed", "on_hold": "on hold",
                       "failed": "not completed"}[r["status"]]
        return {"reference": r["reference"], "payee": r["payee"], "amount": dollars(r["amount_cents"]),
                "status": r["status"], "status_text": status_text,
                "sent": iso(r["sent_day"], day), "sent_text": day_text(r["sent_day"], day),
                "expected": iso(r["expected_day"], day), "expected_text": day_text(r["expected_day"], day),
                "note": r["note"]}

    @app.get("/banking/transfers")
    def transfers(db: Db, sess: Session, day: Today,
                  limit: Annotated[int, Query(ge=1, le=20)] = 3) -> dict[str, Any]:
        rows = db.execute("SELECT * FROM transfers WHERE account_number = ? ORDER BY sent_day DESC, "
                          "reference DESC LIMIT ?", (sess["account_number"], limit)).fetchall()
        return {"transfers": [transfer_json(r, day) for r in rows], "count": len(rows)}

    @app.get("/banking/transfers/{reference}")
    def transfer(reference: str, db: Db, sess: Session, day: Today) -> dict[str, Any]:
        r = db.execute("SELECT t.* FROM transfers t JOIN accounts a ON a.number = t.account_number "
                       "WHERE t.reference = ? AND a.customer_id = ?",
                       (digits(reference), sess["customer_id"])).fetchone()
        if r is None:
            raise DemoError(404, "unknown_transfer", f"No transfer with reference {digits(reference)}.")
        return transfer_json(r, day)

    # ---------------------------------------------------------------------------------- retail

    order_status_text = {"processing": "being prepared", "shipped": "on its way",
                         "out_for_delivery": "out for delivery today", "delivered": "delivered",
                         "cancelled": "cancelled"}

    def load_order(db: sqlite3.Connection, number: str) -> tuple[sqlite3.Row, list[sqlite3.Row]]:
        row = db.execute("SELECT * FROM orders WHERE number = ?", (digits(number),)).fetchone()
        if row is None:
            raise DemoError(404, "unknown_order", f"No order has the number {digits(number)}.")
        items = db.execute("SELECT * FROM order_items WHERE order_number = ? ORDER BY rowid",
                           (row["number"],)).fetchall()
        return row, items

    def eligibility(order: sqlite3.Row, items: list[sqlite3.Row]) -> dict[str, Any]:
        returnable = [i for i in items if not i["final_sale"]]
        days_left = None
        if order["status"] != "delivered":
            reason, ok = f"the order is {order_status_text[order['status']]}, not delivered yet", False
            if order["status"] == "cancelled":
                reason = "the order was cancelled and refunded"
        else:
            days_left = RETURN_WINDOW_DAYS + order["delivered_day"]
            if days_left < 0:
                reason, ok = f"the return window of {RETURN_WINDOW_DAYS} days has closed", False
            elif not returnable:
                reason, ok = "final-sale items cannot be returned", False
            else:
                reason, ok = "within the return window", True
        return {"eligible": ok, "reason": reason, "days_left": max(days_left, 0) if days_left is not None
                else None, "returnable_items": [i["name"] for i in returnable] if ok else [],
                "returnable_text": _item_summary(returnable) if ok else "",
                "refund": dollars(sum(i["price_cents"] * i["quantity"] for i in returnable)) if ok else 0.0}

    @app.get("/retail/orders/{number}")
    def order(number: str, db: Db, day: Today, zip: str | None = None) -> dict[str, Any]:
        row, items = load_order(db, number)
        if zip is not None and digits(zip) != row["zip"]:
            raise DemoError(403, "zip_mismatch", "That ZIP code does not match the order.")
        return {"number": row["number"], "status": row["status"],
                "status_text": order_status_text[row["status"]],
                "placed": iso(row["placed_day"], day), "placed_text": day_text(row["placed_day"], day),
                "expected": iso(row["expected_day"], day) if row["status"] != "delivered" else None,
                "expected_text": day_text(row["expected_day"], day) if row["status"] not in
                ("delivered", "cancelled") else None,
                "delivered": iso(row["delivered_day"], day),
                "delivered_text": day_text(row["delivered_day"], day),
                "carrier": row["carrier"], "tracking_number": row["tracking_number"],
                "total": dollars(row["total_cents"]),
                "items": [{"sku": i["sku"], "name": i["name"], "quantity": i["quantity"],
                           "price": dollars(i["price_cents"]), "final_sale": bool(i["final_sale"])}
                          for i in items],
                "item_summary": _item_summary(items)}

    @app.get("/retail/orders/{number}/return-eligibility")
    def return_eligibility(number: str, db: Db) -> dict[str, Any]:
        return eligibility(*load_order(db, number))

    @app.post("/retail/orders/{number}/returns")
    def create_return(number: str, body: ReturnRequest, db: Db) -> JSONResponse:
        row, items = load_order(db, number)
        elig = eligibility(row, items)
        status = 200
        with _write(db):
            existing = db.execute("SELECT * FROM returns WHERE order_number = ?", (row["number"],)).fetchone()
            if existing is None:
                if not elig["eligible"]:
                    raise DemoError(409, "not_returnable",
                                    f"This order cannot be returned: {elig['reason']}.")
                rma = _next_number(db, "returns", "rma", 700101)
                db.execute("INSERT INTO returns VALUES (?,?,?,?,?)",
                           (rma, row["number"], body.reason, round(elig["refund"] * 100), time.time()))
                existing = db.execute("SELECT * FROM returns WHERE rma = ?", (rma,)).fetchone()
                status = 201
        return JSONResponse(status_code=status, content={
            "rma": existing["rma"], "refund": dollars(existing["refund_cents"]),
            "items": [i["name"] for i in items if not i["final_sale"]],
            "label": "by email", "existing": status == 200})

    # ---------------------------------------------------------------------------------- logistics

    parcel_status_text = {"in_transit": "on its way", "out_for_delivery": "out for delivery today",
                          "delivered": "delivered", "delivery_attempted": "waiting for redelivery",
                          "held_at_depot": "held at your local depot",
                          "returned_to_sender": "returned to the sender"}
    redeliverable = ("delivery_attempted", "held_at_depot")

    def load_parcel(db: sqlite3.Connection, tracking: str) -> sqlite3.Row:
        row = db.execute("SELECT * FROM parcels WHERE tracking_number = ?", (digits(tracking),)).fetchone()
        if row is None:
            raise DemoError(404, "unknown_parcel", f"No parcel has the tracking number {digits(tracking)}.")
        return row

    def slots(day: date) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for offset in range(1, 8):
            d = day + timedelta(days=offset)
            for window in (("morning", "afternoon") if d.weekday() == 6 else WINDOWS):
                out.append({"id": f"{d:%Y%m%d}-{window}", "date": d.isoformat(),
                            "date_text": day_text(offset, day), "window": window,
                            "window_text": WINDOWS[window]})
        return out

    @app.get("/logistics/parcels/{tracking}")
    def parcel(tracking: str, db: Db, day: Today) -> dict[str, Any]:
        row = load_parcel(db, tracking)
        events = db.execute("SELECT * FROM parcel_events WHERE tracking_number = ? ORDER BY day, time",
                            (row["tracking_number"],)).fetchall()
        booking = db.execute("SELECT * FROM redeliveries WHERE tracking_number = ?",
                             (row["tracking_number"],)).fetchone()
        ev = [{"date": iso(e["day"], day), "date_text": day_text(e["day"], day), "time": e["time"],
               "location": e["location"], "description": e["description"]} for e in events]
        return {"tracking_number": row["tracking_number"], "status": row["status"],
                "status_text": parcel_status_text[row["status"]],
                "eta": iso(row["eta_day"], day), "eta_text": day_text(row["eta_day"], day),
                "delivered": iso(row["delivered_day"], day),
                "delivered_text": day_text(row["delivered_day"], day),
                "city": row["city"], "service": row["service"], "events": ev,
                "last_event": ev[-1] if ev else None,
                "redelivery_allowed": row["status"] in redeliverable and booking is None,
                "redelivery": None if booking is None else _booking_json(booking, day, False)}

    @app.get("/logistics/parcels/{tracking}/redelivery-slots")
    def redelivery_slots(tracking: str, db: Db, day: Today) -> dict[str, Any]:
        row = load_parcel(db, tracking)
        if row["status"] not in redeliverable:
            raise DemoError(409, "redelivery_not_possible", f"This parcel is "
                            f"{parcel_status_text[row['status']]}, so it cannot be redelivered.")
        return {"slots": slots(day)}

    @app.post("/logistics/parcels/{tracking}/redelivery")
    def book_redelivery(tracking: str, body: RedeliveryRequest, db: Db, day: Today) -> dict[str, Any]:
        row = load_parcel(db, tracking)
        if row["status"] not in redeliverable:
            raise DemoError(409, "redelivery_not_possible", f"This parcel is "
                            f"{parcel_status_text[row['status']]}, so it cannot be redelivered.")
        chosen = _choose_slot(slots(day), body, day)
        with _write(db):
            existing = db.execute("SELECT * FROM redeliveries WHERE tracking_number = ?",
                                  (row["tracking_number"],)).fetchone()
            if existing is None:
                reference = _next_number(db, "redeliveries", "reference", 600101)
                db.execute("INSERT INTO redeliveries VALUES (?,?,?,?,?)",
                           (reference, row["tracking_number"], chosen["date"], chosen["window"], time.time()))
            else:
                reference = existing["reference"]
                db.execute("UPDATE redeliveries SET date = ?, window = ? WHERE reference = ?",
                           (chosen["date"], chosen["window"], reference))
        booking = db.execute("SELECT * FROM redeliveries WHERE reference = ?", (reference,)).fetchone()
        return _booking_json(booking, day, existing is not None)

    # ---------------------------------------------------------------------------------- public service

    @app.get("/public/info")
    def topics(db: Db) -> dict[str, Any]:
        rows = db.execute("SELECT id, title FROM info_topics ORDER BY rowid").fetchall()
        return {"topics": [{"topic": r["id"], "title": r["title"]} for r in rows]}

    @app.get("/public/info/search")
    def search_topic(db: Db, q: Annotated[str, Query(min_length=1)]) -> dict[str, Any]:
        words = set(re.findall(r"[a-z]+", q.lower()))
        best, best_score = None, 0
        for r in db.execute("SELECT * FROM info_topics ORDER BY rowid"):
            score = len(words & set(r["keywords"].split())) + 2 * len(words & set(r["id"].split("_")))
            if score > best_score:
                best, best_score = r, score
        if best is None:
            raise DemoError(404, "no_topic", "No information topic matches that question.")
        return {"topic": best["id"], "title": best["title"], "answer": best["answer"]}

    @app.get("/public/info/{topic}")
    def info(topic: str, db: Db) -> dict[str, Any]:
        r = db.execute("SELECT * FROM info_topics WHERE id = ?", (topic,)).fetchone()
        if r is None:
            raise DemoError(404, "unknown_topic", f"There is no information topic called {topic}.")
        return {"topic": r["id"], "title": r["title"], "answer": r["answer"]}

    complaint_status_text = {"open": "received and waiting to be assigned",
                             "in_progress": "being worked on", "resolved": "resolved"}

    @app.post("/public/complaints")
    def file_complaint(body: ComplaintRequest, db: Db) -> JSONResponse:
        category = body.category if body.category in COMPLAINT_CATEGORIES else "other"
        key = body.idempotency_key or body.call_id or None  # "" is no key: NULLs never collide
        status = 200
        with _write(db):
            row = None
            if key:
                row = db.execute("SELECT * FROM complaints WHERE idempotency_key = ?", (key,)).fetchone()
            if row is None:
                ticket = _next_number(db, "complaints", "ticket", 4100001)
                db.execute("INSERT INTO complaints VALUES (?,?,?,?,?,?,?,?)",
                           (ticket, category, body.description, body.location,
                            body.caller_phone or body.caller_id or "", "open", key, time.time()))
                row = db.execute("SELECT * FROM complaints WHERE ticket = ?", (ticket,)).fetchone()
                status = 201
        return JSONResponse(status_code=status, content={
            "ticket": row["ticket"], "category": row["category"], "status": row["status"],
            "response_days": 2 if row["category"] in ("roads", "street_lighting", "waste") else 5})

    @app.get("/public/complaints/{ticket}")
    def complaint(ticket: str, db: Db) -> dict[str, Any]:
        r = db.execute("SELECT * FROM complaints WHERE ticket = ?", (digits(ticket),)).fetchone()
        if r is None:
            raise DemoError(404, "unknown_ticket", f"No ticket has the number {digits(ticket)}.")
        return {"ticket": r["ticket"], "category": r["category"], "status": r["status"],
                "status_text": complaint_status_text[r["status"]],
                "created": datetime.fromtimestamp(r["created_at"]).date().isoformat()}

    return app


@contextmanager
def _write(db: sqlite3.Connection) -> Iterator[None]:
    """A write transaction that takes the lock first, so read-check-insert sequences do not race."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.rollback()
        raise
    db.commit()


def _next_number(db: sqlite3.Connection, table: str, column: str, first: int) -> str:
    """The next sequential reference in ``table.column`` (call inside ``_write``)."""
    row = db.execute(f"SELECT MAX(CAST({column} AS INTEGER)) FROM {table} "  # noqa: S608 (fixed names)
                     f"WHERE {column} NOT LIKE '%-%'").fetchone()
    return str(max(first, (row[0] or 0) + 1))


def _item_summary(items: list[sqlite3.Row]) -> str:
    names = [f"{i['quantity']} {i['name']}s" if i["quantity"] > 1 else i["name"] for i in items]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _choose_slot(available: list[dict[str, Any]], body: RedeliveryRequest, today: date) -> dict[str, Any]:
    picked = available
    if body.slot_id:
        picked = [s for s in available if s["id"] == body.slot_id]
    else:
        wanted: str | None = body.date
        if body.day:
            d = body.day.strip().lower()
            if d in ("today", "tomorrow"):
                wanted = (today + timedelta(days=0 if d == "today" else 1)).isoformat()
            elif d in WEEKDAYS:
                ahead = (WEEKDAYS.index(d) - today.weekday()) % 7 or 7
                wanted = (today + timedelta(days=ahead)).isoformat()
            else:
                raise DemoError(422, "bad_day", f"I cannot read the day {body.day!r}.")
        if wanted:
            picked = [s for s in picked if s["date"] == wanted]
        if body.window:
            picked = [s for s in picked if s["window"] == body.window]
    if not picked:
        raise DemoError(409, "slot_unavailable", "That delivery slot is not available.")
    return picked[0]


def _booking_json(row: sqlite3.Row, today: date, rescheduled: bool) -> dict[str, Any]:
    offset = (date.fromisoformat(row["date"]) - today).days
    return {"reference": row["reference"], "date": row["date"], "date_text": day_text(offset, today),
            "window": row["window"], "window_text": WINDOWS[row["window"]], "rescheduled": rescheduled}
