"""Flow diagrams: Mermaid text and the self-drawn SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from typer.testing import CliRunner

from dialogs import example_bundle
from voicebot.cli import app
from voicebot.designer.graph import build_graph, to_mermaid, to_svg

ROOT = Path(__file__).resolve().parents[2]


def example():
    return example_bundle()


def test_graph_has_a_node_per_step_and_the_ways_between_them():
    bundle = example()
    graph = build_graph(bundle)
    assert len(graph.nodes) == sum(len(f.steps) for f in bundle.flows.values())
    assert graph.flows[0] == "main" and set(graph.flows) == set(bundle.flows)
    edges = {(e.source, e.target, e.style, e.label) for e in graph.edges}
    assert ("main__1", "order_status__0", "subflow", "order_status") in edges  # menu choice
    assert ("order_status__1", "order_status__6", "fallback", "fail") in edges  # on_fail
    assert ("order_status__1", "order_status__7", "fallback", "error") in edges  # on_error
    assert ("main__3", "main__4", "jump", "else") in edges  # branch else
    assert ("request_callback__0", "verify__0", "subflow", "sub-flow") in edges
    assert ("request_callback__6", "main__2", "jump", "") in edges  # goto main.anything_else
    assert not any(e.source == "main__5" for e in graph.edges)  # end has no way out


def test_mermaid_output():
    text = to_mermaid(example())
    assert text.startswith("flowchart TD\n")
    assert '  subgraph main_flow ["main"]' in text
    assert 'main__5(["bye: end"])' in text
    assert 'order_status__1 -.->|"fail"| order_status__6' in text
    assert text.count("subgraph") == len(example().flows)


def test_svg_is_well_formed_with_a_box_per_step():
    bundle = example()
    svg = to_svg(bundle)
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    boxes = root.findall(f"{ns}g/{ns}rect")
    assert len(boxes) == sum(len(f.steps) for f in bundle.flows.values())
    assert len(root.findall(f"{ns}path")) == len(build_graph(bundle).edges)


def test_graph_command_writes_files(tmp_path):
    out = tmp_path / "example.svg"
    result = CliRunner().invoke(
        app, ["graph", str(ROOT / "dialogs" / "example.yaml"), "-f", "svg", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("<svg")
    result = CliRunner().invoke(app, ["graph", str(ROOT / "dialogs" / "example.yaml")])
    assert result.exit_code == 0 and result.stdout.startswith("flowchart TD")
