"""The request for a person (nlu/human_request.py): found in callers' wordings, declined ones told apart."""

from __future__ import annotations

import pytest

from voicebot.nlu.human_request import asks_for_human, asks_whom, find_human_request

REQUESTS = [
    # a bare name, as callers say it at any question
    "agent", "Agent.", "agent please", "Agent! Agent!", "a gent please", "operator", "Operator, please.",
    "operator operator", "representative", "Representative please.", "human", "Human, please!", "a human please",
    "real person", "A real person please.", "customer service", "Customer service, please.", "customer services",
    "uh yeah can I get an operator", "umm, representative", "Hello? Operator?", "customer care please",
    "someone please", "supervisor", "live agent please", "no agent please",
    # wanting one
    "I want an agent", "I want a real person.", "I need a human.", "I need to speak to a manager.",
    "I want to speak to your supervisor.", "I'd like to speak to an advisor please.",
    "I would like to talk to a customer service representative.", "can I have an operator please",
    "Could I get a real person on the line?", "I just want someone.", "I need somebody who can actually help.",
    "I wanna talk to a human.", "Is there a real person I can speak to?", "Is there someone I can talk to?",
    "I demand to speak to a supervisor!", "I'd rather talk to a person.", "I want a human being, not a machine.",
    # talking to one
    "Can I speak to someone?", "Can I talk to a real person?", "Can I please talk to somebody.",
    "Let me talk to someone.", "Let me speak to a person.", "let me talk to a human", "Speak to a manager.",
    "talk to a person", "How do I talk to a real human?", "How can I speak to someone?",
    "Can I talk to someone in billing?", "Could I speak with one of your staff?",
    "I want to speak to someone about my bill.", "Why can't I just talk to a person?",
    "Let me speak to whoever is in charge.", "Can I talk to customer support?",
    # being put through
    "Just put me through.", "put me through", "Put me through, please.", "Can you just put me through?",
    "Transfer me.", "transfer me please", "Transfer me to someone.", "Transfer me to an operator.",
    "Connect me to customer service.", "Connect me with a representative.", "Get me a human.",
    "Get me someone who can actually help.", "Give me an agent.", "Give me a real person now!",
    "Put me on to somebody.", "Can you connect me to someone?", "Pass me to a colleague.",
    "I want to be transferred.", "Can I be put through to someone?", "Just get me somebody.",
    "I keep pressing zero and nothing happens.", "I asked for an agent ten minutes ago!",
    "Could I have a word with someone in charge?", "Is there anybody there I can speak to?",
    # angry, or no machine
    "This is ridiculous, nothing works. Get me a human now!", "No, I want a real person.",
    "No! Just let me talk to someone.", "I don't want to talk to a machine.",
    "I don't want to talk to a robot, get me a person.", "Stop, I want a human.",
    "I'm not talking to a stupid machine.", "I'm sick of this robot.",
    "This is useless, get me a human being now.", "Oh my god, operator!",
    "I don't know, can I just talk to someone?", "Yes, can I talk to someone please?",
    "I don't want to wait, just put me through.",
    "actually, took me through 2018", "yeah, this is useless, got me a human being now", "Got me a real person.",
    "no, this is ridiculous, nothing works, set me a human now", "look can I adjust to a real person",
    "Can I just speak to you a person about it?", "Could somebody real sort this out?", "Can an actual person help me with this?", "I want someone real.",
    # "operator" as the recogniser writes it alone over a poor line
    "Upperator, please.", "Authorator please.", "Operate or please.", "I'm a creator, please.", "Anotherator.",
    "And operator.", "of the reator",
    # the "to" lost before a strong name
    "nope, I've had enough of as I want to speak the real person right now.", "Can I talk the manager?",
    "Can I just speak the person about it?",
    # "rather" than the bot, whoever the recogniser heard named
    "wait I'd rather speak to the nation", "I would rather talk to a pageant",
    # a person "instead", the verb heard in the past tense
    "Hold on Ken, I talked to a real person instead.", "I'd rather speak with someone instead",
    # a word of assent before a bare name ("get me a human now" heard over GSM)
    "no, this is ridiculous, nothing works, certainly a human now", "Sure, an agent please.",
]

NEAR_MISSES = [
    "I want to check my balance", "my card was stolen", "a person stole my card", "Someone stole my card.",
    "human resources called me", "The delivery person left it next to the bins.",
    "My agent number is four four two one.", "I spoke to an agent yesterday about this.",
    "I talked to a real person instead of using the app last time.",
    "The manager at the store said I could return it.", "Transfer fifty dollars to my savings.",
    "I want to transfer money.", "What's the status of my transfer?", "Someone from your team called me.",
    "Can someone tell me where my parcel is?", "I need someone to sign for the parcel.",
    "Put me down for Tuesday morning.", "My son is a real estate agent.", "My travel agent booked it.",
    "The operator of the bus was rude.", "Let me talk to my wife first.", "A gentleman came to the door.",
    "The agent at the depot told me to call.", "Am I talking to a real person?", "Is this a robot?",
    "I was talking to an agent and got cut off.", "Connect my card to the app.", "I'll speak to you later.",
    "I talked to a person already.", "The agent took me through the steps.", "She got me the manager yesterday.",
    "They set me up with an agent last week.", "Can I send the form to your manager by post?",
    "can I send it to your manager", "could we give it to an agent",
    "You got me a refund, thanks.", "Yes.", "No, that's all.", "speak up please",
    "My generator broke down.", "The refrigerator I ordered is broken.", "Better.", "The router.", "Operate.",
    "I'm calling about the decorator you sent.", "and then nothing", "One of the generators is broken.",
    "Do you speak Spanish?", "I can't talk the way I used to.", "I'd rather speak to my wife first.",
]

DECLINED = [
    "no I don't need an agent", "No, I don't want an agent.",
    "I don't want to speak to anyone, I just want my balance.",
    "No thanks, no agent needed.", "I didn't ask for an operator.", "Please don't transfer me.",
    "Don't put me through to anyone.", "No need for an agent, thanks.", "I don't need to talk to a person.",
    "I do not want a representative.", "Not an agent, my balance.", "I'd rather not talk to a person.",
    "I never asked for a manager.",
]


@pytest.mark.parametrize("text", REQUESTS)
def test_a_request_for_a_person_is_found(text: str) -> None:
    found = find_human_request(text)
    assert found is not None and not found.declined, text
    assert asks_for_human(text)


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_a_near_miss_is_no_request(text: str) -> None:
    assert find_human_request(text) is None, find_human_request(text)


@pytest.mark.parametrize("text", DECLINED)
def test_a_declined_person_is_no_request(text: str) -> None:
    found = find_human_request(text)
    assert found is not None and found.declined, (text, found)
    assert not asks_for_human(text)


def test_enough_phrasings_are_checked() -> None:
    assert len(REQUESTS) >= 60 and len(NEAR_MISSES) + len(DECLINED) >= 20


def test_a_bare_name_is_told_from_words_of_asking() -> None:
    bare = find_human_request("agent please")
    explicit = find_human_request("actually, put me through 10 agent")
    assert bare is not None and not bare.explicit and bare.phrase == "agent"
    assert explicit is not None and explicit.explicit and explicit.phrase == "put me through"


@pytest.mark.parametrize(("text", "whom"), [
    ("Are you a real person?", True), ("Hang on, is this a machine?", True),
    ("Am I talking to a robot? Get me an agent.", False), ("I want an agent", False), ("agent", False),
])
def test_a_question_about_whom_the_caller_talks_to_is_told_apart(text: str, whom: bool) -> None:
    assert asks_whom(text) is whom
