"""Caller voices (flite, festival) through a telephone channel: real synthesizers and real sox codecs."""

from __future__ import annotations

import numpy as np
import pytest

from voicebot.caller.voices import VOICES, Channel, caller_audio, missing_tools, parse_channel, speak, through_channel


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt((x.astype(np.float64) ** 2).mean()))


def test_every_voice_speaks_at_8k():
    assert missing_tools() == []
    for name in VOICES:
        audio = speak("please check my balance", name)
        assert audio.dtype == np.int16
        assert 0.8 < len(audio) / 8000 < 4.0, name
        assert _rms(audio) > 300, name


@pytest.mark.parametrize("codec, max_error", [("ulaw", 0.03), ("alaw", 0.03), ("gsm", 0.3)])
def test_codec_round_trip_keeps_the_waveform(codec, max_error):
    speech = speak("four two one seven", "flite-slt")
    heard = through_channel(speech, 8000, Channel(codec=codec, band_limit=False, line_noise_dbfs=None))
    assert len(heard) == len(speech)
    assert _rms(heard - speech.astype(np.float64)) / _rms(speech) < max_error


def test_background_noise_is_mixed_at_the_asked_snr():
    speech = speak("my parcel never arrived", "festival-kal")
    quiet = through_channel(speech, 8000, Channel(codec="none", band_limit=False, line_noise_dbfs=None))
    noisy = through_channel(speech, 8000, Channel(codec="none", band_limit=False, line_noise_dbfs=None,
                                                 background="pink", snr_db=10.0), seed=3)
    noise = noisy.astype(np.float64) - quiet
    speech_level = np.sqrt(np.mean(quiet.astype(np.float64) ** 2))
    # the SNR is set against the active (voiced) level, which is above the whole clip's RMS
    assert 8.0 < 20 * np.log10(speech_level / _rms(noise)) < 13.0


def test_channel_specs():
    assert parse_channel("clean").name == "clean"
    assert parse_channel("gsm+babble10") == Channel(codec="gsm", background="babble", snr_db=10.0)
    assert parse_channel("ulaw+snr5").background == "pink"
    with pytest.raises(ValueError, match="unknown channel"):
        parse_channel("opus")


def test_caller_audio_is_cached(tmp_path):
    first = caller_audio("yes please", "flite-rms", parse_channel("amr"), cache_dir=tmp_path)
    assert len(list(tmp_path.iterdir())) == 1
    again = caller_audio("yes please", "flite-rms", parse_channel("amr"), cache_dir=tmp_path)
    assert np.array_equal(first, again)
