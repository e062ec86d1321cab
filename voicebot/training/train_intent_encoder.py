"""Train an intent encoder adapter (``adapt.py``; a candidate, not shipped) on public intent data.

``python -m voicebot.training.train_intent_encoder [--data ../shared/data/intents] [--steps N] [--out F]``
reads BANKING77 (the 80 % training part of ``holdout()``: the 20 % stays a development set), CLINC150 train
(without its ``oos`` rows), HWU64 train and SLURP devel, and runs ``adapt.adapt``. Deterministic.
CPU only; ≈ 15–20 minutes on 2 shared cores for the default steps.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from voicebot.training.adapt import AdaptConfig, adapt, save_adapter
from voicebot.training.evaluate import few_shot, holdout, read_rows
from voicebot.nlu.intents import OOS

DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "intents"
ARTIFACT = "intent_encoder.safetensors"


def read_groups(data: Path) -> dict[str, list[tuple[str, str]]]:
    """(text, label) rows per data set; none of the development or test parts."""
    banking, _ = holdout(read_rows(data / "banking77_train.csv"))
    slurp = [(json.loads(line)["text"], json.loads(line)["label"])
             for line in (data / "slurp_devel.jsonl").read_text().splitlines() if line.strip()]
    return {
        "banking77": banking,
        "clinc150": [r for r in read_rows(data / "clinc150_train.jsonl") if r[1] != OOS],
        "hwu64": read_rows(data / "hwu64_train.csv"),
        "slurp": slurp,
    }


def main(argv: list[str] | None = None) -> int:
    from voicebot.models import DEFAULT_MODELS_DIR

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--steps", type=int, default=AdaptConfig().steps)
    parser.add_argument("--lr", type=float, default=AdaptConfig().encoder_lr)
    parser.add_argument("--layers", type=int, default=AdaptConfig().train_layers)
    parser.add_argument("--per-label", type=int, default=None,
                        help="At most this many rows per label (seeded).")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=DEFAULT_MODELS_DIR / ARTIFACT)
    args = parser.parse_args(argv)
    groups = read_groups(args.data)
    if args.per_label:
        groups = {name: few_shot(rows, args.per_label) for name, rows in groups.items()}
    print({name: len(rows) for name, rows in groups.items()}, flush=True)
    started = time.perf_counter()

    def progress(step: int, total: int, loss: float) -> None:
        if step % 25 == 0 or step == total:
            print(f"step {step}/{total} loss {loss:.3f} {time.perf_counter() - started:.0f} s", flush=True)

    config = AdaptConfig(steps=args.steps, encoder_lr=args.lr, train_layers=args.layers, threads=args.threads)
    weights = adapt(list(groups.values()), config, progress=progress)
    save_adapter(weights, args.out)
    size = args.out.stat().st_size / 1e6
    print(f"wrote {args.out} ({size:.1f} MB) in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
