"""What a bundle's questions take: the slot a step fills, its type, the values and digit strings that fit.

Read-only knowledge of one :class:`Bundle`, shared by the engine's phases (``interpret``, ``runner``,
``prompts``).
"""

from __future__ import annotations

from typing import Any

from voicebot.dialog.bundle import Bundle
from voicebot.dialog.schema import AnyStep, AskStep, CollectDigitsStep, MenuStep, SurveyStep, step_kind
from voicebot.dialog.state import DialogState
from voicebot.types import Entity, Understanding

# A value said for an ask of a flow: (the ask or collect_digits step, its slot, the value).
ValueAhead = tuple[AnyStep, str, Any]


def slot_of(step: AnyStep) -> str:
    """The slot an ask, collect_digits or survey step fills ("" for other steps)."""
    return getattr(step, "ask", None) or getattr(step, "collect_digits", None) or getattr(step, "survey", "")


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


class Questions:
    """The questions of one bundle: slot types, valid values, digit-string bounds, values said ahead."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle

    def waiting_step(self, state: DialogState) -> AnyStep:
        w = state.waiting
        assert w is not None
        return self.bundle.flows[w.flow].steps[w.index]

    def expected_type(self, state: DialogState) -> str | None:
        """The slot type the caller's answer should hold (None at a menu)."""
        w = state.waiting
        if w is None or w.kind == "menu":
            return None
        if w.kind in ("confirm_slot", "confirm_intent"):
            return "yes_no"
        return self.bundle.slot_type_of(self.waiting_step(state))

    def kind_of(self, step: AnyStep) -> str | None:
        """The kind (digits, yes_no, list, …) of the slot type a step expects."""
        type_def = self.bundle.slot_type_defs.get(self.bundle.slot_type_of(step))
        return type_def.kind if type_def is not None else None

    def type_of_slot(self, slot: str) -> str | None:
        for flow in self.bundle.flows.values():
            for step in flow.steps:
                if isinstance(step, (AskStep, CollectDigitsStep, SurveyStep)) and slot_of(step) == slot:
                    return self.bundle.slot_type_of(step)
        return None

    def entity_for(self, u: Understanding, type_name: str | None) -> Entity | None:
        if type_name is None:
            return None
        if type_name == "text":
            return Entity("text", u.text, u.text) if u.text.strip() else None
        entity = u.entity(type_name)
        if entity is None:
            kind = self.bundle.slot_type_defs.get(type_name)
            # a built-in kind's entity fills a slot type of that kind ("yes_no" for a custom yes/no type)
            if kind is not None and kind.kind != type_name:
                entity = u.entity(kind.kind)
        return entity

    def valid(self, step: AnyStep, value: Any) -> bool:
        if isinstance(value, str) and self.digit_bounds(step) is not None:
            return self.fits(step, value)
        return self.valid_type(self.bundle.slot_type_of(step), value)

    def valid_type(self, type_name: str | None, value: Any) -> bool:
        """Whether a value fits its slot type's length bounds (digits and phone kinds)."""
        type_def = self.bundle.slot_type_defs.get(type_name or "")
        if type_def is None or not isinstance(value, str) or type_def.kind not in ("digits", "phone"):
            return True
        return (type_def.min_length or 0) <= len(value) <= (type_def.max_length or 10**6)

    def digit_bounds(self, step: AnyStep) -> tuple[int, int] | None:
        """(min, max) digits of a digits question (a ``kind: digits`` slot or a collect_digits step)."""
        type_def = self.bundle.slot_type_defs.get(self.bundle.slot_type_of(step))
        digits_kind = type_def is not None and type_def.kind == "digits"
        if isinstance(step, CollectDigitsStep):
            lo, hi = step.min_digits, step.max_digits
            if digits_kind and type_def is not None:
                lo, hi = max(lo, type_def.min_length or 1), min(hi, type_def.max_length or hi)
            return lo, hi
        if isinstance(step, AskStep) and digits_kind and type_def is not None:
            return type_def.min_length or 1, type_def.max_length or 64
        return None

    def fits(self, step: AnyStep, digits: str) -> bool:
        bounds = self.digit_bounds(step)
        return bounds is not None and digits.isdigit() and bounds[0] <= len(digits) <= bounds[1]

    def expected_count(self, step: AnyStep) -> str:
        bounds = self.digit_bounds(step)
        assert bounds is not None
        return str(bounds[0]) if bounds[0] == bounds[1] else f"{bounds[0]} to {bounds[1]}"

    def digits_value(self, step: AnyStep, digits: str) -> Any:
        """DTMF as a value of the step's slot type, or None when it is not one."""
        digits = digits.rstrip("#")
        if not digits or not digits.isdigit():
            return None
        kind = self.kind_of(step) or "digits"
        if isinstance(step, SurveyStep):
            return int(digits)
        if isinstance(step, CollectDigitsStep):
            if not step.min_digits <= len(digits) <= step.max_digits:
                return None
            return digits if self.valid(step, digits) else None
        if isinstance(step, AskStep) and not isinstance(step.dtmf, bool) and step.dtmf.options:
            return step.dtmf.options.get(digits)
        if kind == "yes_no":
            return {"1": True, "2": False}.get(digits)
        if kind == "number":
            return int(digits)
        if kind in ("digits", "phone"):
            return digits if self.valid(step, digits) else None
        if isinstance(step, AskStep) and step.dtmf:
            return digits
        return None

    def limit(self, step: AnyStep, attr: str) -> int:
        """The step's ``max_no_input`` / ``max_no_match``, else the bundle's setting."""
        own = getattr(step.menu, attr) if isinstance(step, MenuStep) else getattr(step, attr, None)
        return own if own is not None else getattr(self.bundle.settings, attr)

    def values_ahead(
        self, state: DialogState, flow_name: str, start: int, u: Understanding, seen: set[str] | None = None
    ) -> list[ValueAhead]:
        """(step, slot, value) for each ask from step ``start`` of a flow on (into the sub-flows its ``flow:``
        steps run) whose slot is empty and whose value ``u`` holds; yes/no and ``reset`` asks excepted."""
        seen = seen if seen is not None else set()
        seen.add(flow_name)
        found: list[ValueAhead] = []
        for step in self.bundle.flows[flow_name].steps[start:]:
            sub = getattr(step, "flow", None)
            if step_kind(step) == "flow" and sub not in seen:
                found += self.values_ahead(state, sub, 0, u, seen)
            elif isinstance(step, (AskStep, CollectDigitsStep)) and not (
                isinstance(step, AskStep) and step.reset
            ):
                slot = slot_of(step)
                if self.kind_of(step) == "yes_no":
                    continue
                entity = self.entity_for(u, self.bundle.slot_type_of(step))
                if (
                    entity is not None
                    and slot not in state.slots
                    and slot not in {s for _, s, _ in found}
                    and self.valid(step, entity.value)
                ):
                    found.append((step, slot, entity.value))
        return found
