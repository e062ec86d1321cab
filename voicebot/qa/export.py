"""Reviewers' corrections as training examples for the flows: per flow, its intents with the corrected
utterances, in the flows' own YAML shape (``intents: {name: {examples: [...]}}``) to merge into the bundle.

An example is a corrected turn: the text the reviewer wrote (else what the bot heard) with the intent the
reviewer chose (else the intent the bot understood). Masked text (``**``) is left out: it teaches nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime

import yaml

from voicebot.store.qa import Example

MASKED = "**"

def by_flow(examples: Iterable[Example]) -> dict[str, dict[str, list[str]]]:
    """flow -> intent -> its example texts, in order, each once (case and spacing aside); masked or empty
    texts left out."""
    flows: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    seen: set[tuple[str, str, str]] = set()
    for example in examples:
        text = " ".join(example.text.split())
        key = (example.flow, example.intent, text.casefold())
        if not text or not example.intent or MASKED in text or key in seen:
            continue
        seen.add(key)
        flows[example.flow][example.intent].append(text)
    return {flow: {intent: texts for intent, texts in sorted(intents.items())}
            for flow, intents in sorted(flows.items())}


def flow_yaml(flow: str, intents: dict[str, list[str]], made_at: datetime) -> str:
    """One flow's examples as YAML in the flows' format, with a header saying where they come from."""
    header = (f"# Corrected utterances for flow {flow!r} from the QA console, exported {made_at:%Y-%m-%d %H:%M} "
              "UTC.\n# Merge these examples into the intents of the flow's bundle (dialogs/), then run "
              "`voicebot test`.\n")
    body = {"intents": {intent: {"examples": texts} for intent, texts in intents.items()}}
    return header + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100)


async def export_at(url: str, flow: str | None = None) -> dict[str, str]:
    """Each flow's examples as YAML (``flow_yaml``), from the call record database at ``url``
    (``voicebot qa export``); flows without a corrected turn are absent."""
    from voicebot.store import database
    from voicebot.store.qa import SqlQaStore

    engine = database.connect(url)
    try:
        flows = by_flow(await SqlQaStore(engine).examples(flow))
    finally:
        await engine.dispose()
    made_at = datetime.now(UTC)
    return {name: flow_yaml(name, intents, made_at) for name, intents in flows.items()}
