"""One flow action in (by its action type id); one wfdsl step out."""

from __future__ import annotations

from typing import Any

from wfdsl.tools.fmt import quote
from wfdsl.tools.hubspot import ids
from wfdsl.tools.hubspot.importer.reader import (
    DATE,
    NAME,
    Step,
    id_text,
    json_kind,
    number_text,
    show,
)
from wfdsl.tools.hubspot.importer.triggers import TriggerReader
from wfdsl.tools.hubspot.problems import Problem, join_path


class ActionReader(TriggerReader):
    """Single actions: `single` dispatches on the action type id to `_action_<id>`."""

    def single(self, action: dict[str, Any], path: str, kind: str) -> Step:
        if kind == "WEBHOOK":
            self.only_keys(
                action, path, {"type", "actionId", "method", "webhookUrl", "queryParams", "connection"}, "a webhook"
            )
            if action.get("queryParams"):
                self.error(path + ".queryParams", "webhook query parameters have no wfdsl equivalent")
            method = str(action.get("method", "POST")).lower()
            if method not in ("post", "get", "put", "patch", "delete"):
                raise self.fail(path + ".method", f"the method {show(action.get('method'))} is not supported")
            return Step(path=path, text=f"webhook {method} {quote(self.string(action, 'webhookUrl', path))}")
        if kind != "SINGLE_CONNECTION":
            raise self.fail(
                path + ".type",
                f"the action type {show(kind)} has no wfdsl equivalent",
                hint="custom code stays in HubSpot",
            )
        self.only_keys(
            action, path, {"type", "actionId", "actionTypeId", "actionTypeVersion", "fields", "connection"}, "an action"
        )
        type_id = self.string(action, "actionTypeId", path)
        version = action.get("actionTypeVersion", 0)
        if version != 0:
            raise self.fail(
                path + ".actionTypeVersion",
                f"version {show(version)} of action {type_id} is not the built-in action (version 0)",
            )
        fpath = path + ".fields"
        fields = self.obj(action.get("fields") or {}, fpath)
        convert = getattr(self, "_action_" + type_id.replace("-", "_"), None)
        if convert is None:
            what = ids.ACTION_NAMES.get(type_id, "an app or integration action")
            raise self.fail(
                path + ".actionTypeId",
                f"the action {type_id} ({what}) has no wfdsl equivalent",
                hint='keep it as a `placeholder "…"` by hand, or leave this workflow in HubSpot',
            )
        text: str = convert(fields, fpath)
        return Step(path=path, text=text)

    def _action_0_29(self, fields: dict[str, Any], path: str) -> str:
        self.only_keys(fields, path, {"event_filter_branches", "expiration_minutes"}, "a wait for an event")
        branches = self.items(fields.get("event_filter_branches"), path + ".event_filter_branches")
        if len(branches) != 1:
            raise self.fail(path + ".event_filter_branches", "wfdsl waits for one event")
        event = self.trigger_event(branches[0], join_path(path, "event_filter_branches", 0))
        minutes = self.integer(fields, "expiration_minutes", path)
        if minutes <= 0:
            raise self.fail(path + ".expiration_minutes", "wfdsl waits up to a positive time")
        for unit, size in (("week", 10080), ("day", 1440), ("hour", 60), ("minute", 1)):
            if minutes % size == 0:
                amount = minutes // size
                return f"wait for {event} up to {amount} {unit}{'' if amount == 1 else 's'}"
        raise AssertionError("unreachable")  # pragma: no cover

    def _action_0_1(self, fields: dict[str, Any], path: str) -> str:
        self.only_keys(fields, path, {"delta", "time_unit"}, "a delay")
        return f"delay {self.duration(fields, 'delta', 'time_unit', path)}"

    def duration(self, fields: dict[str, Any], amount_key: str, unit_key: str, path: str) -> str:
        amount = self.integer(fields, amount_key, path)
        unit = ids.TIME_UNITS.get(str(fields.get(unit_key)))
        if unit is None:
            raise self.fail(
                join_path(path, unit_key),
                f"expected MINUTES, HOURS, DAYS or WEEKS, found {show(fields.get(unit_key))}",
            )
        if amount <= 0:
            raise self.fail(join_path(path, amount_key), f"a duration must be positive; found {amount}")
        return f"{amount} {unit}{'' if amount == 1 else 's'}"

    def _action_0_35(self, fields: dict[str, Any], path: str) -> str:
        self.only_keys(fields, path, {"date", "delta", "time_unit", "time_of_day"}, "a delay until a date")
        date = self.obj(fields.get("date"), path + ".date")
        if date.get("type") == "OBJECT_PROPERTY":
            base = self.prop(self.object, self.string(date, "propertyName", path + ".date"), path + ".date")
        elif date.get("type") == "STATIC_VALUE" and DATE.match(str(date.get("staticValue"))):
            base = str(date["staticValue"])
        else:
            raise self.fail(path + ".date", "expected a date property or a date (STATIC_VALUE 2026-12-24)")
        text = f"delay until {base}"
        if fields.get("delta") not in (None, "0", 0):
            offset = self.integer(fields, "delta", path)
            unit = ids.TIME_UNITS.get(str(fields.get("time_unit", "DAYS")))
            if unit is None:
                raise self.fail(path + ".time_unit", "expected MINUTES, HOURS, DAYS or WEEKS")
            size = abs(offset)
            text += f" {'-' if offset < 0 else '+'} {size} {unit}{'' if size == 1 else 's'}"
        if fields.get("time_of_day") is not None:
            text += f" at {self.time_of_day(fields['time_of_day'], path + '.time_of_day')}"
        return text

    def _action_0_4(self, fields: dict[str, Any], path: str) -> str:
        self.only_keys(fields, path, {"content_id"}, "a marketing email")
        name = self.lock.name_for(
            "marketing_emails", self.string(fields, "content_id", path), path + ".content_id", self.problems
        )
        return f"send email {quote(name)}"

    def _action_0_13(self, fields: dict[str, Any], path: str) -> str:
        self.only_keys(fields, path, {"operation", "list_id"}, "a list action")
        name = self.lock.name_for("lists", self.string(fields, "list_id", path), path + ".list_id", self.problems)
        operation = fields.get("operation")
        if operation == "ADD":
            return f"add to list {quote(name)}"
        if operation == "REMOVE":
            return f"remove from list {quote(name)}"
        raise self.fail(path + ".operation", f"expected ADD or REMOVE, found {show(operation)}")

    def _action_0_15(self, fields: dict[str, Any], path: str) -> str:
        self.only_keys(fields, path, {"flow_id"}, "enrolling in a workflow")
        name = self.lock.name_for("workflows", self.string(fields, "flow_id", path), path + ".flow_id", self.problems)
        return f"enroll in workflow {quote(name)}"

    def _action_0_5(self, fields: dict[str, Any], path: str) -> str:
        self.only_keys(fields, path, {"property_name", "value", "association"}, "setting a property")
        name = self.string(fields, "property_name", path)
        target = self.object
        association = fields.get("association")
        if association not in (None, {}):
            apath = path + ".association"
            a = self.obj(association, apath)
            found = [
                other
                for (source, other), type_id in ids.ASSOCIATIONS.items()
                if source == self.object and type_id == a.get("associationTypeId")
            ]
            if a.get("associationCategory", "HUBSPOT_DEFINED") != "HUBSPOT_DEFINED" or not found:
                raise self.fail(
                    apath,
                    "wfdsl sets properties of the primary associated records only; found "
                    f"association type {show(a.get('associationTypeId'))}",
                )
            target = found[0]
        ref = self.prop(target, name, path + ".property_name")
        vpath = path + ".value"
        value = self.obj(fields.get("value"), vpath)
        kind = value.get("type")
        if kind == "STATIC_VALUE":
            raw = value.get("staticValue")
            if raw in ("", None):
                return f"clear {ref}"
            if name == "hubspot_owner_id" and target == self.object:
                owner = self.lock.name_for("owners", id_text(raw), vpath + ".staticValue", self.problems)
                return f"assign owner {quote(owner)}"
            return f"set {ref} = {self.value(target, name, raw, vpath + '.staticValue')}"
        if kind == "INCREMENT":
            amount = value.get("incrementAmount")
            if not isinstance(amount, (int, float)) or isinstance(amount, bool):
                raise self.fail(vpath + ".incrementAmount", f"expected a number, found {json_kind(amount)}")
            return f"increment {ref} by {number_text(amount)}"
        if kind == "OBJECT_PROPERTY":
            source = self.prop(self.object, self.string(value, "propertyName", vpath), vpath + ".propertyName")
            return f"copy {source} to {ref}"
        raise self.fail(vpath + ".type", f"the value type {show(kind)} has no wfdsl equivalent")

    def _action_0_3(self, fields: dict[str, Any], path: str) -> str:
        self.only_keys(
            fields,
            path,
            {
                "task_type",
                "subject",
                "body",
                "priority",
                "due_time",
                "owner_assignment",
                "associations",
                "use_explicit_associations",
            },
            "a task",
        )
        if fields.get("task_type", "TODO") != "TODO":
            raise self.fail(path + ".task_type", f"wfdsl creates to-do tasks; found {show(fields.get('task_type'))}")
        standard = [
            {
                "target": {
                    "associationCategory": "HUBSPOT_DEFINED",
                    "associationTypeId": ids.TASK_ASSOCIATIONS.get(self.object),
                },
                "value": {"type": "ENROLLED_OBJECT"},
            }
        ]
        if fields.get("associations") not in (None, [], standard):
            raise self.fail(path + ".associations", "wfdsl associates a task with the enrolled record only")
        text = f"create task {quote(self.text(fields, 'subject', path))}"
        if fields.get("due_time") is not None:
            due = self.obj(fields["due_time"], path + ".due_time")
            self.only_keys(due, path + ".due_time", {"delta", "timeUnit"}, "a task's due time")
            text += f" due in {self.duration(due, 'delta', 'timeUnit', path + '.due_time')}"
        owner = fields.get("owner_assignment")
        if owner is not None:
            opath = path + ".owner_assignment"
            value = self.obj(self.obj(owner, opath).get("value"), opath + ".value")
            if value.get("type") == "OBJECT_PROPERTY" and value.get("propertyName") == "hubspot_owner_id":
                text += " assign to owner"
            elif value.get("type") == "STATIC_VALUE":
                who = self.lock.name_for(
                    "owners", id_text(value.get("staticValue")), opath + ".value.staticValue", self.problems
                )
                text += f" assign to {quote(who)}"
            else:
                raise self.fail(opath, "wfdsl assigns a task to the record's owner or to one owner")
        if fields.get("body") not in (None, ""):
            text += f" notes {quote(self.text(fields, 'body', path))}"
        if fields.get("priority") is not None:
            priority = str(fields["priority"]).lower()
            if priority not in ("low", "medium", "high"):
                raise self.fail(path + ".priority", f"expected LOW, MEDIUM or HIGH, found {show(fields['priority'])}")
            text += f" priority {priority}"
        return text

    def _action_0_9(self, fields: dict[str, Any], path: str) -> str:
        self.only_keys(
            fields,
            path,
            {"user_ids", "owner_properties", "subject", "body", "delivery_method"},
            "an in-app notification",
        )
        self.problems.append(
            Problem(
                path=path.removesuffix(".fields") + ".actionTypeId",
                message="an in-app notification (0-9) is imported as `notify`, wfdsl's one internal "
                "notification; export writes it as an internal email notification (0-8)",
                error=False,
            )
        )
        return self.notification({k: v for k, v in fields.items() if k != "delivery_method"}, path)

    def _action_0_8(self, fields: dict[str, Any], path: str) -> str:
        self.only_keys(fields, path, {"user_ids", "owner_properties", "subject", "body"}, "a notification")
        return self.notification(fields, path)

    def notification(self, fields: dict[str, Any], path: str) -> str:
        users = self.items(fields.get("user_ids"), path + ".user_ids")
        owners = self.items(fields.get("owner_properties"), path + ".owner_properties")
        if owners == ["hubspot_owner_id"] and not users:
            text = "notify owner"
        elif len(users) == 1 and not owners:
            who = self.lock.name_for("users", id_text(users[0]), path + ".user_ids[0]", self.problems)
            text = f"notify {quote(who)}"
        else:
            raise self.fail(
                path, "wfdsl notifies the record's owner or one user", hint="split the notification, one per user"
            )
        if fields.get("subject") is not None:
            text += f" subject {quote(self.text(fields, 'subject', path))}"
        if fields.get("body") is not None:
            text += f" body {quote(self.text(fields, 'body', path))}"
        return text

    def _action_0_11(self, fields: dict[str, Any], path: str) -> str:
        self.only_keys(fields, path, {"user_ids", "target_property", "overwrite_current_owner"}, "rotating owners")
        if fields.get("target_property", "hubspot_owner_id") != "hubspot_owner_id":
            raise self.fail(path + ".target_property", "wfdsl rotates the record's owner (hubspot_owner_id)")
        if str(fields.get("overwrite_current_owner", "true")).lower() != "true":
            raise self.fail(path + ".overwrite_current_owner", "wfdsl's `rotate owner` always overwrites the owner")
        users = self.items(fields.get("user_ids"), path + ".user_ids")
        if not users:
            raise self.fail(path + ".user_ids", "nobody to rotate among")
        names = [
            self.lock.name_for("owners", id_text(u), join_path(path, "user_ids", i), self.problems)
            for i, u in enumerate(users)
        ]
        return "rotate owner among [" + ", ".join(quote(x) for x in names) + "]"

    def _action_0_14(self, fields: dict[str, Any], path: str) -> str:
        self.only_keys(
            fields,
            path,
            {"object_type_id", "properties", "associations", "use_explicit_associations"},
            "creating a record",
        )
        created = ids.OBJECT_TYPES.get(str(fields.get("object_type_id")))
        if created is None:
            raise self.fail(
                path + ".object_type_id", f"cannot create records of type {show(fields.get('object_type_id'))}"
            )
        out = []
        for i, item in enumerate(self.items(fields.get("properties"), path + ".properties")):
            ppath = join_path(path, "properties", i)
            p = self.obj(item, ppath)
            name = self.string(p, "targetProperty", ppath)
            if not NAME.match(name):
                raise self.fail(ppath + ".targetProperty", f"the property name {name!r} cannot be written in wfdsl")
            value = self.obj(p.get("value"), ppath + ".value")
            if value.get("type") != "STATIC_VALUE":
                raise self.fail(ppath + ".value.type", "wfdsl creates records with fixed values (STATIC_VALUE)")
            out.append(f"{name} = {self.value(created, name, value.get('staticValue'), ppath + '.value')}")
        standard = [
            {
                "target": {
                    "associationCategory": "HUBSPOT_DEFINED",
                    "associationTypeId": ids.ASSOCIATIONS.get((created, self.object)),
                },
                "value": {"type": "ENROLLED_OBJECT"},
            }
        ]
        if fields.get("associations") not in (None, [], standard):
            raise self.fail(path + ".associations", "wfdsl associates a created record with the enrolled record only")
        return f"create {created} {{ {', '.join(out)} }}"
