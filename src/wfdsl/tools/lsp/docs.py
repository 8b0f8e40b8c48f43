"""Hover texts: node classes in, one-paragraph Markdown explanations out.

What a step, clause, trigger or setting means, in the words of docs/language.md,
keyed by the AST class so that a new construct without a text is caught by a test.
"""

from __future__ import annotations

from wfdsl.syntax import nodes as n

#: Node class -> (syntax, meaning).
DOCS: dict[type[n.Node], tuple[str, str]] = {
    # clauses
    n.ObjectClause: (
        "object <type>",
        "The type of record this workflow enrolls (`contact`, `deal`, a custom object…).",
    ),
    n.DescriptionClause: ('description "<text>"', "What the workflow is for; shown in reviews and in `wfdsl graph`."),
    n.AnchorClause: (
        "anchor <date property> [annually] | anchor date <date> [annually]",
        "Makes the workflow date-centred: `delay until … anchor` steps count from this date.",
    ),
    n.ReenrollClause: (
        "reenroll every time | reenroll on change of <property>, …",
        "Lets a record that left the workflow enroll again: on every trigger event, or when a listed "
        "property changes and the criteria are met again.",
    ),
    n.GoalClause: (
        "goal <criteria>",
        "A contact that meets these criteria has converted: it leaves the workflow and counts as a conversion.",
    ),
    n.SuppressClause: (
        'suppress list "<name>", …',
        "Records in these lists never enroll, and leave when added to one.",
    ),
    n.UnenrollClause: ("unenroll when <criteria>", "A record that meets these criteria leaves the workflow."),
    n.SettingsClause: (
        "settings { … }",
        "Time zone, the days and hours actions may run, pause dates, `enroll existing records`, `on failure`.",
    ),
    n.StepsClause: ("steps { … }", "The actions, delays and branches each enrolled record goes through, in order."),
    # triggers
    n.ManualTrigger: ("enroll manually", "Records enroll only when a person or another workflow enrolls them."),
    n.FilterTrigger: ("enroll when <criteria>", "Records enroll as soon as they meet the criteria."),
    n.EventTrigger: (
        "enroll on <event> (or <event>)* [only if <criteria>]",
        "Records enroll when one of these events happens to them (and the refinement holds).",
    ),
    n.ScheduleTrigger: (
        "enroll on schedule <recurrence> [only if <criteria>]",
        "On each occurrence, every record that meets the refinement enrolls.",
    ),
    # settings
    n.TimezoneSetting: ('timezone "<Area/City>"', "The time zone of times of day, dates and execution windows."),
    n.ExecuteSetting: (
        "execute on <days> from <time> to <time>",
        "Actions run only on these days and hours; a record reaching an action outside them waits.",
    ),
    n.PauseSetting: ("pause on <date>, …", "No action runs on these dates; records wait until the next day."),
    n.EnrollExistingSetting: (
        "enroll existing records",
        "When the workflow is turned on, records that already meet the criteria enroll too.",
    ),
    n.UnenrollUnmetSetting: (
        "unenroll if criteria unmet",
        "A record that stops meeting the enrollment criteria leaves the workflow.",
    ),
    n.OnFailureSetting: ("on failure continue | stop", "What a record does after an action fails for good."),
    # steps
    n.Delay: ("delay <duration>", "Waits this long before the next step."),
    n.DelayUntilDay: ("delay until <weekday> [at <time>]", "Waits until the next such day (and time of day)."),
    n.DelayUntilDate: (
        "delay until <date | date property> [± <duration>] [at <time>]",
        "Waits until a fixed date, or a date read from the record (with an offset).",
    ),
    n.DelayUntilAnchor: (
        "delay until [<duration> before|after] anchor [at <time>]",
        "Waits until a date counted from the workflow's `anchor` date.",
    ),
    n.WaitFor: (
        "wait for <event> up to <duration>",
        "Waits until the event happens or the time runs out; an `if received` right after tells which.",
    ),
    n.If: ("if <criteria> { … } else { … }", "Runs the first branch whose criteria the record meets, else `else`."),
    n.BranchOn: ("branch on <property> { <value> { … } … else { … } }", "Runs the branch of the property's value."),
    n.Split: ("split { <n>% { … } … }", "Sends each record down one arm at random, by the percentages."),
    n.SendEmail: ('send email "<name>"', "Sends the marketing email of that name to the contact."),
    n.Notify: ('notify "<address>" | owner [subject "…"] [body "…"]', "Sends an internal notification."),
    n.SetProperty: ("set <property> = <value>", "Sets a property of the enrolled record."),
    n.ClearProperty: ("clear <property>", "Clears a property of the enrolled record."),
    n.Increment: ("increment <property> by <number>", "Adds to a number property."),
    n.CopyProperty: ("copy <property> to <property>", "Copies one property's value into another."),
    n.CreateTask: (
        'create task "<title>" [due in <duration>] [assign to owner | "<user>"] [notes "…"] [priority …]',
        "Creates a task for a person.",
    ),
    n.CreateRecord: ("create <type> { field = value, … }", "Creates a record associated with the enrolled one."),
    n.AssignOwner: ('assign owner "<user>"', "Makes that user the record's owner."),
    n.RotateOwner: ('rotate owner among ["<user>", …]', "Assigns owners in turn."),
    n.AddToList: ('add to list "<name>"', "Adds the record to a static list."),
    n.RemoveFromList: ('remove from list "<name>"', "Removes the record from a static list."),
    n.EnrollInWorkflow: ('enroll in workflow "<name>"', "Enrolls the record in another workflow of the project."),
    n.UnenrollFromWorkflow: ('unenroll from workflow "<name>"', "Takes the record out of another workflow."),
    n.Webhook: ('webhook <method> "<url>" [body "…"]', "Calls an HTTP endpoint with the record's data."),
    n.Placeholder: (
        'placeholder "<text>"',
        "An action still to be decided; it must be filled in before the workflow is turned on.",
    ),
    n.Label: ('label "<name>"', "Names this place in the steps, for `go to`; also pins the step's id."),
    n.GoTo: ('go to "<label>"', "Continues at the label of that name."),
    n.End: ("end", "The record leaves the workflow here."),
    # criteria
    n.InList: ('in list "<name>"', "The record is a member of that list."),
    n.EnrolledIn: ('enrolled in workflow "<name>"', "The record is enrolled in that workflow now."),
    n.ReachedGoal: ('reached goal of workflow "<name>"', "The record converted in that workflow."),
    n.HasEvent: ("has [not] <event> [within last <duration>]", "The event happened (or not) to the record."),
    n.Received: ("received", "The event the preceding `wait for` waited for happened in time."),
}


def describe(node: n.Node) -> str | None:
    """Markdown for a node with an entry in `DOCS`, else None.

    >>> from wfdsl.spans import Span
    >>> print(describe(n.End(span=Span(file="a", line=1, col=1, end_line=1, end_col=4))))
    ```wfdsl
    end
    ```
    The record leaves the workflow here.
    """
    entry = DOCS.get(type(node))
    if entry is None:
        return None
    syntax, meaning = entry
    return f"```wfdsl\n{syntax}\n```\n{meaning}"
