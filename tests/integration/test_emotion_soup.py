"""The emotion model's soup over the real MiniLM base: layers and heads averaged, a layer one model did not tune
counting as the base's, the offsets tuned on the tune half and the artifacts saved as one model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

from voicebot.models import resolve
from voicebot.nlu.embeddings import load_encoder
from voicebot.nlu.emotion import EKMAN, LABELS
from voicebot.training.train_emotion import ENCODER_FILE, EmotionTrainConfig, save_artifacts, soup

DENSE5, DENSE4 = "encoder.layer.5.output.dense.weight", "encoder.layer.4.output.dense.weight"


def _model(folder: Path, layers: dict[str, np.ndarray], weight: float) -> Path:
    head = folder / "emotion_head.npz"
    weights = np.full((len(LABELS) + len(EKMAN), 384), weight, np.float32)
    save_artifacts(head, {n: v.astype(np.float16) for n, v in layers.items()}, weights,
                   np.zeros(len(weights), np.float32), np.full(len(EKMAN), 0.5, np.float32), EmotionTrainConfig())
    return head


def test_a_soup_averages_two_models_over_the_base(tmp_path: Path) -> None:
    base = {n: t.detach().numpy().astype(np.float32) for n, t in load_encoder(resolve("embeddings")).state_dict().items()}
    step = np.full_like(base[DENSE5], 0.01)
    first = _model(tmp_path / "a", {DENSE5: base[DENSE5] + step, DENSE4: base[DENSE4] + 2 * step}, 0.5)
    second = _model(tmp_path / "b", {DENSE5: base[DENSE5] - step}, 1.5)  # layer 4 as in the base
    data = tmp_path / "data"
    data.mkdir()
    rows = [{"id": f"c{i}", "text": text, "labels": [label], "ekman": [ekman]}
            for i, (text, label, ekman) in enumerate([("thanks so much", "gratitude", "joy"),
                                                      ("this is useless", "annoyance", "anger"),
                                                      ("ok", "neutral", "neutral"), ("I hate this", "anger", "anger")] * 6)]
    (data / "goemotions_dev.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    out = tmp_path / "soup" / "emotion_head.npz"
    report = soup([first, second], out, data, EmotionTrainConfig())

    layers = load_file(str(out.parent / ENCODER_FILE))
    assert set(layers) == {DENSE5, DENSE4}
    np.testing.assert_allclose(layers[DENSE5].astype(np.float32), base[DENSE5], atol=2e-3)  # +0.01 and -0.01
    np.testing.assert_allclose(layers[DENSE4].astype(np.float32), base[DENSE4] + step, atol=2e-3)  # half of +0.02
    with np.load(out, allow_pickle=False) as saved:
        assert np.allclose(saved["weights"], 1.0) and np.allclose(saved["ekman_weights"], 1.0)
        assert str(saved["encoder"]) == ENCODER_FILE
    assert report["tune_rows"] > 0 and set(report["group_offsets"]) == set(LABELS)


def test_the_training_command_refuses_seeds_that_are_not_numbers(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from voicebot.cli import app

    result = CliRunner().invoke(app, ["models", "train-emotion", "--data", str(tmp_path), "--seeds", "zero,one"])
    assert result.exit_code == 2 and "comma-separated list of integers" in result.output
