"""Flows for the dialog tests: the repository's example flow, a bundle made from YAML text as the loader reads a
file, a stand-in correction finder, and what a step said."""

from __future__ import annotations

from pathlib import Path

from voicebot.dialog.bundle import Bundle
from voicebot.dialog.engine import StepResult
from voicebot.dialog.loader import load_bundle
from voicebot.types import Say

EXAMPLE = Path(__file__).resolve().parents[1] / "dialogs" / "example.yaml"


def example_bundle() -> Bundle:
    """``dialogs/example.yaml``, loaded; the test fails if it does not load."""
    bundle, problems = load_bundle(EXAMPLE)
    assert bundle is not None, problems
    return bundle


def bundle_of(text: str, folder: Path, name: str = "flows") -> Bundle:
    """The bundle ``text`` makes, written to ``folder/{name}.yaml`` and loaded; the test fails if it does not load."""
    path = folder / f"{name}.yaml"
    path.write_text(text)
    bundle, problems = load_bundle(path)
    assert bundle is not None, problems
    return bundle


def correction(text: str) -> str | None:
    """A stand-in for the NLU's correction finder: what follows "said" in ``text``."""
    return text.split("said", 1)[1] if "said" in text else None


def said(result: StepResult) -> str:
    """The texts the step's ``Say`` actions speak, in order, joined by `` | ``."""
    return " | ".join(action.text for action in result.actions if isinstance(action, Say))
