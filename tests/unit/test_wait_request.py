"""A request to wait (nlu/wait_request.py): found when the whole answer asks for time, not inside requests."""

from __future__ import annotations

import pytest

from voicebot.nlu.wait_request import asks_to_wait

WAITS = [
    "Hang on.", "hang on", "Hold on a second.", "hold on a sec", "Hang on, hang on.", "Okay, hang on.",
    "wait", "Wait a minute.", "Can you hold on?", "one moment please", "Just a moment.", "Sure, one moment.",
    "just a sec",
    "Give me a sec.", "Bear with me.", "Um, let me see.",
    # with what the caller goes to find
    "give me a minute, let me find my card", "Bear with me, I'm getting the letter.",
    "Hang on a second, let me find it.", "Let me just grab the letter.", "Let me find my tracking number.",
    "Hang on, let me get my card out.", "hold on I'm getting my card", "I'll just get my card.",
    "One second, I need to look for it.", "I need a minute to find it", "hold on I need to find my card",
    "Hang up.",  # alone, heard for "hang on"; a caller who is done puts the phone down
    "hang on and let me find it", "I'll go and get it",  # "and" inside a clause joins, it does not split
    # where it is, or while what happens, after a wait phrase
    "Hold on, it's in my wallet.", "So hold on, it's in my wallet.", "One sec, it's upstairs.",
    "Hold on while I get the number.", "two seconds", "Give me a couple of minutes.", "Hang about.",
    "Hold that thought, I need to find my bill.",
    # led by a phrase that can only ask for time, then the caller's own business
    "Hang tight, my husband has the card, I'll ask him.", "Hold on, I'm putting you on speaker.",
    "Can you hold for a sec? I've got to get the receipt out of my coat pocket.",
    "Uh, let me just grab the bill, won't be a minute.", "Can I have a second?",
]

NOT_WAITS = [
    # a wait word leading something else
    "Wait, I'd rather speak to an agent.", "hold on, can I talk to a real person instead",
    "hold on, that's wrong",
    "wait a minute that is wrong", "Wait, no.", "no, wait, it is 1234",
    # requests and answers with the same words
    "I've been on hold for ages", "one second class stamp", "let me check my balance", "let me get a refund",
    "I can't find my card", "I need to find my phone", "I need to get a new pin", "Hang up please.",
    "goodbye",
    "yes",
    "one", "", "I'll get back to you",
    # a place alone, or one that is no place of a thing fetched
    "it's in my wallet", "I've been waiting two weeks", "two seconds ago",
    # led by a wait phrase, then an answer, a question or a request
    "Hang on, I want to cancel it instead.", "wait, what's my balance",
    "Can you hold my order until I'm back?",
    "hold on, it's four five six", "Bear with me, my card was stolen.", "wait, this is not the right command",
    "Can I have a second card?",
]


@pytest.mark.parametrize("text", WAITS)
def test_requests_to_wait(text):
    assert asks_to_wait(text)


@pytest.mark.parametrize("text", NOT_WAITS)
def test_not_requests_to_wait(text):
    assert not asks_to_wait(text)


def test_a_long_answer_is_read_in_linear_time():
    """Phrases are matched one after another, never backtracked across: a long run of them is cheap."""
    assert asks_to_wait("hold on " * 200)
    assert not asks_to_wait("hold on " * 200 + "no")
