"""A turn longer than one whisper window: where it is cut, and how the pieces' readings are joined."""

import numpy as np

from voicebot.speech.asr_whisper import MODEL_RATE, WINDOW_SPEECH_S, Decoded, joined, window_pieces


def test_a_long_turn_is_cut_at_its_quietest_moment_before_the_window_ends():
    rng = np.random.default_rng(0)
    audio = rng.normal(0, 0.1, int(28 * MODEL_RATE)).astype(np.float32)
    pause = slice(int(22.3 * MODEL_RATE), int(22.5 * MODEL_RATE))
    audio[pause] = 0.0
    pieces = window_pieces(audio)
    assert len(pieces) == 2
    assert pause.start <= pieces[0].size <= pause.stop  # the cut falls inside the pause
    assert np.array_equal(np.concatenate(pieces), audio)  # nothing lost, nothing doubled


def test_every_piece_fits_one_window_and_a_short_turn_stays_whole():
    audio = np.ones(int(61 * MODEL_RATE), np.float32)
    pieces = window_pieces(audio)
    assert all(p.size <= WINDOW_SPEECH_S * MODEL_RATE for p in pieces)
    assert sum(p.size for p in pieces) == audio.size
    short = np.ones(int(WINDOW_SPEECH_S * MODEL_RATE), np.float32)
    assert [p.size for p in window_pieces(short)] == [short.size]


def test_pieces_join_in_order_weighted_by_the_seconds_that_said_something():
    first = Decoded("My parcel never came,", 0.9, -0.1, 0.1, 20.0)
    silence = Decoded("", 0.0, -1.5, 0.9, 2.0)
    last = Decoded("and nobody called me back.", 0.6, -0.5, 0.2, 5.0)
    whole = joined([first, silence, last])
    assert whole.text == "My parcel never came, and nobody called me back."
    assert abs(whole.confidence - (0.9 * 20 + 0.6 * 5) / 25) < 1e-9
    assert whole.audio_seconds == 27.0
    assert joined([silence, silence]).text == ""
    assert joined([silence, silence]).confidence == 0.0
