"""The enrollment of a flow in (event, filter, list and schedule triggers, re-enrollment,
settings); the trigger, re-enroll and settings clauses of the workflow out."""

from __future__ import annotations

from typing import Any

from wfdsl.syntax import nodes as n
from wfdsl.tools.fmt import quote
from wfdsl.tools.hubspot import ids
from wfdsl.tools.hubspot.ids import TIMEZONE_PROPERTY
from wfdsl.tools.hubspot.importer.criteria import CriteriaReader
from wfdsl.tools.hubspot.importer.reader import (
    crit_text,
    day_spec,
    empty_branch,
    show,
)
from wfdsl.tools.hubspot.problems import join_path


class TriggerReader(CriteriaReader):
    """Enrollment triggers, schedules, re-enrollment and the flow's settings."""

    def enrollment(self, flow: dict[str, Any]) -> list[tuple[str, str]]:
        path = "enrollmentCriteria"
        criteria = self.obj(flow.get("enrollmentCriteria") or {"type": "MANUAL"}, path)
        kind = criteria.get("type")
        schedule = flow.get("enrollmentSchedule")
        reenroll = criteria.get("shouldReEnroll", False)
        out: list[tuple[str, str]] = []
        self.clause_paths.append((n.EnrollClause, path))
        if schedule not in (None, {}):
            if kind != "LIST_BASED":
                raise self.fail(path + ".type", f"a schedule needs LIST_BASED criteria; found {show(kind)}")
            self.only_keys(
                criteria,
                path,
                {
                    "type",
                    "listFilterBranch",
                    "shouldReEnroll",
                    "reEnrollmentTriggersFilterBranches",
                    "unEnrollObjectsNotMeetingCriteria",
                },
                "scheduled enrollment",
            )
            if self.items(criteria.get("reEnrollmentTriggersFilterBranches"), path + ".x"):
                self.error(path + ".reEnrollmentTriggersFilterBranches", "a schedule re-enrolls every time or never")
            if criteria.get("unEnrollObjectsNotMeetingCriteria"):
                self.error(
                    path + ".unEnrollObjectsNotMeetingCriteria", "wfdsl has this setting for filter triggers only"
                )
            head = f"enroll on schedule {self.recurrence(self.obj(schedule, 'enrollmentSchedule'))}"
            branch = criteria.get("listFilterBranch")
            if branch is not None and not empty_branch(branch):
                head += f" only if {crit_text(self.criteria(branch, path + '.listFilterBranch', self.object))}"
            out.append((head, path))
            if reenroll is True:
                out.append(("reenroll every time", path + ".shouldReEnroll"))
                self.clause_paths.append((n.ReenrollClause, path + ".shouldReEnroll"))
            return out
        if kind == "MANUAL":
            self.only_keys(criteria, path, {"type", "shouldReEnroll"}, "manual enrollment")
            if reenroll is True:
                self.error(
                    path + ".shouldReEnroll",
                    "records enrolled by hand re-enroll in wfdsl only by hand",
                    hint="set shouldReEnroll to false",
                )
            out.append(("enroll manually", path))
            return out
        if kind == "LIST_BASED":
            self.only_keys(
                criteria,
                path,
                {
                    "type",
                    "listFilterBranch",
                    "shouldReEnroll",
                    "reEnrollmentTriggersFilterBranches",
                    "unEnrollObjectsNotMeetingCriteria",
                },
                "filter enrollment",
            )
            crit = self.criteria(criteria.get("listFilterBranch"), path + ".listFilterBranch", self.object)
            out.append((f"enroll when {crit_text(crit)}", path))
            triggers = self.items(criteria.get("reEnrollmentTriggersFilterBranches"), path + ".x")
            props = [
                self.reenroll_property(t, join_path(path, "reEnrollmentTriggersFilterBranches", i))
                for i, t in enumerate(triggers)
            ]
            if reenroll is True and props:
                out.append(("reenroll on change of " + ", ".join(props), path + ".reEnrollmentTriggersFilterBranches"))
                self.clause_paths.append((n.ReenrollClause, path + ".reEnrollmentTriggersFilterBranches"))
            elif reenroll is True:
                self.error(
                    path + ".shouldReEnroll",
                    "re-enrollment without re-enrollment triggers",
                    hint="add the properties whose change re-enrolls, or set shouldReEnroll to false",
                )
            elif props:
                self.error(
                    path + ".reEnrollmentTriggersFilterBranches",
                    "re-enrollment triggers while shouldReEnroll is false would be lost",
                    hint="set shouldReEnroll to true or remove the triggers",
                )
            if criteria.get("unEnrollObjectsNotMeetingCriteria") is True:
                self.setting_paths.append(path + ".unEnrollObjectsNotMeetingCriteria")
            return out
        if kind == "EVENT_BASED":
            self.only_keys(
                criteria,
                path,
                {"type", "eventFilterBranches", "listMembershipFilterBranches", "shouldReEnroll", "refinementCriteria"},
                "event enrollment",
            )
            events = [
                self.trigger_event(b, join_path(path, "eventFilterBranches", i))
                for i, b in enumerate(self.items(criteria.get("eventFilterBranches"), path + ".eventFilterBranches"))
            ]
            events += [
                self.list_event(b, join_path(path, "listMembershipFilterBranches", i))
                for i, b in enumerate(
                    self.items(criteria.get("listMembershipFilterBranches"), path + ".listMembershipFilterBranches")
                )
            ]
            if not events:
                raise self.fail(path + ".eventFilterBranches", "event enrollment without any event")
            head = "enroll on " + " or ".join(events)
            refinement = criteria.get("refinementCriteria")
            if refinement is not None and not empty_branch(refinement):
                head += f" only if {crit_text(self.criteria(refinement, path + '.refinementCriteria', self.object))}"
            out.append((head, path))
            if reenroll is True:
                out.append(("reenroll every time", path + ".shouldReEnroll"))
                self.clause_paths.append((n.ReenrollClause, path + ".shouldReEnroll"))
            return out
        raise self.fail(path + ".type", f"expected MANUAL, LIST_BASED or EVENT_BASED, found {show(kind)}")

    def recurrence(self, schedule: dict[str, Any]) -> str:
        path = "enrollmentSchedule"
        kind = schedule.get("type")
        at = self.time_of_day(schedule.get("timeOfDay"), path + ".timeOfDay")
        if kind == "DAILY":
            self.only_keys(schedule, path, {"type", "timeOfDay"}, "a daily schedule")
            return f"daily at {at}"
        if kind == "WEEKLY":
            self.only_keys(schedule, path, {"type", "timeOfDay", "daysOfWeek"}, "a weekly schedule")
            days = [
                self.weekday(d, join_path(path, "daysOfWeek", i))
                for i, d in enumerate(self.items(schedule.get("daysOfWeek"), path + ".daysOfWeek"))
            ]
            if not days:
                raise self.fail(path + ".daysOfWeek", "a weekly schedule without days")
            return f"weekly on {', '.join(days)} at {at}"
        if kind == "MONTHLY_SPECIFIC_DAYS":
            self.only_keys(schedule, path, {"type", "timeOfDay", "daysOfMonth"}, "a monthly schedule")
            days = self.items(schedule.get("daysOfMonth"), path + ".daysOfMonth")
            if len(days) != 1 or not isinstance(days[0], int):
                raise self.fail(
                    path + ".daysOfMonth",
                    f"wfdsl schedules one day of the month; found {len(days)} days",
                    hint="split the workflow, one per day",
                )
            return f"monthly on day {days[0]} at {at}"
        raise self.fail(
            path + ".type",
            f"the schedule {show(kind)} has no wfdsl equivalent; expected DAILY, WEEKLY or MONTHLY_SPECIFIC_DAYS",
        )

    def reenroll_property(self, branch: Any, path: str) -> str:
        """A re-enrollment trigger: the property-change pattern (`hs_name` = the property)."""
        data = self.obj(branch, path)
        filters = self.items(data.get("filters"), path + ".filters")
        if data.get("filterBranches") or len(filters) != 1:
            raise self.fail(path, "wfdsl re-enrolls on a change of a property; expected one `hs_name` filter")
        name = self.property_change_name(filters[0], join_path(path, "filters", 0))
        return self.prop(self.object, name, path)

    def trigger_event(self, branch: Any, path: str) -> str:
        data = self.obj(branch, path)
        if data.get("filterBranchType") != "UNIFIED_EVENTS":
            raise self.fail(path + ".filterBranchType", "expected UNIFIED_EVENTS")
        if data.get("operator", "HAS_COMPLETED") != "HAS_COMPLETED":
            raise self.fail(
                path + ".operator",
                "the absence of an event cannot trigger enrollment",
                hint="use a filter trigger with `has not …`",
            )
        return self.event_text(data, path)

    def list_event(self, branch: Any, path: str) -> str:
        data = self.obj(branch, path)
        filters = self.items(data.get("filters"), path + ".filters")
        if data.get("filterBranches") or len(filters) != 1:
            raise self.fail(path, "expected one IN_LIST filter per list membership trigger")
        fpath = join_path(path, "filters", 0)
        f = self.obj(filters[0], fpath)
        if f.get("filterType") != "IN_LIST" or f.get("operator", "IN_LIST") != "IN_LIST":
            raise self.fail(fpath, "expected an IN_LIST filter")
        name = self.lock.name_for("lists", self.string(f, "listId", fpath), fpath + ".listId", self.problems)
        return f"list.added(list = {quote(name)})"

    def settings(self, flow: dict[str, Any], custom: dict[str, Any]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        timezone = custom.get(TIMEZONE_PROPERTY)
        if timezone is not None:
            out.append((f"timezone {quote(str(timezone))}", join_path("customProperties", TIMEZONE_PROPERTY)))
        windows = self.items(flow.get("timeWindows"), "timeWindows")
        groups: dict[tuple[str, str], list[str]] = {}
        first_index: dict[tuple[str, str], int] = {}
        for i, window in enumerate(windows):
            path = join_path("timeWindows", i)
            w = self.obj(window, path)
            self.only_keys(w, path, {"day", "startTime", "endTime"}, "a time window")
            day = self.weekday(w.get("day"), path + ".day")
            if w.get("startTime") is None or w.get("endTime") is None:
                raise self.fail(path, "wfdsl time windows have a start and an end time")
            key = (
                self.time_of_day(w["startTime"], path + ".startTime"),
                self.time_of_day(w["endTime"], path + ".endTime"),
            )
            groups.setdefault(key, []).append(day)
            first_index.setdefault(key, i)
        for (start, end), days in groups.items():
            out.append(
                (
                    f"execute on {day_spec(days)} from {start} to {end}",
                    join_path("timeWindows", first_index[(start, end)]),
                )
            )
        blocked = self.items(flow.get("blockedDates"), "blockedDates")
        dates = []
        for i, item in enumerate(blocked):
            path = join_path("blockedDates", i)
            b = self.obj(item, path)
            if b.get("year") is None:
                raise self.fail(
                    path + ".year",
                    "a blocked date without a year (every year) has no wfdsl equivalent",
                    hint="give it a year; wfdsl pauses on dates (`pause on 2026-12-24`)",
                )
            month = b.get("month")
            if month not in ids.MONTHS:
                raise self.fail(path + ".month", f"expected a month such as DECEMBER, found {show(month)}")
            dates.append(
                f"{self.integer(b, 'year', path):04d}-{ids.MONTHS.index(month) + 1:02d}-"
                f"{self.integer(b, 'dayOfMonth', path):02d}"
            )
        if dates:
            out.append(("pause on " + ", ".join(dates), "blockedDates"))
        for path in self.setting_paths:
            out.append(("unenroll if criteria unmet", path))
        return out
