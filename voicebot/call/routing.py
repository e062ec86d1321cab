"""Routing as a call centre does it, as pure decisions: the skill an intent needs, the queue that serves it,
whether that queue is open (business hours and holidays, in its own time zone), the overflow queue, and the
wait a caller can expect from the queue's live state (AMI ``QueueStatus``).

A flow bundle's ``routing:`` section (``dialog/schema.py``) gives the :class:`RoutingPlan`; nothing here does
I/O: the caller of these functions fetches the queue state and the clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from voicebot.dialog.schema import DAYS, RoutingSpec
from voicebot.types import QueueStatus

DEVICE_UNAVAILABLE = {0, 4, 5}  # AST_DEVICE_UNKNOWN, INVALID, UNAVAILABLE: the member cannot take a call
DEVICE_NOT_INUSE = 1
DEFAULT_HANDLE_S = 180.0  # an agent's time per call when the queue has no history yet


@dataclass(frozen=True, slots=True)
class OpeningHours:
    """One opening window: on ``days`` (0 Monday … 6 Sunday) from ``opens`` to ``closes`` (local time)."""

    days: frozenset[int]
    opens: time
    closes: time

    def covers(self, moment: datetime) -> bool:
        return moment.weekday() in self.days and self.opens <= moment.time() < self.closes


@dataclass(frozen=True, slots=True)
class QueuePlan:
    """A queue's hours (none: always open), holidays, time zone, overflow queue and longest fair wait."""

    name: str
    hours: tuple[OpeningHours, ...] = ()
    holidays: frozenset[date] = frozenset()
    timezone: str = "UTC"
    overflow: str | None = None
    max_wait_s: float | None = None  # longer than this: overflow, or offer a callback


@dataclass(frozen=True, slots=True)
class RoutingPlan:
    """Intent → skill, and the queues by name (a skill is served by the queue of the same name when there
    is one, otherwise by the flow's queue)."""

    skills: Mapping[str, str] = field(default_factory=dict)
    queues: Mapping[str, QueuePlan] = field(default_factory=dict)

    def queue(self, name: str) -> QueuePlan:
        return self.queues.get(name) or QueuePlan(name)


@dataclass(frozen=True, slots=True)
class WaitEstimate:
    """What a caller joining ``queue`` now with ``priority`` expects; ``seconds`` None: nobody staffs it."""

    queue: str
    ahead: int  # callers who would be answered first
    staffed: int  # members who can take calls (not paused, not unavailable)
    free: int  # of those, idle now
    seconds: float | None


@dataclass(frozen=True, slots=True)
class RouteChoice:
    """Where the caller goes: ``queue`` (an overflow when ``overflowed``), ``open`` False when no queue is
    open, and the wait there (None when the queue state was not known)."""

    queue: str
    open: bool
    overflowed: bool = False
    wait: WaitEstimate | None = None


def plan_from_spec(spec: RoutingSpec) -> RoutingPlan:
    """A bundle's ``routing:`` section as a plan (the schema checked its shape)."""
    queues = {
        name: QueuePlan(name, hours=tuple(_window(days, times) for days, times in q.hours.items()),
                        holidays=frozenset(q.holidays), timezone=q.timezone, overflow=q.overflow,
                        max_wait_s=q.max_wait_s)
        for name, q in spec.queues.items()
    }
    return RoutingPlan(skills=dict(spec.skills), queues=queues)


def _window(days: str, times: str) -> OpeningHours:
    first, _, last = days.partition("-")
    start, end = DAYS.index(first), DAYS.index(last or first)
    span = range(start, end + 1) if start <= end else [*range(start, 7), *range(0, end + 1)]
    opens, closes = times.split("-")
    return OpeningHours(frozenset(span), time.fromisoformat(opens),
                        time.max if closes == "24:00" else time.fromisoformat(closes))


def skill_for(intents: Iterable[str | None], plan: RoutingPlan, default: str | None = None) -> str | None:
    """The skill of the latest recognised intent the plan maps, else ``default``."""
    for intent in reversed([i for i in intents if i]):
        if intent in plan.skills:
            return plan.skills[intent]
    return default


def queue_for(skill: str | None, plan: RoutingPlan, default: str) -> str:
    return skill if skill is not None and skill in plan.queues else default


def is_open(queue: QueuePlan, at: datetime) -> bool:
    """Open at ``at`` (timezone-aware) in the queue's own time zone: not a holiday, inside a window."""
    local = at.astimezone(ZoneInfo(queue.timezone))
    if local.date() in queue.holidays:
        return False
    return not queue.hours or any(window.covers(local) for window in queue.hours)


def estimate_wait(status: QueueStatus, priority: int = 0,
                  default_handle_s: float = DEFAULT_HANDLE_S) -> WaitEstimate:
    """Asterisk answers higher priorities first, then by arrival: the callers ahead are those waiting with
    the same or a higher priority. Each staffed member clears one caller per talk time (the queue's
    average, else its average hold time, else ``default_handle_s``); idle members take callers at once."""
    ahead = sum(1 for entry in status.entries if entry.priority >= priority)
    staffed = [m for m in status.members if not m.paused and m.status not in DEVICE_UNAVAILABLE]
    free = sum(1 for m in staffed if m.status == DEVICE_NOT_INUSE and not m.in_call)
    if not staffed:
        return WaitEstimate(status.queue, ahead, 0, 0, None)
    if free > ahead:
        return WaitEstimate(status.queue, ahead, len(staffed), free, 0.0)
    handle = float(status.talktime_s or status.holdtime_s or default_handle_s)
    rounds = math.ceil((ahead + 1 - free) / len(staffed))
    return WaitEstimate(status.queue, ahead, len(staffed), free, rounds * handle)


def choose_queue(plan: RoutingPlan, queue: str, at: datetime, priority: int = 0,
                 statuses: Mapping[str, QueueStatus] | None = None) -> RouteChoice:
    """The queue itself when open and its wait is within ``max_wait_s``; else its overflow queue when that is
    open (and, with a known state, shorter); else the queue itself (``open`` False when it is closed)."""
    primary = plan.queue(queue)
    statuses = statuses or {}
    wait = _wait(statuses.get(queue), priority)
    opened = is_open(primary, at)
    too_long = wait is not None and primary.max_wait_s is not None and _longer(wait, primary.max_wait_s)
    if opened and not too_long:
        return RouteChoice(queue, True, wait=wait)
    if primary.overflow and is_open(plan.queue(primary.overflow), at):
        spill = _wait(statuses.get(primary.overflow), priority)
        if not opened or spill is None or wait is None or _shorter(spill, wait):
            return RouteChoice(primary.overflow, True, overflowed=True, wait=spill)
    return RouteChoice(queue, opened, wait=wait)


def offer_callback(choice: RouteChoice, max_wait_s: float | None) -> bool:
    """Offer a callback when the queue is open and its expected wait exceeds ``max_wait_s``."""
    if not choice.open or choice.wait is None or max_wait_s is None:
        return False
    return _longer(choice.wait, max_wait_s)


def _wait(status: QueueStatus | None, priority: int) -> WaitEstimate | None:
    return estimate_wait(status, priority) if status is not None else None


def _longer(wait: WaitEstimate, limit: float) -> bool:
    return wait.seconds is None or wait.seconds > limit


def _shorter(a: WaitEstimate, b: WaitEstimate) -> bool:
    if a.seconds is None:
        return False
    return b.seconds is None or a.seconds < b.seconds
