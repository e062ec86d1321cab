"""``voicebot chat FLOW``: talk to a flow in the terminal, seeing what the bot understood and decided.

Type what a caller would say. ``#1234#`` sends DTMF (a trailing ``#`` is the terminator), an empty
line is silence (no-input), ``/state`` shows the whole dialog state, ``/restart`` starts a new call,
``/quit`` (or Ctrl-D) leaves.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from rich.console import Console

from voicebot.dialog.loader import Bundle
from voicebot.designer.conversation_tests import (
    BackendSpec,
    ConversationTest,
    ConversationTurn,
    TextDriver,
    TurnExpect,
    TurnOutcome,
)
from voicebot.engines import LanguageUnderstanding


def _show(console: Console, outcome: TurnOutcome, details: bool = True) -> None:
    for text in outcome.bot_says:
        console.print(f"[bold cyan]bot>[/] {text}")
    if details:
        parts = []
        if outcome.intent is not None and outcome.confidence is not None:
            parts.append(f"intent [bold]{outcome.intent}[/] ({outcome.confidence:.2f})")
        elif outcome.confidence is not None:
            parts.append(f"intent [bold]out of scope[/] ({outcome.confidence:.2f})")
        if outcome.slots:
            parts.append("slots " + json.dumps(outcome.slots, default=str, ensure_ascii=False))
        parts.append(f"state [bold]{outcome.state}[/]")
        console.print("     [dim]" + " · ".join(parts) + "[/]")
        for decision in outcome.decisions:
            console.print(f"     [dim]- {decision}[/]", highlight=False)
    if outcome.handoff is not None:
        h = outcome.handoff
        console.print(
            f"[bold yellow]** handoff[/] queue={h.queue} skill={h.skill} priority={h.priority} "
            f"reason={h.reason}"
        )
    elif outcome.ended:
        console.print("[bold yellow]** call ended[/]")


async def chat(
    bundle: Bundle,
    nlu: LanguageUnderstanding,
    backend: BackendSpec,
    backend_url: str | None = None,
    caller_id: str = "",
    language: str | None = None,
    read: Callable[[str], str] = input,
    console: Console | None = None,
) -> None:
    """The interactive loop (``read`` is ``input`` in a terminal; tests pass a scripted one)."""
    console = console or Console()
    variables = {"language": language} if language else {}
    test = ConversationTest(
        name="chat", bundle=bundle.name, caller_id=caller_id, variables=variables, backend=backend
    )
    console.print(
        f"[dim]bundle {bundle.name}@{bundle.version} · #digits for DTMF · empty line = silence · "
        "/state · /restart · /quit[/]"
    )
    while True:
        driver = TextDriver(bundle, nlu, backend_url=backend_url)
        try:
            outcome = await driver.begin(test)
            _show(console, outcome)
            while not outcome.ended:
                try:
                    line = (await asyncio.to_thread(read, "you> ")).strip()
                except EOFError:
                    return
                if line == "/quit":
                    return
                if line == "/restart":
                    break
                if line == "/state":
                    assert driver.state is not None
                    console.print_json(json.dumps(_state_dict(driver), default=str))
                    continue
                if line.startswith("#") and len(line) > 1:
                    turn = ConversationTurn("dtmf", line[1:], TurnExpect())
                elif not line:
                    turn = ConversationTurn("silence", "", TurnExpect())
                else:
                    turn = ConversationTurn("caller", line, TurnExpect())
                outcome = await driver.turn(turn)
                _show(console, outcome)
            else:
                try:
                    again = (await asyncio.to_thread(read, "call ended; new call? [Y/n] ")).strip().lower()
                except EOFError:
                    return
                if again.startswith("n") or again == "/quit":
                    return
        finally:
            await driver.end()


def _state_dict(driver: TextDriver) -> dict:
    state = driver.state
    assert state is not None
    return {
        "call_id": state.call_id,
        "language": state.language,
        "stack": [vars_of(f) for f in state.stack],
        "waiting": {**vars_of(state.waiting), "request": state.waiting.request and state.waiting.request.text}
        if state.waiting
        else None,
        "slots": state.slots,
        "vars": state.vars,
        "result": state.result,
        "no_input": state.no_input,
        "no_match": state.no_match,
        "out_of_scope": state.out_of_scope,
        "frustration": state.frustration,
    }


def vars_of(obj: object) -> dict:
    return {name: getattr(obj, name) for name in obj.__slots__}  # type: ignore[attr-defined]
