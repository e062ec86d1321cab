"""Flows for the dialog tests: a bundle made from YAML text as the loader reads a file, and what a step said."""

from __future__ import annotations

from pathlib import Path

from voicebot.dialog.engine import StepResult
from voicebot.dialog.loader import load_bundle
from voicebot.dialog.bundle import Bundle
from voicebot.types import Say


def bundle_of(text: str, folder: Path, name: str = "flows") -> Bundle:
    """The bundle ``text`` makes, written to ``folder/{name}.yaml`` and loaded; the test fails if it does not load."""
    path = folder / f"{name}.yaml"
    path.write_text(text)
    bundle, problems = load_bundle(path)
    assert bundle is not None, problems
    return bundle


def said(result: StepResult) -> str:
    """The texts the step's ``Say`` actions speak, in order, joined by `` | ``."""
    return " | ".join(action.text for action in result.actions if isinstance(action, Say))
