"""How the dialog's hints (what it expects next) bias whisper: a prompt, hotwords, or a digits grammar."""

from __future__ import annotations

from voicebot.types import RecognitionHints

# Whisper reads the prompt (and hotwords, which faster-whisper puts before it) as text that came just
# before the audio: it steers vocabulary. When digits are expected, whisper is constrained to a grammar
# instead: every token that cannot spell a digit word, a command word or one of the flow's phrases is
# suppressed, as a Vosk or VoiceXML digits grammar would. On FSDD (tiny.en, 75 clips) that cut WER from
# 16 % (digit words as hotwords; a numeric prompt or a comma list did worse, with runaway repetitions)
# to 5 %. Figures: eval/README.md, section ASR.
DIGIT_WORDS = "zero one two three four five six seven eight nine oh double triple"
COMMAND_WORDS = "agent operator representative help repeat"  # still heard while digits are expected
SPOKEN_COMMANDS = "help, agent, operator, repeat"  # global handlers, biased for alongside a question's options
YES_NO_WORDS = "yes no yeah nope correct"
# A caller may ask for a person at a yes/no question too: "Operator." by festival's slt voice was heard "up for
# nature" at a confirmation, by tiny and base alike, until these were among its hotwords; no yes/no answer or
# line noise was heard as either word (eval/README.md, "Eleventh session").
PERSON_WORDS = "agent operator"
GENERIC_PROMPT = "Hello, I'm calling about my account."
# After a question's options and the commands, how callers ask for the commands. Whisper reads the
# hotwords and then this prompt as one text (asr_whisper.py): it ends in a full stop, so whisper starts
# a new sentence rather than continue the list (ending in "repeat", it wrote "repeat that please" as
# "that, please."). Menu answers, flite voices: WER 20.6 -> 17.7 % (eval/README.md, "Menu answers").
COMMAND_PROMPT = "what can I say, a real person."
# A date question: the words of dates as hotwords, ending in a full stop. Date answers by the flite voices over
# μ-law and GSM with babble, parsed as the flow does: 59.7 -> 72.2 % (eval/README.md, "Date answers").
DATE_WORDS = ("today, tomorrow, Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday, January, February, "
              "March, April, May, June, July, August, September, October, November, December.")


def prompt_for(hints: RecognitionHints) -> tuple[str | None, str | None]:
    """``(initial_prompt, hotwords)`` for faster-whisper from what the dialog expects next."""
    phrases = ", ".join(p.strip() for p in hints.phrases if p.strip())
    if hints.kind == "digits":
        return None, None  # the grammar does the biasing
    if hints.kind == "yes_no":
        return None, " ".join(filter(None, (YES_NO_WORDS, PERSON_WORDS, phrases)))
    if hints.kind == "date":
        return None, DATE_WORDS
    if phrases:  # the options, and the commands a caller may say instead ("Help!" was heard "health")
        return COMMAND_PROMPT, f"{phrases}, {SPOKEN_COMMANDS}"
    return GENERIC_PROMPT, None


def grammar_for(hints: RecognitionHints) -> tuple[str, ...] | None:
    """The words whisper may write, or None for free text. Only digits are constrained: a yes/no or
    menu question gets free answers too ("I want to check my balance")."""
    if hints.kind != "digits":
        return None
    words = f"{DIGIT_WORDS} {COMMAND_WORDS} {' '.join(hints.phrases)}".lower().split()
    return tuple(sorted(set(words)))
