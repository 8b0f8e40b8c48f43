"""Starter workflows: template names in, `.wf` text out (shipped as package data).

Each template is a `<name>.wf` file in this package, loaded with
`importlib.resources` so that it is found in an installed wheel. Templates
contain `placeholder "…"` actions: they lint with only
`placeholder-action` warnings, and cleanly once the placeholders are filled.

>>> [t.name for t in TEMPLATES][:2]
['welcome-series', 'lead-nurture']
>>> template_text("birthday").count('placeholder "')
2
"""

from __future__ import annotations

from importlib import resources

import attrs


@attrs.frozen(kw_only=True)
class Template:
    name: str
    description: str
    #: Custom properties the template uses that the built-in schema lacks: (object, name, type).
    needs: tuple[tuple[str, str, str], ...] = ()


#: Every template, in the order `wfdsl new --list` shows them.
TEMPLATES: tuple[Template, ...] = (
    Template(
        name="welcome-series",
        description="Welcome new subscribers with a short email series until they become leads",
    ),
    Template(
        name="lead-nurture",
        description="Nurture leads with content and scoring until they are sales-qualified",
    ),
    Template(
        name="renewal-reminder",
        description="Remind customers ahead of the yearly anniversary of their purchase",
    ),
    Template(
        name="birthday",
        description="Send a birthday greeting every year (needs a date property for birthdays)",
        needs=(("contact", "birthdate", "date"),),
    ),
    Template(
        name="deal-won-handoff",
        description="Open onboarding and hand closed-won deals over to customer success",
    ),
    Template(
        name="form-follow-up",
        description="Thank form submitters and give their owner a task due within the hour",
    ),
)


def find_template(name: str) -> Template | None:
    for template in TEMPLATES:
        if template.name == name:
            return template
    return None


def template_text(name: str) -> str:
    """The text of a template; KeyError for an unknown name."""
    if find_template(name) is None:
        raise KeyError(name)
    return resources.files(__name__).joinpath(f"{name}.wf").read_text(encoding="utf-8")


__all__ = ["TEMPLATES", "Template", "find_template", "template_text"]
