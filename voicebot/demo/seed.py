"""Schema and deterministic seed data of the demo backend (bank, shop, parcel carrier, city hotline).

A handful of hand-written records are the ones the demo flows, their tests and the docs use (see
``FEATURED`` below and the module docstring of ``voicebot.demo.backend``); a few hundred generated
records (fixed random seed) make the data look like a real back office.

Dates are stored as day offsets from *today* (``-3`` is three days ago) and rendered when a request
is served, so the demo world never ages: an order delivered "five days ago" stays returnable.
"""

from __future__ import annotations

import random
import sqlite3

# Failed verifications per account number (the bank's lockout); added after the first release, so
# ``open_db`` also creates it in older files.
VERIFY_FAILURES_TABLE = """
CREATE TABLE IF NOT EXISTS verify_failures (
    account_number TEXT PRIMARY KEY, -- as given: unknown numbers are counted the same way
    failures INTEGER NOT NULL,
    locked_until REAL NOT NULL DEFAULT 0
);
"""

SCHEMA = VERIFY_FAILURES_TABLE + """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    dob TEXT NOT NULL,              -- ISO date
    pin TEXT NOT NULL,              -- 4-digit telephone-banking PIN
    ssn_last4 TEXT NOT NULL,
    phone TEXT NOT NULL,
    tier TEXT NOT NULL              -- standard | gold | private
);
CREATE TABLE accounts (
    number TEXT PRIMARY KEY,        -- 8 digits
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    kind TEXT NOT NULL,             -- checking | savings
    balance_cents INTEGER NOT NULL,
    pending_cents INTEGER NOT NULL DEFAULT 0,
    currency TEXT NOT NULL DEFAULT 'USD'
);
CREATE TABLE cards (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    account_number TEXT NOT NULL REFERENCES accounts(number),
    last4 TEXT NOT NULL,
    kind TEXT NOT NULL,             -- debit | credit
    status TEXT NOT NULL,           -- active | blocked
    block_reason TEXT,
    block_reference TEXT UNIQUE,
    blocked_day INTEGER
);
CREATE TABLE transfers (
    reference TEXT PRIMARY KEY,     -- 8 digits
    account_number TEXT NOT NULL REFERENCES accounts(number),
    payee TEXT NOT NULL,
    amount_cents INTEGER NOT NULL,
    status TEXT NOT NULL,           -- pending | completed | on_hold | failed
    sent_day INTEGER NOT NULL,
    expected_day INTEGER NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE TABLE sessions (
    token TEXT PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    account_number TEXT NOT NULL REFERENCES accounts(number),
    expires_at REAL NOT NULL        -- epoch seconds
);

CREATE TABLE orders (
    number TEXT PRIMARY KEY,        -- 7 digits
    customer_name TEXT NOT NULL,
    zip TEXT NOT NULL,
    status TEXT NOT NULL,           -- processing | shipped | out_for_delivery | delivered | cancelled
    placed_day INTEGER NOT NULL,
    expected_day INTEGER,
    delivered_day INTEGER,
    carrier TEXT,
    tracking_number TEXT,
    total_cents INTEGER NOT NULL
);
CREATE TABLE order_items (
    order_number TEXT NOT NULL REFERENCES orders(number),
    sku TEXT NOT NULL,
    name TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    price_cents INTEGER NOT NULL,
    final_sale INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (order_number, sku)
);
CREATE TABLE returns (
    rma TEXT PRIMARY KEY,           -- 6 digits
    order_number TEXT NOT NULL UNIQUE REFERENCES orders(number),
    reason TEXT NOT NULL,
    refund_cents INTEGER NOT NULL,
    created_at REAL NOT NULL
);

CREATE TABLE parcels (
    tracking_number TEXT PRIMARY KEY,   -- 10 digits
    recipient TEXT NOT NULL,
    zip TEXT NOT NULL,
    city TEXT NOT NULL,
    status TEXT NOT NULL,  -- in_transit | out_for_delivery | delivered | delivery_attempted | held_at_depot
                           -- | returned_to_sender
    eta_day INTEGER,
    delivered_day INTEGER,
    service TEXT NOT NULL               -- standard | express
);
CREATE TABLE parcel_events (
    tracking_number TEXT NOT NULL REFERENCES parcels(tracking_number),
    day INTEGER NOT NULL,
    time TEXT NOT NULL,                 -- HH:MM
    location TEXT NOT NULL,
    description TEXT NOT NULL
);
CREATE TABLE redeliveries (
    reference TEXT PRIMARY KEY,         -- 6 digits
    tracking_number TEXT NOT NULL UNIQUE REFERENCES parcels(tracking_number),
    date TEXT NOT NULL,                 -- ISO date (bookings are made live, not seeded)
    window TEXT NOT NULL,               -- morning | afternoon | evening
    created_at REAL NOT NULL
);

CREATE TABLE info_topics (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    answer TEXT NOT NULL,           -- short, written to be spoken
    keywords TEXT NOT NULL          -- space-separated
);
CREATE TABLE complaints (
    ticket TEXT PRIMARY KEY,        -- 7 digits
    category TEXT NOT NULL,
    description TEXT NOT NULL,
    location TEXT NOT NULL DEFAULT '',
    caller_phone TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,           -- open | in_progress | resolved
    idempotency_key TEXT UNIQUE,
    created_at REAL NOT NULL
);
"""

# --------------------------------------------------------------------------------------------------
# Featured records: the ones flows, tests and docs refer to. Keep in step with backend.py's docstring.
# --------------------------------------------------------------------------------------------------

# (id, first, last, dob, pin, ssn_last4, phone, tier)
CUSTOMERS = [
    (1, "Maria", "Garcia", "1985-03-14", "4567", "6789", "+15550101001", "standard"),
    (2, "James", "Wilson", "1972-11-02", "1234", "7777", "+15550101002", "private"),
    (3, "Aisha", "Khan", "1990-07-21", "2468", "3579", "+15550101003", "gold"),
    (4, "Tom", "Becker", "1965-01-30", "9090", "1122", "+15550101004", "standard"),
]
# (number, customer_id, kind, balance_cents, pending_cents)
ACCOUNTS = [
    ("12345678", 1, "checking", 243157, 2500),
    ("12345679", 1, "savings", 1520000, 0),
    ("87654321", 2, "checking", 4825010, 0),
    ("87654322", 2, "savings", 21000000, 0),
    ("24681357", 3, "checking", 87520, 0),
    ("11223344", 4, "checking", -12540, 0),
]
# (customer_id, account, last4, kind, status, block_reason, block_reference, blocked_day)
CARDS = [
    (1, "12345678", "4421", "debit", "active", None, None, None),
    (1, "12345678", "8810", "credit", "active", None, None, None),
    (2, "87654321", "3005", "credit", "active", None, None, None),
    (3, "24681357", "5150", "debit", "blocked", "stolen", "900100", -2),
    (3, "24681357", "6262", "credit", "active", None, None, None),
    (4, "11223344", "7070", "debit", "active", None, None, None),
]
# (reference, account, payee, amount_cents, status, sent_day, expected_day, note)
TRANSFERS = [
    ("50012345", "12345678", "John Smith", 25000, "pending", -1, 1, ""),
    ("50012301", "12345678", "Oakwood Property Management", 120000, "completed", -6, -5, ""),
    ("50012288", "87654321", "Lakeside Motors", 1850000, "on_hold", -2, 1,
     "held for a routine security review"),
    ("50012210", "87654321", "Elena Rossi", 45000, "failed", -4, -3,
     "returned because the payee's account details did not match"),
    ("50012377", "24681357", "City Power and Light", 8925, "completed", -3, -2, ""),
    ("50012390", "11223344", "Grace Becker", 30000, "pending", 0, 2, ""),
]

# (number, customer, zip, status, placed_day, expected_day, delivered_day, carrier, tracking)
ORDERS = [
    ("1234567", "Maria Garcia", "94107", "shipped", -3, 2, None, "Swift Parcel", "1234567890"),
    ("2345678", "Maria Garcia", "94107", "delivered", -9, -5, -5, "Swift Parcel", "5555512345"),
    ("3456789", "James Wilson", "10001", "delivered", -52, -45, -45, "Swift Parcel", "4433221100"),
    ("4567890", "Aisha Khan", "60614", "processing", 0, 4, None, None, None),
    ("5678901", "Tom Becker", "73301", "delivered", -14, -10, -10, "Swift Parcel", "6677889900"),
    ("7654321", "Aisha Khan", "60614", "out_for_delivery", -4, 0, None, "Swift Parcel", "2233445566"),
    ("1122334", "James Wilson", "10001", "cancelled", -7, None, None, None, None),
]
# (order, sku, name, qty, price_cents, final_sale)
ORDER_ITEMS = [
    ("1234567", "HP-200", "wireless headphones", 1, 8999, 0),
    ("2345678", "SH-410", "running shoes", 1, 12000, 0),
    ("2345678", "TS-022", "cotton T-shirt", 2, 2500, 0),
    ("3456789", "CM-900", "coffee machine", 1, 34900, 0),
    ("4567890", "BK-117", "hardcover cookbook", 1, 3200, 0),
    ("4567890", "KN-330", "chef's knife", 1, 7900, 0),
    ("5678901", "GC-050", "gift card", 1, 5000, 1),
    ("5678901", "SW-600", "swimsuit", 1, 4500, 1),
    ("7654321", "LM-075", "desk lamp", 1, 4599, 0),
    ("1122334", "TV-550", "flat-screen television", 1, 49900, 0),
]

# (tracking, recipient, zip, city, status, eta_day, delivered_day, service)
PARCELS = [
    ("1234567890", "Maria Garcia", "94107", "San Francisco", "in_transit", 2, None, "standard"),
    ("9876543210", "Daniel Okafor", "30303", "Atlanta", "delivery_attempted", None, None, "standard"),
    ("5555512345", "Maria Garcia", "94107", "San Francisco", "delivered", None, -5, "standard"),
    ("1122334455", "Lena Fischer", "02134", "Boston", "held_at_depot", None, None, "express"),
    ("2233445566", "Aisha Khan", "60614", "Chicago", "out_for_delivery", 0, None, "standard"),
    ("3344556677", "Pavel Novak", "98101", "Seattle", "returned_to_sender", None, None, "standard"),
]
# (tracking, day, time, location, description)
PARCEL_EVENTS = [
    ("1234567890", -3, "16:40", "Oakland sorting centre", "picked up from the sender"),
    ("1234567890", -2, "04:15", "Oakland sorting centre", "sorted and dispatched"),
    ("1234567890", -1, "22:05", "Reno hub", "arrived at the hub"),
    ("9876543210", -3, "09:30", "Atlanta depot", "arrived at the local depot"),
    ("9876543210", -1, "11:20", "Atlanta", "delivery attempted, nobody was home; a card was left"),
    ("5555512345", -6, "08:10", "San Francisco depot", "out for delivery"),
    ("5555512345", -5, "13:55", "San Francisco", "delivered and left at the front door"),
    ("1122334455", -2, "07:45", "Boston depot", "arrived at the local depot"),
    ("1122334455", -1, "10:00", "Boston depot", "the address needs confirming"),
    ("2233445566", -1, "23:10", "Chicago depot", "arrived at the local depot"),
    ("2233445566", 0, "07:05", "Chicago", "out for delivery with the driver"),
    ("3344556677", -12, "10:30", "Seattle", "delivery attempted, nobody was home"),
    ("3344556677", -4, "09:00", "Seattle depot", "not collected in time; returned to the sender"),
]

# (id, title, answer, keywords)
INFO_TOPICS = [
    ("opening_hours", "Opening hours",
     "The City Hall service centre is open Monday to Friday from 8 in the morning to 6 in the evening, and "
     "on Saturdays from 9 until 1. It is closed on Sundays and public holidays.",
     "open opening hours time times close closing when saturday sunday weekend holiday"),
    ("passport", "Passport application",
     "For a passport, please bring your birth certificate or old passport, one photo ID, and one recent "
     "passport photo. The fee is 130 dollars for adults and 100 dollars for children.",
     "passport travel abroad photo renew renewal"),
    ("id_card", "State ID card",
     "For a state ID card, bring proof of identity, such as a birth certificate, and two proofs of address, "
     "such as a utility bill and a bank statement. The fee is 35 dollars.",
     "id identity card identification"),
    ("address_change", "Registering a change of address",
     "You can register a new address online or at the service centre within 14 days of moving. Bring photo "
     "ID and your lease or a letter from your landlord. It is free of charge.",
     "address move moving moved register registration new home relocate"),
    ("parking_permit", "Residential parking permit",
     "A residential parking permit costs 60 dollars a year. Bring your vehicle registration and a proof of "
     "address. You can also apply online.",
     "parking permit car vehicle park street"),
    ("waste_collection", "Waste and bulky item collection",
     "Household waste is collected weekly on your street's set day. Bulky items, like furniture, can be "
     "picked up for 25 dollars; book at least three days ahead.",
     "waste trash garbage bin rubbish recycling collection bulky furniture pickup"),
    ("birth_certificate", "Birth certificate copies",
     "A certified copy of a birth certificate costs 20 dollars. Bring photo ID; copies are issued the same "
     "day at the service centre, or mailed within 10 days.",
     "birth certificate copy certified"),
    ("fees", "Fees overview",
     "Common fees: 130 dollars for a passport, 35 dollars for a state ID card, 60 dollars a year for a parking "
     "permit, and 20 dollars for a copy of a birth certificate. Registering a new address is free.",
     "fee fees cost costs price prices pay payment charge how much"),
]
COMPLAINT_CATEGORIES = ("roads", "waste", "noise", "street_lighting", "parks", "service", "other")
# (ticket, category, description, location, status, created_days_ago)
# (ticket, category, description, location, caller_phone, status, days ago): the callers are bank customers,
# so the agent desktop's customer profile (by the caller's number) shows their complaints too.
COMPLAINTS = [
    ("4100001", "roads", "large pothole in the right lane", "Elm Street and 5th Avenue", "+15550101001",
     "in_progress", 6),
    ("4100002", "waste", "recycling bin not collected", "22 Birch Road", "+15550101003", "resolved", 12),
    ("4100003", "street_lighting", "street light out", "Maple Park entrance", "", "open", 1),
]

# --------------------------------------------------------------------------------------------------
# Generated background records (deterministic)
# --------------------------------------------------------------------------------------------------

FIRST_NAMES = ("Olivia Liam Emma Noah Ava Elijah Sophia Lucas Mia Mateo Amelia Ethan Harper Levi Chloe "
               "Wei Priya Omar Fatima Hiro Sofia Diego Nadia Kwame Ingrid Raj Yuki Carlos Leila Marco").split()
LAST_NAMES = ("Smith Johnson Brown Jones Miller Davis Lopez Martinez Nguyen Patel Kim Chen Singh Ali "
              "Anderson Thomas Taylor Moore Jackson Martin Lee Thompson White Harris Clark Lewis Walker").split()
PAYEES = ("Northside Utilities", "Greenfield Insurance", "Metro Telecom", "Riverbank Credit Union",
          "Sunrise Dental", "Harbor Realty", "Bluebird Daycare", "Summit Fitness")
PRODUCTS = (("blender", 5999), ("yoga mat", 2999), ("backpack", 6499), ("smart watch", 19900),
            ("bluetooth speaker", 4999), ("winter jacket", 14900), ("air fryer", 8999),
            ("office chair", 22900), ("board game", 3499), ("electric toothbrush", 7999))
CITIES = (("Denver", "80202"), ("Austin", "73301"), ("Portland", "97201"), ("Miami", "33101"),
          ("Phoenix", "85001"), ("Columbus", "43004"), ("Nashville", "37201"), ("Madison", "53703"))
GENERATED_SEED = 20261125


def _generated(rng: random.Random) -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = {k: [] for k in ("customers", "accounts", "cards", "transfers", "orders",
                                                    "order_items", "parcels", "parcel_events")}
    taken_accounts = {a[0] for a in ACCOUNTS}
    for cid in range(101, 141):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        dob = f"{rng.randint(1950, 2002)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        tier = rng.choices(("standard", "gold", "private"), weights=(80, 15, 5))[0]
        out["customers"].append((cid, first, last, dob, f"{rng.randint(0, 9999):04d}",
                                 f"{rng.randint(0, 9999):04d}", f"+1555{rng.randint(0, 9999999):07d}", tier))
        number = f"{rng.randint(30000000, 79999999)}"
        while number in taken_accounts:
            number = f"{rng.randint(30000000, 79999999)}"
        taken_accounts.add(number)
        out["accounts"].append((number, cid, "checking", rng.randint(-20000, 2500000), 0))
        out["cards"].append((cid, number, f"{rng.randint(1000, 9999)}", "debit", "active",
                             None, None, None))
        for i in range(rng.randint(0, 3)):
            sent = -rng.randint(0, 20)
            status = "completed" if sent < -3 else rng.choice(("pending", "completed"))
            out["transfers"].append((f"5{cid:03d}{i:04d}", number, rng.choice(PAYEES),
                                     rng.randint(1000, 300000), status, sent, sent + 2, ""))
    for i in range(150):
        number = f"{8000000 + i * 37 + rng.randint(0, 36)}"
        city, zip_ = rng.choice(CITIES)
        placed = -rng.randint(0, 60)
        status = ("delivered" if placed < -7 else
                  rng.choice(("processing", "shipped", "out_for_delivery", "delivered")))
        expected = placed + rng.randint(3, 6)
        delivered = expected if status == "delivered" else None
        tracking = f"{7000000000 + i * 7919}" if status != "processing" else None
        items = rng.sample(PRODUCTS, rng.randint(1, 3))
        total = sum(price for _, price in items)
        out["orders"].append((number, f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}", zip_, status,
                              placed, expected, delivered, "Swift Parcel" if tracking else None, tracking,
                              total))
        for j, (name, price) in enumerate(items):
            out["order_items"].append((number, f"P{j}-{price}", name, 1, price, 0))
    for i in range(200):
        tracking = f"{6000000000 + i * 104729}"
        city, zip_ = rng.choice(CITIES)
        status = rng.choices(("in_transit", "out_for_delivery", "delivered", "delivery_attempted"),
                             weights=(40, 15, 35, 10))[0]
        eta = rng.randint(0, 3) if status in ("in_transit", "out_for_delivery") else None
        if status == "out_for_delivery":
            eta = 0
        delivered = -rng.randint(1, 10) if status == "delivered" else None
        out["parcels"].append((tracking, f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}", zip_, city,
                               status, eta, delivered, rng.choice(("standard", "express"))))
        out["parcel_events"].append((tracking, -3, "09:00", f"{city} sorting centre", "picked up from the sender"))
        if status != "in_transit":
            day = delivered if delivered is not None else -1 if status == "delivery_attempted" else 0
            text = {"out_for_delivery": "out for delivery with the driver",
                    "delivered": "delivered to the recipient",
                    "delivery_attempted": "delivery attempted, nobody was home; a card was left"}[status]
            out["parcel_events"].append((tracking, day, "12:00", city, text))
    return out


def seed(conn: sqlite3.Connection) -> None:
    """Create the schema and insert every record. Same data on every run (fixed random seed)."""
    gen = _generated(random.Random(GENERATED_SEED))
    orders = [(*o, sum(q * p for n, _, _, q, p, _ in ORDER_ITEMS if n == o[0])) for o in ORDERS]
    with conn:
        conn.executescript(SCHEMA)
        conn.executemany("INSERT INTO customers VALUES (?,?,?,?,?,?,?,?)", CUSTOMERS + gen["customers"])
        conn.executemany(
            "INSERT INTO accounts (number, customer_id, kind, balance_cents, pending_cents) VALUES (?,?,?,?,?)",
            ACCOUNTS + gen["accounts"])
        conn.executemany(
            "INSERT INTO cards (customer_id, account_number, last4, kind, status, block_reason, "
            "block_reference, blocked_day) VALUES (?,?,?,?,?,?,?,?)", CARDS + gen["cards"])
        conn.executemany("INSERT INTO transfers VALUES (?,?,?,?,?,?,?,?)", TRANSFERS + gen["transfers"])
        conn.executemany("INSERT INTO orders VALUES (?,?,?,?,?,?,?,?,?,?)", orders + gen["orders"])
        conn.executemany("INSERT INTO order_items VALUES (?,?,?,?,?,?)", ORDER_ITEMS + gen["order_items"])
        conn.executemany("INSERT INTO parcels VALUES (?,?,?,?,?,?,?,?)", PARCELS + gen["parcels"])
        conn.executemany("INSERT INTO parcel_events VALUES (?,?,?,?,?)", PARCEL_EVENTS + gen["parcel_events"])
        conn.executemany("INSERT INTO info_topics VALUES (?,?,?,?)", INFO_TOPICS)
        conn.executemany(
            "INSERT INTO complaints (ticket, category, description, location, caller_phone, status, created_at) "
            "VALUES (?,?,?,?,?,?, strftime('%s','now') - ? * 86400)", COMPLAINTS)
        conn.execute("INSERT INTO meta VALUES ('schema_version', '1')")
