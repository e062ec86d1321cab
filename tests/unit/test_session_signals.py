"""What the session tells the NLU about the caller besides the words (CallerSignals): how many utterances in
a row were not understood, and the voice against the caller's own baseline (real listener, real speech)."""

from __future__ import annotations

import asyncio

from fakes import ScriptedDialog
from test_call_session import CONTINUED_DIALOG, make_session, play_two_utterances, run_session, second_pcm, speech_pcm

__all__ = ["second_pcm", "speech_pcm"]  # fixtures


async def test_a_run_of_misunderstood_utterances_and_the_voice_reach_the_nlu(tmp_path, speech_pcm, second_pcm):
    dialog = ScriptedDialog(CONTINUED_DIALOG)
    session, conn, _, _ = make_session(tmp_path, dialog, ["Blah.", "Blah blah."])  # nothing the NLU knows
    nlu = session.services.dialog_for(None).nlu
    await asyncio.gather(run_session(session), play_two_utterances(conn, speech_pcm, second_pcm, gap_s=1.6))
    assert [s.no_matches for s in nlu.signals] == [0, 1]  # the second follows one not understood
    # the listener measured each utterance's voice; with no baseline yet there is no arousal figure
    assert all(s.arousal is None for s in nlu.signals)
    assert session._voice.energy_db.count == 2
