"""Diagrams of a bundle's flows: Mermaid text, or a self-drawn SVG (no graphviz needed).

Both come from one small graph model: a node per step, an edge per way the conversation can go
(next step, goto, branch case, fallback path, sub-flow, menu choice). The SVG lays flows out as
columns ordered by how far they are from the start flow, steps top to bottom in file order.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from voicebot.dialog.loader import Bundle
from voicebot.dialog.schema import AnyStep, step_kind


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    flow: str
    index: int
    kind: str
    label: str


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    label: str = ""
    style: str = "next"  # next | jump | fallback | subflow


@dataclass(frozen=True, slots=True)
class FlowGraph:
    flows: tuple[str, ...]  # in layout order
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]


def _node_id(flow: str, index: int) -> str:
    return re.sub(r"\W", "_", f"{flow}__{index}")


def _short(text: str, limit: int = 34) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _label(bundle: Bundle, step: AnyStep) -> str:
    kind = step_kind(step) or "?"
    head = f"{step.id}: " if step.id else ""
    lang = bundle.default_language
    detail = {
        "say": lambda: bundle.text(step.say, lang) or "",  # type: ignore[union-attr]
        "ask": lambda: f"ask {step.ask}",  # type: ignore[union-attr]
        "menu": lambda: "menu",
        "collect_digits": lambda: f"digits → {step.collect_digits}",  # type: ignore[union-attr]
        "survey": lambda: f"survey {step.survey}",  # type: ignore[union-attr]
        "branch": lambda: "branch",
        "call": lambda: f"call {step.call.webhook or step.call.function}",  # type: ignore[union-attr]
        "set": lambda: "set " + ", ".join(step.set),  # type: ignore[union-attr]
        "flow": lambda: f"sub-flow {step.flow}",  # type: ignore[union-attr]
        "handoff": lambda: f"handoff {step.handoff.queue}",  # type: ignore[union-attr]
        "end": lambda: "end",
        "goto": lambda: f"goto {step.goto}",  # type: ignore[union-attr]
    }[kind]()
    return _short(head + detail)


def build_graph(bundle: Bundle) -> FlowGraph:
    nodes: list[Node] = []
    edges: list[Edge] = []

    def target_id(target: str, flow: str) -> str | None:
        try:
            return _node_id(*bundle.resolve_target(target, flow))
        except KeyError:
            return None

    def add(source: str, target: str | None, label: str = "", style: str = "jump") -> None:
        if target is not None:
            edges.append(Edge(source, target, _short(label, 28), style))

    for flow_name, flow in bundle.flows.items():
        for i, step in enumerate(flow.steps):
            kind = step_kind(step) or "?"
            nid = _node_id(flow_name, i)
            nodes.append(Node(nid, flow_name, i, kind, _label(bundle, step)))
            last = i + 1 >= len(flow.steps)
            falls_through = kind not in ("handoff", "end", "goto") and not getattr(step, "goto", None)
            if kind == "branch":
                for case in step.branch:  # type: ignore[union-attr]
                    if case.else_ is not None:
                        add(nid, target_id(case.else_, flow_name), "else")
                        falls_through = False
                    else:
                        add(nid, target_id(case.goto, flow_name), case.if_ or "")  # type: ignore[arg-type]
            if getattr(step, "goto", None):
                add(nid, target_id(step.goto, flow_name))  # type: ignore[union-attr]
            for attr in ("on_fail", "on_error", "on_no_input", "on_no_match"):
                if getattr(step, attr, None):
                    add(nid, target_id(getattr(step, attr), flow_name), attr.removeprefix("on_"), "fallback")
            if kind == "flow":
                add(nid, _node_id(step.flow, 0), "sub-flow", "subflow")  # type: ignore[union-attr]
            if kind == "menu":
                choices = step.menu.intents or list(bundle.intent_flow)  # type: ignore[union-attr]
                for intent in choices:
                    if intent in bundle.intent_flow:
                        add(nid, _node_id(bundle.intent_flow[intent], 0), intent, "subflow")
            if falls_through and not last:
                add(nid, _node_id(flow_name, i + 1), "", "next")
    return FlowGraph(_flow_order(bundle), tuple(nodes), tuple(edges))


def _flow_order(bundle: Bundle) -> tuple[str, ...]:
    """Flows by distance from the start flow (breadth first over sub-flows, menus and jumps)."""
    links: dict[str, list[str]] = {name: [] for name in bundle.flows}
    graph_edges = []
    for flow_name, flow in bundle.flows.items():
        for step in flow.steps:
            targets = [
                getattr(step, a)
                for a in ("goto", "on_fail", "on_error", "on_no_input", "on_no_match")
                if getattr(step, a, None)
            ]
            if step_kind(step) == "branch":
                targets += [c.goto or c.else_ for c in step.branch]  # type: ignore[union-attr]
            for t in targets:
                try:
                    graph_edges.append((flow_name, bundle.resolve_target(t, flow_name)[0]))
                except KeyError:
                    continue
            if step_kind(step) == "flow":
                graph_edges.append((flow_name, step.flow))  # type: ignore[union-attr]
            if step_kind(step) == "menu":
                for intent in step.menu.intents or list(bundle.intent_flow):  # type: ignore[union-attr]
                    if intent in bundle.intent_flow:
                        graph_edges.append((flow_name, bundle.intent_flow[intent]))
    for a, b in graph_edges:
        if b in links and b not in links[a]:
            links[a].append(b)
    start = bundle.spec.start if bundle.spec.start in bundle.flows else next(iter(bundle.flows))
    order, queue = [start], [start]
    while queue:
        for nxt in links[queue.pop(0)]:
            if nxt not in order:
                order.append(nxt)
                queue.append(nxt)
    return tuple(order + [f for f in bundle.flows if f not in order])


# ------------------------------------------------------------------------------------------------
# Mermaid
# ------------------------------------------------------------------------------------------------

_MERMAID_SHAPES = {
    "branch": ("{", "}"),
    "handoff": ("{{", "}}"),
    "end": ("([", "])"),
    "menu": ("[/", "/]"),
    "ask": ("[/", "/]"),
    "collect_digits": ("[/", "/]"),
    "survey": ("[/", "/]"),
    "call": ("[[", "]]"),
    "flow": ("[[", "]]"),
}


def _mermaid_text(text: str) -> str:
    return '"' + text.replace('"', "#quot;") + '"'


def to_mermaid(bundle: Bundle) -> str:
    graph = build_graph(bundle)
    lines = ["flowchart TD"]
    for flow in graph.flows:
        lines.append(f"  subgraph {re.sub(chr(92) + 'W', '_', flow)}_flow [{_mermaid_text(flow)}]")
        for node in (n for n in graph.nodes if n.flow == flow):
            open_, close = _MERMAID_SHAPES.get(node.kind, ("[", "]"))
            lines.append(f"    {node.id}{open_}{_mermaid_text(node.label)}{close}")
        lines.append("  end")
    arrows = {"next": "-->", "jump": "-->", "fallback": "-.->", "subflow": "==>"}
    for edge in graph.edges:
        arrow = arrows[edge.style]
        label = f"|{_mermaid_text(edge.label)}|" if edge.label else ""
        lines.append(f"  {edge.source} {arrow}{label} {edge.target}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------
# SVG
# ------------------------------------------------------------------------------------------------

_W, _H, _GAP_Y, _GAP_X, _TOP, _LEFT = 230, 40, 26, 110, 60, 30
_FILL = {
    "say": "#e8f1fb",
    "ask": "#fff4d6",
    "menu": "#fff4d6",
    "collect_digits": "#fff4d6",
    "survey": "#fff4d6",
    "branch": "#efe6fb",
    "call": "#e3f6ea",
    "set": "#f2f2f2",
    "flow": "#e3f6ea",
    "handoff": "#fde2e0",
    "end": "#e0e0e0",
    "goto": "#f2f2f2",
}
_STROKE = {"next": "#555", "jump": "#1f5fa8", "fallback": "#c0392b", "subflow": "#2e8b57"}


def to_svg(bundle: Bundle) -> str:
    graph = build_graph(bundle)
    pos: dict[str, tuple[float, float]] = {}
    columns = {flow: c for c, flow in enumerate(graph.flows)}
    for node in graph.nodes:
        x = _LEFT + columns[node.flow] * (_W + _GAP_X)
        y = _TOP + node.index * (_H + _GAP_Y)
        pos[node.id] = (x, y)
    tallest = max((n.index for n in graph.nodes), default=0) + 1
    width = _LEFT * 2 + len(graph.flows) * (_W + _GAP_X) - _GAP_X
    height = _TOP + tallest * (_H + _GAP_Y) + 20
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        "<defs>"
        + "".join(
            f'<marker id="arrow-{style}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
            f'markerHeight="7" orient="auto-start-reverse">'
            f'<path d="M0,0 L10,5 L0,10 z" fill="{color}"/></marker>'
            for style, color in _STROKE.items()
        )
        + "</defs>",
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    for flow, c in columns.items():
        x = _LEFT + c * (_W + _GAP_X)
        out.append(
            f'<text x="{x + _W / 2}" y="{_TOP - 24}" text-anchor="middle" font-weight="bold" '
            f'font-size="14">{html.escape(flow)}</text>'
        )
    for edge in graph.edges:
        (x1, y1), (x2, y2) = pos[edge.source], pos[edge.target]
        color = _STROKE[edge.style]
        dash = ' stroke-dasharray="5,4"' if edge.style == "fallback" else ""
        if edge.style == "next":
            d = f"M{x1 + _W / 2},{y1 + _H} L{x2 + _W / 2},{y2}"
            mid = (x1 + _W / 2, (y1 + _H + y2) / 2)
        elif x1 == x2:  # same column: an arc on the right side
            bend = _W + 30 + min(abs(y2 - y1) / 6, 40)
            d = (
                f"M{x1 + _W},{y1 + _H / 2} C{x1 + bend},{y1 + _H / 2} "
                f"{x2 + bend},{y2 + _H / 2} {x2 + _W},{y2 + _H / 2}"
            )
            mid = (x1 + _W + 25, (y1 + y2) / 2 + _H / 2)
        else:
            sx, tx = (x1 + _W, x2) if x2 > x1 else (x1, x2 + _W)
            cx = (sx + tx) / 2
            d = f"M{sx},{y1 + _H / 2} C{cx},{y1 + _H / 2} {cx},{y2 + _H / 2} {tx},{y2 + _H / 2}"
            mid = (cx, (y1 + y2) / 2 + _H / 2)
        out.append(
            f'<path d="{d}" fill="none" stroke="{color}" stroke-width="1.4"{dash} '
            f'marker-end="url(#arrow-{edge.style})"/>'
        )
        if edge.label:
            out.append(
                f'<text x="{mid[0]}" y="{mid[1] - 3}" text-anchor="middle" fill="{color}" '
                f'font-size="10">{html.escape(edge.label)}</text>'
            )
    for node in graph.nodes:
        x, y = pos[node.id]
        rx = 18 if node.kind in ("end", "handoff") else 4
        out.append(
            f'<g><title>{html.escape(node.flow)} step {node.index + 1} ({node.kind})</title>'
            f'<rect x="{x}" y="{y}" width="{_W}" height="{_H}" rx="{rx}" '
            f'fill="{_FILL.get(node.kind, "#fff")}" '
            f'stroke="#333"/><text x="{x + 8}" y="{y + 15}" font-size="10" fill="#666">{node.kind}</text>'
            f'<text x="{x + 8}" y="{y + 31}">{html.escape(node.label)}</text></g>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"
