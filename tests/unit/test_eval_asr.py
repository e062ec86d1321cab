"""`voicebot eval asr`: clips through a telephone channel, and scores per category and source."""

import json
import wave
from pathlib import Path

import numpy as np
import pytest
from scripts import imported_script
from typer.testing import CliRunner

from voicebot.caller.voices import parse_channel
from voicebot.cli import app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def eval_asr():
    with imported_script(ROOT / "eval" / "asr.py", "eval_asr_under_test") as module:
        yield module


@pytest.fixture
def manifest(tmp_path):
    """Three clips of a tone sweep, one per category, as the sentences dev set writes them."""
    t = np.arange(8000) / 8000
    pcm = (np.sin(2 * np.pi * (300 + 600 * t) * t) * 8000).astype("<i2").tobytes()
    rows = []
    for i, (category, source) in enumerate([("read_sentence", "vctk"), ("spontaneous", "mfa"),
                                            ("alphanumeric", "an4")]):
        with wave.open(str(tmp_path / f"{i}.wav"), "wb") as w:
            w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
            w.writeframes(pcm)
        rows.append({"audio": f"{i}.wav", "text": f"clip {i}", "id": f"c{i}", "category": category,
                     "source": source})
    path = tmp_path / "manifest.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_manifest_rows_carry_their_groups(eval_asr, manifest):
    clips = eval_asr.read_manifest(manifest)
    assert [c.id for c in clips] == ["c0", "c1", "c2"]
    assert dict(clips[2].groups) == {"category": "alphanumeric", "source": "an4"}
    assert [c.id for c in eval_asr.read_manifest(manifest, limit=2)] == ["c0", "c1"]


def test_clean_channel_keeps_the_audio_and_a_codec_changes_it(eval_asr, manifest):
    clip = eval_asr.read_manifest(manifest)[0]
    original = eval_asr.read_wav(clip.path)
    assert eval_asr.clip_audio(clip, parse_channel("clean")) == original
    coded = eval_asr.clip_audio(clip, parse_channel("gsm+pink10"))
    assert len(coded) == len(original) and coded != original
    assert eval_asr.clip_audio(clip, parse_channel("gsm+pink10")) == coded  # noise seeded by the clip


def test_scores_per_category_and_source(eval_asr):
    def clip(text: str, category: str, source: str):
        return eval_asr.Clip(Path(f"{source}.wav"), text, source, (("category", category), ("source", source)))

    clips = [clip("the birch canoe", "read_sentence", "osr"), clip("glue the sheet", "read_sentence", "vctk"),
             clip("E R I C", "alphanumeric", "an4")]
    report = eval_asr.score(clips, ["the birch canoe", "blue the sheet", "Eric"])
    assert report["errors"] == 1 + 4 and report["reference_words"] == 10
    read = report["by_category"]["read_sentence"]
    assert read == {"clips": 2, "wer": round(1 / 6, 4), "cer": round(1 / 25, 4)}
    assert report["by_category"]["alphanumeric"]["wer"] == 1.0
    assert report["by_category"]["alphanumeric"]["cer"] == 0.0  # spelled letters written as one word
    assert set(report["by_source"]) == {"osr", "vctk", "an4"}
    # alphanumeric items are personal data (names, phone numbers): never listed among the mistakes
    assert report["mistakes"] == [{"ref": "glue the sheet", "hyp": "blue the sheet"}]


def test_cli_rejects_an_unknown_channel(manifest):
    result = CliRunner().invoke(app, ["eval", "asr", "--manifest", str(manifest), "--channel", "isdn"])
    assert result.exit_code != 0
    assert "channel" in result.output


def test_a_quiet_clip_reaches_the_line_at_telephone_level(eval_asr):
    t = np.arange(8000) / 8000
    quiet = (np.sin(2 * np.pi * 440 * t) * 30).astype(np.int16)  # about -60 dBFS
    louder = eval_asr.at_level(quiet, -26.0)
    rms_db = 20 * np.log10(np.sqrt((louder.astype(float) ** 2).mean()) / 32768)
    assert rms_db == pytest.approx(-26.0, abs=0.5)
    assert eval_asr.at_level(np.zeros(800, np.int16), -26.0).tolist() == [0] * 800
