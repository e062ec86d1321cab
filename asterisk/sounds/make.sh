#!/bin/sh
# Regenerates the test caller's recorded requests: Debian's flite (voice slt), then sox to 8 kHz 16-bit mono
# WAV, the format Asterisk's format_wav plays. apt-get install flite sox
set -eu
cd "$(dirname "$0")"
say() {
    flite -voice slt -t "$2" -o "/tmp/voicebot-sound-$$.wav"
    sox "/tmp/voicebot-sound-$$.wav" -r 8000 -c 1 -b 16 "$1.wav"
    rm -f "/tmp/voicebot-sound-$$.wav"
}
say check-my-balance "I'd like to check my balance, please."
say agent-please "Can I speak to an agent, please?"
