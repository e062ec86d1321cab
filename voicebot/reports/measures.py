"""The reports' arithmetic: pure functions from the store's facts (``store/reports.py``) to figures.

Definitions (docs/reports.md says them for readers):

* **Served by the bot**: the call ended in the flow (outcome ``completed``), not handed off, abandoned or failed.
  **Raw containment** = served ÷ ended calls. **Strict containment** (as Dialogflow CX counts it) = served calls
  after which the same number did not call again within ``window_h`` (24 h) ÷ ended calls; a withheld number
  cannot be shown not to call back and does not count as contained; a call whose window is still open counts
  on what is known and is reported as *pending*.
* **Service level** (per queue, per agent) = callers answered within N seconds of joining the queue ÷ callers
  answered or abandoned (Asterisk's ``HoldTime``). **ASA** = mean hold time of the answered.
  **AHT** = mean talk time + mean wrap-up time. **Wrap-up** = time in the ``wrap_up`` state after a call.
* **CSAT** = survey answers of 4 or 5 ÷ answers (scores 1-5), beside the mean score.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from voicebot.store.reports import AgentState, CallFact, QueueEvent

SERVED = "completed"
STAGES: tuple[tuple[str, str, str], ...] = (  # stage, from mark, to mark (Turn.marks)
    ("asr", "speech_end", "asr_final"),
    ("nlu", "asr_final", "nlu_done"),
    ("dialog", "nlu_done", "dialog_done"),
    ("tts_first_audio", "dialog_done", "tts_first_audio"),
    ("player", "tts_first_audio", "first_frame_sent"),
    ("reply", "speech_end", "first_frame_sent"),
)
MARKS = tuple(dict.fromkeys(mark for _, start, end in STAGES for mark in (start, end)))  # the marks they read
PERCENTILES = (50, 90, 95, 99)
SATISFIED = 4  # a CSAT answer at or above this is satisfied (top two boxes of 1-5)
STATES = ("available", "on_call", "wrap_up", "break")  # time-in-state columns of the agent report


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100), linear between closest ranks (numpy's default); None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


# ---------------------------------------------------------------------------------------------- calls


@dataclass(frozen=True, slots=True)
class Containment:
    calls: int  # ended calls
    served: int  # ended in the flow
    raw_rate: float | None
    contained: int  # served, and no call from the number within the window
    strict_rate: float | None
    repeat_called: int  # served, but the number called again within the window
    withheld: int  # served with no caller number: not counted as contained
    pending: int  # contained so far, but the window is still open


def containment(ended: int, served: Iterable[CallFact], later: Iterable[tuple[str, datetime]], window_h: float,
                now: datetime) -> Containment:
    """Raw and strict containment of ``ended`` calls, of which ``served`` ended in the flow; ``later`` holds
    ``(number, started_at)`` of the calls that may be repeats."""
    starts: defaultdict[str, list[datetime]] = defaultdict(list)
    for number, started in later:
        starts[number].append(started)
    for values in starts.values():
        values.sort()
    window = timedelta(hours=window_h)
    count = contained = repeated = withheld = pending = 0
    for call in served:
        count += 1
        if not call.caller_id:
            withheld += 1
            continue
        until = (call.ended_at or call.started_at) + window
        numbers = starts.get(call.caller_id, [])
        first_after = bisect.bisect_right(numbers, call.started_at)
        if first_after < len(numbers) and numbers[first_after] <= until:
            repeated += 1
            continue
        contained += 1
        pending += until > now
    return Containment(ended, count, rate(count, ended), contained, rate(contained, ended), repeated, withheld,
                       pending)


@dataclass(frozen=True, slots=True)
class HandleTime:
    group: str  # "all" or an outcome
    calls: int
    mean_s: float | None
    p50_s: float | None
    p90_s: float | None


def handle_times(durations: Iterable[tuple[str, float]]) -> list[HandleTime]:
    """Time the bot held each ended call (``(outcome, seconds)``): all calls, then by outcome."""
    groups: defaultdict[str, list[float]] = defaultdict(list)
    for outcome, seconds in durations:
        groups["all"].append(seconds)
        groups[outcome].append(seconds)
    order = ["all", *sorted(k for k in groups if k != "all")]
    return [HandleTime(k, len(groups[k]), mean(groups[k]), percentile(groups[k], 50), percentile(groups[k], 90))
            for k in order if k in groups]


@dataclass(frozen=True, slots=True)
class Csat:
    group: str  # "all" or a flow
    responses: int
    mean_score: float | None
    satisfied: int  # answers of 4 or 5
    csat: float | None  # satisfied ÷ responses
    distribution: tuple[int, int, int, int, int]  # answers of 1, 2, 3, 4, 5


def csat(scores: Iterable[tuple[str, int]]) -> list[Csat]:
    """CSAT of every survey answer, then per flow. Scores outside 1-5 are not answers."""
    groups: defaultdict[str, list[int]] = defaultdict(list)
    for flow, score in scores:
        if 1 <= score <= 5:
            groups["all"].append(score)
            groups[flow].append(score)

    def one(group: str, values: list[int]) -> Csat:
        satisfied = sum(v >= SATISFIED for v in values)
        dist = tuple(values.count(v) for v in range(1, 6))
        return Csat(group, len(values), mean(values), satisfied, rate(satisfied, len(values)), dist)  # type: ignore[arg-type]

    return [one("all", groups.get("all", []))] + [one(k, groups[k]) for k in sorted(groups) if k != "all"]


@dataclass(frozen=True, slots=True)
class Share:
    name: str
    count: int
    share: float | None  # of the total


def shares(pairs: Iterable[tuple[str, int]]) -> list[Share]:
    items = list(pairs)
    total = sum(n for _, n in items)
    return [Share(name, n, rate(n, total)) for name, n in items]


@dataclass(frozen=True, slots=True)
class StageLatency:
    stage: str
    turns: int
    p50_ms: float | None
    p90_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


def stage_latencies(marks: Iterable[Mapping[str, float]]) -> list[StageLatency]:
    """Percentiles of each stage over the turns that reached both of its marks."""
    rows = list(marks)
    out = []
    for stage, start, end in STAGES:
        values = [m[end] - m[start] for m in rows if start in m and end in m]
        out.append(StageLatency(stage, len(values), *(percentile(values, q) for q in PERCENTILES)))
    return out


# ---------------------------------------------------------------------------------------------- queues


@dataclass(frozen=True, slots=True)
class QueueFigures:
    name: str  # a queue or an agent
    offered: int  # callers who joined the queue (per agent: calls rung to them)
    answered: int
    abandoned: int  # hung up while waiting (per agent: rings not answered)
    other_exits: int  # left otherwise (timeout, overflow, still waiting at the end)
    answered_in_sl: int
    service_level_s: float
    service_level: float | None  # answered within service_level_s ÷ (answered + abandoned); per agent ÷ answered
    asa_s: float | None  # average speed of answer
    avg_abandon_s: float | None  # mean wait before hanging up
    avg_talk_s: float | None
    avg_wrap_s: float | None
    aht_s: float | None  # average handle time: talk + wrap-up


def _changes(states: Iterable[AgentState]) -> dict[str, list[AgentState]]:
    """Each agent's states in time order, a state repeated (several workers' desks each report the same change)
    kept once, at its first report."""
    by_agent: defaultdict[str, list[AgentState]] = defaultdict(list)
    for state in sorted(states, key=lambda s: s.at):
        rows = by_agent[state.agent]
        if not rows or rows[-1].state != state.state:
            rows.append(state)
    return by_agent


def wrap_ups(states: Iterable[AgentState], end: datetime) -> list[tuple[AgentState, float]]:
    """Each ``wrap_up`` state with its length: until the agent's next state (one still open at ``end`` or at the
    end of the data is left out)."""
    found = []
    for rows in _changes(states).values():
        for state, following in itertools.pairwise(rows):
            if state.state == "wrap_up" and following.at <= end:
                found.append((state, (following.at - state.at).total_seconds()))
    return found


def time_in_states(states: Iterable[AgentState], start: datetime, end: datetime) -> dict[str, dict[str, float]]:
    """Seconds each agent spent in each state within ``[start, end)`` (a state lasts until their next one; the
    last one until ``end``)."""
    totals: dict[str, dict[str, float]] = {}
    for agent, rows in _changes(states).items():
        spent: defaultdict[str, float] = defaultdict(float)
        for state, following in zip(rows, [*rows[1:], None], strict=True):
            until = min(following.at if following else end, end)
            begins = max(state.at, start)
            if until > begins:
                spent[state.state] += (until - begins).total_seconds()
        totals[agent] = dict(spent)
    return totals


def _figures(name: str, events: list[QueueEvent], waits: list[float], sl_s: float,
             per_agent: bool = False) -> QueueFigures:
    joins = [e for e in events if e.event == "QueueCallerJoin"]
    connects = [e for e in events if e.event == "AgentConnect"]
    abandons = [e for e in events if e.event in ("QueueCallerAbandon", "AgentRingNoAnswer")]
    completes = [e for e in events if e.event == "AgentComplete"]
    holds = [e.hold_s for e in connects if e.hold_s is not None]
    in_sl = sum(h <= sl_s for h in holds)
    offered = max(len(joins), len(connects) + len(abandons))
    talk = mean([e.talk_s for e in completes if e.talk_s is not None])
    wrap = mean(waits)
    aht = None if talk is None else talk + (wrap or 0.0)
    abandon_waits = [e.hold_s if e.hold_s is not None else e.ring_s for e in abandons]
    return QueueFigures(name, offered, len(connects), len(abandons), offered - len(connects) - len(abandons), in_sl,
                        sl_s, rate(in_sl, len(connects) + (0 if per_agent else len(abandons))), mean(holds),
                        mean([w for w in abandon_waits if w is not None]), talk, wrap, aht)


def queue_figures(events: Iterable[QueueEvent], states: Iterable[AgentState], end: datetime,
                  service_level_s: Callable[[str], float]) -> list[QueueFigures]:
    """Per queue: offered, answered, abandoned (hung up waiting), service level, ASA, talk, wrap-up, AHT."""
    by_queue: defaultdict[str, list[QueueEvent]] = defaultdict(list)
    for event in events:
        if event.event != "AgentRingNoAnswer":  # a ring not answered is the agent's, the caller still waits
            by_queue[event.queue].append(event)
    waits: defaultdict[str, list[float]] = defaultdict(list)
    for state, seconds in wrap_ups(states, end):
        waits[state.queue or ""].append(seconds)
    return [_figures(q, by_queue[q], waits.get(q, []), service_level_s(q)) for q in sorted(by_queue)]


def agent_figures(events: Iterable[QueueEvent], states: Iterable[AgentState], end: datetime,
                  service_level_s: Callable[[str], float]) -> list[QueueFigures]:
    """Per agent: calls rung to them (answered + not answered), answered, rings not answered (in ``abandoned``),
    the share of the calls they answered that had waited at most the threshold (of the queue of their first
    call), ASA, talk, wrap-up and AHT."""
    by_agent: defaultdict[str, list[QueueEvent]] = defaultdict(list)
    for event in events:
        if event.agent and event.event in ("AgentConnect", "AgentComplete", "AgentRingNoAnswer"):
            by_agent[event.agent].append(event)
    state_list = list(states)
    waits: defaultdict[str, list[float]] = defaultdict(list)
    for state, seconds in wrap_ups(state_list, end):
        waits[state.agent].append(seconds)
    agents = sorted(set(by_agent) | set(waits))
    return [_figures(a, by_agent.get(a, []), waits.get(a, []),
                     service_level_s(by_agent[a][0].queue if by_agent.get(a) else ""), per_agent=True)
            for a in agents]
