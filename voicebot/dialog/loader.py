"""Loading flow bundles from ``dialogs/``: YAML with line numbers, validation, atomic hot reload.

Every ``*.yaml`` file directly in the directory is one bundle (``*.test.yaml`` files and
sub-directories are not). A bundle is parsed (PyYAML's composer keeps the line and column of every
node), checked against the pydantic models in ``schema.py`` and by ``validate.py``, and compiled
into a :class:`Bundle` the engine runs. :class:`FlowRegistry` holds the bundles of a directory and
swaps in a new set only when every file is valid.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import ValidationError

from voicebot.dialog.conditions import has_variables, render
from voicebot.dialog.schema import (
    RESERVED_INTENTS,
    SLOT_KINDS,
    STEP_KINDS,
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

log = logging.getLogger(__name__)

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


class FlowLoadError(Exception):
    """Loading failed; ``problems`` lists every problem found (errors and warnings)."""

    def __init__(self, problems: list[FlowProblem]) -> None:
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        super().__init__(f"{len(errors)} error(s) in flows:\n" + "\n".join(str(p) for p in errors))


# ------------------------------------------------------------------------------------------------
# YAML with positions
# ------------------------------------------------------------------------------------------------


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


def parse_yaml(text: str, file: str) -> tuple[Any, SourceMap, list[FlowProblem]]:
    """Parse one YAML document keeping positions. Duplicate keys are reported (PyYAML keeps the last)."""
    problems: list[FlowProblem] = []
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = getattr(exc, "problem", None) or str(exc)
        return None, SourceMap({}, {}), [FlowProblem(file, line, col, f"YAML syntax: {problem}")]
    values: dict[Path_, tuple[int, int]] = {}
    keys: dict[Path_, tuple[int, int]] = {}
    if node is not None:
        _walk(node, data, (), values, keys, problems, file)
    return data, SourceMap(values, keys), problems


def _walk(
    node: yaml.Node, data: Any, path: Path_, values: dict, keys: dict, problems: list, file: str
) -> None:
    values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode) and isinstance(data, dict):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            raw = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if raw is None:
                continue
            key = raw if raw in data else next((k for k in data if str(k) == raw), raw)
            pos = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if raw in seen:
                problems.append(FlowProblem(file, *pos, f"duplicate key {raw!r} (only the last one counts)"))
            seen.add(raw)
            keys[path + (key,)] = pos
            if key in data:
                _walk(value_node, data[key], path + (key,), values, keys, problems, file)
    elif isinstance(node, yaml.SequenceNode) and isinstance(data, list):
        for i, (item_node, item) in enumerate(zip(node.value, data, strict=False)):
            _walk(item_node, item, path + (i,), values, keys, problems, file)


# ------------------------------------------------------------------------------------------------
# Compiled bundles
# ------------------------------------------------------------------------------------------------

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
BUILTIN_SLOT_TYPES: dict[str, SlotTypeDef] = {
    **{kind: SlotTypeDef(kind=kind) for kind in SLOT_KINDS if kind not in ("regex", "list")},
    SURVEY_TYPE: SlotTypeDef(kind="number", min_length=1, max_length=5),
    MENU_CHOICE_TYPE: SlotTypeDef(kind="number", max_length=9),
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


def load_bundle(file: Path) -> tuple[Bundle | None, list[FlowProblem]]:
    """Parse, check and compile one flow file. The bundle is None when there is any error."""
    from voicebot.dialog.validate import check_bundle

    name = str(file)
    source = file.read_bytes()
    try:
        text = source.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [FlowProblem(name, 1, 1, f"not UTF-8: {exc}")]
    data, smap, problems = parse_yaml(text, name)
    if data is None and not problems:
        problems.append(FlowProblem(name, 1, 1, "empty flow file"))
    if problems:
        return None, problems
    if not isinstance(data, dict):
        return None, [FlowProblem(name, 1, 1, "a flow file is a mapping (name, intents, flows, ...)")]
    problems += _unknown_steps(data, smap, name)
    try:
        spec = BundleSpec.model_validate(data)
    except ValidationError as exc:
        problems += _pydantic_problems(exc, data, smap, name)
        # check the rest too: with each broken step replaced by a placeholder, the meaning checks still run
        repaired = _without_broken_steps(data, exc)
        try:
            spec = BundleSpec.model_validate(repaired)
        except ValidationError:
            return None, _sorted(problems)
        problems += check_bundle(Bundle(spec, file, source, smap))
        return None, _sorted(problems)
    bundle = Bundle(spec, file, source, smap)
    problems += check_bundle(bundle)
    if any(p.severity == "error" for p in problems):
        return None, _sorted(problems)
    return bundle, _sorted(problems)


def _without_broken_steps(data: dict, exc: ValidationError) -> dict:
    """A copy of the data where every step with a shape error is an empty ``say`` keeping its id."""
    import copy

    repaired = copy.deepcopy(data)
    for err in exc.errors():
        loc = err["loc"]
        if len(loc) >= 4 and loc[0] == "flows" and loc[2] == "steps" and isinstance(loc[3], int):
            try:
                steps = repaired["flows"][loc[1]]["steps"]
                old = steps[loc[3]]
            except (KeyError, IndexError, TypeError):
                continue
            step_id = old.get("id") if isinstance(old, dict) and isinstance(old.get("id"), str) else None
            steps[loc[3]] = {"say": "", **({"id": step_id} if step_id else {})}
    return repaired


def _sorted(problems: list[FlowProblem]) -> list[FlowProblem]:
    return sorted(dict.fromkeys(problems), key=lambda p: (p.file, p.line, p.column))


def _unknown_steps(data: dict, smap: SourceMap, file: str) -> list[FlowProblem]:
    problems = []
    flows = data.get("flows")
    for flow_name, flow in flows.items() if isinstance(flows, dict) else ():
        steps = flow.get("steps") if isinstance(flow, dict) else None
        for i, step in enumerate(steps if isinstance(steps, list) else ()):
            if isinstance(step, dict) and step_kind(step) is None:
                keys = ", ".join(str(k) for k in step) or "nothing"
                line, col = smap.locate(("flows", flow_name, "steps", i))
                problems.append(
                    FlowProblem(
                        file,
                        line,
                        col,
                        f"unknown step in flow {flow_name!r} (has {keys}); "
                        f"a step needs one of {', '.join(STEP_KINDS)}",
                    )
                )
    return problems


def _pydantic_problems(exc: ValidationError, data: Any, smap: SourceMap, file: str) -> list[FlowProblem]:
    problems = []
    for err in exc.errors():
        if err["type"] == "unknown_step":
            continue  # reported by _unknown_steps with the keys found
        path, rest = _data_path(err["loc"], data)
        where = ".".join(str(p) for p in path)
        if err["type"] == "missing":
            message = f"{where}: missing key {rest[-1]!r}" if rest else f"{where}: missing value"
            line, col = smap.locate(path)
        elif err["type"] == "extra_forbidden":
            message = f"unknown key {path[-1]!r} in {'.'.join(str(p) for p in path[:-1]) or 'the file'}"
            line, col = smap.locate(path, key=True)
        else:
            msg = err["msg"].removeprefix("Value error, ")
            message = f"{where}: {msg}"
            line, col = smap.locate(path)
        problems.append(FlowProblem(file, line, col, message))
    # a union (text = string or per-language mapping) reports once per member: keep one per place
    seen: set[tuple[int, int]] = set()
    unique = []
    for p in problems:
        if (p.line, p.column) not in seen:
            seen.add((p.line, p.column))
            unique.append(p)
    return unique


def _data_path(loc: tuple[Any, ...], data: Any) -> tuple[Path_, Path_]:
    """Map a pydantic error location onto the YAML data path, skipping union tags; returns (path, rest)."""
    path: list[Any] = []
    current = data
    loc = list(loc)
    i = 0
    while i < len(loc):
        part = loc[i]
        if isinstance(current, dict) and part in current:
            if part in STEP_KINDS and isinstance(current.get(part), str) and i + 1 < len(loc):
                i += 1  # "ask" as the union tag, followed by the field name
                continue
            path.append(part)
            current = current[part]
        elif isinstance(current, dict) and part == "if_" and "if" in current:
            path.append("if")
            current = current["if"]
        elif isinstance(current, list) and isinstance(part, int) and part < len(current):
            path.append(part)
            current = current[part]
        elif isinstance(part, str) and (
            part in STEP_KINDS
            or not isinstance(current, dict)
            or "[" in part
            or part in ("str", "bool", "int")
        ):
            pass  # a union member's tag
        else:
            return tuple(path), tuple(loc[i:])
        i += 1
    return tuple(path), ()


def bundle_files(directory: Path) -> list[Path]:
    """The flow files of a directory (``*.yaml``, not ``*.test.yaml``), or the one file given."""
    if directory.is_file():
        return [directory]
    return sorted(p for p in directory.glob("*.yaml") if not p.name.endswith(".test.yaml"))


def load_directory(directory: Path) -> tuple[dict[str, Bundle], list[FlowProblem]]:
    """Every bundle of a directory, and every problem found (bundles with errors are left out)."""
    bundles: dict[str, Bundle] = {}
    problems: list[FlowProblem] = []
    files = bundle_files(directory)
    if not files:
        problems.append(FlowProblem(str(directory), 1, 1, "no flow files (*.yaml) found"))
    for file in files:
        bundle, found = load_bundle(file)
        problems += found
        if bundle is None:
            continue
        if bundle.name in bundles:
            problems.append(
                FlowProblem(
                    str(file),
                    1,
                    1,
                    f"bundle name {bundle.name!r} is also used by " f"{bundles[bundle.name].file}",
                )
            )
            continue
        bundles[bundle.name] = bundle
    return bundles, problems


class FlowRegistry:
    """The bundles of one directory. Reloads swap the whole set atomically, and only when all are valid."""

    def __init__(self, directory: Path, bundles: dict[str, Bundle]) -> None:
        self.directory = directory
        self._bundles = bundles
        self._signature = _signature(directory)

    @classmethod
    def load(cls, directory: Path) -> FlowRegistry:
        bundles, problems = load_directory(directory)
        if any(p.severity == "error" for p in problems):
            raise FlowLoadError(problems)
        for p in problems:
            log.warning("%s", p)
        return cls(directory, bundles)

    def names(self) -> list[str]:
        return sorted(self._bundles)

    def get(self, name: str) -> Bundle:
        return self._bundles[name]

    def reload(self) -> list[FlowProblem]:
        """Re-read the directory. With any error the running bundles stay; returns every problem."""
        signature = _signature(self.directory)
        bundles, problems = load_directory(self.directory)
        self._signature = signature
        if any(p.severity == "error" for p in problems):
            log.error("flow reload rejected, keeping the running flows:\n%s", "\n".join(map(str, problems)))
            return problems
        self._bundles = bundles  # one reference swap: a call in progress keeps the Bundle it holds
        log.info("flows reloaded: %s", ", ".join(f"{b.name}@{b.version}" for b in bundles.values()))
        return problems

    async def watch(
        self, interval_s: float = 1.0, on_change: Callable[[list[FlowProblem]], None] | None = None
    ) -> None:
        """Poll the files' modification times; reload when they change. Runs until cancelled."""
        while True:
            await asyncio.sleep(interval_s)
            signature = await asyncio.to_thread(_signature, self.directory)
            if signature == self._signature:
                continue
            problems = await asyncio.to_thread(self.reload)
            if on_change is not None:
                on_change(problems)


def _signature(directory: Path) -> tuple[tuple[str, int, int], ...]:
    out = []
    for file in bundle_files(directory):
        try:
            st = file.stat()
        except FileNotFoundError:
            continue
        out.append((file.name, st.st_mtime_ns, st.st_size))
    return tuple(out)
