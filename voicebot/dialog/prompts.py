"""What the bot says and what it then listens for: prompts, reprompts, read-backs, confirmations, and the
``Expectation`` (recognition hints, timers, DTMF lengths) given to the listener and the recogniser."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from voicebot.dialog.bundle import ANYTHING_ELSE_TYPE, MENU_CHOICE_TYPE, Bundle
from voicebot.dialog.conditions import format_value, render
from voicebot.dialog.questions import Questions
from voicebot.dialog.schema import AnyStep, AskStep, CollectDigitsStep, MenuStep, SurveyStep, Text
from voicebot.dialog.state import DialogState, TurnOutput
from voicebot.types import Expectation, Listen, RecognitionHints, Say

# Words a caller fixing a digit string uses, allowed by the digits grammar while a read-back is answered
# ("the last one is eight", "it ends in four two", "add a nine at the end").
REPAIR_WORDS = tuple(
    "the last first second third fourth fifth sixth seventh eighth ninth tenth one digit number is was "
    "should be a an it ends in starts with add at end start no yes that's right wrong not "
    # a fix in the caller's words (nlu/digit_fix.py): "you missed a three before the seven", "a single zero"
    "you you've said missed missing forgot extra twice only just single instead of before after between and "
    "there's there on finishes begins swapped round way other zeros ones twos threes fours fives sixes "
    "sevens eights nines".split()
)
_KEYPAD_WORDS = ("key", "keypad", "type", "press", "dial")
# A menu's keys said as words ("two" for key 2), heard better when they are among its hints (eval/README.md,
# "Menu keys said as words")
KEY_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_READ_BACK_TAG = {
    "digits": "digits",
    "phone": "phone",
    "money": "money",
    "date": "date",
    "time": "time",
    "regex": "spell",
    "number": "number",
}


class Prompts:
    """Phrases one bundle's turns: every ``Say`` and ``Listen`` of the engine is written here."""

    def __init__(self, bundle: Bundle, questions: Questions) -> None:
        self.bundle = bundle
        self.questions = questions

    # -- texts ----------------------------------------------------------------------------------------

    def text(self, state: DialogState, text: Text | None) -> str:
        """A text in the call's language, unrendered."""
        return self.bundle.text(text, state.language) or ""

    def render(self, state: DialogState, text: Text) -> str:
        """A text in the call's language with its ``{slots.x}``-style fields filled."""
        return render(self.text(state, text), state.scope())

    def say(
        self,
        state: DialogState,
        out: TurnOutput,
        text: str,
        interruptible: bool = True,
        remember: bool = False,
    ) -> None:
        """Say ``text`` (nothing when empty); ``remember``: it belongs to the question "repeat" repeats."""
        if not text:
            return
        out.actions.append(Say(text, interruptible=interruptible, language=state.language))
        if remember:
            pending = []
            for action in reversed(out.actions):
                if not isinstance(action, Say):
                    break
                pending.append(action)
            state.last_prompt = tuple(reversed(pending))

    def listen(self, state: DialogState, out: TurnOutput, expect: Expectation) -> None:
        listen = Listen(expect)
        out.actions.append(listen)
        state.last_listen = listen

    # -- questions ------------------------------------------------------------------------------------

    def ask(self, state: DialogState, out: TurnOutput, step: AnyStep, which: str, then: str = "") -> None:
        """Speak the waiting step's prompt (``prompt``, ``reprompt`` or ``no_input``), ``then`` (if any), and
        listen."""
        source = step.menu if isinstance(step, MenuStep) else step
        prompt = source.prompt  # type: ignore[union-attr]
        reprompt = getattr(source, "reprompt", None) or prompt
        text = {
            "prompt": prompt,
            "reprompt": reprompt,
            "no_input": getattr(source, "no_input_prompt", None) or reprompt,
        }[which]
        spoken = self.render(state, text)
        self.say(state, out, spoken, getattr(step, "interruptible", True), remember=True)
        digits_question = self.questions.digit_bounds(step) is not None
        if which != "prompt" and digits_question and not _mentions_keypad(spoken):
            # after a miss: the keypad, said once unless the reprompt says it already
            self.say(state, out, self.text(state, self.bundle.settings.dtmf_offer), remember=True)
        self.say(state, out, then, remember=True)
        self.listen(state, out, self.expectation(state, step))

    def ask_again(self, state: DialogState, out: TurnOutput, which: str, then: str = "") -> None:
        """Ask the waiting question again (a confirmation with ``yes_no_reprompt`` first); ``then``: said after
        a question that is not a confirmation, before listening."""
        w = state.waiting
        assert w is not None
        step = self.questions.waiting_step(state)
        if w.kind == "confirm_slot":
            assert isinstance(step, AskStep)
            self.say(state, out, self.text(state, self.bundle.settings.yes_no_reprompt), remember=True)
            self.confirm_slot(state, out, step)
        elif w.kind == "confirm_intent":
            self.say(state, out, self.text(state, self.bundle.settings.yes_no_reprompt), remember=True)
            self.listen(state, out, self.yes_no_expectation(state))
        else:
            self.ask(state, out, step, which, then)

    def confirm_slot(self, state: DialogState, out: TurnOutput, step: AskStep) -> None:
        """Read the slot back ("I have {digits:123456}. Is that right?"; a list value in words: "So that's
        doesn't fit. Is that right?") and listen for yes or no."""
        kind = self.questions.kind_of(step) or ""
        if isinstance(step.confirm, (str, dict)):
            text = self.render(state, step.confirm)
        elif kind == "list":
            text = f"So that's {self.list_label(step, state.slots[step.ask])}. Is that right?"
        else:
            tag = _READ_BACK_TAG.get(kind)
            value = format_value(state.slots[step.ask])
            spoken = "{" + tag + ":" + value + "}" if tag else value
            text = f"I have {spoken}. Is that right?"
        self.say(state, out, text, step.interruptible, remember=True)
        self.listen(state, out, self.yes_no_expectation(state, self.questions.digit_bounds(step)))

    def list_label(self, step: AskStep, value: Any) -> str:
        """A list value as said: its synonym spelled like it ("doesnt_fit": "doesn't fit"), else its words."""
        words = str(value).replace("_", " ")
        type_def = self.bundle.slot_type_defs.get(self.bundle.slot_type_of(step))
        synonyms = type_def.values.get(str(value), []) if type_def is not None else []
        return next((s for s in synonyms if s.lower().replace("'", "") == words.lower()), words)

    def confirm_intent(self, state: DialogState, out: TurnOutput, intent: str) -> None:
        """ "Did you want to …?" for an intent, and listen for yes or no."""
        text = render(
            self.text(state, self.bundle.settings.confirm_intent_prompt),
            {"label": self.bundle.intent_label(intent)},
        )
        self.say(state, out, text, remember=True)
        self.listen(state, out, self.yes_no_expectation(state))

    def read_back(self, state: DialogState, out: TurnOutput, step: AnyStep, heard: str) -> None:
        """The digits heard, in groups (or only counted for a secret), how to fix them, and the keypad; digits
        the caller said were wrong, heard again: :meth:`heard_again`."""
        settings = self.bundle.settings
        if heard in state.digits_ruled_out:
            return self.heard_again(state, out, step, heard)
        count = f"{len(heard)} digit" + ("" if len(heard) == 1 else "s")
        scope = {"heard": heard, "count": count, "expected": self.questions.expected_count(step)}
        text = settings.digits_read_back if getattr(step, "read_back", True) else settings.digits_count_back
        self.say(state, out, render(self.text(state, text), scope), remember=True)
        self.say(state, out, self.text(state, settings.digits_repair_prompt), remember=True)
        self.say(state, out, self.text(state, settings.dtmf_offer), remember=True)
        self.listen(state, out, self.expectation(state, step))

    def heard_again(self, state: DialogState, out: TurnOutput, step: AnyStep, heard: str) -> None:
        """Digits heard again that the caller said were wrong: said so (or, for a secret, the question
        again), how to fix a part, and the keypad."""
        if not getattr(step, "read_back", True):
            return self.digits_rejected(state, out, step)
        settings = self.bundle.settings
        self.say(state, out, render(self.text(state, settings.digits_heard_again), {"heard": heard}),
                 remember=True)
        self.say(state, out, self.text(state, settings.dtmf_offer), remember=True)
        self.listen(state, out, self.expectation(state, step))

    def digits_rejected(self, state: DialogState, out: TurnOutput, step: AnyStep) -> None:
        """The question again after a digit string was rejected, saying a part may be fixed."""
        settings = self.bundle.settings
        prompt = self.render(state, step.prompt)  # type: ignore[union-attr]
        self.say(state, out, prompt, step.interruptible, remember=True)  # type: ignore[union-attr]
        self.say(state, out, self.text(state, settings.digits_rejected_prompt), remember=True)
        if not _mentions_keypad(prompt):
            self.say(state, out, self.text(state, settings.dtmf_offer), remember=True)
        self.listen(state, out, self.expectation(state, step))

    # -- expectations ---------------------------------------------------------------------------------

    def expectation(self, state: DialogState, step: AnyStep) -> Expectation:
        """What the waiting step listens for: hints for the recogniser, timers, DTMF lengths, and whether the
        answer is a secret (a sensitive slot)."""
        expect = self._listening(state, step)
        slot = getattr(step, "ask", None) or getattr(step, "collect_digits", None)
        return replace(expect, sensitive=True) if slot in self.bundle.sensitive else expect

    def _listening(self, state: DialogState, step: AnyStep) -> Expectation:
        settings = self.bundle.settings
        lang = state.language
        if isinstance(step, MenuStep):
            intents = step.menu.intents or list(self.bundle.intent_flow)
            keys = sorted((k for k in step.menu.dtmf or {} if k.isdigit()), key=lambda k: (k == "0", k))
            phrases = tuple(self.bundle.intent_label(i) for i in intents) \
                + tuple(KEY_WORDS[int(k)] for k in keys)
            max_digits = 1 if step.menu.dtmf else 0
            choice = MENU_CHOICE_TYPE if step.menu.dtmf else None  # "two" (or "to") said for key 2
            return Expectation(
                RecognitionHints(phrases, choice, lang), settings.no_input_timeout_s, max_digits, 1, "", 3.0
            )
        type_name = self.bundle.slot_type_of(step)
        type_def = self.bundle.slot_type_defs.get(type_name)
        phrases: tuple[str, ...] = ()
        if type_def is not None and type_def.kind == "list":
            phrases = tuple(type_def.values) + tuple(s for syn in type_def.values.values() for s in syn)
        elif type_def is not None and type_def.kind == "yes_no":
            phrases = ("yes", "no")
        elif type_def is not None and type_def.kind == "number" and type_def.max_length is not None \
                and type_def.max_length < len(KEY_WORDS):
            # a rating scale: its numbers as words are the options ("five" was heard "Bye.", "operator" "I'm
            # the reader." with no hint but the generic prompt; eval/README.md, "Survey answers")
            phrases = KEY_WORDS[max(0, type_def.min_length or 0):type_def.max_length + 1]
        if type_name == ANYTHING_ELSE_TYPE:
            # "Anything else?" is answered with the next request as often as with a no: the bundle's requests
            # are hints too, as at a menu ("yes, and what are your opening hours" was heard "opening errors")
            phrases = tuple(self.bundle.intent_label(i) for i in self.bundle.intent_flow) + phrases
        digit_count = None
        if isinstance(step, CollectDigitsStep):
            digit_count = (step.min_digits, step.max_digits)
        elif type_def is not None and type_def.kind == "digits" and type_def.max_length:
            digit_count = (type_def.min_length or 1, type_def.max_length)
        kind = type_def.kind if type_def is not None else None
        if type_def is not None and kind == "list" and {"yes", "no"} <= type_def.values.keys():
            kind = "yes_no"  # "Anything else?" is a yes/no question: "Yeah." is an answer, not a backchannel
        hints = RecognitionHints(phrases, type_name, lang, kind, digit_count,
                                 ruled_out=state.digits_ruled_out)
        repairing = state.digits_heard is not None
        if repairing and digit_count is not None:
            hints = while_fixing(hints)
        if isinstance(step, CollectDigitsStep):
            return Expectation(
                hints,
                settings.no_input_timeout_s,
                step.max_digits,
                1 if repairing else step.min_digits,
                step.terminator,
                step.inter_digit_s,
            )
        if isinstance(step, SurveyStep):
            return Expectation(hints, settings.no_input_timeout_s, 1, 1, "", 3.0)
        assert isinstance(step, AskStep)
        if not step.dtmf and self.questions.digit_bounds(step) is None:  # a digits question always takes keys
            return Expectation(hints, settings.no_input_timeout_s)
        dtmf = step.dtmf if not isinstance(step.dtmf, bool) else None
        if (type_def is not None and type_def.kind == "yes_no") or (dtmf and dtmf.options):
            max_digits = 1
        else:
            max_digits = (dtmf.max_digits if dtmf and dtmf.max_digits else None) or (
                type_def.max_length if type_def and type_def.max_length else 16
            )
        return Expectation(
            hints,
            settings.no_input_timeout_s,
            max_digits,
            1 if repairing
            else max(dtmf.min_digits if dtmf else 1, type_def.min_length or 1 if type_def else 1),
            dtmf.terminator if dtmf else "#",
            dtmf.inter_digit_s if dtmf else 3.0,
        )

    def yes_no_expectation(self, state: DialogState, digit_count: tuple[int, int] | None = None
                           ) -> Expectation:
        """Listening for yes or no; ``digit_count``: the question is about a number of that many digits, which
        the caller may say again in the answer ("No, it's 4 7 1 …")."""
        return Expectation(
            RecognitionHints(("yes", "no"), "yes_no", state.language, digit_count=digit_count),
            self.bundle.settings.no_input_timeout_s,
            max_digits=1,
            terminator="",
        )


def while_fixing(hints: RecognitionHints) -> RecognitionHints:
    """How a digits question listens while a number read back (or said to be wrong) is fixed: the fixing
    words pass the digits grammar and a fix is short (no ``digit_count``); an answer of number words only is
    read for the whole length (``whole_count``)."""
    return replace(hints, phrases=hints.phrases + REPAIR_WORDS, digit_count=None,
                   whole_count=hints.digit_count)


def _mentions_keypad(spoken: str) -> bool:
    return any(word in spoken.lower() for word in _KEYPAD_WORDS)
