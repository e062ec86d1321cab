"""Train the digit reader (``voicebot/speech/digit_reader.py``): ``voicebot models train-digits``.

Data, made here offline and deterministically (seeded per clip): random digit strings (4-16 digits, a
third repeating the digit before) said the ways callers say them — digit by digit, in groups, "oh",
"double"/"triple", pairs ("forty-two seventeen"), hundreds and thousands, inside a sentence, with a
hesitation, styles mixed group by group — and answers that are not numbers ("I don't have one"). Spoken by
voices the evaluation does not hold out: espeak-ng (seven English accents × many voice variants, speeds
and pitches), the bot's Piper voice (random length and noise scales), flite rms and awb (dev voices of
``eval/digits.py``: their figures there are "trained on"), and the FSDD dev speakers george, jackson, lucas,
nicolas joined into strings. Never festival, flite slt/kal (the held-out festival slt/kal speakers) or FSDD
theo/yweweler. Each clip goes through a phone channel (``caller/voices.py``: μ-law, A-law, GSM, AMR,
pink or babble noise at 5-25 dB SNR; some FSDD clips stay as recorded), gets the listener's silences, and is
encoded by whisper tiny.en exactly as the recogniser encodes a turn; the encoder states are cached under
``work`` (shards of ``npz``), so a rerun only trains.

Model: see the serving module; trained with CTC (torch, CPU) on word labels, seeded, Adam with a cosine
schedule, light masking of the features; 3 % of the clips are kept apart to report word error. The shipped
reader is an ensemble: the default network, then one fine-tuned from it on other clips with "pairs" three times
as often (``--seed 2027 --pairs 3 --lr 1e-3 --init … --join …``).
"""

from __future__ import annotations

import math
import random
import subprocess
import tempfile
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voicebot.speech.digit_reader import FEATURE_DIM, NUMBER_WORDS, OTHER, STACK, VOCAB, ctc_greedy, ensemble_weights

SEED = 1711
RATE = 8000
DIGIT_WORDS = "zero one two three four five six seven eight nine".split()
TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
ESPEAK_LANGS = ("en-us", "en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd",
                "en-029")
ESPEAK_VARIANTS = ("", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5", "adam",
                   "andy", "annie", "benjamin", "david", "ed", "edward", "john", "linda", "max", "michael",
                   "paul", "quincy", "rob", "robert", "steph", "travis", "victor", "zac", "klatt", "klatt2",
                   "klatt3", "klatt4", "aunty", "belinda", "gene", "iven", "norbert", "shelby", "grandpa")
FLITE_VOICES = ("rms", "awb")
FSDD_SPEAKERS = ("george", "jackson", "lucas", "nicolas")
LEADS = ("my number is", "it's", "the account number is", "okay so it's", "yes it is", "let me see",
         "sure", "that would be", "hold on it's", "um", "right it's", "I think it's", "the number is",
         "my order number is", "yeah it's", "tracking number", "my card number is", "it should be")
TAILS = ("thanks", "thank you", "that's it", "I think", "okay", "please")
FILLERS = ("uh", "um", "er", "sorry", "wait", "let me check")
OTHER_ANSWERS = ("I don't have one", "I don't know it", "can I talk to a real person", "this is ridiculous",
                 "I'm not sure where to find it", "no", "yes", "what do you mean", "hang on a second",
                 "I need to find my card", "can you repeat that", "I don't have it with me", "agent please",
                 "it's on the letter somewhere", "hold on", "no thanks", "I want to speak to someone",
                 "the one on my card", "I have two accounts", "it was four days ago")
CHANNEL_CODECS = ("ulaw", "ulaw", "alaw", "gsm", "amr")


@dataclass(frozen=True, slots=True)
class Script:
    """One training utterance: what the voice says and the reader's labels for it."""

    text: str
    labels: tuple[str, ...]


# ---- what callers say ---------------------------------------------------------------------------

def random_digits(n: int, rng: random.Random) -> str:
    out = [rng.choice("0123456789")]
    while len(out) < n:
        out.append(out[-1] if rng.random() < 0.33 else rng.choice("0123456789"))
    return "".join(out)


def _zero(rng: random.Random) -> str:
    return "oh" if rng.random() < 0.5 else "zero"


def say_group(group: str, style: str, rng: random.Random) -> list[str]:
    """The words of one group in ``style`` (hyphenated pairs are one word to the voice, two labels)."""
    zero = _zero(rng)

    def digit(d: str) -> str:
        return zero if d == "0" else DIGIT_WORDS[int(d)]

    if style == "pairs":
        words, i = [], 0
        while i < len(group):
            piece = group[i:i + 2]
            words += [digit(piece)] if len(piece) == 1 else _pair(piece, zero)
            i += 2
        return words
    if style == "hundred" and group[1:] == "00" and group[0] != "0":
        return [digit(group[0]), "hundred"]
    if style == "thousand" and len(group) == 4 and group[1:] == "000" and group[0] != "0":
        return [digit(group[0]), "thousand"]
    if style == "double":
        words, i = [], 0
        while i < len(group):
            run = len(group[i:]) - len(group[i:].lstrip(group[i]))
            take = 3 if run >= 3 and rng.random() < 0.7 else 2 if run >= 2 else 1
            words += {1: [], 2: ["double"], 3: ["triple"]}[take] + [digit(group[i])]
            i += take
        return words
    return [digit(d) for d in group]


def _pair(pair: str, zero: str) -> list[str]:
    if pair[0] == "0":
        return [zero, zero if pair[1] == "0" else DIGIT_WORDS[int(pair[1])]]
    if pair[0] == "1":
        return [TEENS[int(pair[1])]]
    return [TENS[int(pair[0])]] + ([] if pair[1] == "0" else [f"-{DIGIT_WORDS[int(pair[1])]}"])


def groups_of(digits: str, rng: random.Random) -> list[str]:
    sizes: list[int] = []
    while sum(sizes) < len(digits):
        sizes.append(min(rng.choice([2, 3, 3, 4, 4]), len(digits) - sum(sizes)))
    if rng.random() < 0.2:
        sizes = [len(digits)]
    out, i = [], 0
    for size in sizes:
        out.append(digits[i:i + size])
        i += size
    return out


def script(rng: random.Random, pairs: int = 1) -> Script:
    """A random utterance: mostly a digit string in mixed styles, sometimes inside a sentence or not a
    number at all; ``pairs``: how many times "pairs" is among the styles drawn (1: as the shipped reader)."""
    if rng.random() < 0.07:
        text = rng.choice(OTHER_ANSWERS)
        return Script(text, tuple(w if w in NUMBER_WORDS else OTHER for w in text.lower().split()))
    n = rng.randint(7, 10) if rng.random() < 0.7 else rng.randint(4, 16)
    groups = groups_of(random_digits(n, rng), rng)
    for k, group in enumerate(groups):  # something for "hundred" / "thousand" to say
        if len(group) in (3, 4) and rng.random() < 0.15:
            groups[k] = rng.choice("123456789") + "0" * (len(group) - 1)
    base = rng.choice(("plain", "plain", "oh", "double", *["pairs"] * pairs, "hundred", "thousand"))
    spoken: list[list[str]] = []
    for group in groups:
        style = base if rng.random() < 0.7 else rng.choice(("plain", "double", *["pairs"] * pairs, "hundred",
                                                            "thousand"))
        spoken.append(say_group(group, style, rng))
    if rng.random() < 0.2:
        spoken.insert(rng.randrange(0, len(spoken) + 1), rng.choice(FILLERS).split())
    if rng.random() < 0.3:
        spoken.insert(0, rng.choice(LEADS).split())
    if rng.random() < 0.1:
        spoken.append(rng.choice(TAILS).split())
    sep = rng.choice((", ", ", ", " ", ". "))
    text = sep.join(" ".join(g) for g in spoken).replace(" -", "-")
    labels = []
    for group in spoken:
        for word in group:
            labels.append(word.lstrip("-") if word.lstrip("-") in NUMBER_WORDS else OTHER)
    return Script(text, tuple(labels))


# ---- voices -------------------------------------------------------------------------------------

def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").copy(), w.getframerate()


def espeak(text: str, rng: random.Random) -> tuple[np.ndarray, int]:
    variant = rng.choice(ESPEAK_VARIANTS)
    voice = rng.choice(ESPEAK_LANGS) + (f"+{variant}" if variant else "")
    with tempfile.TemporaryDirectory(prefix="voicebot-digits-") as tmp:
        out = Path(tmp) / "s.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(rng.randint(120, 200)), "-p", str(rng.randint(20, 80)),
                        "-g", str(rng.randint(0, 8)), "-w", str(out), text], check=True, capture_output=True,
                       timeout=60)
        return _read_wav(out)


def flite(text: str, rng: random.Random) -> tuple[np.ndarray, int]:
    with tempfile.TemporaryDirectory(prefix="voicebot-digits-") as tmp:
        out = Path(tmp) / "s.wav"
        subprocess.run(["flite", "-voice", rng.choice(FLITE_VOICES), "--setf",
                        f"duration_stretch={rng.uniform(0.85, 1.4):.2f}", "--setf",
                        f"int_f0_target_mean={rng.randint(85, 140)}", "-t", text, "-o", str(out)],
                       check=True, capture_output=True, timeout=60)
        return _read_wav(out)


class Piper:
    """The bot's Piper voice with random speed and variation."""

    def __init__(self) -> None:
        import json

        import onnxruntime
        from piper.config import PiperConfig
        from piper.voice import PiperVoice

        from voicebot.models import resolve

        path = resolve("tts_voice")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        session = onnxruntime.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
        self.voice = PiperVoice(session=session, config=PiperConfig.from_dict(json.loads(
            Path(f"{path}.json").read_text(encoding="utf-8"))))

    def __call__(self, text: str, rng: random.Random) -> tuple[np.ndarray, int]:
        from piper.config import SynthesisConfig

        config = SynthesisConfig(length_scale=rng.uniform(0.8, 1.35), noise_scale=rng.uniform(0.4, 0.9),
                                 noise_w_scale=rng.uniform(0.5, 1.0))
        pcm = b"".join(c.audio_int16_bytes for c in self.voice.synthesize(text, config))
        return np.frombuffer(pcm, dtype="<i2").copy(), self.voice.config.sample_rate


def fsdd_string(fsdd_dir: Path, rng: random.Random) -> tuple[np.ndarray, Script]:
    """A dev speaker's FSDD digits joined into a string (real 8 kHz speech, "zero" for 0)."""
    speaker = rng.choice(FSDD_SPEAKERS)
    digits = random_digits(rng.randint(4, 12), rng)
    parts: list[np.ndarray] = []
    for group in groups_of(digits, rng):
        for i, d in enumerate(group):
            clips = sorted((fsdd_dir / "audio").glob(f"{d}_{speaker}_*.wav"))
            pcm, _ = _read_wav(rng.choice(clips))
            frames = np.abs(pcm[: len(pcm) // 80 * 80].reshape(-1, 80)).max(axis=1)
            loud = np.nonzero(frames >= 0.05 * frames.max())[0]
            gap = rng.randint(30, 250) if i < len(group) - 1 else rng.randint(250, 800)
            parts += [pcm[loud[0] * 80:(loud[-1] + 1) * 80], np.zeros(RATE * gap // 1000, np.int16)]
    return np.concatenate(parts), Script(digits, tuple(DIGIT_WORDS[int(d)] for d in digits))


# ---- clips and features -------------------------------------------------------------------------

class Maker:
    """Makes clip ``index``'s audio (8 kHz int16) and labels, deterministically for ``seed`` and ``pairs``."""

    def __init__(self, fsdd_dir: Path, seed: int = SEED, pairs: int = 1) -> None:
        self.fsdd_dir = fsdd_dir
        self.seed = seed
        self.pairs = pairs
        self._piper: Piper | None = None

    def clip(self, index: int) -> tuple[np.ndarray, Script]:
        from voicebot.caller.voices import Channel, _resample, through_channel

        rng = random.Random(self.seed * 1_000_003 + index)
        source = rng.random()
        if source < 0.2 and self.fsdd_dir.is_dir():
            pcm, said = fsdd_string(self.fsdd_dir, rng)
            rate = RATE
            if rng.random() < 0.4:  # as recorded
                return self._silences((pcm * rng.uniform(0.4, 1.5)).clip(-32768, 32767).astype(np.int16), rng), said
        else:
            said = script(rng, self.pairs)
            if source < 0.55:
                pcm, rate = espeak(said.text, rng)
            elif source < 0.8:
                pcm, rate = flite(said.text, rng)
            else:
                self._piper = self._piper or Piper()
                pcm, rate = self._piper(said.text, rng)
        gain = rng.uniform(0.3, 1.3)
        pcm = (pcm.astype(np.float32) * gain).clip(-32768, 32767).astype(np.int16)
        noise = rng.random()
        channel = Channel(codec=rng.choice(CHANNEL_CODECS),
                          background=None if noise < 0.45 else "pink" if noise < 0.7 else "babble",
                          snr_db=rng.uniform(5, 25))
        audio = through_channel(_resample(pcm, rate, RATE), RATE, channel, seed=rng.randrange(1 << 30))
        return self._silences(audio, rng), said

    @staticmethod
    def _silences(audio: np.ndarray, rng: random.Random) -> np.ndarray:
        """The listener's pre-roll and the pause after the speech, of random lengths, with a faint hiss."""
        lead, tail = int(RATE * rng.uniform(0.1, 0.5)), int(RATE * rng.uniform(0.1, 0.5))
        hiss = np.random.default_rng(rng.randrange(1 << 30)).normal(0, 3, lead + tail).astype(np.int16)
        return np.concatenate([hiss[:lead], audio, hiss[lead:]])


class Encoder:
    """whisper tiny.en's encoder as the recogniser runs it (one thread)."""

    def __init__(self) -> None:
        from faster_whisper import WhisperModel

        from voicebot.models import resolve
        from voicebot.speech.asr_whisper import WhisperRecognizer

        model = WhisperModel(str(resolve("asr_fast")), device="cpu", compute_type="int8", cpu_threads=1,
                             num_workers=1)
        self.recognizer = WhisperRecognizer(model, None, "whisper-tiny")  # type: ignore[arg-type]

    def states(self, audio: np.ndarray) -> np.ndarray:
        from voicebot.audio.codecs import resample
        from voicebot.speech.asr_whisper import MODEL_RATE, utterance_states

        model_audio = np.frombuffer(resample(audio.astype("<i2").tobytes(), RATE, MODEL_RATE),
                                    dtype="<i2").astype(np.float32) / 32768.0
        return utterance_states(self.recognizer.encode_window(model_audio), model_audio.size / MODEL_RATE)


def make_shard(work: Path, shard: int, size: int, fsdd_dir: Path, seed: int = SEED, pairs: int = 1) -> Path:
    """Clips ``shard * size`` … into ``work/shard_NNNN.npz`` (``shard_SEED_pPAIRS_NNNN.npz`` for another data
    seed or mix; kept: a rerun skips it)."""
    path = work / (f"shard_{shard:04d}.npz" if (seed, pairs) == (SEED, 1) else f"shard_{seed}_p{pairs}_{shard:04d}.npz")
    if path.exists():
        return path
    maker, encoder = Maker(fsdd_dir, seed, pairs), Encoder()
    feats, lengths, labels, label_lengths = [], [], [], []
    for index in range(shard * size, (shard + 1) * size):
        audio, said = maker.clip(index)
        states = encoder.states(audio)
        feats.append(states.astype(np.float16))
        lengths.append(len(states))
        ids = [VOCAB.index(w) for w in said.labels]
        labels += ids
        label_lengths.append(len(ids))
    work.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    np.savez(partial, features=np.concatenate(feats), lengths=np.array(lengths), labels=np.array(labels, np.int16),
             label_lengths=np.array(label_lengths))
    partial.replace(path)
    return path


def make_data(work: Path, clips: int, fsdd_dir: Path, workers: int = 2, shard_size: int = 100,
              progress: Callable[[str], None] = print, seed: int = SEED, pairs: int = 1) -> list[Path]:
    """All shards for ``clips`` clips, ``workers`` processes at a time."""
    from concurrent.futures import ProcessPoolExecutor

    shards = math.ceil(clips / shard_size)
    started = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        futures = [pool.submit(make_shard, work, k, shard_size, fsdd_dir, seed, pairs) for k in range(shards)]
        paths = []
        for k, future in enumerate(futures):
            paths.append(future.result())
            progress(f"shard {k + 1}/{shards} ({time.perf_counter() - started:.0f} s)")
    return paths


# ---- training -----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class TrainConfig:
    epochs: int = 12
    batch: int = 32
    lr: float = 2e-3
    width: int = 160
    kernel: int = 5
    layers: int = 3
    dropout: float = 0.15
    held_out: float = 0.03
    seed: int = SEED
    threads: int = 2


def load_shards(paths: list[Path]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(features, label ids) per clip."""
    rows = []
    for path in paths:
        with np.load(path) as data:
            feats, labels = data["features"], data["labels"]
            f_at = np.concatenate([[0], np.cumsum(data["lengths"])])
            l_at = np.concatenate([[0], np.cumsum(data["label_lengths"])])
            for k in range(len(data["lengths"])):
                rows.append((feats[f_at[k]:f_at[k + 1]], labels[l_at[k]:l_at[k + 1]].astype(np.int64)))
    return rows


def train(paths: list[Path], out: Path, config: TrainConfig = TrainConfig(),
          progress: Callable[[str], None] = print, init: dict[str, np.ndarray] | None = None) -> dict:
    """Train on the shards (from the weights ``init`` of one network, if given), write the weights (npz) to
    ``out``, return a report."""
    import torch
    from torch import nn

    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    rows = load_shards(paths)
    rng = random.Random(config.seed)
    order = list(range(len(rows)))
    rng.shuffle(order)
    n_val = max(1, int(len(rows) * config.held_out))
    val, trn = [rows[i] for i in order[:n_val]], [rows[i] for i in order[n_val:]]

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = nn.Linear(FEATURE_DIM * STACK, config.width)
            self.conv = nn.ModuleList(nn.Conv1d(config.width, config.width, config.kernel, padding=config.kernel // 2)
                                      for _ in range(config.layers))
            self.out = nn.Linear(config.width, len(VOCAB))
            self.drop = nn.Dropout(config.dropout)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.drop(torch.relu(self.proj(x))).transpose(1, 2)
            for conv in self.conv:
                x = x + self.drop(torch.relu(conv(x)))
            return self.out(x.transpose(1, 2))

    def batch_of(items: list[tuple[np.ndarray, np.ndarray]], augment: bool):
        steps = [len(f) // STACK for f, _ in items]
        x = np.zeros((len(items), max(steps), FEATURE_DIM * STACK), np.float32)
        for k, (f, _) in enumerate(items):
            f = f[:steps[k] * STACK].astype(np.float32)
            if augment:
                f = f.copy()
                for _ in range(2):  # mask a few frames and a band of features
                    t = rng.randrange(max(1, len(f) - 6))
                    f[t:t + rng.randint(1, 4)] = 0
                    c = rng.randrange(FEATURE_DIM - 30)
                    f[:, c:c + rng.randint(5, 30)] = 0
            x[k, :steps[k]] = f.reshape(steps[k], -1)
        labels = torch.from_numpy(np.concatenate([lab for _, lab in items]))
        return (torch.from_numpy(x), torch.tensor(steps), labels, torch.tensor([len(lab) for _, lab in items]))

    net = Net()
    if init is not None:
        net.load_state_dict({k: torch.from_numpy(np.asarray(v, np.float32)) for k, v in init.items()})
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=1e-4)
    batches_per_epoch = math.ceil(len(trn) / config.batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, config.lr, total_steps=config.epochs * batches_per_epoch,
                                                   pct_start=0.1)
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    started = time.perf_counter()
    history = []
    for epoch in range(config.epochs):
        net.train()
        # batches of similar lengths, in a random order
        by_length = sorted(range(len(trn)), key=lambda i: (len(trn[i][0]), rng.random()))
        batches = [by_length[i:i + config.batch] for i in range(0, len(by_length), config.batch)]
        rng.shuffle(batches)
        total = 0.0
        for batch in batches:
            x, steps, labels, label_lengths = batch_of([trn[i] for i in batch], augment=True)
            log_probs = net(x).log_softmax(-1).transpose(0, 1)
            loss = ctc(log_probs, labels, steps, label_lengths)
            optimiser.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            optimiser.step()
            schedule.step()
            total += loss.item() * len(batch)
        wer = _word_error(net, val, batch_of)
        history.append({"epoch": epoch + 1, "loss": round(total / len(trn), 4), "val_word_error": round(wer, 4)})
        progress(f"epoch {epoch + 1}/{config.epochs} loss {total / len(trn):.3f} val word error {wer:.3%} "
                 f"({time.perf_counter() - started:.0f} s)")
    weights = {k: v.numpy().astype(np.float16) for k, v in net.state_dict().items()}
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **weights)
    return {"clips": len(rows), "train": len(trn), "val": len(val), "params": sum(p.numel() for p in net.parameters()),
            "train_s": round(time.perf_counter() - started), "history": history, "out": str(out)}


def _word_error(net, rows, batch_of) -> float:
    import torch

    from voicebot.speech.wer import edit_distance

    net.eval()
    errors = words = 0
    with torch.no_grad():
        for i in range(0, len(rows), 32):
            items = rows[i:i + 32]
            x, steps, _, _ = batch_of(items, augment=False)
            probs = net(x).softmax(-1).numpy()
            for k, (_, labels) in enumerate(items):
                heard, _ = ctc_greedy(probs[k, :int(steps[k])])
                errors += edit_distance([VOCAB[i] for i in labels], list(heard))
                words += len(labels)
    return errors / max(1, words)


def build(work: Path, out: Path, clips: int, fsdd_dir: Path, config: TrainConfig = TrainConfig(),
          workers: int = 2, progress: Callable[[str], None] = print, pairs: int = 1, init: Path | None = None,
          join: Path | None = None) -> dict:
    """Make (or reuse) the data under ``work`` (clips seeded by ``config.seed``, ``pairs`` as in :func:`script`)
    and train: the whole of ``voicebot models train-digits``. ``init``: a reader (one network) to start from;
    ``join``: a reader the new network joins, as an ensemble written to ``out`` (either may be ``out``)."""
    start = joined = None
    if init is not None:
        with np.load(init) as data:
            start = dict(data)
    if join is not None:
        with np.load(join) as data:
            joined = dict(data)
    paths = make_data(work, clips, fsdd_dir, workers, progress=progress, seed=config.seed, pairs=pairs)
    report = train(paths, out, config, progress, init=start)
    if joined is not None:
        with np.load(out) as data:
            np.savez_compressed(out, **ensemble_weights(joined, dict(data)))
        report["joined"] = str(join)
    return report
