"""The reports' arithmetic on known data: containment raw and strict, service level, ASA, AHT, wrap-up, CSAT,
percentiles per stage (voicebot/reports/measures.py); and CSV cells that no spreadsheet runs as formulas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from voicebot.reports import measures as m
from voicebot.store.reports import AgentState, CallFact, QueueEvent

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def served(n: int, number: str = "+15550001", minutes: float = 0, duration: float = 60) -> CallFact:
    start = T0 + timedelta(minutes=minutes)
    return CallFact(f"c{n}", number, start, start + timedelta(seconds=duration))


def test_strict_containment_drops_served_calls_followed_by_a_call_from_the_number_within_24_h() -> None:
    calls = [served(1, "+1"),  # +1 calls again 23 h later: not contained
             served(2, "+2"),  # +2 calls again 25 h later: contained
             served(3, ""),  # withheld: cannot be shown contained
             served(5, "+5", minutes=60 * 24 * 5)]  # its window is still open at `now`
    later = [("+1", T0 + timedelta(hours=23)), ("+2", T0 + timedelta(hours=25)), ("+1", T0)]  # T0: itself
    now = T0 + timedelta(days=5, hours=2)
    c = m.containment(5, calls, later, 24, now)  # 5 ended calls, one of them handed off
    assert (c.calls, c.served, c.contained, c.repeat_called, c.withheld, c.pending) == (5, 4, 2, 1, 1, 1)
    assert c.raw_rate == pytest.approx(4 / 5) and c.strict_rate == pytest.approx(2 / 5)


def test_a_repeat_call_counts_from_the_end_of_a_long_call() -> None:
    long_call = served(1, "+1", duration=3600)
    c = m.containment(1, [long_call], [("+1", T0 + timedelta(hours=24, minutes=30))], 24, T0 + timedelta(days=3))
    assert c.contained == 0 and c.repeat_called == 1  # 24.5 h after the start is 23.5 h after its end


def test_no_calls_no_rates() -> None:
    c = m.containment(0, [], [], 24, T0)
    assert c.raw_rate is None and c.strict_rate is None


def test_handle_times_overall_and_per_outcome() -> None:
    times = {h.group: h for h in m.handle_times([("handoff", 30), ("handoff", 90), ("handoff", 60),
                                                  ("completed", 120)])}
    assert times["all"].calls == 4 and times["all"].mean_s == pytest.approx(75)
    assert times["handoff"].mean_s == pytest.approx(60) and times["handoff"].p50_s == pytest.approx(60)
    assert times["completed"].p90_s == pytest.approx(120)


def test_shares_of_a_count() -> None:
    assert [(s.name, s.count, s.share) for s in m.shares([("a", 3), ("b", 1)])] == [("a", 3, 0.75), ("b", 1, 0.25)]
    assert m.shares([]) == []


def test_csat_is_the_share_of_fours_and_fives() -> None:
    rows = m.csat([("banking", 5), ("banking", 4), ("banking", 2), ("retail", 3), ("retail", 9)])
    everyone, banking, retail = rows
    assert (everyone.group, everyone.responses, everyone.satisfied) == ("all", 4, 2)  # 9 is not an answer
    assert everyone.csat == pytest.approx(0.5) and everyone.mean_score == pytest.approx(3.5)
    assert everyone.distribution == (0, 1, 1, 1, 1)
    assert banking.csat == pytest.approx(2 / 3) and retail.csat == 0.0
    assert m.csat([])[0].csat is None


def test_stage_percentiles_over_the_turns_that_reached_both_marks() -> None:
    marks = [{"speech_end": 0, "asr_final": a, "nlu_done": a + 10, "dialog_done": a + 15,
              "tts_first_audio": a + 100, "first_frame_sent": a + 105} for a in (100, 200, 300, 400, 500)]
    marks.append({"speech_end": 0})  # a turn the bot never answered
    stages = {s.stage: s for s in m.stage_latencies(marks)}
    assert stages["asr"].turns == 5 and stages["asr"].p50_ms == pytest.approx(300)
    assert stages["asr"].p90_ms == pytest.approx(460)  # between 400 and 500, linear
    assert stages["nlu"].p99_ms == pytest.approx(10) and stages["reply"].p50_ms == pytest.approx(405)


def qe(event: str, minute: float, queue: str = "banking", **fields) -> QueueEvent:
    return QueueEvent(f"{event}{minute}{fields.get('unique_id', '')}", T0 + timedelta(minutes=minute), event, queue,
                      **fields)


def test_service_level_asa_and_abandons_per_queue() -> None:
    events = [qe("QueueCallerJoin", i, unique_id=str(i)) for i in range(6)]
    events += [qe("AgentConnect", 1, unique_id="0", agent="ann", hold_s=10),
               qe("AgentConnect", 2, unique_id="1", agent="ann", hold_s=30),  # beyond 20 s
               qe("AgentConnect", 3, unique_id="2", agent="bob", hold_s=20),  # at 20 s: within
               qe("QueueCallerAbandon", 4, unique_id="3", hold_s=50),
               qe("AgentRingNoAnswer", 4, unique_id="4", agent="bob", ring_s=15),  # the agent's, not an abandon
               qe("AgentComplete", 5, unique_id="0", agent="ann", hold_s=10, talk_s=100),
               qe("AgentComplete", 6, unique_id="2", agent="bob", hold_s=20, talk_s=200)]
    states = [AgentState("ann", "on_call", T0 + timedelta(minutes=1), queue="banking"),
              AgentState("ann", "wrap_up", T0 + timedelta(minutes=5), queue="banking"),
              AgentState("ann", "available", T0 + timedelta(minutes=5, seconds=30)),
              AgentState("bob", "wrap_up", T0 + timedelta(minutes=6), queue="banking"),
              AgentState("bob", "break", T0 + timedelta(minutes=6, seconds=50))]
    (q,) = m.queue_figures(events, states, T0 + timedelta(hours=1), lambda queue: 20.0)
    assert (q.offered, q.answered, q.abandoned, q.other_exits, q.answered_in_sl) == (6, 3, 1, 2, 2)
    assert q.service_level == pytest.approx(2 / 4)  # 2 within 20 s of 3 answered + 1 abandoned
    assert q.asa_s == pytest.approx(20) and q.avg_abandon_s == pytest.approx(50)
    assert q.avg_talk_s == pytest.approx(150) and q.avg_wrap_s == pytest.approx(40) and q.aht_s == pytest.approx(190)
    agents = {a.name: a for a in m.agent_figures(events, states, T0 + timedelta(hours=1), lambda queue: 20.0)}
    assert (agents["ann"].answered, agents["ann"].answered_in_sl, agents["ann"].service_level) == (2, 1, 0.5)
    assert (agents["bob"].offered, agents["bob"].answered, agents["bob"].abandoned) == (2, 1, 1)
    assert agents["bob"].service_level == 1.0 and agents["bob"].avg_wrap_s == pytest.approx(50)
    assert agents["ann"].aht_s == pytest.approx(100 + 30)


def test_a_wrap_up_still_open_is_not_measured_and_time_in_states_is_clipped() -> None:
    states = [AgentState("ann", "available", T0 - timedelta(hours=1)), AgentState("ann", "wrap_up", T0),
              AgentState("ann", "available", T0 + timedelta(seconds=20)), AgentState("ann", "wrap_up", T0 + timedelta(minutes=10))]
    assert [seconds for _, seconds in m.wrap_ups(states, T0 + timedelta(hours=1))] == [20.0]
    spent = m.time_in_states(states, T0, T0 + timedelta(minutes=20))["ann"]
    assert spent == {"wrap_up": 20 + 600.0, "available": 600 - 20.0}  # the hour before T0 is outside


def test_percentile_matches_numpys_linear_rule() -> None:
    assert m.percentile([1, 2, 3, 4], 50) == 2.5 and m.percentile([], 50) is None and m.percentile([7], 95) == 7


def test_a_state_reported_by_several_workers_counts_once() -> None:
    ms = timedelta(milliseconds=3)
    states = [AgentState("ann", "wrap_up", T0, queue="banking"), AgentState("ann", "wrap_up", T0 + ms, queue="banking"),
              AgentState("ann", "available", T0 + timedelta(seconds=30)),
              AgentState("ann", "available", T0 + timedelta(seconds=30) + ms)]
    assert [seconds for _, seconds in m.wrap_ups(states, T0 + timedelta(hours=1))] == [30.0]
    assert m.time_in_states(states, T0, T0 + timedelta(minutes=1))["ann"] == {"wrap_up": 30.0, "available": 30.0}


def test_a_csv_cell_never_runs_as_a_spreadsheet_formula() -> None:
    from voicebot.reports.build import Report
    from voicebot.store.reports import Period

    report = Report("handoffs", "Handoff reasons", Period(T0, T0 + timedelta(days=1)), ("reason", "calls", "share"),
                    (("=HYPERLINK(\"x\")", 2, 0.5), ("-1+1", 1, None), ("caller_request", 1, -0.25)))
    assert report.csv().splitlines() == ["reason,calls,share", "\"'=HYPERLINK(\"\"x\"\")\",2,0.5", "'-1+1,1,",
                                         "caller_request,1,-0.25"]
