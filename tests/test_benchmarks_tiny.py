"""The benchmarks at their tiny size: the code keeps working (no timing is asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmarks import criteria, parsing
from benchmarks.common import TINY, table
from benchmarks.run import MEASUREMENTS, main, write


def _peers() -> None:
    """The peers come with the `bench` extra (`pip install -e '.[bench]'`)."""
    for module in ("rule_engine", "business_rules", "SpiffWorkflow"):
        pytest.importorskip(module)


def test_every_measurement_runs_at_tiny_size_and_fills_the_table(tmp_path: Path) -> None:
    _peers()
    out = tmp_path / "BENCHMARKS.md"
    out.write_text(
        "# Benchmarks\n\nIntro.\n\n<!-- results: begin -->\nOLD-TABLE\n<!-- results: end -->\n\nNotes stay.\n"
    )
    assert main(["--tiny", "--write", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("# Benchmarks\n\nIntro.") and text.endswith("Notes stay.\n")
    assert "OLD-TABLE" not in text
    for number in MEASUREMENTS:
        assert f"| {number}. " in text
    for peer in ("rule-engine", "business-rules", "SpiffWorkflow", "Lark lexer"):
        assert peer in text


def test_the_peers_and_the_hand_written_function_agree_with_wfdsl() -> None:
    _peers()
    data = criteria.records(2000)
    ours = criteria.wfdsl_predicate()
    expected = [criteria.hand_written(r) for r in data]
    assert 0 < sum(expected) < len(data)
    assert [ours(r) for r in data] == expected
    assert [criteria.rule_engine_predicate()(r) for r in data] == expected
    assert [criteria.business_rules_predicate()(r) for r in data] == expected


def test_the_generated_project_is_clean_and_about_the_size_asked() -> None:
    files = parsing.generate(3000)
    assert 3000 <= parsing.line_count(files) < 3200
    assert parsing.parse_and_check(files) == 0


def test_write_creates_the_file_and_the_table_marks_missed_targets(tmp_path: Path) -> None:
    from benchmarks.common import Row

    rows = [Row(measurement="9. x", contender="a", value="1", target="t", met=False)]
    write(tmp_path / "B.md", table(rows))
    assert "| 9. x | a | 1 |  | t | **no** |" in (tmp_path / "B.md").read_text()
    assert TINY.reps == 1


def test_the_event_pin_precheck_never_turns_away_an_event_a_trigger_matches() -> None:
    """The engine's shortcut for many workflows on one event type (measurement 4) only
    skips workflows whose trigger events would all say no."""
    import datetime as dt

    from benchmarks.engine import T0, compile_text

    from wfdsl.runtime.engine import Engine
    from wfdsl.runtime.index import may_fire
    from wfdsl.runtime.protocols import Event, VirtualClock

    text = "".join(
        f'workflow "W{i}" {{\n  object contact\n  enroll on {trigger}\n  steps {{ end }}\n}}\n'
        for i, trigger in enumerate(
            [
                'form.submitted(form = "Straße")',
                'contact.city changed to "Dublin"',
                'contact.phone changed to "50"',
                'page.visited(url.path = "/Pricing")',
                'form.submitted(form = "A") or contact.city changed to "Oslo"',
            ]
        )
    )
    engine = Engine(compile_text(text), None, None, VirtualClock(T0))  # type: ignore[arg-type]
    values = ["STRASSE", "straße", "Dublin", "DUBLIN ", "dublin", 50, 50.0, "50", True, None, "", "a", "oslo", ["a"]]
    events = [Event(type="form.submitted", object="contact", id="c1", at=T0, data={"form": v}) for v in values]
    events += [
        Event(
            type="property.changed",
            object="contact",
            id="c1",
            at=T0,
            data={"property": p, "value": v, "previous": None},
        )
        for p in ("city", "phone")
        for v in values
    ]
    events += [
        Event(
            type="page.visited", object="contact", id="c1", at=T0 + dt.timedelta(1), data={"url": f"https://x.org{p}"}
        )
        for p in ("/pricing", "/PRICING", "/")
    ]
    ctx, index = engine._ctx, engine._dispatcher.index
    checked = skipped = 0
    for compiled in ctx.plans.values():
        assert compiled.pins is not None
        for event in events:
            matches = any(ctx.matches(spec, fn, event) for spec, fn in compiled.events if not spec.negated)
            if not may_fire(compiled.pins, event, {}):
                skipped += 1
                assert not matches, (compiled.plan.name, event)
            checked += matches
    assert checked >= 8 and skipped > 50
    # The dispatch index finds exactly the workflows the check lets through.
    for event in events:
        keys = index.event_keys(event)
        expected = [
            name
            for name in index.lookup(index.trigger_index, keys)
            if may_fire(ctx.plans[name].pins or frozenset(), event, {})
        ]
        assert list(index.triggers_for(event, keys, {})) == expected, event
        # Only pinned triggers look at these events: one concerns a workflow when one asks for it.
        assert index.concerns(event) == bool(expected), event
