"""Score cards: QA forms written in YAML (``dialogs/qa/*.yaml``, the ``qa.forms_dir`` setting), their questions
answered automatically from the call record by rules or by the reviewer, and a call's score from the answers.

A form::

    name: banking_service            # letters, digits, - and _; the score card's key
    title: Harbor Bank service
    flows: [banking]                 # the flows it scores; empty or absent: every flow
    questions:
      - id: verified_first
        text: The bot verified the caller before reading the balance
        weight: 2                    # default 1
        rule:                        # answered from the record (exactly one kind per rule)
          before: {first: 'banking/verify → HTTP 200', then: 'banking/accounts'}
      - id: polite
        text: The bot was polite and clear
        kind: scale                  # the reviewer answers 1-5 (or N/A); kind yes_no (default): yes, no, N/A

Rules (patterns are case-insensitive regular expressions over each turn's dialog state and decisions, in order):

* ``before: {first: P, then: Q}`` — yes when P is seen before the first Q; no when Q comes first; N/A when Q
  never happens (the call never got there).
* ``never_said: {words: [...], by: bot | caller | either}`` — yes when none of the words (whole words) was said.
* ``handoff_within_no_matches: N`` — handed off: yes when at most N no-matches came first; not handed off: no
  when there were more than N no-matches (the caller was kept too long), else N/A.
* ``response_under_ms: M`` — yes when every answer reached the caller within M ms of the end of their speech.
* ``outcome_in: [completed, ...]`` — yes when the call ended with one of these outcomes.

Score: 100 × Σ weight × value / Σ weight over the questions answered (yes 1, no 0, a scale answer n is
(n - 1) / 4; N/A counts for nothing); a card with no answer has no score.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from voicebot.store.records import CallRecord

NA = "na"
YES_NO = ("yes", "no", NA)
SCALE = ("1", "2", "3", "4", "5", NA)
NAME = r"^[A-Za-z0-9_-]{1,64}$"
_NO_MATCH = re.compile(r"\bno-match \d+/")


class Before(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    first: str
    then: str

    @field_validator("first", "then")
    @classmethod
    def _pattern(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as error:  # a bad pattern fails when the form loads, not when a call is scored
            raise ValueError(f"{value!r} is not a regular expression: {error}") from None
        return value


class NeverSaid(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    words: list[str] = Field(min_length=1)
    by: Literal["bot", "caller", "either"] = "bot"


class Rule(BaseModel):
    """How a question is answered from the record: exactly one of the fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    before: Before | None = None
    never_said: NeverSaid | None = None
    handoff_within_no_matches: int | None = Field(None, ge=0)
    response_under_ms: float | None = Field(None, gt=0)
    outcome_in: list[str] | None = None

    @model_validator(mode="after")
    def _one(self) -> Rule:
        if len(self.model_dump(exclude_none=True)) != 1:
            raise ValueError("a rule has exactly one of: " + ", ".join(type(self).model_fields))
        return self


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=NAME)
    text: str = Field(min_length=1)
    kind: Literal["yes_no", "scale"] = "yes_no"
    weight: float = Field(1.0, gt=0)
    rule: Rule | None = None

    @model_validator(mode="after")
    def _rules_answer_yes_or_no(self) -> Question:
        if self.rule is not None and self.kind != "yes_no":
            raise ValueError(f"question {self.id}: a rule answers yes or no (kind yes_no)")
        return self

    @property
    def choices(self) -> tuple[str, ...]:
        return YES_NO if self.kind == "yes_no" else SCALE


class ScoreForm(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=NAME)
    title: str = ""
    flows: list[str] = Field(default_factory=list)
    questions: list[Question] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> ScoreForm:
        ids = [q.id for q in self.questions]
        if len(ids) != len(set(ids)):
            raise ValueError("question ids must be unique")
        return self

    def applies_to(self, flow: str) -> bool:
        return not self.flows or flow in self.flows


@dataclass(frozen=True, slots=True)
class AutoAnswer:
    """A rule's answer (yes, no or na) and why, in a few words."""

    answer: str
    why: str


def load_forms(directory: Path) -> dict[str, ScoreForm]:
    """Every ``*.yaml`` form in ``directory`` by name (none when it does not exist); a bad form raises
    ``ValueError`` naming its file."""
    forms: dict[str, ScoreForm] = {}
    for path in sorted(directory.glob("*.yaml")) if directory.is_dir() else ():
        try:
            form = ScoreForm.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        except (yaml.YAMLError, ValidationError) as error:
            raise ValueError(f"QA form {path}: {error}") from None
        if form.name in forms:
            raise ValueError(f"QA form {path}: the name {form.name!r} is taken by another form")
        forms[form.name] = form
    return forms


def auto_answer(rule: Rule, call: CallRecord) -> AutoAnswer:
    """Answer one rule from the call's record."""
    if rule.before is not None:
        return _before(rule.before, call)
    if rule.never_said is not None:
        return _never_said(rule.never_said, call)
    if rule.handoff_within_no_matches is not None:
        return _handoff_within(rule.handoff_within_no_matches, call)
    if rule.response_under_ms is not None:
        slowest = max((t.response_ms for t in call.turns if t.response_ms is not None), default=None)
        if slowest is None:
            return AutoAnswer(NA, "no answer timed")
        return AutoAnswer("yes" if slowest < rule.response_under_ms else "no", f"slowest answer {slowest:.0f} ms")
    assert rule.outcome_in is not None
    return AutoAnswer("yes" if call.outcome in rule.outcome_in else "no", f"outcome {call.outcome}")


def auto_answers(form: ScoreForm, call: CallRecord) -> dict[str, AutoAnswer]:
    """The answers of the form's rule questions."""
    return {q.id: auto_answer(q.rule, call) for q in form.questions if q.rule is not None}


def score(form: ScoreForm, answers: dict[str, str]) -> float | None:
    """The card's score, 0-100 (rounded to 0.1), or None when no question has a yes, no or 1-5 answer."""
    total = weights = 0.0
    for question in form.questions:
        answer = answers.get(question.id, NA)
        if answer == NA:
            continue
        value = {"yes": 1.0, "no": 0.0}[answer] if question.kind == "yes_no" else (int(answer) - 1) / 4
        total += question.weight * value
        weights += question.weight
    return round(100 * total / weights, 1) if weights else None


def reviewer_answers(form: ScoreForm, fields: dict[str, str]) -> dict[str, str]:
    """The reviewer's answers from a posted form (``q_<id>`` fields) for the questions without a rule;
    ``ValueError`` for an answer that is not one of the question's choices. Missing answers are N/A."""
    answers = {}
    for question in form.questions:
        if question.rule is not None:
            continue
        answer = fields.get(f"q_{question.id}", NA) or NA
        if answer not in question.choices:
            raise ValueError(f"{question.text}: choose one of {', '.join(question.choices)}")
        answers[question.id] = answer
    return answers


def _timeline(call: CallRecord) -> list[str]:
    """Each turn's state and decisions, in call order: what ``before`` patterns read."""
    return [f"state {t.state}; {t.decision}" for t in sorted(call.turns, key=lambda t: t.index)]


def _first(pattern: str, lines: list[str]) -> tuple[int, int] | None:
    found = re.compile(pattern, re.IGNORECASE)
    for number, line in enumerate(lines):
        if match := found.search(line):
            return number, match.start()
    return None


def _before(rule: Before, call: CallRecord) -> AutoAnswer:
    lines = _timeline(call)
    then = _first(rule.then, lines)
    if then is None:
        return AutoAnswer(NA, f"never reached {rule.then!r}")
    first = _first(rule.first, lines)
    if first is not None and first < then:
        return AutoAnswer("yes", f"turn {first[0] + 1} before turn {then[0] + 1}")
    return AutoAnswer("no", f"{rule.then!r} in turn {then[0] + 1} without {rule.first!r} before")


def _never_said(rule: NeverSaid, call: CallRecord) -> AutoAnswer:
    words = re.compile(r"\b(" + "|".join(re.escape(w) for w in rule.words) + r")\b", re.IGNORECASE)
    for turn in sorted(call.turns, key=lambda t: t.index):
        sides = {"bot": [turn.bot_text], "caller": [turn.caller_text]}.get(rule.by,
                                                                            [turn.bot_text, turn.caller_text])
        for text in sides:
            if match := words.search(text):
                return AutoAnswer("no", f"{match.group(0)!r} in turn {turn.index + 1}")
    return AutoAnswer("yes", "none of the words")


def _handoff_within(limit: int, call: CallRecord) -> AutoAnswer:
    misses = sum(1 for t in call.turns if _NO_MATCH.search(t.decision))
    if call.handoff is not None or call.outcome == "handoff":
        verdict = "yes" if misses <= limit else "no"
        return AutoAnswer(verdict, f"handed off after {misses} no-match{'es' if misses != 1 else ''}")
    if misses > limit:
        return AutoAnswer("no", f"{misses} no-matches and not handed off")
    return AutoAnswer(NA, "not handed off")
