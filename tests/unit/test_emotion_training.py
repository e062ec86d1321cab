"""Emotion training and evaluation helpers: data split, subset, offsets, thresholds, F1 (no model)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from voicebot.nlu.emotion import EKMAN, LABELS
from voicebot.training.emotion_eval import Example, ekman_f1, group_f1, is_held_out, read_rows
from voicebot.training.train_emotion import subset, tune_group_bias, tune_thresholds


def test_read_rows_maps_groups_and_keeps_ekman(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    rows = [{"text": "ugh", "labels": ["annoyance"], "ekman": ["anger"], "id": "a1"},
            {"text": "scary", "labels": ["fear"], "ekman": ["fear"], "id": "a2"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert read_rows(path) == [Example("ugh", "frustrated", ("anger",), "a1"), Example("scary", None, ("fear",), "a2")]


def test_held_out_half_is_stable_and_about_half() -> None:
    rows = [Example("t", None, (), f"id{i}") for i in range(2000)]
    held = [r for r in rows if is_held_out(r)]
    assert 900 < len(held) < 1100
    assert held == [r for r in rows if is_held_out(r)]


def test_subset_takes_the_rare_emotions_first() -> None:
    rows = ([Example(f"a{i}", "angry", ("anger",), str(i)) for i in range(10)]
            + [Example(f"s{i}", None, ("sadness",), str(i)) for i in range(10)]
            + [Example(f"n{i}", "neutral", ("neutral",), str(i)) for i in range(100)])
    chosen = subset(rows, 30, random.Random(0))
    assert len(chosen) == 30 and len(set(chosen)) == 30
    assert sum(r.group == "angry" for r in chosen) == 10 and sum("sadness" in r.ekman for r in chosen) == 10


def test_f1_per_class_and_macro() -> None:
    scores = group_f1(["neutral", "angry", "angry", "positive"], ["neutral", "angry", "neutral", "positive"])
    assert scores["angry"] == pytest.approx(2 / 3, abs=1e-3) and scores["frustrated"] == 0.0
    assert scores["macro"] == pytest.approx(np.mean([2 / 3, 1.0, 0.0, 2 / 3]), abs=1e-3)
    ekman = ekman_f1([("joy", "surprise"), ("anger",)], [("joy",), ("anger", "disgust")])
    assert ekman["joy"] == 1.0 and ekman["surprise"] == 0.0 and ekman["disgust"] == 0.0 and ekman["anger"] == 1.0
    assert set(ekman) == {*EKMAN, "macro"}


def test_group_offsets_raise_a_rare_class() -> None:
    rng = np.random.default_rng(0)
    gold = ["neutral"] * 300 + ["angry"] * 30
    logits = rng.normal(0, 1, (330, len(LABELS)))
    logits[:, LABELS.index("neutral")] += 2.0
    logits[300:, LABELS.index("angry")] += 1.5  # separable, but under neutral's logit
    before = group_f1(gold, [LABELS[i] for i in logits.argmax(1)])
    bias = tune_group_bias(logits, gold)
    after = group_f1(gold, [LABELS[i] for i in (logits + bias).argmax(1)])
    assert bias[LABELS.index("angry")] > 0 and after["macro"] > before["macro"]


def test_thresholds_follow_the_scores() -> None:
    rng = np.random.default_rng(1)
    gold = [("joy",) if i % 4 == 0 else ("neutral",) for i in range(400)]
    logits = np.full((400, len(EKMAN)), -4.0)
    logits[:, EKMAN.index("joy")] = [(-0.5 if g == ("joy",) else -2.5) + rng.normal(0, 0.3) for g in gold]
    thresholds = tune_thresholds(logits, gold)
    assert 0.1 < thresholds[EKMAN.index("joy")] < 0.35  # between the two groups' probabilities


def test_warm_start_loads_the_saved_layers_and_refuses_foreign_ones(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from transformers import BertConfig, BertModel

    from voicebot.training.train_emotion import EmotionTrainConfig, save_artifacts, warm_start

    config = BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=16, max_position_embeddings=16)
    torch.manual_seed(0)
    tuned, fresh = BertModel(config), BertModel(config)
    layers = {name: t.numpy().astype(np.float16) for name, t in tuned.state_dict().items()
              if name.startswith("encoder.layer.1.")}
    head = tmp_path / "emotion_head.npz"
    weights = np.zeros((len(LABELS) + len(EKMAN), 8), np.float32)
    save_artifacts(head, layers, weights, np.zeros(len(weights), np.float32), np.full(len(EKMAN), 0.5, np.float32),
                   EmotionTrainConfig())
    lower_before = fresh.state_dict()["encoder.layer.0.output.dense.weight"].clone()
    assert not torch.equal(fresh.state_dict()["encoder.layer.1.output.dense.weight"],
                           tuned.state_dict()["encoder.layer.1.output.dense.weight"])
    warm_start(fresh, head)
    state = fresh.state_dict()
    for name, saved in layers.items():
        assert torch.equal(state[name], torch.from_numpy(saved.astype(np.float32)))
    assert torch.equal(state["encoder.layer.0.output.dense.weight"], lower_before)  # lower layers untouched

    other = BertModel(BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                 intermediate_size=16, max_position_embeddings=16))
    with pytest.raises(AssertionError, match="adapter names unknown"):
        warm_start(other, head)
