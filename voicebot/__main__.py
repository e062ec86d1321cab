"""`python -m voicebot` runs the CLI."""

from voicebot.cli import app

app()
