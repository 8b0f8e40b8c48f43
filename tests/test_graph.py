"""`wfdsl graph`: the graph data of workflows, Mermaid and DOT snapshots, CLI behaviour."""

from __future__ import annotations

import shutil
import subprocess
import typing
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings

from conftest import CASES, EXAMPLES
from strategies import programs
from wfdsl.cli import cli
from wfdsl.syntax import nodes as n
from wfdsl.syntax.parser import parse, parse_file
from wfdsl.tools.graph import Graph, render_graphs, to_dot, to_mermaid, workflow_graph

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.wf"))
CASE_FILES = sorted((CASES / "graph").glob("*.wf"))


def _graph(text: str, index: int = 0) -> Graph:
    result = parse(text)
    assert result.ok, result.diagnostics
    return workflow_graph(result.module.workflows[index])


def _edges(graph: Graph) -> list[tuple[str, str, str | None, str]]:
    return [(e.source, e.target, e.label, e.style) for e in graph.edges]


@pytest.mark.parametrize("path", EXAMPLE_FILES + CASE_FILES, ids=lambda p: p.name)
@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
def test_diagram_snapshots(path: Path, fmt: str, snapshot: object) -> None:
    workflows = parse_file(path).module.workflows
    assert workflows
    out = render_graphs(workflows, fmt)
    assert out == render_graphs(workflows, fmt)  # deterministic
    assert out == snapshot


@pytest.mark.parametrize("path", EXAMPLE_FILES + CASE_FILES, ids=lambda p: p.name)
def test_every_step_is_drawn_and_every_edge_lands_on_a_node(path: Path) -> None:
    for wf in parse_file(path).module.workflows:
        graph = workflow_graph(wf)
        ids = {node.id for node in graph.nodes}
        assert len(ids) == len(graph.nodes)
        for edge in graph.edges:
            assert edge.source in ids and edge.target in ids
        steps = [s for s in wf.walk() if isinstance(s, _STEPS) and not isinstance(s, n.End)]
        exits = sum(1 for node in graph.nodes if node.kind == "exit")
        assert len(graph.nodes) == len(steps) + 2 + exits  # and the trigger and the end


_STEPS = typing.get_args(n.Step)


def test_branch_labels_and_jumps() -> None:
    graph = _graph((CASES / "graph" / "loops-and-splits.wf").read_text())
    edges = _edges(graph)
    assert ("s3", "s4", "received", "flow") in edges
    assert ("s3", "s5", "contact.hubspotscore > 50", "flow") in edges
    assert ("s3", "end", "else", "flow") in edges  # `end` goes straight to the end node
    assert ("s6", "s1", "go to", "goto") in edges  # back to the label
    assert ("s8", "s9", '"lead"', "flow") in edges
    assert ("s8", "s12", "else", "flow") in edges  # no else block: on to the next step
    assert ("s9", "s10", "50%", "flow") in edges
    assert ("s9", "s12", "50%", "flow") in edges  # an empty arm
    exits = [(n.id, n.text) for n in graph.nodes if n.kind == "exit"]
    assert exits == [
        ("goal", 'goal met: contact.lifecyclestage = "customer"'),
        ("unenroll", "unenroll when contact.email_opt_out = true"),
        ("suppress", 'unenroll on joining "Competitors"'),
    ]
    assert all(("trigger", node_id, None, "exit") in edges for node_id, _ in exits)
    assert graph.node("trigger").text == (
        'enroll on form.submitted(form = "Demo request") or page.visited(url.path = "/pricing")\n'
        'only if contact.country in ["NO", "SE"]\n'
        "reenroll every time"
    )


def test_received_and_not_received_after_a_wait() -> None:
    graph = _graph(
        'workflow "W" { object contact steps { wait for meeting.booked up to 2 days '
        'if received { send email "Yes" } else { send email "No" } } }'
    )
    assert graph.node("s1").text == "wait for meeting.booked\nup to 2 days"
    assert _edges(graph)[2:4] == [
        ("s2", "s3", "received", "flow"),
        ("s2", "s4", "not received", "flow"),
    ]


def test_a_workflow_without_steps_goes_from_trigger_to_end() -> None:
    graph = _graph('workflow "W" { object deal enroll manually steps { } }')
    assert [n.id for n in graph.nodes] == ["trigger", "end"]
    assert _edges(graph) == [("trigger", "end", None, "flow")]


def test_mermaid_escapes_quotes_hashes_and_the_end_keyword() -> None:
    graph = _graph('workflow "W" { object contact steps { send email "Hi #1 <b>|`x`" end } }')
    text = to_mermaid([graph])
    assert 's1["send email #quot;Hi #35;1 #lt;b#gt;#124;#96;x#96;#quot;"]' in text
    assert "s1 --> end_" in text
    assert "\n  end_((" in text


def test_several_workflows_are_subgraphs_with_their_own_ids() -> None:
    module = parse_file(CASES / "graph" / "several.wf").module
    graphs = [workflow_graph(wf) for wf in module.workflows]
    mermaid = to_mermaid(graphs)
    assert '  subgraph w2["Renewal"]' in mermaid and "    w2_trigger --> w2_s1" in mermaid
    dot = to_dot(graphs)
    assert "  subgraph cluster_3 {" in dot and '    label="Empty";' in dot


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_graphviz_accepts_the_dot_output(tmp_path: Path) -> None:
    for path in [*EXAMPLE_FILES[:3], *CASE_FILES]:
        dot = render_graphs(parse_file(path).module.workflows, "dot")
        done = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True, check=False)
        assert done.returncode == 0, (path, done.stderr)
        assert "<svg" in done.stdout


# ---------------------------------------------------------------- CLI


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_cli_draws_one_workflow_by_name() -> None:
    path = str(CASES / "graph" / "several.wf")
    code, out, _ = _run("graph", path, "--workflow", "Renewal", "--format", "dot")
    assert code == 0
    assert out.startswith('digraph "Renewal" {\n') and "subgraph" not in out
    code, out, _ = _run("graph", path)
    assert code == 0 and out.startswith("flowchart TD\n  subgraph w1[")


def test_cli_unknown_workflow_exits_2_with_did_you_mean() -> None:
    path = str(CASES / "graph" / "several.wf")
    code, _, err = _run("graph", path, "--workflow", "Renewl")
    assert code == 2
    assert err == f'wfdsl: error: no workflow named "Renewl" in {path}; did you mean `Renewal`?\n'
    code, _, err = _run("graph", path, "--workflow", "zzz")
    assert code == 2 and "the workflows are: `Daily digest`, `Renewal`, `Empty`" in err


def test_cli_errors(tmp_path: Path) -> None:
    assert _run("graph", str(tmp_path / "missing.wf"))[0] == 2
    assert _run("graph", str(EXAMPLE_FILES[0]), "--format", "png")[0] == 2
    bad = tmp_path / "bad.wf"
    bad.write_text('workflow "W" { object contact steps { sned email "x" } }\n')
    code, out, err = _run("graph", str(bad))
    assert code == 1 and out == "" and "error[syntax]" in err
    empty = tmp_path / "empty.wf"
    empty.write_text("# nothing here\n")
    code, _, err = _run("graph", str(empty))
    assert code == 2 and "no workflows to draw" in err


# ---------------------------------------------------------------- docs/graph.md

DOCS = CASES.parent.parent / "docs"


def test_the_docs_mermaid_is_real_output() -> None:
    page = (DOCS / "graph.md").read_text(encoding="utf-8")
    start = page.index("```mermaid\n") + len("```mermaid\n")
    shown = page[start : page.index("```\n", start)]
    workflows = parse_file(EXAMPLES / "trial-onboarding-ab-test.wf").module.workflows
    assert shown == render_graphs(workflows, "mermaid") + "\n"


@pytest.mark.parametrize("dot", sorted((DOCS / "img").glob("*.dot")), ids=lambda p: p.name)
def test_the_docs_pictures_are_current(dot: Path) -> None:
    example = EXAMPLES / dot.with_suffix(".wf").name
    current = render_graphs(parse_file(example).module.workflows, "dot") + "\n"
    wf, img = example.relative_to(DOCS.parent), dot.relative_to(DOCS.parent)
    assert dot.read_text(encoding="utf-8") == current, (
        f"{example.name} changed: render the picture again with `wfdsl graph {wf} --format dot"
        f" > {img} && dot -Tsvg {img} -o {img.with_suffix('.svg')}`"
    )
    assert dot.with_suffix(".svg").is_file()
    assert (DOCS / "graph.md").read_text(encoding="utf-8").count(f"img/{dot.stem}.svg") == 1


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(comments=False))
def test_generated_programs_draw_in_both_formats(text: str) -> None:
    workflows = parse(text).module.workflows
    for wf in workflows:
        graph = workflow_graph(wf)
        ids = [node.id for node in graph.nodes]
        assert len(ids) == len(set(ids)) and ids[0] == "trigger"
        assert all(e.source in ids and e.target in ids for e in graph.edges)
    for fmt in ("mermaid", "dot"):
        assert render_graphs(workflows, fmt) == render_graphs(workflows, fmt)
