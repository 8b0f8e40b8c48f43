"""One wfdsl step in; one flow action (its type id and fields) out."""

from __future__ import annotations

from typing import Any

from wfdsl.syntax import nodes as n
from wfdsl.tools.hubspot import ids
from wfdsl.tools.hubspot.exporter.triggers import TriggerWriter
from wfdsl.tools.hubspot.exporter.writer import (
    clock_time,
    duration_minutes,
    number_value,
    single_unit,
    text_value,
)


class ActionWriter(TriggerWriter):
    """Single steps as actions."""

    def action(self, ident: str, type_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "SINGLE_CONNECTION",
            "actionId": ident,
            "actionTypeId": type_id,
            "actionTypeVersion": 0,
            "fields": fields,
        }

    def single(self, step: n.Node, ident: str) -> dict[str, Any]:
        if isinstance(step, n.Delay):
            amount, unit = single_unit(step.duration)
            return self.action(ident, ids.DELAY, {"delta": str(amount), "time_unit": unit})
        if isinstance(step, n.DelayUntilDate):
            return self.action(ident, ids.DELAY_UNTIL_DATE, self.date_delay_fields(step))
        if isinstance(step, n.SendEmail):
            email = self.lock.id_for("marketing_emails", step.email.value, "", self.problems, span=step.email.span)
            return self.action(ident, ids.SEND_EMAIL, {"content_id": email})
        if isinstance(step, (n.SetProperty, n.ClearProperty, n.Increment, n.CopyProperty, n.AssignOwner)):
            return self.action(ident, ids.SET_PROPERTY, self.set_fields(step))
        if isinstance(step, n.CreateTask):
            return self.action(ident, ids.TASK, self.task_fields(step))
        if isinstance(step, n.Notify):
            return self.action(ident, ids.NOTIFY, self.notify_fields(step))
        if isinstance(step, n.RotateOwner):
            users = []
            for item in step.owners.items:
                if not isinstance(item, n.StringLit):
                    raise self.fail(item, "owners are named by strings")
                users.append(self.lock.id_for("owners", item.value, "", self.problems, span=item.span))
            return self.action(
                ident,
                ids.ROTATE_OWNER,
                {"user_ids": users, "target_property": "hubspot_owner_id", "overwrite_current_owner": "true"},
            )
        if isinstance(step, (n.AddToList, n.RemoveFromList)):
            list_id = self.lock.id_for("lists", step.name.value, "", self.problems, span=step.name.span)
            operation = "ADD" if isinstance(step, n.AddToList) else "REMOVE"
            return self.action(ident, ids.LIST, {"operation": operation, "list_id": list_id})
        if isinstance(step, n.CreateRecord):
            return self.action(ident, ids.CREATE_RECORD, self.record_fields(step))
        if isinstance(step, n.EnrollInWorkflow):
            flow_id = self.lock.id_for("workflows", step.workflow.value, "", self.problems, span=step.workflow.span)
            return self.action(ident, ids.ENROLL_IN_WORKFLOW, {"flow_id": flow_id})
        if isinstance(step, n.Webhook):
            if step.body is not None:
                raise self.fail(step.body, "HubSpot webhooks send the record; a `body` has no flow JSON equivalent")
            return {
                "type": "WEBHOOK",
                "actionId": ident,
                "method": step.method.upper(),
                "webhookUrl": step.url.value,
                "queryParams": [],
            }
        if isinstance(step, n.WaitFor):
            if not isinstance(step.event, (n.EventRef, n.PropertyChange)):
                raise self.fail(step, "this wait has no flow JSON equivalent")  # pragma: no cover
            return self.action(
                ident,
                ids.WAIT_FOR_EVENT,
                {
                    "event_filter_branches": [self.unified_event(step.event, "HAS_COMPLETED")],
                    "expiration_minutes": str(duration_minutes(step.timeout)),
                },
            )
        if isinstance(step, n.Placeholder):
            raise self.fail(
                step,
                "a placeholder must be filled before the workflow is exported",
                hint="replace it with the action it stands for",
            )
        what = {
            n.DelayUntilDay: "`delay until` a day or time",
            n.DelayUntilAnchor: "a date-centred delay",
            n.UnenrollFromWorkflow: "`unenroll from workflow`",
        }.get(type(step), "this step")
        raise self.fail(
            step, f"{what} has no flow JSON equivalent here", hint="keep this workflow in wfdsl, or rewrite the step"
        )

    def date_delay_fields(self, step: n.DelayUntilDate) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        base = step.base
        if isinstance(base, n.PropertyRef):
            if len(base.parts) != 2 or base.parts[0] != self.object:
                raise self.fail(base, f"flow delays wait for a date property of the enrolled {self.object}")
            fields["date"] = {"type": "OBJECT_PROPERTY", "propertyName": base.parts[1]}
        elif isinstance(base, n.DateLit):
            fields["date"] = {"type": "STATIC_VALUE", "staticValue": base.text}
        else:
            raise self.fail(base, "flow delays wait until a date, not a date-time; use `at HH:MM`")
        if step.offset is not None:
            amount, unit = single_unit(step.offset)
            fields["delta"] = str(-amount if step.sign == "-" else amount)
            fields["time_unit"] = unit
        if step.at is not None:
            fields["time_of_day"] = clock_time(step.at.text)
        return fields

    def notify_fields(self, step: n.Notify) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if step.recipient is None:
            fields["owner_properties"] = ["hubspot_owner_id"]
        else:
            fields["user_ids"] = [
                self.lock.id_for("users", step.recipient.value, "", self.problems, span=step.recipient.span)
            ]
        if step.subject is not None:
            fields["subject"] = ids.to_hubspot_tokens(step.subject.value, self.object)
        if step.body is not None:
            fields["body"] = ids.to_hubspot_tokens(step.body.value, self.object)
        return fields

    def record_fields(self, step: n.CreateRecord) -> dict[str, Any]:
        created = step.object_type.value
        if created not in ids.OBJECT_TYPE_IDS or (created, self.object) not in ids.ASSOCIATIONS:
            raise self.fail(step.object_type, f"creating {created} records has no flow JSON equivalent here")
        props = [
            {
                "targetProperty": f.name.value,
                "value": {
                    "type": "STATIC_VALUE",
                    "staticValue": text_value(self.raw_value(created, f.name.value, f.value)),
                },
            }
            for f in step.fields
        ]
        return {
            "object_type_id": ids.OBJECT_TYPE_IDS[created],
            "properties": props,
            "associations": [
                {
                    "target": {
                        "associationCategory": "HUBSPOT_DEFINED",
                        "associationTypeId": ids.ASSOCIATIONS[(created, self.object)],
                    },
                    "value": {"type": "ENROLLED_OBJECT"},
                }
            ],
            "use_explicit_associations": "true",
        }

    def set_fields(self, step: n.Node) -> dict[str, Any]:
        if isinstance(step, n.AssignOwner):
            owner = self.lock.id_for("owners", step.owner.value, "", self.problems, span=step.owner.span)
            return {"property_name": "hubspot_owner_id", "value": {"type": "STATIC_VALUE", "staticValue": owner}}
        prop = step.target if isinstance(step, n.CopyProperty) else step.prop  # type: ignore[attr-defined]
        assert isinstance(prop, n.PropertyRef)
        if len(prop.parts) != 2:
            raise self.fail(prop, f"{prop.dotted}: flow actions set a property of a record type")
        owner, name = prop.parts
        fields: dict[str, Any] = {"property_name": name}
        if owner != self.object:
            association = ids.ASSOCIATIONS.get((self.object, owner))
            if association is None:
                raise self.fail(prop, f"{owner} records are not associated with {self.object} records here")
            fields["association"] = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": association}
        if isinstance(step, n.SetProperty):
            raw = self.raw_value(owner, name, step.value)
            if raw == "":
                raise self.fail(step.value, 'setting "" is clearing the property; write `clear` instead')
            fields["value"] = {"type": "STATIC_VALUE", "staticValue": text_value(raw)}
        elif isinstance(step, n.ClearProperty):
            fields["value"] = {"type": "STATIC_VALUE", "staticValue": ""}
        elif isinstance(step, n.Increment):
            fields["value"] = {"type": "INCREMENT", "incrementAmount": number_value(step.amount.text)}
        elif isinstance(step, n.CopyProperty):
            source = step.source
            if len(source.parts) != 2 or source.parts[0] != self.object:
                raise self.fail(source, f"flow actions copy from a property of the enrolled {self.object}")
            fields["value"] = {"type": "OBJECT_PROPERTY", "propertyName": source.parts[1]}
        return fields

    def task_fields(self, step: n.CreateTask) -> dict[str, Any]:
        fields: dict[str, Any] = {"task_type": "TODO", "subject": ids.to_hubspot_tokens(step.title.value, self.object)}
        if step.notes is not None:
            fields["body"] = ids.to_hubspot_tokens(step.notes.value, self.object)
        if step.priority is not None:
            fields["priority"] = step.priority.upper()
        if step.due is not None:
            amount, unit = single_unit(step.due)
            fields["due_time"] = {"delta": amount, "timeUnit": unit}
        if step.assign_owner:
            fields["owner_assignment"] = {
                "type": "CUSTOM",
                "value": {"type": "OBJECT_PROPERTY", "propertyName": "hubspot_owner_id"},
            }
        elif step.assignee is not None:
            owner = self.lock.id_for("owners", step.assignee.value, "", self.problems, span=step.assignee.span)
            fields["owner_assignment"] = {"type": "CUSTOM", "value": {"type": "STATIC_VALUE", "staticValue": owner}}
        fields["associations"] = [
            {
                "target": {
                    "associationCategory": "HUBSPOT_DEFINED",
                    "associationTypeId": ids.TASK_ASSOCIATIONS[self.object],
                },
                "value": {"type": "ENROLLED_OBJECT"},
            }
        ]
        fields["use_explicit_associations"] = "true"
        return fields
