from __future__ import annotations

from wfdsl.syntax import nodes as n
from wfdsl.syntax.parser import parse


def test_keywords_are_property_names_after_a_dot() -> None:
    text = (
        'workflow "W" { object deal steps { set deal.stage = "x" clear ticket.goal'
        ' clear ticket.list set contact.email = "a" } }'
    )
    result = parse(text, "w.wf")
    assert result.ok, result.diagnostics
    props = [s.prop.parts for s in result.module.workflows[0].steps]
    assert props == [("deal", "stage"), ("ticket", "goal"), ("ticket", "list"), ("contact", "email")]


def test_spans_are_one_based_with_exclusive_end() -> None:
    result = parse('workflow "W" {\n  object contact\n  steps { end }\n}\n', "w.wf")
    wf = result.module.workflows[0]
    obj = wf.clauses[0]
    assert isinstance(obj, n.ObjectClause)
    assert (obj.span.line, obj.span.col, obj.span.end_line, obj.span.end_col) == (2, 3, 2, 17)


def test_syntax_error_names_expected_thing_in_words() -> None:
    result = parse('workflow "W" { object contact steps { send email Welcome } }', "w.wf")
    (diag,) = result.diagnostics
    assert diag.name == "syntax"
    assert (diag.span.line, diag.span.col) == (1, 50)
    assert diag.message == "found `Welcome`, expected a string naming the email after `send email`"


def test_one_error_per_broken_workflow_and_others_still_parse() -> None:
    text = (
        'workflow "a" { object contact steps { send email } }\n'
        'workflow "b" { object contact steps { end } }\n'
        'workflow "c" { objec contact }\n'
    )
    result = parse(text, "w.wf")
    assert [d.span.line for d in result.diagnostics] == [1, 3]
    assert [w.name.value for w in result.module.workflows] == ["b"]
    assert result.diagnostics[1].hint == "did you mean `object`?"


def test_execute_on_takes_days_with_or_without_brackets() -> None:
    def days(spec: str) -> tuple[n.DayRange | n.Day, ...]:
        text = f'workflow "W" {{ object contact settings {{ execute on {spec} from 09:00 to 17:00 }} steps {{ end }} }}'
        result = parse(text, "w.wf")
        assert result.ok, result.diagnostics
        clause = next(c for c in result.module.workflows[0].clauses if isinstance(c, n.SettingsClause))
        setting = clause.settings[0]
        assert isinstance(setting, n.ExecuteSetting)
        return tuple(spelled(d) for d in setting.days)

    def spelled(day: n.DayRange | n.Day) -> str:
        return f"{day.start}..{day.end}" if isinstance(day, n.DayRange) else day.name

    assert days("[saturday, sunday]") == days("saturday, sunday") == ("saturday", "sunday")
    assert days("[monday..friday]") == days("monday..friday") == ("monday..friday",)
    assert days("[monday..wednesday, friday,]") == ("monday..wednesday", "friday")
    assert not parse(
        'workflow "W" { object contact settings { execute on [saturday, sunday from 09:00 to 17:00 } steps { end } }',
        "w.wf",
    ).ok
