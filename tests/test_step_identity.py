"""Stable step identity: a corpus of before/after edits, and where waiting enrollments go.

Each case is a workflow body before and after an edit, and for the steps an
enrollment could wait at, where it continues in the new version
(`runtime.migration.step_moves`): the new step id, and whether that is the
same step (`same`: kept or moved) or the next one after a removed step
(`next`).
"""

from __future__ import annotations

import pytest

from engine_helpers import at, plans
from wfdsl.adapters.memory import MemoryCRM
from wfdsl.runtime.engine import Engine
from wfdsl.runtime.migration import step_moves
from wfdsl.runtime.protocols import Event, VirtualClock
from wfdsl.stores.memory import MemoryStore


def _wf(body: str) -> str:
    return f'workflow "W" {{\n  object contact\n  enroll on form.submitted\n  steps {{\n{body}\n  }}\n}}\n'


# (name, before, after, {old step id: (new step id, "same" | "next")})
CORPUS: list[tuple[str, str, str, dict[str, tuple[str | None, str]]]] = [
    (
        "insert at the top",
        'send email "A"\ndelay 3 days\nsend email "B"',
        'create task "T"\nsend email "A"\ndelay 3 days\nsend email "B"',
        {"steps.0": ("steps.1", "same"), "steps.1": ("steps.2", "same"), "steps.2": ("steps.3", "same")},
    ),
    (
        "remove a step before",
        'create task "T"\nsend email "A"\ndelay 3 days\nsend email "B"',
        'send email "A"\ndelay 3 days\nsend email "B"',
        {"steps.0": ("steps.0", "next"), "steps.2": ("steps.1", "same"), "steps.3": ("steps.2", "same")},
    ),
    (
        "reorder other steps",
        'send email "A"\nsend email "B"\ndelay 1 day\nsend email "C"',
        'send email "B"\nsend email "A"\ndelay 1 day\nsend email "C"',
        {"steps.0": ("steps.1", "same"), "steps.1": ("steps.0", "same"), "steps.2": ("steps.2", "same")},
    ),
    (
        "edit the text of another step",
        'send email "A"\ndelay 3 days\nsend email "B"',
        'send email "A, reworded"\ndelay 3 days\nsend email "B"',
        {"steps.0": ("steps.1", "next"), "steps.1": ("steps.1", "same"), "steps.2": ("steps.2", "same")},
    ),
    (
        "edit the step itself: continue at the next that still exists",
        'send email "A"\ndelay 3 days\nsend email "B"',
        'send email "A"\ndelay 5 days\nsend email "B"',
        {"steps.1": ("steps.2", "next")},
    ),
    (
        "remove the last step: nothing left",
        'send email "A"\ndelay 3 days\nsend email "B"',
        'send email "A"\ndelay 3 days',
        {"steps.1": ("steps.1", "same"), "steps.2": (None, "next")},
    ),
    (
        "insert inside a branch",
        'if contact.city = "Paris" {\n  delay 1 day\n  send email "P"\n}\nsend email "Z"',
        'if contact.city = "Paris" {\n  create task "call"\n  delay 1 day\n  send email "P"\n}\nsend email "Z"',
        {"steps.0.then.0": ("steps.0.then.1", "same"), "steps.0.then.1": ("steps.0.then.2", "same")},
    ),
    (
        "edit a condition: the steps inside keep their identity",
        'if contact.city = "Paris" {\n  delay 1 day\n  send email "P"\n}',
        'send email "first"\nif contact.city = "Lyon" {\n  delay 1 day\n  send email "P"\n}',
        {"steps.0": ("steps.1", "same"), "steps.0.then.0": ("steps.1.then.0", "same")},
    ),
    (
        "insert into one branch leaves the other alone",
        'if contact.city = "Paris" {\n  delay 1 day\n} else {\n  delay 2 days\n}',
        'if contact.city = "Paris" {\n  delay 1 day\n} else {\n  create task "T"\n  delay 2 days\n}',
        {"steps.0.then.0": ("steps.0.then.0", "same"), "steps.0.else.0": ("steps.0.else.1", "same")},
    ),
    (
        "a step moved into a branch is another step",
        'delay 1 day\nif contact.city = "Paris" {\n  send email "P"\n}\nsend email "Z"',
        'if contact.city = "Paris" {\n  delay 1 day\n  send email "P"\n}\nsend email "Z"',
        {"steps.0": ("steps.0", "next")},
    ),
    (
        "same content twice: told apart by occurrence",
        'delay 1 day\nsend email "A"\ndelay 1 day\nsend email "B"',
        'create task "T"\ndelay 1 day\nsend email "A"\ndelay 1 day\nsend email "B"',
        {"steps.0": ("steps.1", "same"), "steps.2": ("steps.3", "same")},
    ),
    (
        "branch on: a case inserted before another",
        'branch on contact.lifecyclestage {\n  "lead" {\n    delay 1 day\n  }\n}',
        'branch on contact.lifecyclestage {\n  "subscriber" {\n    delay 1 day\n  }\n'
        '  "lead" {\n    delay 1 day\n  }\n}',
        {"steps.0.case.0.0": ("steps.0.case.1.0", "same")},
    ),
    (
        "split: percentages changed",
        "split {\n  50% {\n    delay 1 day\n  }\n  50% {\n    delay 2 days\n  }\n}",
        "split {\n  20% {\n    delay 1 day\n  }\n  80% {\n    delay 2 days\n  }\n}",
        {"steps.0.arm.0.0": ("steps.0.arm.0.0", "same"), "steps.0.arm.1.0": ("steps.0.arm.1.0", "same")},
    ),
    (
        "a label pins the step after it, however it is edited",
        'send email "A"\nlabel "cool-off"\ndelay 3 days\nsend email "B"',
        'create task "T"\nsend email "A"\nlabel "cool-off"\ndelay 5 days\nsend email "B"',
        {"label:cool-off.1": ("label:cool-off.1", "same"), "label:cool-off.2": ("label:cool-off.2", "same")},
    ),
    (
        "a step moved after a label keeps its identity",
        'delay 2 days\nlabel "tail"\nsend email "B"',
        'label "tail"\nsend email "B"\ndelay 2 days',
        {"steps.0": ("label:tail.2", "same")},
    ),
]


@pytest.mark.parametrize("name,before,after,expected", CORPUS, ids=[c[0] for c in CORPUS])
def test_edit_corpus(name: str, before: str, after: str, expected: dict[str, tuple[str | None, str]]) -> None:
    old = plans(_wf(before)).workflow("W")
    new = plans(_wf(after)).workflow("W")
    moves = step_moves(old, new)
    for step, (to, how) in expected.items():
        move = moves[step]
        assert move.to == to, (name, step)
        if how == "same":
            assert move.reason in (None, "step_moved"), (name, step)
            assert new.steps[to].key == old.steps[step].key  # type: ignore[index]
        else:
            assert move.reason == "step_removed", (name, step)


def test_unchanged_source_keeps_every_key_and_id() -> None:
    text = _wf('send email "A"\nif contact.city = "Paris" {\n  delay 1 day\n} else {\n  delay 1 day\n}\nend')
    first, second = plans(text).workflow("W"), plans(text).workflow("W")
    assert [(s.id, s.key) for s in first.steps.values()] == [(s.id, s.key) for s in second.steps.values()]
    assert len({s.key for s in first.steps.values()}) == len(first.steps)  # the two delays differ by branch
    assert all(m.reason is None for m in step_moves(first, second).values())


def test_plans_without_keys_map_by_id() -> None:
    """A plan written before keys existed: ids stand in, as before."""
    import attrs

    old = plans(_wf('send email "A"\ndelay 3 days\nsend email "B"')).workflow("W")
    old = attrs.evolve(old, steps={sid: attrs.evolve(s, key="") for sid, s in old.steps.items()})
    new = plans(_wf('send email "A"\ndelay 3 days\nsend email "B"')).workflow("W")
    assert {sid: m.to for sid, m in step_moves(old, new).items()} == {s: s for s in old.steps}


def test_inserted_step_does_not_delay_the_waiting_record() -> None:
    """The measured case: a record waits in the delay, `create task` is added at the top,
    and B still goes out when the original three days are up (not three days later)."""
    v1 = _wf('send email "A"\ndelay 3 days\nsend email "B"')
    v2 = _wf('create task "T"\nsend email "A"\ndelay 3 days\nsend email "B"')
    crm, store = MemoryCRM(), MemoryStore()
    eng = Engine(plans(v1), crm, store, VirtualClock(at("2026-03-02T09:00:00Z")))
    crm.add_record("contact", "c1", {}, at=at("2026-03-02T09:00:00Z"))
    eng.activate("W")
    eng.ingest(Event(type="form.submitted", object="contact", id="c1", at=at("2026-03-02T09:00:00Z")))
    eng.deploy(plans(v2))
    eng.run_due(at("2026-04-01T00:00:00Z"))
    entries = eng.history(record="contact:c1")
    assert [(e.kind, e.step) for e in entries] == [
        ("enrolled", None),
        ("action", "steps.0"),
        ("delayed", "steps.1"),
        ("migrated", "steps.1"),
        ("action", "steps.3"),
        ("completed", None),
    ]
    assert entries[3].detail == {"from": "steps.1", "to": "steps.2", "reason": "step_moved"}
    assert entries[4].detail["email"] == "B" and entries[4].at == at("2026-03-05T09:00:00Z")
    # nothing was sent twice and the task was not created for the waiting record
    assert [a.kind for _, a in crm.performed] == ["send_email", "send_email"]
