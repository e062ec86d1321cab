"""Routing decisions (call/routing.py): skill from intents, business hours and holidays in the queue's time
zone, the wait estimate from a QueueStatus, overflow, and when to offer a callback."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
import yaml
from pydantic import ValidationError

from voicebot.call.handoff import route
from voicebot.call.routing import (
    OpeningHours,
    QueuePlan,
    RouteChoice,
    RoutingPlan,
    choose_queue,
    estimate_wait,
    is_open,
    offer_callback,
    plan_from_spec,
    queue_for,
    skill_for,
)
from voicebot.dialog.schema import RoutingSpec
from voicebot.types import Handoff, QueueEntry, QueueMember, QueueStatus

WEEKDAYS = OpeningHours(frozenset(range(5)), time(9), time(17))
CARDS = QueuePlan("cards", hours=(WEEKDAYS,), holidays=frozenset({date(2026, 12, 25)}),
                  timezone="Europe/Berlin", overflow="general", max_wait_s=120)
PLAN = RoutingPlan(skills={"block_card": "cards", "balance": "accounts"},
                   queues={"cards": CARDS, "general": QueuePlan("general")})
TUESDAY_NOON_BERLIN = datetime(2026, 12, 8, 11, 0, tzinfo=UTC)  # 12:00 in Berlin


def member(interface: str, status: int = 1, paused: bool = False, in_call: bool = False) -> QueueMember:
    return QueueMember(interface=interface, name="", state_interface="", dynamic=True, penalty=0,
                       calls_taken=0, in_call=in_call, status=status, paused=paused, paused_reason="")


def entry(position: int, wait_s: int, priority: int = 0) -> QueueEntry:
    return QueueEntry(position=position, channel=f"PJSIP/c{position}", unique_id=str(position), caller_id="",
                      wait_s=wait_s, priority=priority)


def status(queue: str, members: tuple[QueueMember, ...], entries: tuple[QueueEntry, ...] = (),
           talktime_s: int = 0, holdtime_s: int = 0) -> QueueStatus:
    return QueueStatus(queue=queue, strategy="rrmemory", calls=len(entries), holdtime_s=holdtime_s,
                       talktime_s=talktime_s, completed=0, abandoned=0, members=members, entries=entries)


def test_the_latest_mapped_intent_picks_the_skill_and_its_queue() -> None:
    assert skill_for(["balance", "block_card", "goodbye", None], PLAN) == "cards"
    assert skill_for(["goodbye"], PLAN, default="general") == "general"
    assert queue_for("cards", PLAN, "banking") == "cards"
    assert queue_for("accounts", PLAN, "banking") == "banking"  # no such queue: the flow's
    assert queue_for(None, PLAN, "banking") == "banking"


def test_hours_and_holidays_are_read_in_the_queues_time_zone() -> None:
    assert is_open(CARDS, TUESDAY_NOON_BERLIN)
    assert not is_open(CARDS, datetime(2026, 12, 8, 16, 30, tzinfo=UTC))  # 17:30 in Berlin
    assert is_open(CARDS, datetime(2026, 12, 8, 8, 0, tzinfo=UTC))  # 09:00 in Berlin
    assert not is_open(CARDS, datetime(2026, 12, 12, 11, 0, tzinfo=UTC))  # a Saturday
    assert not is_open(CARDS, datetime(2026, 12, 25, 11, 0, tzinfo=UTC))  # a holiday
    assert is_open(QueuePlan("general"), datetime(2026, 12, 25, 3, 0, tzinfo=UTC))  # no hours: always


def test_the_wait_counts_callers_ahead_by_priority_and_members_who_can_answer() -> None:
    busy = status("cards", (member("a", status=2, in_call=True), member("b", status=2, in_call=True),
                            member("c", paused=True), member("d", status=5)),
                  (entry(1, 50, priority=2), entry(2, 40), entry(3, 10)), talktime_s=120)
    wait = estimate_wait(busy)
    assert (wait.ahead, wait.staffed, wait.free, wait.seconds) == (3, 2, 0, 240.0)  # 4 callers, 2 agents
    assert estimate_wait(busy, priority=2).ahead == 1  # a higher priority goes ahead of the others
    assert estimate_wait(busy, priority=2).seconds == 120.0
    idle = status("cards", (member("a"), member("b")), (entry(1, 5),))
    assert estimate_wait(idle).seconds == 0.0
    nobody = status("cards", (member("c", paused=True),), (entry(1, 5),))
    assert estimate_wait(nobody).seconds is None
    history = status("cards", (member("a", status=2, in_call=True),), (), holdtime_s=45)
    assert estimate_wait(history).seconds == 45.0  # no talk time yet: the hold time


def test_an_open_queue_within_its_limit_is_kept() -> None:
    choice = choose_queue(PLAN, "cards", TUESDAY_NOON_BERLIN,
                          statuses={"cards": status("cards", (member("a"),))})
    assert choice == RouteChoice("cards", True, wait=choice.wait) and choice.wait is not None
    assert not offer_callback(choice, 60)


def test_a_closed_queue_overflows_to_an_open_one_or_says_closed() -> None:
    saturday = datetime(2026, 12, 12, 11, 0, tzinfo=UTC)
    choice = choose_queue(PLAN, "cards", saturday)
    assert (choice.queue, choice.open, choice.overflowed) == ("general", True, True)
    alone = RoutingPlan(queues={"cards": QueuePlan("cards", hours=(WEEKDAYS,), timezone="Europe/Berlin")})
    closed = choose_queue(alone, "cards", saturday)
    assert (closed.queue, closed.open, closed.overflowed) == ("cards", False, False)
    assert not offer_callback(closed, 60)  # closed: the flow's closed path, not a callback


def test_a_long_wait_overflows_when_the_overflow_is_shorter_else_a_callback_is_offered() -> None:
    long = status("cards", (member("a", status=2, in_call=True),), (entry(1, 60), entry(2, 30)),
                  talktime_s=300)
    short = status("general", (member("g"),))
    choice = choose_queue(PLAN, "cards", TUESDAY_NOON_BERLIN, statuses={"cards": long, "general": short})
    assert (choice.queue, choice.overflowed) == ("general", True)
    longer = status("general", (member("g", status=2, in_call=True),), (entry(1, 9),) * 5, talktime_s=600)
    stay = choose_queue(PLAN, "cards", TUESDAY_NOON_BERLIN, statuses={"cards": long, "general": longer})
    assert (stay.queue, stay.overflowed) == ("cards", False)
    assert stay.wait is not None and stay.wait.seconds == 900.0
    assert offer_callback(stay, 120) and not offer_callback(stay, 1000)


def test_a_bundles_routing_section_becomes_the_plan_and_routes_the_handoff() -> None:
    spec = RoutingSpec.model_validate(yaml.safe_load("""
        skills: {block_card: cards, balance: accounts}
        queues:
          cards:
            hours: {mon-fri: "09:00-17:00", sat: "10:00-24:00", sun-mon: "07:00-08:00"}
            holidays: [2026-12-25]
            timezone: Europe/Berlin
            overflow: general
            max_wait_s: 120
    """))
    plan = plan_from_spec(spec)
    cards = plan.queue("cards")
    assert (cards.timezone, cards.overflow, cards.max_wait_s) == ("Europe/Berlin", "general", 120)
    assert [sorted(w.days) for w in cards.hours] == [[0, 1, 2, 3, 4], [5], [0, 6]]
    assert is_open(cards, TUESDAY_NOON_BERLIN) and not is_open(cards, datetime(2026, 12, 25, 11, tzinfo=UTC))
    assert is_open(cards, datetime(2026, 12, 12, 22, 59, tzinfo=UTC))  # Saturday 23:59 in Berlin
    routed = route(Handoff(reason="caller_request", queue="banking", priority=1), {"tier": "gold"},
                   [("angry", 0.9)], plan, ["balance", "block_card"])
    assert routed == Handoff(reason="caller_request", queue="cards", skill="cards", priority=4)
    named = route(Handoff(reason="x", queue="banking", skill="loans"), {}, [], plan, ["block_card"])
    assert (named.queue, named.skill) == ("banking", "loans")  # the flow's own choice stands
    with pytest.raises(ValidationError):
        RoutingSpec.model_validate({"queues": {"q": {"hours": {"weekdays": "9-5"}}}})
    with pytest.raises(ValidationError):
        RoutingSpec.model_validate({"queues": {"q": {"timezone": "Mars/Olympus"}}})
