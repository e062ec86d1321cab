"""Interpreting one input in the current state: an utterance, DTMF or silence -> typed moves (``moves.py``).

Reads the state, never changes it. The decisive move is found by the decision cascade documented in
docs/flows.md ("How a turn is decided"), numbered the same way below; ``runner.py`` applies the moves.
"""

from __future__ import annotations

from voicebot.dialog.bundle import MENU_CHOICE_TYPE, Bundle
from voicebot.dialog.conditions import FlowRuntimeError
from voicebot.dialog.moves import (
    AskEarlierAgain,
    ConfirmIntent,
    CorrectConfirmed,
    CorrectEarlier,
    DeclineAgent,
    Digress,
    FillSlot,
    Frustrated,
    GlobalIntent,
    HandlerHandoff,
    Heard,
    IntentConfirmed,
    Keyed,
    Move,
    NoMatch,
    OfferAgent,
    OutOfScope,
    ReadBack,
    RejectDigits,
    Silence,
    SlotConfirmed,
    StartFlow,
    WaitAsked,
)
from voicebot.dialog.questions import Questions, ValueAhead, slot_of
from voicebot.dialog.schema import (
    AnyStep,
    AskStep,
    BranchStep,
    CallStep,
    CollectDigitsStep,
    MenuStep,
    SayStep,
    SetStep,
    SurveyStep,
)
from voicebot.dialog.state import DialogState
from voicebot.nlu.digit_fix import read_repair
from voicebot.nlu.normalize import names_a_mishearing, says_done
from voicebot.types import DialogInput, DigitsInput, Entity, NoInput, Understanding

_NEGATIVE_EMOTIONS = ("frustrated", "angry")
# Below this recogniser confidence a menu answer with no intent was not heard clearly ("do do do", a loop
# whisper wrote for "two"): a no-match that repeats the options, never counted toward the out-of-scope
# handoff.
OUT_OF_SCOPE_MIN_TRANSCRIPT_CONFIDENCE = 0.5
# A doubtful request said with a digit string this long, of the kind its flow asks for, starts that flow.
MIN_REQUEST_DIGITS = 4


class Interpreter:
    """The decision cascade of one bundle: (state, input) -> moves."""

    def __init__(self, bundle: Bundle, questions: Questions) -> None:
        self.bundle = bundle
        self.q = questions

    def interpret(self, state: DialogState, event: DialogInput, correctable: str | None) -> list[Move]:
        """The moves for an input while the engine waits. ``correctable``: the slot filled or confirmed in
        the caller's previous turn."""
        offered = state.waiting is not None and state.waiting.kind == "offer_agent"
        if isinstance(event, Understanding):
            if not event.text.strip():
                if offered:
                    return [HandlerHandoff("agent", "no answer to the offer of a person")]
                return [Silence("empty transcript: treated as no-input")]
            return self._utterance(state, event, correctable)
        if isinstance(event, DigitsInput):
            return [Keyed(event.digits, event.terminated), self._digits(state, event.digits)]
        if isinstance(event, NoInput):
            return [HandlerHandoff("agent", "no answer to the offer of a person")] if offered else [Silence()]
        raise FlowRuntimeError(f"unknown input {type(event).__name__}")

    # -- an utterance ---------------------------------------------------------------------------------

    def _utterance(self, state: DialogState, u: Understanding, correctable: str | None) -> list[Move]:
        moves: list[Move] = [Heard(u)]
        # 1. the caller sounds frustrated or angry
        handler = self.bundle.handlers["frustration"]
        if (
            handler.enabled
            and u.emotion is not None
            and u.emotion.label in _NEGATIVE_EMOTIONS
            and u.emotion.score >= (handler.threshold or 0.7)
        ):
            # upset after a miss at this question: upset at the bot (a survey asks how the call went: not there)
            at_bot = state.no_match and not isinstance(self.q.waiting_step(state), SurveyStep)
            counts = 2 if at_bot else 1
            moves.append(Frustrated(u.emotion.label, u.emotion.score, counts))
            if state.frustration + counts >= (handler.count or 2):
                return [*moves, HandlerHandoff("frustration", "frustration limit reached")]
        return [*moves, self._decide(state, u, correctable)]

    def _decide(self, state: DialogState, u: Understanding, correctable: str | None) -> Move:
        """Steps 2-9 of the cascade (docs/flows.md), in that order."""
        sure = self._sure(u, self.bundle.settings.confirm_below)
        # 2. a person asked for (at the offer of one: its answer)
        w = state.waiting
        assert w is not None
        if w.kind == "offer_agent":
            return self._agent_offer_answer(u)
        agent = self.bundle.handlers["agent"]
        if agent.enabled and (u.human_request or (sure and u.intent == "agent")):
            why = "caller asked for a person" if u.human_request else "caller asked for an agent"
            if agent.confirm and not state.agent_offered:
                return OfferAgent(why)
            return HandlerHandoff("agent", why)
        # 2b. a request to wait: the same question again, with time to answer it
        if u.wait_request and self.bundle.handlers["hold"].enabled:
            return WaitAsked()

        # 3. a pending confirmation
        if w.kind == "confirm_slot" and (move := self._slot_confirmation(state, u)):
            return move
        if w.kind == "confirm_intent" and (move := self._intent_confirmation(state, u)):
            return move

        # 4. a correction of the slot filled in the previous turn
        step = self.q.waiting_step(state)
        if w.kind != "menu" and (move := self._correction(state, u, step, correctable)):
            return move
        # 5. the awaited slot's value (kept before a request said with it: step 7)
        digression = self._digression_intent(state, u)
        digits_question = w.kind in ("ask", "collect") and self.q.digit_bounds(step) is not None
        if digits_question and (move := self._digits_answer(state, u)):
            return move
        ahead: tuple[ValueAhead, ...] = ()
        if w.kind == "ask":
            yes_with_value = self._yes_with_value(state, step, u)
            if isinstance(yes_with_value, FillSlot):
                return yes_with_value
            ahead = yes_with_value
        if w.kind in ("ask", "collect", "survey"):
            entity = self.q.entity_for(u, self.q.expected_type(state))
            if entity is not None and self.q.valid(step, entity.value):
                how = "meaning" if entity.inferred else "speech"
                fill = FillSlot(entity.value, f"slot {slot_of(step)} filled by {how} "
                                f"({entity.text or entity.value!r})", ahead, entity.inferred)
                if digression is not None and self._answer_with_request(step, u, entity):
                    return Digress(digression, u, kept=fill)  # "yes, and my card was stolen"
                return fill
        # 6. at a menu: a key said, a flow's intent
        if w.kind == "menu":
            assert isinstance(step, MenuStep)
            allowed = step.menu.intents or list(self.bundle.intent_flow)
            if move := self._key_said(step, u, sure and u.intent in allowed):
                return move
            if u.intent in allowed and u.intent in self.bundle.intent_flow:
                flow = self.bundle.intent_flow[u.intent]
                if sure:
                    why = f"intent {u.intent} ({u.confidence:.2f}) matched flow {flow}"
                    return StartFlow(u.intent, u, why)
                if self._request_with_its_number(u, flow) and (not u.far_from_examples
                                                                or self._number_names(u, flow)):
                    why = f"intent {u.intent} ({u.confidence:.2f}) said with a number flow {flow} asks for"
                    return StartFlow(u.intent, u, why)
                return ConfirmIntent(u.intent, u)
        # 7. another flow's request while a value is awaited
        if digression is not None:
            return Digress(digression, u)
        # 8. help, repeat, goodbye; at a menu, "no, that's everything" is a goodbye too
        if sure and u.intent in ("help", "repeat", "goodbye") and self.bundle.handlers[u.intent].enabled:
            return GlobalIntent(u.intent)
        if w.kind == "menu" and says_done(u.text) and self.bundle.handlers["goodbye"].enabled:
            return GlobalIntent("goodbye")
        # 9. at a menu, a value one of its flows asks for; out of scope; else a no-match
        if w.kind == "menu":
            assert isinstance(step, MenuStep)
            intent = self._intent_for_value(state, step, u)
            if intent is not None:
                flow = self.bundle.intent_flow[intent]
                return ConfirmIntent(intent, u, f"a value for flow {flow} said at the menu")
        number_said = u.entity("number") is not None or u.entity("digits") is not None
        heard_clearly = u.transcript_confidence >= OUT_OF_SCOPE_MIN_TRANSCRIPT_CONFIDENCE
        if w.kind == "menu" and u.intent is None and not number_said and heard_clearly:
            return OutOfScope()  # (a number, or words not heard clearly, are no request)
        return NoMatch("nothing usable in the answer")

    @staticmethod
    def _sure(u: Understanding, at_least: float) -> bool:
        """An intent at ``at_least`` or more, and not a guess from words far from every example (those are
        always confirmed, whatever the bundle's thresholds)."""
        return u.intent is not None and not u.far_from_examples and u.confidence >= at_least

    def _agent_offer_answer(self, u: Understanding) -> Move:
        """At "Do you want me to put you through …?": a no asks the question again; a yes, a request for a
        person, or anything else hands off (the caller asked for one)."""
        yes_no = self.q.entity_for(u, "yes_no")
        if not u.human_request and yes_no is not None and yes_no.value is False:
            return DeclineAgent("the offer of a person answered no")
        if u.human_request or (yes_no is not None and yes_no.value is True):
            return HandlerHandoff("agent", "the offer of a person accepted")
        return HandlerHandoff("agent", "no clear answer to the offer of a person")

    def _slot_confirmation(self, state: DialogState, u: Understanding) -> Move | None:
        """Yes, no, a corrected value, or a fix of a part of a digit string, at "I have …. Is that right?"."""
        step = self.q.waiting_step(state)
        slot = slot_of(step)
        type_name = self.bundle.slot_type_of(step)
        current = state.slots.get(slot)
        # a fix of a part ("it ends seven four, not four seven") before a value: its digits are not the number
        repair = read_repair(current, u.text, lambda d: self.q.fits(step, d)) \
            if self.q.digit_bounds(step) is not None and isinstance(current, str) else None
        if repair is not None and repair.digits != current:  # (a fix that changes nothing is a yes)
            assert isinstance(current, str)
            fix = f"the caller fixed {slot}: {repair.how}"
            if repair.again:
                return CorrectConfirmed(slot, repair.digits, "speech")
            if repair.digits is not None and self.q.fits(step, repair.digits):
                return CorrectConfirmed(slot, repair.digits, "a spoken fix", fix)
            return RejectDigits(current, repair.digits, fix)
        entity = self.q.entity_for(u, type_name)
        if (
            entity is not None
            and type_name != "yes_no"
            and entity.value != current
            and self.q.valid_type(type_name, entity.value)
        ):
            return CorrectConfirmed(slot, entity.value, "speech")
        yes_no = self.q.entity_for(u, "yes_no")
        if yes_no is not None and isinstance(yes_no.value, bool):
            return SlotConfirmed(yes_no.value, f"confirmation of {slot} answered {_yes_or_no(yes_no.value)}")
        return None

    def _intent_confirmation(self, state: DialogState, u: Understanding) -> Move | None:
        """Yes, no, a value the flow asks for (a yes), or another sure request, at "Did you want to …?"."""
        yes_no = self.q.entity_for(u, "yes_no")
        if yes_no is not None and isinstance(yes_no.value, bool):
            return IntentConfirmed(yes_no.value, f"intent confirmation answered {_yes_or_no(yes_no.value)}")
        w = state.waiting
        assert w is not None and w.intent is not None
        sure = self._sure(u, self.bundle.settings.confirm_below)
        if u.intent in (None, w.intent) or not sure:
            ahead = self.q.values_ahead(state, self.bundle.intent_flow[w.intent], 0, u)
            filled = [slot for step, slot, _ in ahead if isinstance(step, AskStep)]
            if filled:
                why = f"intent confirmation answered yes by giving {', '.join(filled)}"
                return IntentConfirmed(True, why, u)
        if u.intent in self.bundle.intent_flow and sure:
            why = f"new request instead of a yes/no: intent {u.intent} ({u.confidence:.2f})"
            return StartFlow(u.intent, u, why)
        return None

    def _correction(
        self, state: DialogState, u: Understanding, step: AnyStep, slot: str | None
    ) -> Move | None:
        """ "No, I said 457": the NLU's corrected part holds a new value for ``slot``, filled (or confirmed)
        in the caller's last turn, not the one asked now. Only a value in the corrected part counts ("no
        thanks" corrects nothing); yes/no and free-text slots are never corrected this way."""
        if not slot or slot == slot_of(step) or not self.bundle.handlers["correction"].enabled:
            return None
        corrected = u.correction
        if not corrected or not corrected.strip():
            return None
        type_name = self.q.type_of_slot(slot)
        type_def = self.bundle.slot_type_defs.get(type_name or "")
        # "no thanks" is an answer, not a correction; a value of the awaited type answers the question
        awaited = type_name == self.q.expected_type(state)
        if type_def is None or type_def.kind in ("yes_no", "text") or awaited:
            return None
        entity = self.q.entity_for(u, type_name)
        if entity is None:
            return self._ask_corrected_again(state, u, slot)
        if (
            entity.value == state.slots.get(slot)
            or not self.q.valid_type(type_name, entity.value)
            or (entity.start >= 0 and entity.start < u.text.rfind(corrected.strip()))
        ):
            return None
        return CorrectEarlier(slot, entity.value)

    def _ask_corrected_again(self, state: DialogState, u: Understanding, slot: str) -> AskEarlierAgain | None:
        """ "No, I said pop hold on": a correction said in so many words whose value cannot be read. The
        corrected slot is asked again when its question is earlier in the flow waiting and nothing between
        them changes anything outside the call (a POST, another question); else None (the answer stands)."""
        w = state.waiting
        assert w is not None
        if not names_a_mishearing(u.text) or state.stack[-1].flow != w.flow:
            return None
        steps = self.bundle.flows[w.flow].steps
        index = next((i for i in range(w.index - 1, -1, -1)
                      if isinstance(steps[i], AskStep) and steps[i].ask == slot), None)  # type: ignore[union-attr]
        if index is None or not all(_replayable(step) for step in steps[index + 1:w.index]):
            return None
        return AskEarlierAgain(slot, index, f"correction of slot {slot} with no value in {u.correction!r}: "
                                            "asking it again")

    def _digression_intent(self, state: DialogState, u: Understanding) -> str | None:
        """Another flow's intent said while a value is awaited, when the current flow allows leaving."""
        w = state.waiting
        assert w is not None
        if (
            w.kind not in ("ask", "collect", "survey")
            or u.intent not in self.bundle.intent_flow
            or not self._sure(u, self.bundle.settings.digress_above)
        ):
            return None
        target = self.bundle.intent_flow[u.intent]
        running = {frame.flow for frame in state.stack}
        if target in running or not self.bundle.flows[state.stack[-1].flow].digressions:
            return None
        return u.intent

    def _digits_answer(self, state: DialogState, u: Understanding) -> Move | None:
        """A spoken answer to a digits question: filled when it has the expected length; else what was
        heard is read back. After a read-back the answer may fix a part of it ("the last one is eight",
        "it ends in 42", "add a 9 at the end"), say the rest (appended while not above the maximum) or say
        it all again. Digits the caller said were wrong at their confirmation, heard again, are read back,
        not filled. None (the rest of the cascade decides) when the answer holds no digits, or when a
        wrong-length answer comes with another flow's request."""
        step = self.q.waiting_step(state)
        slot = slot_of(step)
        heard = state.digits_heard
        bounds = self.q.digit_bounds(step)
        assert bounds is not None

        def fits(digits: str) -> bool:
            return self.q.fits(step, digits)

        entity = self.q.entity_for(u, self.bundle.slot_type_of(step))
        said = None
        if entity is not None and isinstance(entity.value, str) and entity.value.isdigit():
            said = entity.value
        repair = read_repair(heard, u.text, fits) if heard else None
        if repair is not None:
            if repair.digits is None:
                return ReadBack(heard, f"{repair.how} names a digit they lack")  # type: ignore[arg-type]
            candidate, how = repair.digits, repair.how
        elif said is None or (not fits(said) and self._digression_intent(state, u) is not None):
            return None
        elif fits(said):
            candidate, how = said, f"speech ({entity.text or said!r})"  # type: ignore[union-attr]
        elif heard and len(heard + said) <= bounds[1]:
            candidate, how = heard + said, f"the rest said after the {len(heard)} digits heard"
        else:
            candidate, how = said, "speech"
        if fits(candidate) and candidate in state.digits_ruled_out:  # said to be wrong: not filled again
            return ReadBack(candidate, f"{how} heard again the digits the caller said were wrong")
        if fits(candidate):
            return FillSlot(candidate, f"slot {slot} filled by {how}")
        return ReadBack(candidate, f"{len(candidate)} digits heard, not {self.q.expected_count(step)}")

    def _yes_with_value(
        self, state: DialogState, step: AnyStep, u: Understanding
    ) -> FillSlot | tuple[ValueAhead, ...]:
        """A yes/no question answered with what the flow asks next. Without a yes or no ("Do you have your
        order number?" "1234567"), a value that is not a word of a list (a number, a date, ...) is a yes
        that fills its ask: that fill. With a yes ("yes, they're too small"): the values for those asks,
        filled with the yes. Else nothing."""
        w = state.waiting
        assert w is not None
        if not isinstance(step, AskStep) or step.confirm or self.q.kind_of(step) != "yes_no":
            return ()
        answer = self.q.entity_for(u, self.bundle.slot_type_of(step))
        values = self.q.values_ahead(state, w.flow, w.index + 1, u)
        # (a collect_digits step always asks)
        asks = [ask for ask, _, _ in values if isinstance(ask, AskStep)]
        if answer is not None:
            return tuple(values) if answer.value is True and asks else ()
        if not any(self.q.kind_of(ask) not in (None, "list", "text") for ask in asks):
            return ()  # "I changed my mind" is a reason for a return, and no yes to starting one
        if not values:
            return ()
        return FillSlot(True, f"slot {slot_of(step)} answered yes by giving what comes next", tuple(values))

    def _answer_with_request(self, step: AnyStep, u: Understanding, entity: Entity) -> bool:
        """Whether the answer came with a request ("yes, and my card was stolen"): a yes/no value, or a
        list value said as a yes or no ("Anything else?" "Yes, and …"), at an ask without confirmation.
        Other values said with an intent answer the question ("for an ID card" names the service)."""
        if not isinstance(step, AskStep) or step.confirm:
            return False
        kind = self.q.kind_of(step)
        if kind == "yes_no":
            return True
        if kind != "list":
            return False
        yes_no = u.entity("yes_no")
        if yes_no is None:
            return False
        known = min(yes_no.start, yes_no.end, entity.start, entity.end) >= 0
        return not known or (yes_no.start < entity.end and entity.start < yes_no.end)

    def _request_with_its_number(self, u: Understanding, flow: str, seen: frozenset[str] = frozenset(),
                                 fitting: bool = False) -> bool:
        """Whether a doubtful request came with a digit string (four digits or more) of the kind its flow asks
        for: "book a redelivery for tracking number 98765…" is that request, not a guess to confirm. (A number
        of the wrong length is read back at the flow's question; ``fitting``: only one of the right
        length.)"""
        digits = u.entity("digits")
        if digits is None or len(str(digits.value)) < MIN_REQUEST_DIGITS:
            return False
        for step in self.bundle.flows[flow].steps:
            sub = getattr(step, "flow", None)
            if isinstance(sub, str) and sub in self.bundle.flows and sub not in seen:
                if self._request_with_its_number(u, sub, seen | {flow}, fitting):
                    return True
            elif isinstance(step, (AskStep, CollectDigitsStep)) and self.q.digit_bounds(step) is not None \
                    and (not fitting or self.q.fits(step, str(digits.value))):
                return True
        return False

    def _number_names(self, u: Understanding, flow: str) -> bool:
        """Whether the request's digit string fits this flow's question and no other flow's: for a guess far
        from every example, the number then names the flow where the words do not (in a bundle whose flows
        all take a tracking number, it names none: "Did you want to …?")."""
        others = set(self.bundle.intent_flow.values()) - {flow}
        return self._request_with_its_number(u, flow, fitting=True) and not any(
            self._request_with_its_number(u, other, fitting=True) for other in others)

    def _intent_for_value(self, state: DialogState, step: MenuStep, u: Understanding) -> str | None:
        """At a menu, a number that one of the menu's flows asks for (a tracking number said instead of a
        request): the first such flow's intent, to confirm ("Did you want to track a parcel?")."""
        allowed = step.menu.intents or list(self.bundle.intent_flow)
        for intent in dict.fromkeys([*step.menu.dtmf.values(), *allowed]):
            if intent not in allowed or intent not in self.bundle.intent_flow:
                continue
            for ask, _, _ in self.q.values_ahead(state, self.bundle.intent_flow[intent], 0, u):
                if isinstance(ask, AskStep) and self.q.kind_of(ask) in ("digits", "phone"):
                    return intent
        return None

    # -- keys ---------------------------------------------------------------------------------------

    def _digits(self, state: DialogState, digits: str) -> Move:
        """DTMF: to the pending confirmation (1 yes, 2 no, or a corrected value), the menu's keys, or the
        awaited slot."""
        w = state.waiting
        assert w is not None
        step = self.q.waiting_step(state)
        if len(digits) > 1 and (move := self._number_at_one_key_question(state, step, digits)):
            return move
        if w.kind == "offer_agent":
            if digits == "2":
                return DeclineAgent("the offer of a person answered no by DTMF")
            return HandlerHandoff("agent", f"the offer of a person answered by DTMF {digits!r}")
        if w.kind in ("confirm_slot", "confirm_intent"):
            if digits in ("1", "2"):
                answer = digits == "1"
                why = f"confirmation answered {_yes_or_no(answer)} by DTMF"
                if w.kind == "confirm_slot":
                    return SlotConfirmed(answer, why)
                return IntentConfirmed(answer, why)
            if w.kind == "confirm_slot":
                value = self.q.digits_value(step, digits)
                if value is not None:
                    return CorrectConfirmed(slot_of(step), value, "DTMF")
            return NoMatch(f"DTMF {digits!r} is not 1 (yes) or 2 (no)")
        if w.kind == "menu":
            assert isinstance(step, MenuStep)
            return self._menu_key(step, digits, "DTMF") or NoMatch(f"DTMF {digits!r} is not a menu option")
        digits_question = w.kind in ("ask", "collect") and self.q.digit_bounds(step) is not None
        if digits_question and (move := self._digits_keyed(state, step, digits)):
            return move
        value = self.q.digits_value(step, digits)
        if value is None:
            return NoMatch(f"DTMF {digits!r} is not a valid {self.q.expected_type(state)}")
        return FillSlot(value, f"slot {slot_of(step)} filled by DTMF")

    def _number_at_one_key_question(self, state: DialogState, step: AnyStep, keys: str) -> Move | None:
        """A number keyed where one key is asked for (``call/dtmf.py`` makes one entry of keys typed straight
        after a one-key answer): the value of what the flow asks next, taken as a yes ("Did you want to track
        a parcel?" 9876543210#: yes and the number), or at a menu the request whose flow asks for it,
        confirmed. The entry is tried whole, then without its first key (the answer to the question before)."""
        w = state.waiting
        assert w is not None
        for entry in dict.fromkeys((keys, keys[1:])):
            keyed = _keyed(entry)
            if w.kind == "confirm_intent":
                assert w.intent is not None
                ahead = self.q.values_ahead(state, self.bundle.intent_flow[w.intent], 0, keyed)
                if any(isinstance(ask, AskStep) for ask, _, _ in ahead):
                    return IntentConfirmed(True, f"intent confirmation answered yes by keying {len(entry)} digits",
                                           keyed)
            elif w.kind == "menu" and isinstance(step, MenuStep) and entry not in step.menu.dtmf:
                if (intent := self._intent_for_value(state, step, keyed)) is not None:
                    flow = self.bundle.intent_flow[intent]
                    return ConfirmIntent(intent, keyed, f"a value for flow {flow} keyed at the menu")
            elif (w.kind == "ask" and self.q.kind_of(step) == "yes_no"
                  and isinstance(move := self._yes_with_value(state, step, keyed), FillSlot)):
                return move
        return None

    def _digits_keyed(self, state: DialogState, step: AnyStep, keys: str) -> Move | None:
        """Keys pressed for a digits question. Keys of the expected length replace what was said; keys that
        complete the digits heard (said, then read back) are appended to them. None when the keys alone
        fit (the usual DTMF fill follows)."""
        bounds = self.q.digit_bounds(step)
        assert bounds is not None
        keys = keys.rstrip("#")
        heard = state.digits_heard
        if not keys.isdigit() or self.q.fits(step, keys):
            return None
        if heard and self.q.fits(step, heard + keys):
            why = f"slot {slot_of(step)} completed by DTMF after the {len(heard)} digits said"
            return FillSlot(heard + keys, why)
        candidate = heard + keys if heard and len(heard + keys) <= bounds[1] else keys
        return ReadBack(candidate, f"{len(candidate)} digits, not {self.q.expected_count(step)}")

    def _key_said(self, step: MenuStep, u: Understanding, sure_of_intent: bool) -> Move | None:
        """A menu key said ("two", "option 2", "to"), unless a menu intent was recognised for sure."""
        key = u.entity(MENU_CHOICE_TYPE)
        if key is None or str(key.value) not in step.menu.dtmf or sure_of_intent:
            return None
        return self._menu_key(step, str(key.value), f"{key.text!r} said")

    def _menu_key(self, step: MenuStep, key: str, how: str) -> Move | None:
        """A menu option chosen by its key, pressed or said ("two", "press 2"); None when it is not one."""
        intent = step.menu.dtmf.get(key)
        if intent == "agent":
            return HandlerHandoff("agent", f"{how} {key} is mapped to an agent")
        if intent in self.bundle.intent_flow:
            return StartFlow(intent, None, f"{how} {key} chose intent {intent}")
        return None


def _replayable(step: AnyStep) -> bool:
    """A step that may run again when the flow goes back over it: it speaks, sets or reads, nothing more."""
    if isinstance(step, CallStep):
        return step.call.method == "GET"
    return isinstance(step, (SayStep, SetStep, BranchStep))


def _keyed(digits: str) -> Understanding:
    """Keys as what they would be said as: a digit string, to fill the slots ahead."""
    return Understanding(digits, None, 0.0, (Entity("digits", digits, digits, 0, len(digits)),))


def _yes_or_no(answer: bool) -> str:
    return "yes" if answer else "no"
