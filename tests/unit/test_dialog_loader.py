"""Flow loading: YAML positions, shape errors with line numbers, compiled bundles, hot reload."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from voicebot.dialog.actions import ActionRunner
from voicebot.dialog.engine import DialogEngine
from voicebot.dialog.loader import FlowLoadError, FlowRegistry, load_bundle, parse_yaml
from voicebot.nlu.entities import extract
from voicebot.types import CallStart, Understanding

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
name: shop
intents:
  order_status:
    examples: [where is my order, order status, track my order, has my order shipped, my delivery]
flows:
  main:
    steps:
      - menu:
          prompt: "How can I help?"
      - end: "Bye"
  orders:
    intent: order_status
    steps:
      - say: "Your order is on its way."
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


def test_parse_yaml_keeps_line_and_column_of_every_value():
    data, smap, problems = parse_yaml("a:\n  b: [1, 2]\n  c:\n    - x: 3\n", "f.yaml")
    assert problems == []
    assert data == {"a": {"b": [1, 2], "c": [{"x": 3}]}}
    assert smap.locate(("a", "b")) == (2, 6)
    assert smap.locate(("a", "b", 1)) == (2, 10)
    assert smap.locate(("a", "c", 0, "x")) == (4, 10)
    assert smap.locate(("a", "c", 0, "x"), key=True) == (4, 7)
    assert smap.locate(("a", "c", 0, "missing")) == (4, 7)  # nearest ancestor


def test_yaml_syntax_error_and_duplicate_key_are_located():
    _, _, problems = parse_yaml("a: [1, 2\nb: 3\n", "f.yaml")
    assert len(problems) == 1 and problems[0].message.startswith("YAML syntax")
    _, _, problems = parse_yaml("a: 1\nb: 2\na: 3\n", "f.yaml")
    assert [(p.line, p.column) for p in problems] == [(3, 1)]
    assert "duplicate key 'a'" in problems[0].message


def test_good_bundle_compiles(tmp_path):
    bundle, problems = load_bundle(write(tmp_path, "shop.yaml", GOOD))
    assert bundle is not None, problems
    assert bundle.name == "shop"
    assert bundle.intent_flow == {"order_status": "orders"}
    assert set(bundle.intents) == {"order_status", "help", "repeat", "agent", "goodbye"}
    assert "agent please" in bundle.intents["agent"]
    assert len(bundle.version) == 16
    assert "Your order is on its way." in bundle.static_prompts()
    assert "Did you want to order status?" in bundle.static_prompts()
    assert bundle.resolve_target("orders", "main") == ("orders", 0)


def test_shape_errors_carry_file_line_and_column(tmp_path):
    text = GOOD.replace('      - end: "Bye"', '      - end: "Bye"\n      - ask: x\n      - sya: "hello"')
    bundle, problems = load_bundle(write(tmp_path, "shop.yaml", text))
    assert bundle is None
    found = [(p.line, p.column, p.message) for p in problems]
    assert any(line == 11 and col == 9 and "missing key 'prompt'" in m for line, col, m in found), found
    assert any(line == 12 and "unknown step" in m and "sya" in m for line, col, m in found), found
    assert all(p.file.endswith("shop.yaml") for p in problems)


def test_unknown_key_points_at_the_key(tmp_path):
    text = GOOD.replace("name: shop", "name: shop\nbakend: http://x")
    _, problems = load_bundle(write(tmp_path, "shop.yaml", text))
    assert [(p.line, p.column) for p in problems] == [(2, 1)]
    assert "unknown key 'bakend'" in problems[0].message


def test_registry_load_raises_with_every_problem(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "b.yaml", GOOD.replace("name: shop", "name: other").replace("say:", "sya:"))
    with pytest.raises(FlowLoadError) as err:
        FlowRegistry.load(tmp_path)
    assert any(p.file.endswith("b.yaml") for p in err.value.problems)


def test_test_files_and_subdirectories_are_not_bundles(tmp_path):
    write(tmp_path, "shop.yaml", GOOD)
    write(tmp_path, "shop.test.yaml", "bundle: shop\ntests: []\n")
    (tmp_path / "tests").mkdir()
    write(tmp_path / "tests", "x.yaml", "not: a bundle\n")
    assert FlowRegistry.load(tmp_path).names() == ["shop"]


def test_reload_keeps_running_bundles_on_a_broken_edit(tmp_path):
    path = write(tmp_path, "shop.yaml", GOOD)
    registry = FlowRegistry.load(tmp_path)
    before = registry.get("shop")
    path.write_text(GOOD.replace("say:", "sya:"))
    problems = registry.reload()
    assert any(p.severity == "error" for p in problems)
    assert registry.get("shop") is before  # the old bundle still runs
    path.write_text(GOOD.replace("on its way", "delivered"))
    assert [p for p in registry.reload() if p.severity == "error"] == []
    assert registry.get("shop") is not before
    assert "Your order is delivered." in registry.get("shop").static_prompts()


async def test_watch_reloads_on_change_and_reports_problems(tmp_path):
    path = write(tmp_path, "shop.yaml", GOOD)
    registry = FlowRegistry.load(tmp_path)
    reports: list[list] = []
    changed = asyncio.Event()

    def on_change(problems):
        reports.append(problems)
        changed.set()

    task = asyncio.create_task(registry.watch(0.02, on_change))
    try:
        path.write_text(GOOD.replace("say:", "sya:") + "\n")
        os.utime(path, ns=(1, 10**18))
        await asyncio.wait_for(changed.wait(), 10)
        assert any(p.severity == "error" for p in reports[0])
        assert registry.get("shop").name == "shop"
    finally:
        task.cancel()


def test_unknown_bundle_is_a_key_error(tmp_path):
    write(tmp_path, "shop.yaml", GOOD)
    with pytest.raises(KeyError):
        FlowRegistry.load(tmp_path).get("nope")


def test_repository_flows_are_valid():
    registry = FlowRegistry.load(ROOT / "dialogs")
    assert "example" in registry.names()


ANYTHING_ELSE = GOOD.replace('      - end: "Bye"', '''      - ask: more
        type: anything_else
        prompt: "Anything else I can help with?"
      - end: "Bye"''')


@pytest.mark.parametrize(("answer", "value"), [
    ("one more thing", "yes"), ("yes please", "yes"), ("great, thanks, that's it", "no"),
    ("nothing else", "no"),
    ("I'm all set", "no"), ("nope", "no"), ("Okay, goodbye.", "no"),
])
def test_anything_else_is_built_in_and_read_the_way_callers_answer(tmp_path, answer, value):
    """A bundle asks "Anything else?" with the built-in type, declaring nothing; "that's it" is a no there."""
    bundle, problems = load_bundle(write(tmp_path, "shop.yaml", ANYTHING_ELSE))
    assert bundle is not None, problems
    entity = extract(answer, bundle.slot_types["anything_else"], expected=True)
    assert entity is not None and entity.value == value


async def test_anything_else_listens_for_the_bundles_requests_too(tmp_path):
    """ "Anything else?" is answered with the next request as often as with a no: the requests are hints."""
    bundle, problems = load_bundle(write(tmp_path, "shop.yaml", ANYTHING_ELSE))
    assert bundle is not None, problems
    engine = DialogEngine(bundle, ActionRunner(None))
    state = engine.start("call-1", "+15550111")
    await engine.step(state, CallStart())
    result = await engine.step(state, Understanding("where is my order", "order_status", 0.9))
    hints = result.actions[-1].expect.hints
    assert hints.kind == "yes_no" and {"order status", "nothing else", "that's all"} <= set(hints.phrases)
