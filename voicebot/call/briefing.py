"""The agent's spoken briefing: one line from the handoff packet, rendered by the bot's voice into a WAV file
Asterisk plays to the queue member before the caller is bridged (``Queue()``'s announce argument)."""

from __future__ import annotations

import os
import time
import wave
from pathlib import Path
from typing import TYPE_CHECKING

from voicebot.runtime import Priority
from voicebot.types import HandoffPacket

if TYPE_CHECKING:
    from voicebot.speech.tts import Speaker

RATE = 8000  # Asterisk plays an 8 kHz 16-bit mono WAV to any member channel
REASONS = {"caller_request": "asked for an agent", "service_shutdown": "the service is stopping"}
QUIET_EMOTIONS = {"neutral", "positive"}


def briefing_text(packet: HandoffPacket) -> str:
    """"Verified caller, wants card lost, asked for an agent, sounds angry." (the packet is masked already;
    slots and the transcript are left to the screen)."""
    who = "Verified caller" if packet.verified else "Caller not verified"
    summary = packet.intent_summary.split(";", 1)[0]
    wanted = summary.removeprefix("Caller wanted:").strip().replace("_", " ")
    parts = [who]
    if wanted and wanted != "no intent recognised":
        parts.append(f"wants {wanted}")
    if packet.reason:
        parts.append(REASONS.get(packet.reason, packet.reason.replace("_", " ")))
    if packet.emotion_trail and (mood := packet.emotion_trail[-1][0]) not in QUIET_EMOTIONS:
        parts.append(f"sounds {mood}")
    return ", ".join(parts) + "."


def briefing_path(directory: Path, call_id: str) -> Path:
    """Where a call's briefing is written (Asterisk plays it without the extension)."""
    return directory / f"{call_id}.wav"


def _write(directory: Path, call_id: str, pcm: bytes, keep_s: float) -> Path:
    """Write the WAV whole (renamed into place, so Asterisk never reads half a file); remove old ones."""
    directory.mkdir(parents=True, exist_ok=True)
    final = briefing_path(directory, call_id)
    part = directory / f".{call_id}.part"
    with wave.open(str(part), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm)
    part.chmod(0o644)
    os.replace(part, final)
    cutoff = time.time() - keep_s
    for old in directory.glob("*.wav"):
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except FileNotFoundError:  # removed by another worker
            continue
    return final


async def render_briefing(speaker: Speaker, packet: HandoffPacket, directory: Path, keep_s: float) -> Path:
    """Speak the packet's briefing into ``directory/<call id>.wav`` (8 kHz); briefings older than ``keep_s``
    are removed."""
    pcm = b"".join([chunk async for chunk in speaker.speak(briefing_text(packet), RATE)])
    return await speaker.pool.run(_write, directory, packet.call_id, pcm, keep_s, priority=Priority.SPEAK)
