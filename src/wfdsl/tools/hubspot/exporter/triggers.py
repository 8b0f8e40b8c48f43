"""The trigger, re-enroll and settings clauses of a workflow in; the enrollment criteria,
time windows and blocked dates of a flow out."""

from __future__ import annotations

from typing import Any

from wfdsl.syntax import nodes as n
from wfdsl.tools.hubspot import ids
from wfdsl.tools.hubspot.exporter.criteria import CriteriaWriter
from wfdsl.tools.hubspot.exporter.writer import (
    clock_time,
    hs_name,
    or_groups,
    weekday_names,
)
from wfdsl.tools.hubspot.ids import TIMEZONE_PROPERTY
from wfdsl.tools.hubspot.problems import Problem


class TriggerWriter(CriteriaWriter):
    """Enrollment triggers, re-enrollment and settings."""

    def settings(self, custom: dict[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = {"timeWindows": [], "blockedDates": [], "unenroll_unmet": None}
        for setting in self.wf.settings:
            if isinstance(setting, n.TimezoneSetting):
                custom[TIMEZONE_PROPERTY] = setting.name.value
            elif isinstance(setting, n.ExecuteSetting):
                start, end = clock_time(setting.start.text), clock_time(setting.end.text)
                for day in weekday_names(setting.days):
                    out["timeWindows"].append({"day": day.upper(), "startTime": start, "endTime": end})
            elif isinstance(setting, n.PauseSetting):
                for date in setting.dates:
                    year, month, dom = (int(x) for x in date.text.split("-"))
                    out["blockedDates"].append({"dayOfMonth": dom, "month": ids.MONTHS[month - 1], "year": year})
            elif isinstance(setting, n.UnenrollUnmetSetting):
                out["unenroll_unmet"] = setting
            elif isinstance(setting, n.EnrollExistingSetting):
                self.warn(
                    setting,
                    "flow JSON does not keep `enroll existing records`; it is not exported",
                    hint="choose to enroll existing records when you turn the workflow on in HubSpot",
                )
            elif isinstance(setting, n.OnFailureSetting) and setting.mode != "continue":
                self.problems.append(
                    Problem(
                        path="",
                        span=setting.span,
                        message="`on failure stop` has no flow "
                        "JSON equivalent (HubSpot continues after a failed action)",
                    )
                )
        return out

    def enrollment(self, settings: dict[str, Any]) -> dict[str, Any]:
        trigger = self.wf.trigger
        reenroll = self.wf.first(n.ReenrollClause)
        every_time = isinstance(reenroll, n.ReenrollClause) and reenroll.every_time
        unmet = settings["unenroll_unmet"]
        if unmet is not None and not isinstance(trigger, n.FilterTrigger):
            raise self.fail(unmet, "`unenroll if criteria unmet` needs a filter trigger (`enroll when`)")
        if isinstance(trigger, n.ManualTrigger):
            return {"enrollmentCriteria": {"type": "MANUAL", "shouldReEnroll": False}}
        if isinstance(trigger, n.FilterTrigger):
            props = reenroll.properties if isinstance(reenroll, n.ReenrollClause) else ()
            triggers = []
            for prop in props:
                if prop.parts[0] != self.object or len(prop.parts) != 2:
                    raise self.fail(prop, f"re-enrollment watches properties of the enrolled {self.object}")
                triggers.append(
                    {
                        "filterBranchType": "AND",
                        "filterBranchOperator": "AND",
                        "filterBranches": [],
                        "filters": [hs_name(prop.parts[1])],
                    }
                )
            return {
                "enrollmentCriteria": {
                    "type": "LIST_BASED",
                    "shouldReEnroll": bool(triggers),
                    "listFilterBranch": self.branch(trigger.criteria),
                    "reEnrollmentTriggersFilterBranches": triggers,
                    "unEnrollObjectsNotMeetingCriteria": unmet is not None,
                }
            }
        if isinstance(trigger, n.ScheduleTrigger):
            rec = trigger.recurrence
            schedule: dict[str, Any]
            if isinstance(rec, n.Daily):
                schedule = {"type": "DAILY", "timeOfDay": clock_time(rec.at.text)}
            elif isinstance(rec, n.Weekly):
                schedule = {
                    "type": "WEEKLY",
                    "daysOfWeek": [d.value.upper() for d in rec.days],
                    "timeOfDay": clock_time(rec.at.text),
                }
            elif isinstance(rec, n.Monthly):
                schedule = {
                    "type": "MONTHLY_SPECIFIC_DAYS",
                    "daysOfMonth": [int(rec.day.text)],
                    "timeOfDay": clock_time(rec.at.text),
                }
            else:
                raise self.fail(
                    rec,
                    "a schedule that runs once has no flow JSON equivalent",
                    hint="use a daily, weekly or monthly schedule",
                )
            branch = self.branch(trigger.refinement) if trigger.refinement is not None else or_groups([])
            return {
                "enrollmentCriteria": {
                    "type": "LIST_BASED",
                    "shouldReEnroll": every_time,
                    "listFilterBranch": branch,
                    "reEnrollmentTriggersFilterBranches": [],
                    "unEnrollObjectsNotMeetingCriteria": False,
                },
                "enrollmentSchedule": schedule,
            }
        if isinstance(trigger, n.EventTrigger):
            events, memberships = [], []
            for item in trigger.events:
                if item.negated:
                    raise self.fail(item, "the absence of an event cannot trigger enrollment")
                event = item.event
                if isinstance(event, n.EventRef) and event.name == "list.added":
                    memberships.append(self.list_membership(event))
                else:
                    events.append(self.unified_event(event, "HAS_COMPLETED"))
            criteria: dict[str, Any] = {
                "type": "EVENT_BASED",
                "shouldReEnroll": every_time,
                "eventFilterBranches": events,
                "listMembershipFilterBranches": memberships,
            }
            if trigger.refinement is not None:
                criteria["refinementCriteria"] = self.branch(trigger.refinement)
            return {"enrollmentCriteria": criteria}
        raise self.fail(self.wf, "this trigger has no flow JSON equivalent")  # pragma: no cover

    def list_membership(self, event: n.EventRef) -> dict[str, Any]:
        c = event.criteria
        if not (
            isinstance(c, n.Compare) and c.op == "=" and c.prop.dotted == "list" and isinstance(c.value, n.StringLit)
        ):
            raise self.fail(event, '`list.added` triggers are written `list.added(list = "Name")`')
        ident = self.lock.id_for("lists", c.value.value, "", self.problems, span=c.value.span)
        return {
            "filterBranchType": "AND",
            "filterBranchOperator": "AND",
            "filterBranches": [],
            "filters": [{"filterType": "IN_LIST", "listId": ident, "operator": "IN_LIST"}],
        }
