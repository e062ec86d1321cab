"""The YAML flow format as pydantic models (the reference is docs/flows.md).

These models check the *shape* of a flow file; ``validate.py`` checks its meaning (targets exist, slots
are asked, regexes compile, ...). ``python -m voicebot.dialog.schema`` regenerates the published JSON
Schema ``voicebot/dialog/flow.schema.json`` used for editor completion.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

SCHEMA_PATH = Path(__file__).with_name("flow.schema.json")

# A text is one string, or one string per language code.
Text = Union[str, dict[str, str]]

SlotKind = Literal[
    "number", "digits", "date", "time", "money", "phone", "email", "yes_no", "regex", "list", "text"
]
SLOT_KINDS: tuple[str, ...] = SlotKind.__args__  # type: ignore[attr-defined]

# Intents the global handlers react to; a bundle may add examples but not define them as its own.
RESERVED_INTENTS = ("help", "repeat", "agent", "goodbye")

# The step keys, in the order used to decide a step's type when several are present
# (``{say: .., handoff: ..}`` is a handoff step that speaks first).
STEP_KINDS = (
    "ask",
    "menu",
    "collect_digits",
    "survey",
    "branch",
    "call",
    "set",
    "flow",
    "handoff",
    "end",
    "say",
    "goto",
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FlowSettings(_Model):
    """Thresholds and limits shared by every flow of a bundle."""

    confirm_below: float = Field(
        0.55, ge=0, le=1, description="Confirm an intent recognised below this confidence"
    )
    digress_above: float = Field(
        0.6, ge=0, le=1, description="Another flow's intent at least this sure starts a digression"
    )
    no_input_timeout_s: float = Field(6.0, gt=0)
    max_no_input: int = Field(
        2, ge=0, description="No-inputs in a row a step tolerates before the no_input handler"
    )
    max_no_match: int = Field(
        2, ge=0, description="Unusable answers in a row a step tolerates before the no_match handler"
    )
    min_examples: int = Field(5, ge=1, description="Fewer examples per intent is a validation error")
    confirm_intent_prompt: Text = "Did you want to {label}?"
    resume_prompt: Text = "Now, back to where we were."
    yes_no_reprompt: Text = "Please say yes or no. You can also press 1 for yes or 2 for no."
    correction_unclear: Text = Field(
        "Sorry, I didn't catch what to change.",
        description='Said before an earlier question is asked again: "No, I said …" with no value heard in it',
    )
    digits_read_back: Text = Field(
        "I heard {digits:heard}. That's {count}, and I need {expected}.",
        description='A digits answer of the wrong length, read back ({heard}; {count}: "7 digits"; '
        '{expected}: "10")',
    )
    digits_repair_prompt: Text = Field(
        "Say the rest, or just the part to fix, like: the last digit is eight. "
        "Or say the whole number again.",
        description="After the read-back: how to fix it",
    )
    digits_rejected_prompt: Text = Field(
        "Or if only part of it was wrong, just say that part, like: the third digit is five.",
        description="After the question again, when a digit string was said to be wrong at its confirmation",
    )
    digits_heard_again: Text = Field(
        "I heard {digits:heard} again. If only part of it is wrong, just say that part, like: "
        "the third digit is five.",
        description="The digits the caller said were wrong at their confirmation, heard again ({heard})",
    )
    digits_count_back: Text = Field(
        "That's {count}, and I need {expected}.",
        description="Instead of digits_read_back where a step has read_back: false (a PIN)",
    )
    dtmf_offer: Text = Field(
        "You can also type it on your keypad.",
        description="Added after a missed digits answer (unless the reprompt already mentions the keypad)",
    )


class IntentDef(_Model):
    label: str | None = Field(None, description='Read in confirmations: "Did you want to <label>?"')
    examples: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _list_shorthand(cls, value: Any) -> Any:
        return {"examples": value} if isinstance(value, list) else value


class SlotTypeDef(_Model):
    kind: SlotKind
    min_length: int | None = Field(None, ge=1)
    max_length: int | None = Field(None, ge=1)
    pattern: str | None = Field(None, description="Python regex (kind regex), applied to the normalised text")
    values: dict[str, list[str]] = Field(
        default_factory=dict, description="kind list: canonical value -> synonyms"
    )
    by_meaning: bool = Field(
        True, description="kind list: an answer that says no synonym, asked for this list, takes the value "
                          "nearest in meaning (\"it won't turn on\" -> damaged); false: synonyms only"
    )
    examples: dict[str, list[str]] = Field(
        default_factory=dict, description="kind list: canonical value -> answers in callers' own words (\"it "
        "arrived in pieces\"), read by meaning only (never as words said; no use with by_meaning: false)"
    )

    @model_validator(mode="after")
    def _examples_of_values(self) -> SlotTypeDef:
        unknown = sorted(set(self.examples) - set(self.values))
        if unknown:
            raise ValueError(f"examples for values the list does not have: {', '.join(unknown)}")
        return self


class SensitiveSpec(_Model):
    keep_last: int = Field(0, ge=0, le=4, description="Characters left in clear at the end (a card's last 4)")


_SENSITIVE_DOC = ("true (or {keep_last: N}): the slot's value is a secret (a PIN, a card or account number, a "
                  "date of birth): masked in every record, event, log and handoff; what the caller says or keys "
                  "at this question is not kept")


class HandoffSpec(_Model):
    queue: str = "general"
    skill: str | None = None
    priority: int | str = Field(0, description="An integer or an expression")
    reason: str = "handoff"


class HandlerDef(_Model):
    enabled: bool = True
    say: Text | None = None
    examples: list[str] = Field(default_factory=list, description="Extra utterances for the handler's intent")
    handoff: HandoffSpec | None = None
    max: int | None = Field(None, ge=1, description="out_of_scope: the max-th occurrence in a call hands off")
    threshold: float | None = Field(None, ge=0, le=1, description="frustration: emotion score that counts")
    count: int | None = Field(None, ge=1, description="frustration: turns before handing off")
    confirm: bool | Text | None = Field(
        None, description="agent: offer once before handing off (true: 'Do you want me to put you through to a "
        "colleague?', or the offer's text); yes hands off, no asks the question again")


class Handlers(_Model):
    help: HandlerDef | None = None
    repeat: HandlerDef | None = None
    agent: HandlerDef | None = None
    goodbye: HandlerDef | None = None
    hold: HandlerDef | None = None
    out_of_scope: HandlerDef | None = None
    no_input: HandlerDef | None = None
    no_match: HandlerDef | None = None
    frustration: HandlerDef | None = None
    correction: HandlerDef | None = None
    flow_error: HandlerDef | None = None


# ------------------------------------------------------------------------------------------------
# Steps
# ------------------------------------------------------------------------------------------------


class _Step(_Model):
    id: str | None = Field(None, description="Needed to jump to this step")


class _Jumping(_Step):
    goto: str | None = Field(None, description="After this step: a step id, flow.step_id, or a flow name")


class DtmfSpec(_Model):
    max_digits: int | None = Field(None, ge=1)
    min_digits: int = Field(1, ge=1)
    terminator: str = "#"
    inter_digit_s: float = Field(3.0, gt=0)
    options: dict[str, Any] = Field(
        default_factory=dict, description='Key -> slot value ("1": delivery); one key press then'
    )

    @field_validator("options", mode="before")
    @classmethod
    def _keys_as_text(cls, value: Any) -> Any:
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value

    @model_validator(mode="before")
    @classmethod
    def _key_map(cls, value: Any) -> Any:
        """``dtmf: {"1": debit, "2": credit}`` is short for ``dtmf: {options: {...}}``."""
        if isinstance(value, dict) and value and not any(str(k) in cls.model_fields for k in value):
            return {"options": value}
        return value


def _dtmf_key_map_schema(schema: dict[str, Any]) -> None:
    """The JSON Schema of an ask's ``dtmf`` also offers the key map shorthand."""
    schema.setdefault("anyOf", []).append(
        {
            "type": "object",
            "description": 'Key -> slot value ("1": debit), short for {options: {...}}',
            "propertyNames": {"pattern": "^[0-9]$"},
            "minProperties": 1,
        }
    )


class SayStep(_Jumping):
    say: Text
    interruptible: bool = True


class AskStep(_Jumping):
    ask: str = Field(description="The slot to fill: slots.<name>")
    type: str | None = Field(
        None, description="The slot type (default: a type named like the slot, else text)"
    )
    prompt: Text
    reprompt: Text | None = None
    no_input_prompt: Text | None = None
    dtmf: bool | DtmfSpec = Field(
        False,
        description='true, DTMF settings, or a key map {"1": value} that chooses a value',
        json_schema_extra=_dtmf_key_map_schema,
    )
    confirm: bool | Text = False
    max_no_input: int | None = Field(None, ge=0)
    max_no_match: int | None = Field(None, ge=0)
    on_no_input: str | None = None
    on_no_match: str | None = None
    reset: bool = False
    read_back: bool = Field(
        True, description="false: a digits answer of the wrong length is not read out (a PIN)"
    )
    sensitive: bool | SensitiveSpec = Field(False, description=_SENSITIVE_DOC)
    interruptible: bool = True


class MenuSpec(_Model):
    prompt: Text
    reprompt: Text | None = None
    no_input_prompt: Text | None = None
    intents: list[str] | None = Field(None, description="Default: every flow intent of the bundle")
    dtmf: dict[str, str] = Field(default_factory=dict, description="Key -> intent")
    max_no_input: int | None = Field(None, ge=0)
    max_no_match: int | None = Field(None, ge=0)

    @field_validator("dtmf", mode="before")
    @classmethod
    def _keys_as_text(cls, value: Any) -> Any:
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value


class MenuStep(_Jumping):
    menu: MenuSpec
    interruptible: bool = True


class CollectDigitsStep(_Jumping):
    collect_digits: str = Field(description="The slot to fill")
    type: str | None = None
    prompt: Text
    reprompt: Text | None = None
    no_input_prompt: Text | None = None
    min_digits: int = Field(1, ge=1)
    max_digits: int = Field(16, ge=1)
    terminator: str = "#"
    inter_digit_s: float = Field(3.0, gt=0)
    max_no_input: int | None = Field(None, ge=0)
    max_no_match: int | None = Field(None, ge=0)
    on_no_input: str | None = None
    on_no_match: str | None = None
    read_back: bool = Field(True, description="false: an answer of the wrong length is not read out (a PIN)")
    sensitive: bool | SensitiveSpec = Field(False, description=_SENSITIVE_DOC)
    interruptible: bool = True


class SurveyStep(_Jumping):
    survey: str = Field(description="Slot receiving the score 1-5")
    prompt: Text
    reprompt: Text | None = None
    interruptible: bool = True


def survey_questions(flows: Mapping[str, FlowDef]) -> frozenset[str]:
    """The slots the bundle's survey steps fill: the post-call survey's questions, whose scores the session
    publishes (``SurveyAnswered``) for the reports' CSAT."""
    return frozenset(step.survey for flow in flows.values() for step in flow.steps if isinstance(step, SurveyStep))


class BranchCase(_Model):
    if_: str | None = Field(None, alias="if", description="An expression")
    goto: str | None = None
    else_: str | None = Field(None, alias="else", description="Target when no case matched")

    @model_validator(mode="after")
    def _one_form(self) -> BranchCase:
        if self.else_ is not None and (self.if_ is not None or self.goto is not None):
            raise ValueError("a branch case is either {if, goto} or {else}")
        if self.else_ is None and (self.if_ is None or self.goto is None):
            raise ValueError("a branch case needs both 'if' and 'goto' (or only 'else')")
        return self


class BranchStep(_Step):
    branch: list[BranchCase] = Field(min_length=1)


class CallSpec(_Model):
    webhook: str | None = Field(None, description="Path joined to the bundle's backend URL, or a full URL")
    function: str | None = Field(None, description="A registered Python function")
    method: Literal["GET", "POST"] = "POST"
    timeout_s: float = Field(4.0, gt=0)
    params: dict[str, Any] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict, description="Extra HTTP headers (templates)")

    @model_validator(mode="after")
    def _one_target(self) -> CallSpec:
        if (self.webhook is None) == (self.function is None):
            raise ValueError("a call needs exactly one of 'webhook' or 'function'")
        return self


class CallStep(_Jumping):
    call: CallSpec
    save_as: str | None = None
    on_fail: str | None = Field(None, description="The backend answered 4xx (default: on_error)")
    on_error: str | None = Field(
        None, description="Timeout, connection error, 5xx (default: flow_error handler)"
    )


class SetStep(_Jumping):
    set: dict[str, Any] = Field(description="vars.x / slots.x -> expression (strings) or literal")


class FlowStep(_Jumping):
    flow: str = Field(description="Run this flow, then continue here")


class HandoffStep(_Step):
    handoff: HandoffSpec
    say: Text | None = None
    interruptible: bool = True


class EndSpec(_Model):
    say: Text | None = None
    reason: str = "completed"


class EndStep(_Step):
    end: Union[EndSpec, str, dict[str, str], bool] = Field(
        union_mode="left_to_right",
        description='{say, reason}, or just the goodbye text ("end: Bye!"), or true',
    )
    interruptible: bool = True

    @field_validator("end", mode="after")
    @classmethod
    def _shorthand(cls, value: Any) -> EndSpec:
        """Every form becomes an EndSpec: ``end.say`` and ``end.reason`` are always there."""
        if isinstance(value, EndSpec):
            return value
        return EndSpec(say=value) if isinstance(value, (str, dict)) else EndSpec()


class GotoStep(_Step):
    goto: str


def step_kind(value: Any) -> str | None:
    """The step type of a raw mapping or a parsed step (None when no step key is present)."""
    if isinstance(value, dict):
        return next((k for k in STEP_KINDS if k in value), None)
    return _KIND_OF.get(type(value))


_STEP_CLASSES: dict[str, type[_Step]] = {
    "ask": AskStep,
    "menu": MenuStep,
    "collect_digits": CollectDigitsStep,
    "survey": SurveyStep,
    "branch": BranchStep,
    "call": CallStep,
    "set": SetStep,
    "flow": FlowStep,
    "handoff": HandoffStep,
    "end": EndStep,
    "say": SayStep,
    "goto": GotoStep,
}
_KIND_OF = {cls: kind for kind, cls in _STEP_CLASSES.items()}

Step = Annotated[
    Union[tuple(Annotated[cls, Tag(kind)] for kind, cls in _STEP_CLASSES.items())],  # type: ignore[misc]
    Discriminator(
        step_kind,
        custom_error_type="unknown_step",
        custom_error_message="unknown step type: a step needs one of " + ", ".join(STEP_KINDS),
    ),
]

AnyStep = Union[
    AskStep,
    MenuStep,
    CollectDigitsStep,
    SurveyStep,
    BranchStep,
    CallStep,
    SetStep,
    FlowStep,
    HandoffStep,
    EndStep,
    SayStep,
    GotoStep,
]


class FlowDef(_Model):
    intent: str | None = Field(None, description="This intent starts the flow")
    intents: list[str] = Field(default_factory=list)
    digressions: bool = Field(True, description="May the caller leave this flow for another intent mid-way?")
    resume: bool = Field(True, description="After interrupting another flow, go back to it")
    steps: list[Step] = Field(min_length=1)

    def trigger_intents(self) -> list[str]:
        return ([self.intent] if self.intent else []) + list(self.intents)


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY = "(?:" + "|".join(DAYS) + ")"
_HHMM = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]"


class QueueDef(_Model):
    """A human queue's opening hours, holidays, overflow and longest acceptable wait (``call/routing.py``)."""

    hours: dict[Annotated[str, Field(pattern=f"^{_DAY}(-{_DAY})?$")],
                Annotated[str, Field(pattern=f"^{_HHMM}-({_HHMM}|24:00)$")]] = Field(
        default_factory=dict,
        description='Days ("mon-fri", "sat") to local opening times ("09:00-17:00"); none: always open')
    holidays: list[date] = Field(default_factory=list, description="Closed all day on these dates")
    timezone: str = Field("UTC", description="The IANA time zone of the hours, e.g. Europe/Berlin")
    overflow: str | None = Field(None, description="The queue that takes callers when this one is closed or "
                                                   "its wait is longer than max_wait_s")
    max_wait_s: float | None = Field(None, gt=0,
                                     description="A longer expected wait overflows or offers a callback")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class RoutingSpec(_Model):
    """Queue by skill: the intent → skill map (a skill is served by the queue of the same name when ``queues``
    has one) and the queues' hours."""

    skills: dict[str, str] = Field(default_factory=dict, description="Intent -> skill")
    queues: dict[str, QueueDef] = Field(default_factory=dict,
                                        description="Queue name -> its hours and overflow")


class ConsentSpec(_Model):
    """The recording-consent prompt, said before the greeting of a recorded call (``call/recording.py``); with
    ``opt_out`` the caller may decline by the key or by saying no, and the call is then not recorded."""

    prompt: Text | None = Field(None, description="What is said; none: the recordings.consent_prompt setting")
    opt_out: Text | None = Field(None, description='How to decline, said after the prompt (e.g. "To continue '
                                                   'without recording, press 9 or say no."); none: no opt-out')
    opt_out_key: str = Field("9", pattern=r"^[0-9*#]$", description="The key that declines")
    opt_out_wait_s: float = Field(3.0, gt=0, le=10, description="How long the caller may take to decline")
    declined: Text = Field("Okay, this call will not be recorded.", description="Said when the caller declined")


class RecordingSpec(_Model):
    """Whether this bundle's calls are recorded, how long recordings are kept, and the consent prompt."""

    enabled: bool | None = Field(None, description="Record these calls; none: the recordings.enabled setting")
    retain_days: int | None = Field(None, ge=1, description="Days a recording is kept; none: the "
                                                            "recordings.retain_days setting")
    consent: bool | ConsentSpec = Field(True, description="true: the recordings.consent_prompt setting; false: no "
                                                          "prompt; or the prompt and the caller's opt-out")


class BundleSpec(_Model):
    """One dialog application (a YAML file under dialogs/)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, title="voicebot dialog flow bundle")

    name: str | None = None
    languages: list[str] = Field(default_factory=lambda: ["en"], min_length=1)
    backend: str | None = Field(None, description="Base URL for webhook calls")
    start: str = "main"
    settings: FlowSettings = FlowSettings()
    intents: dict[str, IntentDef] = Field(default_factory=dict)
    out_of_scope: list[str] = Field(default_factory=list)
    slot_types: dict[str, SlotTypeDef] = Field(default_factory=dict)
    handlers: Handlers = Handlers()
    routing: RoutingSpec = RoutingSpec()
    recording: RecordingSpec = RecordingSpec()
    sensitive_words: list[str] = Field(default_factory=list, description=(
        "Words and phrases the bot never says (beside the pii.sensitive_words setting): a prompt with one fails "
        "validation, is replaced by an apology if spoken; a caller turn with one is flagged"))
    flows: dict[str, FlowDef] = Field(min_length=1)


def json_schema() -> dict[str, Any]:
    schema = BundleSpec.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def main(argv: list[str]) -> int:
    """Write the JSON Schema (to the given path, default flow.schema.json beside this module)."""
    out = Path(argv[0]) if argv else SCHEMA_PATH
    out.write_text(json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
