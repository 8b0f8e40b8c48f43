"""Rule documentation: the rule table (`wfdsl.diagnostics.RULES`) and one Markdown page per rule in, data out.

Each check's text lives beside the others in this package as `NAME.md`:
what it finds, why, a failing example and the fix. `wfdsl rules` lists the
rules from here, `wfdsl rules NAME` prints one page, and docs/checks.md is
generated from the same data (`scripts/gen_checks_docs.py`), so the list, the
command and the page cannot drift apart.

>>> (info := rule_info("unknown-event"))["code"], info["severity"]
('WF006', 'error')
>>> info["summary"]
'An event name is not in the catalog.'
"""

from __future__ import annotations

from typing import Any

from wfdsl.diagnostics import RULES, Rule

#: Page documenting every check; each check has an anchor named after it.
DOCS_URL = "https://github.com/wfdsl/wfdsl/blob/main/docs/checks.md"
#: Generated from this package by scripts/gen_checks_docs.py.
PAGE_NOTE = "<!-- generated from src/wfdsl/rules/ by scripts/gen_checks_docs.py; edit those files instead -->"


def help_uri(name: str) -> str:
    """The documentation URL of a check: `…/docs/checks.md#unknown-property`."""
    return f"{DOCS_URL}#{name}"


def _text(file: str) -> str:
    from importlib import resources  # here: `wfdsl lint` reads no rule page

    return resources.files(__name__).joinpath(file).read_text(encoding="utf-8")


def lookup(name_or_code: str) -> Rule | None:
    """A rule by name (`unknown-event`) or code (`WF006`, any case); None if there is none.

    >>> lookup("wf001").name
    'syntax'
    """
    wanted = name_or_code.strip()
    if wanted in RULES:
        return RULES[wanted]
    return next((rule for rule in RULES.values() if rule.code == wanted.upper()), None)


def rule_doc(name: str) -> str:
    """A rule's own documentation (Markdown, without its heading and summary line)."""
    return _text(f"{name}.md").strip("\n") + "\n"


def rule_info(name: str, *, doc: bool = False) -> dict[str, Any]:
    """One rule as plain data: code, name, severity, summary, url (and doc)."""
    rule = RULES[name]
    info: dict[str, Any] = {
        "code": rule.code,
        "name": rule.name,
        "severity": rule.severity.value,
        "summary": rule.summary,
        "url": help_uri(rule.name),
    }
    if doc:
        info["doc"] = rule_doc(rule.name)
    return info


def all_rules(*, doc: bool = False) -> list[dict[str, Any]]:
    """Every rule in code order (`wfdsl rules --format json` prints these)."""
    return [rule_info(name, doc=doc) for name in RULES]


def rules_table() -> str:
    """Every rule, one line each: code, severity, name and summary in columns.

    >>> rules_table().splitlines()[0]
    'WF001  error    syntax                        The text does not parse.'
    """
    width = max(len(name) for name in RULES)
    return "".join(
        f"{rule.code}  {rule.severity.value:<7}  {rule.name:<{width}}  {rule.summary}\n" for rule in RULES.values()
    )


def rule_section(name: str) -> str:
    """A rule's section of docs/checks.md: heading, `code · severity · summary`, its page."""
    rule = RULES[name]
    return f"## {rule.name}\n\n`{rule.code}` · {rule.severity.value} · {rule.summary}\n\n{rule_doc(name)}"


def checks_page() -> str:
    """docs/checks.md: the introduction (`index.md`), then one section per rule in code order."""
    sections = "\n".join(rule_section(name) for name in RULES)
    return f"{PAGE_NOTE}\n\n{_text('index.md').strip()}\n\n---\n\n{sections}"
