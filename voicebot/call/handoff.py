"""Handing a caller to a human: the packet the agent sees, and which queue the call goes to.

How the call reaches the queue: the session ends the AudioSocket leg with ``0x00``; the dialplan continues
and fetches ``GET /api/calls/{uuid}/handoff`` (see ``asterisk/``), which answers with the queue and
priority chosen here, then runs ``Queue()``. The agent desktop subscribes to ``HandedOff`` events.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from voicebot.call.routing import RoutingPlan, queue_for, skill_for
from voicebot.types import Handoff, HandoffPacket, Turn

# Customer tiers the backend may put in the dialog's variables; a higher tier queues ahead.
TIER_PRIORITY = {"vip": 3, "platinum": 3, "gold": 2, "silver": 1}
ANGRY_PRIORITY_BOOST = 1


def route(handoff: Handoff, variables: dict[str, Any], emotion_trail: Sequence[tuple[str, float]],
          plan: RoutingPlan | None = None, intents: Sequence[str | None] = ()) -> Handoff:
    """Pick the final queue, skill and priority: the flow's choice, raised for customer tier and anger. With
    the bundle's routing ``plan``, a handoff that names no skill gets the skill of the caller's latest mapped
    intent, and the queue of that skill when the plan has one."""
    tier = str(variables.get("tier") or variables.get("customer_tier") or "").lower()
    priority = handoff.priority + TIER_PRIORITY.get(tier, 0)
    if any(label == "angry" for label, _ in emotion_trail[-3:]):
        priority += ANGRY_PRIORITY_BOOST
    queue, skill = handoff.queue, handoff.skill
    if plan is not None and skill is None:
        skill = skill_for(intents, plan)
        queue = queue_for(skill, plan, queue)
    return Handoff(reason=handoff.reason, queue=queue, skill=skill, priority=priority)


def intent_summary(turns: Sequence[Turn], slots: dict[str, Any], reason: str) -> str:
    """One line an agent reads at a glance: what the caller wanted, what was done, why they are here."""
    intents = [t.intent for t in turns if t.intent]
    seen = list(dict.fromkeys(intents))
    wanted = ", ".join(seen) if seen else "no intent recognised"
    filled = ", ".join(f"{k}={v}" for k, v in slots.items() if v not in (None, ""))
    parts = [f"Caller wanted: {wanted}", f"handoff: {reason}"]
    if filled:
        parts.insert(1, f"collected: {filled}")
    return "; ".join(parts)


def build_packet(call_id: str, caller_id: str, handoff: Handoff, turns: Sequence[Turn],
                 slots: dict[str, Any], verified: bool = False) -> HandoffPacket:
    transcript: list[tuple[str, str]] = []
    turns = [t for t in turns if t.input_kind != "continued"]  # repeated in the turn that continued it
    for turn in turns:
        if turn.caller_text:
            transcript.append(("caller", turn.caller_text))
        elif turn.input_kind == "dtmf" and turn.entities.get("dtmf"):
            transcript.append(("caller", f"[DTMF {turn.entities['dtmf']}]"))
        if turn.bot_text:
            transcript.append(("bot", turn.bot_text))
    emotions = tuple((t.emotion, t.emotion_score or 0.0) for t in turns if t.emotion)
    return HandoffPacket(
        call_id=call_id,
        caller_id=caller_id,
        queue=handoff.queue,
        skill=handoff.skill,
        priority=handoff.priority,
        reason=handoff.reason,
        intent_summary=intent_summary(turns, slots, handoff.reason),
        slots=dict(slots),
        transcript=tuple(transcript),
        emotion_trail=emotions,
        created_at=time.time(),
        verified=verified,
    )
