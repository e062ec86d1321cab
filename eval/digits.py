"""Digit strings as callers say them: exact-string accuracy of the recogniser when a digits slot is expected.

The set (``eval/data/digits/set.jsonl``, made by :func:`generate` from a fixed seed) has two sources:

* **synthetic** callers that are not the bot's Piper voice (``voicebot/caller/voices.py``: flite and
  festival) over μ-law, GSM and AMR, with and without background noise, reading 4–16 digit strings the
  ways people say them: digit by digit, in groups with commas (pauses), "double"/"triple", "oh" for
  zero, pairs ("forty-two seventeen"), hundreds ("nine hundred"), inside a sentence, with an "uh";
* **real** speech: FSDD clips (6 real male speakers, 8 kHz) joined into 7–10 digit strings with gaps
  of 60–180 ms inside a group and 350–650 ms between groups.

Split: **dev** (tuned on) = the flite voices and FSDD george, jackson, lucas, nicolas; **held-out**
(reported) = the festival voices and FSDD theo, yweweler.

Each clip, with the listener's 0.2 s pre-roll and 0.1 s first pause, goes through a recognition stream
of the product recogniser (``load_recognizer``) with the hints a digits slot gives, once with the
expected length known and once without; the digits are read from the transcript with the product's
slot extraction (``voicebot.nlu.entities.extract``). Figures: exact-string accuracy (7–10 digits and
all lengths), per-digit error rate (edit distance over reference digits), decode time per clip, and
exact-string accuracy **after one repair turn**: each clip wrong on the first try is said again by the same
caller digit by digit, in groups (:func:`repair_item`: another rendering; FSDD: other takes and gaps), as the
repair dialog asks, and counts as right if the first or the repair turn is exact. The repair turn is heard
with the hints the product listens with then (:func:`repair_hints`): a number of the expected length heard
first was confirmed and said to be wrong (ruled out), another was read back; with the length known, the
fixing words and the whole length for a number said again (``voicebot.dialog.prompts.while_fixing``).
``VOICEBOT_SPEECH__DIGIT_READER=false`` measures whisper's digits grammar without the digit reader.

Run: ``voicebot eval digits [--split heldout] [--json] [--out eval/results/digits.json]``.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import wave
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

from voicebot.caller.voices import recognise
from voicebot.config import Settings
from voicebot.dialog.prompts import while_fixing
from voicebot.nlu.entities import SlotTypeSpec, extract
from voicebot.runtime import InferencePool
from voicebot.speech.asr import load_recognizer
from voicebot.speech.wer import edit_distance
from voicebot.types import RecognitionHints

RATE = 8000
HERE = Path(__file__).resolve().parent
SET_PATH = HERE / "data" / "digits" / "set.jsonl"
FSDD_DIR = HERE.parents[1] / "shared" / "data" / "asr" / "fsdd_digits_dev"
CACHE_DIR = Path.home() / ".cache" / "voicebot-eval" / "digits"
SEED = 11

DEV_VOICES = ("flite-slt", "flite-rms", "flite-awb", "flite-kal")
HELDOUT_VOICES = ("festival-slt", "festival-kal", "festival-ked")
DEV_SPEAKERS = ("george", "jackson", "lucas", "nicolas")
HELDOUT_SPEAKERS = ("theo", "yweweler")
CHANNELS = ("ulaw", "gsm", "amr", "ulaw+babble15", "gsm+pink15", "amr+babble10")
STYLES = ("plain", "grouped", "oh", "double", "pairs", "hundred", "sentence", "hesitation")

WORDS = "zero one two three four five six seven eight nine".split()
TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
LEADS = ("the number's", "it's", "yeah, my account number is", "sure, it's", "okay, that's", "it is")


# ---- the set ------------------------------------------------------------------------------------

def random_digits(n: int, rng: random.Random) -> str:
    """``n`` digits; a third of them repeat the one before (repeats are where recognisers miscount)."""
    out = [rng.choice("0123456789")]
    while len(out) < n:
        out.append(out[-1] if rng.random() < 0.3 else rng.choice("0123456789"))
    return "".join(out)


def groups_of(digits: str, rng: random.Random) -> list[str]:
    """How a caller chunks a number: 3-3-4 for ten digits, 4-4 for eight, threes and a tail otherwise."""
    n = len(digits)
    sizes = {7: [3, 4], 8: [4, 4], 9: [3, 3, 3], 10: [3, 3, 4], 4: [2, 2], 5: [2, 3], 6: [3, 3]}.get(n)
    if sizes is None or rng.random() < 0.2:
        sizes = []
        while sum(sizes) < n:
            sizes.append(min(rng.choice([3, 4]), n - sum(sizes)))
    out, i = [], 0
    for size in sizes:
        out.append(digits[i:i + size])
        i += size
    return out


def say_group(group: str, style: str) -> str:
    """One group of digits in words, in ``style``."""
    zero = "oh" if style in ("oh", "double", "pairs", "hundred") else "zero"
    if style == "hundred" and len(group) == 3 and group[0] != "0" and group[1:] == "00":
        return f"{WORDS[int(group[0])]} hundred"
    if style == "pairs":
        parts, i = [], 0
        while i < len(group):
            pair = group[i:i + 2]
            if len(pair) == 1:
                parts.append(zero if pair == "0" else WORDS[int(pair)])
            elif pair[0] == "0":
                parts.append(f"{zero} {zero if pair[1] == '0' else WORDS[int(pair[1])]}")
            elif pair[0] == "1":
                parts.append(TEENS[int(pair[1])])
            else:
                parts.append(TENS[int(pair[0])] + ("" if pair[1] == "0" else f"-{WORDS[int(pair[1])]}"))
            i += 2
        return " ".join(parts)
    if style == "double":
        parts, i = [], 0
        while i < len(group):
            run = len(group[i:]) - len(group[i:].lstrip(group[i]))
            take = 3 if run >= 3 else 2 if run == 2 else 1
            word = zero if group[i] == "0" else WORDS[int(group[i])]
            parts.append({1: word, 2: f"double {word}", 3: f"triple {word}"}[take])
            i += take
        return " ".join(parts)
    return " ".join(zero if d == "0" else WORDS[int(d)] for d in group)


def spoken(digits: str, style: str, rng: random.Random) -> str:
    """What a caller says for ``digits`` in ``style`` (see the module docstring)."""
    if style == "plain":
        return say_group(digits, style)
    groups = groups_of(digits, rng)
    said = [say_group(g, style) for g in groups]
    if style == "hesitation":
        k = rng.randrange(1, len(said)) if len(said) > 1 else 1
        said = said[:k] + ["uh"] + said[k:]
    text = ", ".join(said)
    if style == "sentence":
        text = f"{rng.choice(LEADS)} {text}" + rng.choice(("", "", ", thanks"))
    return text


def _length(rng: random.Random) -> int:
    """Mostly 7-10 digits (the metric), some 4-6 and 11-16."""
    r = rng.random()
    return rng.randint(7, 10) if r < 0.75 else rng.randint(4, 6) if r < 0.88 else rng.randint(11, 16)


def _hundred_digits(n: int, rng: random.Random) -> str:
    """A string with an "X00" group so "nine hundred" has something to say."""
    digits = list(random_digits(n, rng))
    at = rng.choice([0, 3]) if n >= 7 else 0
    digits[at:at + 3] = [rng.choice("123456789"), "0", "0"]
    return "".join(digits)


def generate(seed: int = SEED, synthetic_per_split: int = 140, fsdd_per_split: int = 60) -> list[dict]:
    """The whole set, deterministic for ``seed``."""
    rng = random.Random(seed)
    items: list[dict] = []
    for split, voices in (("dev", DEV_VOICES), ("heldout", HELDOUT_VOICES)):
        for k in range(synthetic_per_split):
            style = STYLES[k % len(STYLES)]
            n = _length(rng)
            digits = _hundred_digits(n, rng) if style == "hundred" else random_digits(n, rng)
            items.append({"id": f"syn-{split}-{k:03d}", "split": split, "source": "synthetic",
                          "voice": voices[k % len(voices)], "channel": rng.choice(CHANNELS), "style": style,
                          "digits": digits, "text": spoken(digits, style, rng)})
    for split, speakers in (("dev", DEV_SPEAKERS), ("heldout", HELDOUT_SPEAKERS)):
        for k in range(fsdd_per_split):
            speaker = speakers[k % len(speakers)]
            digits = random_digits(rng.randint(7, 10), rng)
            pieces: list[list] = []  # [clip id, gap after in ms]
            for group in groups_of(digits, rng):
                for i, d in enumerate(group):
                    gap = rng.randint(60, 180) if i < len(group) - 1 else rng.randint(350, 650)
                    pieces.append([f"{d}_{speaker}_{rng.randint(5, 9)}", gap])
            pieces[-1][1] = 0
            items.append({"id": f"fsdd-{split}-{k:03d}", "split": split, "source": "fsdd", "voice": speaker,
                          "channel": "real 8 kHz", "style": "grouped", "digits": digits, "clips": pieces})
    return items


def repair_item(item: dict) -> dict:
    """The same caller saying the number again digit by digit, as the repair turn asks ("please say it again
    digit by digit or key it in"): in groups with pauses (all in one run if that is what they said first);
    FSDD speakers with other takes and gaps. Deterministic for the item."""
    rng = random.Random(f"repair-{item['id']}")
    digits = item["digits"]
    if item["source"] == "fsdd":
        speaker, pieces = item["voice"], []
        for group in groups_of(digits, rng):
            for i, d in enumerate(group):
                gap = rng.randint(60, 180) if i < len(group) - 1 else rng.randint(350, 650)
                pieces.append([f"{d}_{speaker}_{rng.randint(5, 9)}", gap])
        pieces[-1][1] = 0
        return {**item, "id": f"{item['id']}-repair", "clips": pieces}
    style = "oh" if item["style"] in ("oh", "double", "pairs", "hundred") else "plain"
    text = ", ".join(say_group(g, style) for g in groups_of(digits, rng))
    if text == item["text"]:
        text = say_group(digits, style)
    return {**item, "id": f"{item['id']}-repair", "style": item["style"], "text": text}


# ---- audio --------------------------------------------------------------------------------------

def _fsdd_clip(clip_id: str) -> np.ndarray:
    with wave.open(str(FSDD_DIR / "audio" / f"{clip_id}.wav")) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    frames = np.abs(pcm[: len(pcm) // 80 * 80].reshape(-1, 80)).max(axis=1)
    loud = np.nonzero(frames >= 0.05 * frames.max())[0]
    return pcm[loud[0] * 80:(loud[-1] + 1) * 80]


def audio_for(item: dict, cache_dir: Path = CACHE_DIR) -> np.ndarray:
    """The clip of ``item``: int16 at 8 kHz."""
    if item["source"] == "fsdd":
        parts = []
        for clip_id, gap_ms in item["clips"]:
            parts += [_fsdd_clip(clip_id), np.zeros(RATE * gap_ms // 1000, np.int16)]
        return np.concatenate(parts)
    from voicebot.caller.voices import caller_audio, parse_channel

    return caller_audio(item["text"], item["voice"], parse_channel(item["channel"]), cache_dir)


def load_set(path: Path = SET_PATH) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# ---- scoring ------------------------------------------------------------------------------------

def heard_digits(text: str, length: int | None) -> str:
    """The digits the product's slot extraction takes from ``text`` (length bounds when known)."""
    spec = SlotTypeSpec("digits", "digits", min_length=length, max_length=length)
    entity = extract(text, spec)
    return str(entity.value) if entity is not None else ""


def summarise(rows: list[dict]) -> dict:
    """Exact-string accuracy (7-10 digits, all), per-digit error rate, decode time."""
    core = [r for r in rows if 7 <= len(r["digits"]) <= 10]
    errors = sum(edit_distance(list(r["digits"]), list(r["heard"])) for r in rows)
    times = sorted(r["decode_s"] for r in rows)
    return {
        "clips": len(rows), "clips_7_10": len(core),
        "exact_7_10": round(sum(r["heard"] == r["digits"] for r in core) / len(core), 4) if core else None,
        "exact_all": round(sum(r["heard"] == r["digits"] for r in rows) / len(rows), 4) if rows else None,
        "exact_7_10_after_repair": round(sum(_repaired(r) for r in core) / len(core), 4) if core else None,
        "repair_turns": sum("repair_heard" in r for r in rows),
        "digit_error_rate": round(errors / max(1, sum(len(r["digits"]) for r in rows)), 4),
        "decode_s_p50": round(times[len(times) // 2], 3) if times else None,
        "decode_s_p95": round(times[min(len(times) - 1, int(0.95 * len(times)))], 3) if times else None,
    }


def repair_hints(hints: RecognitionHints, heard: str) -> RecognitionHints:
    """The hints of the repair turn after the first turn was heard as ``heard`` under ``hints``: a number of
    the expected length (any, when the length is unknown) was confirmed and said to be wrong, so it is ruled
    out; another was read back. With the length known, as while a number read back is fixed."""
    fits = bool(heard) and (hints.digit_count is None or len(heard) == hints.digit_count[0])
    hints = replace(hints, ruled_out=(heard,) if fits else ())
    return hints if hints.digit_count is None else while_fixing(hints)


def _repaired(row: dict) -> bool:
    """Right on the first try, or on the one repair turn."""
    return row["heard"] == row["digits"] or row.get("repair_heard") == row["digits"]


async def evaluate(split: str, limit: int | None, engine: str, progress: bool = False) -> dict:
    settings = Settings()
    settings.speech.asr_engine = engine  # type: ignore[assignment]
    pool = InferencePool(settings.inference_workers)
    recognizer = await asyncio.to_thread(load_recognizer, settings, pool)
    items = [i for i in load_set() if split == "all" or i["split"] == split]
    if limit:
        items = items[:: max(1, len(items) // limit)][:limit]
    rows = []
    for k, item in enumerate(items):
        pcm = (await asyncio.to_thread(audio_for, item)).tobytes()
        repair_pcm: bytes | None = None
        n = len(item["digits"])
        for known in (True, False):
            hints = RecognitionHints(slot_type="digits", digit_count=(n, n) if known else None)
            text, seconds = await recognise(recognizer, pcm, hints, settings)
            heard = heard_digits(text, n if known else None)
            row = {"id": item["id"], "split": item["split"], "source": item["source"],
                   "voice": item["voice"], "channel": item["channel"], "style": item["style"],
                   "known_length": known, "digits": item["digits"], "text": text, "heard": heard,
                   "decode_s": round(seconds, 3)}
            if heard != item["digits"]:  # the repair turn: the caller says it again, digit by digit
                if repair_pcm is None:
                    repair_pcm = (await asyncio.to_thread(audio_for, repair_item(item))).tobytes()
                repair_text, _ = await recognise(recognizer, repair_pcm, repair_hints(hints, heard), settings)
                row |= {"repair_text": repair_text, "repair_heard": heard_digits(repair_text, n if known else None)}
            rows.append(row)
        if progress:
            print(f"{k + 1}/{len(items)} {item['id']} {item['digits']} -> {rows[-2]['heard']} / {rows[-1]['heard']}",
                  flush=True)
    await asyncio.gather(*(pool.run(time.sleep, 0) for _ in range(pool.workers)))
    pool.shutdown()
    return report(rows, engine, split)


def report(rows: list[dict], engine: str, split: str) -> dict:
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        length = "known" if r["known_length"] else "unknown"
        groups[f"{r['split']}/{r['source']}/{length}"].append(r)
        groups[f"{r['split']}/all/{length}"].append(r)
        groups[f"{r['split']}/style={r['style']}/{length}"].append(r)
        groups[f"{r['split']}/voice={r['voice']}/{length}"].append(r)
    return {"engine": engine, "split": split, "set": str(SET_PATH.relative_to(HERE.parent)),
            "summary": {k: summarise(v) for k, v in sorted(groups.items())},
            "mistakes": [r for r in rows if r["heard"] != r["digits"]]}


def run_cli(split: str, limit: int | None, engine: str, json_out: bool, out: Path | None,
            regenerate: bool = False, progress: bool = False) -> int:
    if regenerate or not SET_PATH.exists():
        SET_PATH.parent.mkdir(parents=True, exist_ok=True)
        SET_PATH.write_text("".join(json.dumps(i) + "\n" for i in generate()))
    result = asyncio.run(evaluate(split, limit, engine, progress))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
    if json_out:
        print(json.dumps(result, indent=2))
        return 0
    print(f"engine {engine}  split {split}  (timings on a shared 2-core machine are noisy)")
    print(f"{'group':42} {'clips':>5} {'exact 7-10':>10} {'+repair':>8} {'exact all':>9} {'digit err':>9} "
          f"{'p50 s':>6}")
    for name, s in result["summary"].items():
        if "style=" in name or "voice=" in name:
            continue
        print(f"{name:42} {s['clips']:>5} {_pct(s['exact_7_10']):>10} {_pct(s['exact_7_10_after_repair']):>8} "
              f"{_pct(s['exact_all']):>9} {_pct(s['digit_error_rate']):>9} {s['decode_s_p50']:>6}")
    return 0


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"
