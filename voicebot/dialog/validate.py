"""The meaning checks of a bundle: everything the schema's shape check cannot see.

Unknown jump targets, flows and intents; slot types that do not exist; slots read in prompts but
never collected; unreachable steps and flows; intents with too few examples; regexes that do not
compile; expressions and templates that do not parse; texts missing a language; prompts that say a
sensitive word (the flow's ``sensitive_words`` and the service's ``pii.sensitive_words``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from voicebot.dialog.bundle import Bundle, FlowProblem
from voicebot.dialog.conditions import ExpressionError, parse_expression, template_refs
from voicebot.dialog.schema import RESERVED_INTENTS, AnyStep, step_kind
from voicebot.nlu.pii import SensitiveWords

_TEXT_FIELDS = ("say", "prompt", "reprompt", "no_input_prompt")
_TERMINAL = ("goto", "handoff", "end")


class _Checker:
    def __init__(self, bundle: Bundle, words: Iterable[str] = ()) -> None:
        self.bundle = bundle
        self.spec = bundle.spec
        self.problems: list[FlowProblem] = []
        self.words = SensitiveWords([*words, *bundle.spec.sensitive_words])

    def add(self, path: tuple[Any, ...], message: str, severity: str = "error", key: bool = False) -> None:
        line, col = self.bundle.source_map.locate(path, key=key)
        self.problems.append(FlowProblem(str(self.bundle.file), line, col, message, severity))  # type: ignore[arg-type]

    # --------------------------------------------------------------------------------------------
    def run(self) -> list[FlowProblem]:
        self.check_intents()
        self.check_slot_types()
        self.check_handlers()
        if self.spec.start not in self.spec.flows:
            self.add(("start",), f"start flow {self.spec.start!r} does not exist")
        collected = self.collected_slots()
        for flow_name, flow in self.spec.flows.items():
            for intent in flow.trigger_intents():
                if intent not in self.bundle.intents:
                    self.add(("flows", flow_name, "intent"), f"flow {flow_name!r}: unknown intent {intent!r}")
            seen_ids: dict[str, int] = {}
            for i, step in enumerate(flow.steps):
                path = ("flows", flow_name, "steps", i)
                if step.id:
                    if step.id in seen_ids:
                        self.add(path + ("id",), f"duplicate step id {step.id!r} in flow {flow_name!r}")
                    seen_ids[step.id] = i
                self.check_step(flow_name, step, path, collected)
        self.check_reachability()
        for path, text in self.texts():
            self.check_text(path, text, collected)
        return self.problems

    def check_intents(self) -> None:
        minimum = self.spec.settings.min_examples
        owner: dict[str, str] = {}
        for name, intent in self.spec.intents.items():
            path = ("intents", name)
            if name in RESERVED_INTENTS:
                self.add(
                    path,
                    f"intent name {name!r} is reserved for the global {name} handler "
                    f"(add examples under handlers.{name}.examples)",
                    key=True,
                )
            if len(intent.examples) < minimum:
                self.add(
                    path,
                    f"intent {name!r} has {len(intent.examples)} example(s); at least {minimum} needed",
                    key=True,
                )
            for j, example in enumerate(intent.examples):
                norm = " ".join(example.lower().split())
                if norm in owner and owner[norm] != name:
                    self.add(
                        ("intents", name, "examples", j),
                        f"example {example!r} is also an example of intent {owner[norm]!r}",
                        "warning",
                    )
                owner.setdefault(norm, name)
        for name in self.spec.intents:
            if name not in RESERVED_INTENTS and name not in self.bundle.intent_flow:
                self.add(
                    ("intents", name),
                    f"intent {name!r} starts no flow (add 'intent: {name}' to a flow)",
                    "warning",
                    key=True,
                )

    def check_slot_types(self) -> None:
        for name, st in self.spec.slot_types.items():
            path = ("slot_types", name)
            if st.kind == "regex":
                if not st.pattern:
                    self.add(path, f"slot type {name!r} (regex) needs a pattern")
                else:
                    try:
                        re.compile(st.pattern)
                    except re.error as exc:
                        self.add(path + ("pattern",), f"bad regex in slot type {name!r}: {exc}")
            elif st.pattern:
                self.add(
                    path + ("pattern",), f"slot type {name!r}: pattern is only used by kind regex", "warning"
                )
            if st.kind == "list" and not st.values:
                self.add(path, f"slot type {name!r} (list) needs values")
            if st.min_length and st.max_length and st.min_length > st.max_length:
                self.add(path, f"slot type {name!r}: min_length is above max_length")

    def check_handlers(self) -> None:
        for name in ("out_of_scope", "no_input", "no_match", "frustration", "agent", "flow_error"):
            handler = getattr(self.spec.handlers, name)
            if handler is not None and name == "flow_error" and not handler.enabled:
                self.add(("handlers", name, "enabled"), "the flow_error handler cannot be switched off")
            if (
                handler is not None
                and handler.handoff is not None
                and isinstance(handler.handoff.priority, str)
            ):
                self.check_expression(("handlers", name, "handoff", "priority"), handler.handoff.priority)

    # --------------------------------------------------------------------------------------------
    def collected_slots(self) -> set[str]:
        slots: set[str] = set()
        for flow in self.spec.flows.values():
            for step in flow.steps:
                for attr in ("ask", "collect_digits", "survey"):
                    if isinstance(getattr(step, attr, None), str):
                        slots.add(getattr(step, attr))
                if step_kind(step) == "set":
                    slots.update(k.split(".", 1)[1] for k in step.set if k.startswith("slots."))  # type: ignore[union-attr]
        return slots

    def check_step(self, flow_name: str, step: AnyStep, path: tuple[Any, ...], collected: set[str]) -> None:
        kind = step_kind(step)
        targets: list[tuple[tuple[Any, ...], str]] = []
        if getattr(step, "goto", None):
            targets.append((path + ("goto",), step.goto))  # type: ignore[union-attr]
        for attr in ("on_no_input", "on_no_match", "on_fail", "on_error"):
            if getattr(step, attr, None):
                targets.append((path + (attr,), getattr(step, attr)))
        if kind in ("ask", "collect_digits", "survey"):
            type_name = self.bundle.slot_type_of(step)
            if type_name not in self.bundle.slot_type_defs:
                self.add(
                    path + ("type",) if getattr(step, "type", None) else path,
                    f"missing slot type {type_name!r} (declare it under slot_types)",
                )
        if kind == "ask" and step.dtmf and self.bundle.slot_type_defs.get(self.bundle.slot_type_of(step)):  # type: ignore[union-attr]
            st = self.bundle.slot_type_defs[self.bundle.slot_type_of(step)]
            options = step.dtmf.options if not isinstance(step.dtmf, bool) else {}  # type: ignore[union-attr]
            for key, value in options.items():
                if not re.fullmatch(r"[0-9]", key):
                    self.add(path + ("dtmf", "options", key), f"DTMF option key {key!r} is not one of 0-9")
                if st.kind == "list" and value not in st.values:
                    self.add(
                        path + ("dtmf", "options", key),
                        f"{value!r} is not a value of list type "
                        f"{self.bundle.slot_type_of(step)!r} ({', '.join(st.values)})",
                    )
            if st.kind in ("date", "time", "email", "text", "regex", "list") and not options:
                hint = ' (map keys to values: dtmf: {"1": value, ...})' if st.kind == "list" else ""
                self.add(path + ("dtmf",), f"DTMF cannot enter a {st.kind} value{hint}", "warning")
        if kind == "menu":
            for j, intent in enumerate(step.menu.intents or []):  # type: ignore[union-attr]
                self.check_menu_intent(path + ("menu", "intents", j), intent)
            for key, intent in step.menu.dtmf.items():  # type: ignore[union-attr]
                if not re.fullmatch(r"[0-9*#]", key):
                    self.add(path + ("menu", "dtmf"), f"DTMF key {key!r} is not one of 0-9 * #")
                self.check_menu_intent(path + ("menu", "dtmf", key), intent)
        if kind == "branch":
            for j, case in enumerate(step.branch):  # type: ignore[union-attr]
                if case.if_ is not None:
                    self.check_expression(path + ("branch", j, "if"), case.if_)
                    targets.append((path + ("branch", j, "goto"), case.goto))  # type: ignore[arg-type]
                else:
                    targets.append((path + ("branch", j, "else"), case.else_))  # type: ignore[arg-type]
        if kind == "set":
            for key, value in step.set.items():  # type: ignore[union-attr]
                namespace, _, name = key.partition(".")
                if namespace not in ("vars", "slots") or not name:
                    self.add(path + ("set", key), f"set {key!r}: write vars.<name> or slots.<name>", key=True)
                if isinstance(value, str):
                    self.check_expression(path + ("set", key), value)
        if kind == "call":
            call = step.call  # type: ignore[union-attr]
            if call.webhook:
                self.check_template(path + ("call", "webhook"), call.webhook, collected)
                if not call.webhook.startswith(("http://", "https://")) and not self.spec.backend:
                    self.add(
                        path + ("call", "webhook"),
                        "a webhook path needs the bundle's backend URL " "(or write a full http(s) URL)",
                        "warning",
                    )
            for key, value in call.params.items():
                if isinstance(value, str):
                    self.check_template(path + ("call", "params", key), value, collected)
            for key, value in call.headers.items():
                self.check_template(path + ("call", "headers", key), value, collected)
        if kind == "flow" and step.flow not in self.spec.flows:  # type: ignore[union-attr]
            self.add(path + ("flow",), f"unknown flow {step.flow!r}")  # type: ignore[union-attr]
        if kind == "handoff":
            handoff = step.handoff  # type: ignore[union-attr]
            if isinstance(handoff.priority, str):
                self.check_expression(path + ("handoff", "priority"), handoff.priority)
            for attr in ("queue", "skill"):
                if getattr(handoff, attr):
                    self.check_template(path + ("handoff", attr), getattr(handoff, attr), collected)
        for tpath, target in targets:
            try:
                self.bundle.resolve_target(target, flow_name)
            except KeyError:
                self.add(
                    tpath,
                    f"unknown goto target {target!r} (a step id of flow {flow_name!r}, "
                    "flow.step_id, or a flow name)",
                )

    def check_menu_intent(self, path: tuple[Any, ...], intent: str) -> None:
        if intent in RESERVED_INTENTS:
            return
        if intent not in self.bundle.intents:
            self.add(path, f"unknown intent {intent!r}")
        elif intent not in self.bundle.intent_flow:
            self.add(path, f"intent {intent!r} starts no flow")

    def check_expression(self, path: tuple[Any, ...], source: str) -> None:
        try:
            parse_expression(source)
        except ExpressionError as exc:
            self.add(path, str(exc))

    def check_template(
        self, path: tuple[Any, ...], text: str, collected: set[str], extra: tuple[str, ...] = ()
    ) -> None:
        try:
            refs = template_refs(text, extra)
        except ExpressionError as exc:
            self.add(path, str(exc))
            return
        from voicebot.speech.say_as import READERS, check_tags

        for ref in refs:
            if ref.tag and ref.path and ref.tag not in READERS:
                self.add(
                    path,
                    f"unknown say-as tag {ref.tag!r} in {{{ref.raw}}} (known: {', '.join(sorted(READERS))})",
                )
            if ref.path is None:
                for problem in check_tags("{" + ref.raw + "}"):
                    self.add(path, problem)
            if ref.path and ref.path[0] == "slots" and ref.path[1] not in collected:
                self.add(path, f"missing slot {ref.path[1]!r}: {{{ref.raw}}} reads a slot no step collects")

    def check_text(self, path: tuple[Any, ...], text: Any, collected: set[str]) -> None:
        extra = {
            "confirm_intent_prompt": ("label",),
            "digits_read_back": ("heard", "count", "expected"),
            "digits_heard_again": ("heard",),
            "digits_count_back": ("count", "expected"),
        }.get(path[-1], ())
        values = {None: text} if isinstance(text, str) else text
        for lang, value in values.items():
            self.check_template(path + ((lang,) if lang else ()), value, collected, extra)
            for word in self.words.found(value) if isinstance(value, str) else ():
                self.add(path + ((lang,) if lang else ()),
                         f"says the sensitive word {word!r}, which the bot never says")
        if isinstance(text, dict):
            for lang in self.bundle.languages:
                if lang not in text:
                    self.add(
                        path,
                        f"no {lang!r} text (the {self.bundle.default_language!r} one is used)",
                        "warning",
                    )
            for lang in text:
                if lang not in self.bundle.languages:
                    self.add(path + (lang,), f"language {lang!r} is not in the bundle's languages", key=True)

    def texts(self) -> Iterator[tuple[tuple[Any, ...], Any]]:
        settings = self.spec.settings
        for attr in (
            "confirm_intent_prompt",
            "resume_prompt",
            "yes_no_reprompt",
            "digits_read_back",
            "digits_repair_prompt",
            "digits_rejected_prompt",
            "digits_heard_again",
            "digits_count_back",
            "dtmf_offer",
        ):
            yield ("settings", attr), getattr(settings, attr)
        for name in type(self.spec.handlers).model_fields:
            handler = getattr(self.spec.handlers, name)
            if handler is not None and handler.say is not None:
                yield ("handlers", name, "say"), handler.say
        for flow_name, flow in self.spec.flows.items():
            for i, step in enumerate(flow.steps):
                path = ("flows", flow_name, "steps", i)
                for attr in _TEXT_FIELDS:
                    if getattr(step, attr, None) is not None:
                        yield path + (attr,), getattr(step, attr)
                if isinstance(getattr(step, "confirm", None), (str, dict)):
                    yield path + ("confirm",), step.confirm  # type: ignore[union-attr]
                menu = getattr(step, "menu", None)
                if menu is not None:
                    for attr in ("prompt", "reprompt", "no_input_prompt"):
                        if getattr(menu, attr) is not None:
                            yield path + ("menu", attr), getattr(menu, attr)
                end = getattr(step, "end", None)
                if end is not None and end.say is not None:
                    yield path + ("end", "say"), end.say

    # --------------------------------------------------------------------------------------------
    def check_reachability(self) -> None:
        """Steps after an unconditional jump that nothing jumps to; flows nothing starts."""
        used_flows = {self.spec.start} | set(self.bundle.intent_flow.values())
        targeted: set[tuple[str, int]] = set()
        for flow_name, flow in self.spec.flows.items():
            for step in flow.steps:
                for target in self.step_targets(step):
                    try:
                        targeted.add(self.bundle.resolve_target(target, flow_name))
                    except KeyError:
                        continue
                if step_kind(step) == "flow":
                    used_flows.add(step.flow)  # type: ignore[union-attr]
        used_flows |= {f for f, i in targeted}
        for flow_name, flow in self.spec.flows.items():
            if flow_name not in used_flows:
                self.add(
                    ("flows", flow_name),
                    f"unreachable flow {flow_name!r}: not the start flow, no intent "
                    "starts it and no step goes to it",
                    key=True,
                )
            for i in range(1, len(flow.steps)):
                prev = flow.steps[i - 1]
                ends = (
                    step_kind(prev) in _TERMINAL
                    or getattr(prev, "goto", None) is not None
                    or (step_kind(prev) == "branch" and any(c.else_ is not None for c in prev.branch))
                )  # type: ignore[union-attr]
                if ends and (flow_name, i) not in targeted:
                    step = flow.steps[i]
                    label = f"step {step.id!r}" if step.id else f"step {i + 1} ({step_kind(step)})"
                    self.add(
                        ("flows", flow_name, "steps", i),
                        f"unreachable {label} in flow {flow_name!r}: the step before never continues here "
                        "and nothing jumps to it",
                    )

    @staticmethod
    def step_targets(step: AnyStep) -> list[str]:
        out = [
            getattr(step, a)
            for a in ("goto", "on_no_input", "on_no_match", "on_fail", "on_error")
            if isinstance(getattr(step, a, None), str)
        ]
        if step_kind(step) == "branch":
            out += [c.goto or c.else_ for c in step.branch]  # type: ignore[union-attr]
        return [t for t in out if t]


def check_bundle(bundle: Bundle, words: Iterable[str] = ()) -> list[FlowProblem]:
    """Every meaning problem of a parsed bundle (errors and warnings); ``words``: the service's sensitive words."""
    return _Checker(bundle, words).run()
