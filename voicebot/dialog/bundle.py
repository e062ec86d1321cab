"""A compiled flow bundle and what its checks report: :class:`Bundle`, :class:`FlowProblem`,
:class:`SourceMap`.

Below both ``loader.py`` (which parses YAML into a Bundle) and ``validate.py`` (which checks one), so
neither imports the other's caller.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from voicebot.dialog.conditions import has_variables, render
from voicebot.dialog.schema import (
    RESERVED_INTENTS,
    SLOT_KINDS,
    AnyStep,
    BundleSpec,
    FlowDef,
    HandlerDef,
    SlotTypeDef,
    Text,
    step_kind,
)

if TYPE_CHECKING:
    from voicebot.nlu.entities import SlotTypeSpec

Path_ = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class FlowProblem:
    """One problem in a flow file, at a 1-based line and column."""

    file: str
    line: int
    column: int
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message}"


@dataclass(frozen=True, slots=True)
class SourceMap:
    """Where each value (and each mapping key) of a YAML document is: path -> (line, column), 1-based."""

    values: dict[Path_, tuple[int, int]]
    keys: dict[Path_, tuple[int, int]]

    def locate(self, path: Iterable[Any], key: bool = False) -> tuple[int, int]:
        """The position of ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        if key and path in self.keys:
            return self.keys[path]
        while path:
            if path in self.values:
                return self.values[path]
            path = path[:-1]
        return self.values.get((), (1, 1))



BUILTIN_EXAMPLES: dict[str, tuple[str, ...]] = {
    "help": (
        "help",
        "what can I say",
        "what are my options",
        "I need help",
        "what can you do",
        "I don't know what to say",
        "what can you help me with",
        "how does this work",
    ),
    "repeat": (
        "repeat that",
        "say that again",
        "can you repeat that please",
        "sorry what was that",
        "pardon",
        "I didn't catch that",
        "come again",
        "could you say it again",
    ),
    "agent": (
        "agent",
        "agent please",
        "talk to a person",
        "can I speak to a human",
        "representative",
        "operator",
        "I want to talk to someone",
        "put me through to a real person",
        "customer service please",
        "let me speak to an advisor",
        "get me a human",
        "I want a real person",
        "just put me through to someone",
        "transfer me to an agent",
        "can I talk to a live agent",
        "I need to speak to a manager",
        "human please",
        "I don't want to talk to a machine",
        "this isn't working, let me talk to someone",
        "connect me to customer service",
    ),
    "goodbye": (
        "goodbye",
        "bye",
        "that's all thanks bye",
        "I'm done",
        "nothing else goodbye",
        "see you",
        "that's everything thank you bye",
        "hang up",
    ),
}

BUILTIN_HANDLERS: dict[str, HandlerDef] = {
    "help": HandlerDef(say="You can tell me what you need in a few words, or say agent to talk to a person."),
    "repeat": HandlerDef(),
    "agent": HandlerDef(
        say="Sure, let me put you through to someone.",
        handoff={"queue": "general", "reason": "caller_request"},
    ),
    "goodbye": HandlerDef(say="Thanks for calling. Goodbye!"),
    "hold": HandlerDef(say="Sure, take your time."),
    "out_of_scope": HandlerDef(
        say="Sorry, I can't help with that here.",
        max=2,
        handoff={"queue": "general", "reason": "out_of_scope"},
    ),
    "no_input": HandlerDef(
        say="I'm having trouble hearing you. Let me get someone to help.",
        handoff={"queue": "general", "reason": "no_input"},
    ),
    "no_match": HandlerDef(
        say="Sorry, I'm having trouble understanding. Let me get someone to help.",
        handoff={"queue": "general", "reason": "no_match"},
    ),
    "frustration": HandlerDef(
        say="I'm sorry about this. Let me get a person to help you.",
        threshold=0.7,
        count=2,
        handoff={"queue": "general", "priority": 5, "reason": "frustration"},
    ),
    "correction": HandlerDef(say="Sorry about that, I've changed it."),
    "flow_error": HandlerDef(
        say="Sorry, something went wrong on our side. Let me transfer you to a colleague.",
        handoff={"queue": "general", "reason": "flow_error"},
    ),
}

# What a survey and a menu with keys expect: a lone small number, so that the NLU reads "Free." as 3 and
# "Bye." as 5 on the survey's scale (a bundle may declare its own ``rating`` type, e.g. 1-10).
SURVEY_TYPE = "rating"
MENU_CHOICE_TYPE = "menu_choice"
# "Anything else?" answered the way callers do: "one more thing", "nothing else", "I'm good", "that's it" (a
# no here, where "that's it" at a confirmation is a yes); any other yes or no, and a farewell, through the
# list's yes/no fallback (``nlu/entities.py``).
ANYTHING_ELSE_TYPE = "anything_else"
BUILTIN_SLOT_TYPES: dict[str, SlotTypeDef] = {
    **{kind: SlotTypeDef(kind=kind) for kind in SLOT_KINDS if kind not in ("regex", "list")},
    SURVEY_TYPE: SlotTypeDef(kind="number", min_length=1, max_length=5),
    MENU_CHOICE_TYPE: SlotTypeDef(kind="number", max_length=9),
    ANYTHING_ELSE_TYPE: SlotTypeDef(kind="list", values={
        "yes": ["yes", "yeah", "yep", "yup", "sure", "please", "one more thing", "something else",
                "another question", "actually yes"],
        "no": ["no", "nope", "nah", "nothing", "nothing else", "that's all", "that's it", "that is all",
               "I'm good", "I'm fine", "all good", "no thanks", "that's everything", "I'm done", "all set"],
    }),
}


class Bundle:
    """One compiled dialog application (one YAML file): what the NLU trains on and the engine runs."""

    def __init__(self, spec: BundleSpec, file: Path, source: bytes, source_map: SourceMap) -> None:
        self.spec = spec
        self.file = file
        self.source_map = source_map
        self.name: str = spec.name or file.name.removesuffix(".yaml")
        self.languages: tuple[str, ...] = tuple(spec.languages)
        self.default_language: str = self.languages[0]
        self.backend: str | None = spec.backend
        self.settings = spec.settings
        self.flows: dict[str, FlowDef] = spec.flows
        self.version: str = hashlib.sha256(source).hexdigest()[:16]
        self.handlers: dict[str, HandlerDef] = {}
        for name, default in BUILTIN_HANDLERS.items():
            own = getattr(spec.handlers, name)
            if own is None:
                self.handlers[name] = default
            else:
                merged = default.model_dump(exclude_unset=False)
                merged.update(own.model_dump(exclude_unset=True))
                self.handlers[name] = HandlerDef.model_validate(merged)
        self.intents: dict[str, list[str]] = {k: list(v.examples) for k, v in spec.intents.items()}
        for name in RESERVED_INTENTS:
            handler = self.handlers[name]
            if handler.enabled:
                self.intents[name] = list(BUILTIN_EXAMPLES[name]) + list(handler.examples)
        self.oos_examples: list[str] = list(spec.out_of_scope)
        self.slot_type_defs: dict[str, SlotTypeDef] = {**BUILTIN_SLOT_TYPES, **spec.slot_types}
        self.intent_flow: dict[str, str] = {}
        for flow_name, flow in spec.flows.items():
            for intent in flow.trigger_intents():
                self.intent_flow.setdefault(intent, flow_name)
        # sensitive slot -> characters left in clear at its end (0: all masked)
        self.sensitive: dict[str, int] = {}
        for flow in spec.flows.values():
            for step in flow.steps:
                marked = getattr(step, "sensitive", False)
                slot = getattr(step, "ask", None) or getattr(step, "collect_digits", None)
                if marked and slot:
                    keep = 0 if marked is True else marked.keep_last
                    self.sensitive[slot] = min(keep, self.sensitive.get(slot, keep))
        self._step_ids: dict[str, dict[str, int]] = {
            flow_name: {s.id: i for i, s in enumerate(flow.steps) if s.id}
            for flow_name, flow in spec.flows.items()
        }

    @cached_property
    def slot_types(self) -> dict[str, SlotTypeSpec]:
        """The slot types as the NLU's SlotTypeSpec (built-in kinds included)."""
        from voicebot.nlu.entities import SlotTypeSpec

        return {
            name: SlotTypeSpec(
                name=name,
                kind=d.kind,
                min_length=d.min_length,
                max_length=d.max_length,
                pattern=d.pattern,
                values={k: tuple(v) for k, v in d.values.items()},
                by_meaning=d.by_meaning,
                examples={k: tuple(v) for k, v in d.examples.items()},
                expected_only=name in (SURVEY_TYPE, MENU_CHOICE_TYPE) and d is BUILTIN_SLOT_TYPES[name],
            )
            for name, d in self.slot_type_defs.items()
        }

    def intent_label(self, intent: str) -> str:
        spec = self.spec.intents.get(intent)
        return spec.label if spec and spec.label else intent.replace("_", " ")

    def step_index(self, flow: str, step_id: str) -> int | None:
        return self._step_ids.get(flow, {}).get(step_id)

    def resolve_target(self, target: str, current_flow: str) -> tuple[str, int]:
        """A goto target -> (flow, step index). Raises KeyError when unknown."""
        if "." in target:
            flow, _, step_id = target.partition(".")
            index = self.step_index(flow, step_id)
            if index is None:
                raise KeyError(target)
            return flow, index
        index = self.step_index(current_flow, target)
        if index is not None:
            return current_flow, index
        if target in self.flows:
            return target, 0
        raise KeyError(target)

    def slot_type_of(self, step: AnyStep) -> str:
        """The slot type name an ask / collect_digits / survey step expects."""
        declared = getattr(step, "type", None)
        if declared:
            return declared
        slot = getattr(step, "ask", None) or getattr(step, "collect_digits", None)
        if slot and slot in self.slot_type_defs:
            return slot
        if step_kind(step) == "collect_digits":
            return "digits"
        if step_kind(step) == "survey":
            return SURVEY_TYPE
        return "text"

    def text(self, value: Text | None, language: str) -> str | None:
        """Pick the text for a language (falling back to the default language)."""
        if value is None or isinstance(value, str):
            return value
        return value.get(language) or value.get(self.default_language) or next(iter(value.values()), None)

    def static_prompts(self) -> list[str]:
        """Every prompt text without variables (all languages), for TTS pre-rendering."""
        texts: list[Text] = []
        for flow in self.flows.values():
            for step in flow.steps:
                for attr in ("say", "prompt", "reprompt", "no_input_prompt"):
                    texts.append(getattr(step, attr, None))
                menu = getattr(step, "menu", None)
                if menu is not None:
                    texts += [menu.prompt, menu.reprompt, menu.no_input_prompt]
                end = getattr(step, "end", None)
                if end is not None:
                    texts.append(end.say)
                if isinstance(getattr(step, "confirm", None), (str, dict)):
                    texts.append(step.confirm)  # type: ignore[union-attr]
        texts += [h.say for h in self.handlers.values()]
        texts += [self.settings.resume_prompt, self.settings.yes_no_reprompt]
        out: list[str] = []
        for text in texts:
            for value in [text] if isinstance(text, str) else (text or {}).values():
                if value and not has_variables(value):
                    out.append(render(value, {}))
        for intent in self.intent_flow:
            for lang in self.languages:
                prompt = self.text(self.settings.confirm_intent_prompt, lang) or ""
                out.append(render(prompt, {"label": self.intent_label(intent)}))
        return list(dict.fromkeys(out))
