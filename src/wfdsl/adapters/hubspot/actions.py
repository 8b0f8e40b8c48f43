"""The workflows' actions on a HubSpot portal: an `Action` and its idempotency key in;
the calls that perform it (update, create with associations, tasks and notes,
list membership, owners, marketing single send, outgoing webhooks) and the
events it caused out.

One retry mechanism: nothing here retries. A call HubSpot did not perform
raises `TransientAdapterError` and the engine retries the action. A request
that timed out after it was sent may or may not have been performed: an
action that must not happen twice (email, create, notify, webhook,
increment) then fails for good with a message saying so, instead of risking
a second one. Marketing emails also carry the key as HubSpot's `sendId`,
which HubSpot itself sends once.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from wfdsl.adapters.hubspot.client import Client, UncertainOutcome, httpx_module, retry_after
from wfdsl.adapters.hubspot.ledger import Ledger, result_from_json, result_to_json
from wfdsl.adapters.hubspot.reads import Names, Reader
from wfdsl.adapters.hubspot_api import api_name, to_hubspot, type_id
from wfdsl.adapters.shared import OWNER_PROPERTY, email_sent
from wfdsl.runtime.protocols import Action, ActionResult, Event, PermanentAdapterError, TransientAdapterError
from wfdsl.runtime.values import as_number

#: Kinds whose repetition is harmless (setting a value twice is setting it once).
REPEATABLE = frozenset({"set", "clear", "copy", "assign_owner", "rotate_owner", "add_to_list", "remove_from_list"})
#: HubSpot-defined association type ids, (from, to) -> id, for records the actions create.
ASSOCIATION_TYPES: Mapping[tuple[str, str], int] = {
    ("deal", "contact"): 3,
    ("contact", "deal"): 4,
    ("ticket", "contact"): 16,
    ("contact", "ticket"): 15,
    ("company", "contact"): 280,
    ("contact", "company"): 279,
    ("deal", "company"): 341,
    ("company", "deal"): 342,
    ("ticket", "company"): 339,
    ("company", "ticket"): 340,
    ("ticket", "deal"): 28,
    ("deal", "ticket"): 27,
    ("task", "contact"): 204,
    ("task", "company"): 192,
    ("task", "deal"): 216,
    ("task", "ticket"): 230,
    ("note", "contact"): 202,
    ("note", "company"): 190,
    ("note", "deal"): 214,
    ("note", "ticket"): 228,
}


class Actions:
    """Performs actions once per idempotency key, with the ledger as the proof."""

    def __init__(self, api: Client, ledger: Ledger, reader: Reader, names: Names, *, timeout: float) -> None:
        self.api = api
        self.ledger = ledger
        self.reader = reader
        self.names = names
        self.timeout = timeout

    def perform(self, action: Action, idempotency_key: str) -> ActionResult:
        entry = self.ledger.entry(idempotency_key)
        if entry is not None and entry[0] == "done":
            return result_from_json(entry[1] or {})
        if entry is not None and entry[0] == "uncertain" and action.kind not in REPEATABLE:
            raise PermanentAdapterError(
                f"{action.kind} for {action.object}:{action.id} may already have been performed "
                "(an earlier request got no answer); not repeated so that it does not happen twice"
            )
        progress = entry[1] if entry is not None and isinstance(entry[1], Mapping) else {}
        if entry is None:
            self.ledger.start(idempotency_key, action)
        try:
            result = self._perform(action, idempotency_key, dict(progress))
        except UncertainOutcome as error:
            if action.kind in REPEATABLE:
                raise
            self.ledger.mark(idempotency_key, "uncertain")
            raise PermanentAdapterError(
                f"{error}; it may have been performed, so it is not repeated (check HubSpot)"
            ) from None
        self.ledger.finish(idempotency_key, result_to_json(result))
        return result

    def _target(self, action: Action) -> tuple[str, str]:
        object_type = str(action.args.get("object", action.object))
        if object_type == action.object:
            return (action.object, action.id)
        record = self.reader.get(action.object, action.id)
        ids = () if record is None else record.associations.get(object_type, ())
        if not ids:
            ids = tuple(self.reader.associations(action.object, object_type, [action.id]).get(action.id, []))
        if not ids:
            raise PermanentAdapterError(f"{action.object}:{action.id} has no associated {object_type} to update")
        return (object_type, ids[0])

    def _update(
        self, target: tuple[str, str], changes: Mapping[str, Any], action: Action, cause: str | None
    ) -> list[Event]:
        before = self.reader.load(target[0], [target[1]], extra=list(changes)).get(target[1])
        if before is None:
            raise PermanentAdapterError(f"{target[0]}:{target[1]} does not exist in HubSpot")
        body = {"properties": {prop: to_hubspot(value) for prop, value in changes.items()}}
        # Noted before the call, so that HubSpot's echo is known even if this process
        # dies right after it; taken back if HubSpot refused the change.
        for prop, value in body["properties"].items():
            self.ledger.own_write(target[0], target[1], prop, value, action.at)
        try:
            self.api.call("PATCH", f"/crm/v3/objects/{api_name(target[0])}/{quote(target[1], safe='')}", body=body)
        except UncertainOutcome:
            raise
        except Exception:
            for prop, value in body["properties"].items():
                self.ledger.take_own_write(target[0], target[1], prop, value)
            raise
        self.reader.forget(*target)
        events = []
        for prop, value in changes.items():
            previous = before.properties.get(prop)
            if to_hubspot(previous) == to_hubspot(value):
                continue
            events.append(
                Event(
                    type="property.changed",
                    object=target[0],
                    id=target[1],
                    at=action.at,
                    data={"property": prop, "value": None if value == "" else value, "previous": previous},
                    cause=cause,
                )
            )
        return events

    def _owner_id(self, owner: Any) -> str:
        """An owner's id from an id or an e-mail address (owners API)."""
        text = str(owner or "").strip()
        if not text:
            raise PermanentAdapterError("no owner given")
        if text.isdigit():
            return text
        key = ("owner", text.lower())
        if key not in self.names:
            answer = self.api.call("GET", "/crm/v3/owners/", params={"email": text, "limit": 1})
            results = answer.get("results") or []
            if not results:
                raise PermanentAdapterError(f"HubSpot has no owner with the e-mail {text}")
            self.names[key] = str(results[0].get("id"))
        return self.names[key]

    def _list_id(self, name: str, object_type: str) -> str:
        key = ("list", f"{object_type}:{name}")
        if key not in self.names:
            known = [i for (kind, i), n in self.names.items() if kind == "list-name" and n == name]
            if known:
                self.names[key] = known[0]
            elif name.isdigit():
                self.names[key] = name
            else:
                answer = self.api.call(
                    "GET",
                    f"/crm/v3/lists/object-type-id/{type_id(object_type)}/name/{quote(name, safe='')}",
                    missing_ok=True,
                )
                found = ((answer or {}).get("list") or {}).get("listId")
                if found is None:
                    raise PermanentAdapterError(f"HubSpot has no {object_type} list named {name!r}")
                self.names[key] = str(found)
        return self.names[key]

    def _email_id(self, name: str) -> str:
        if name.isdigit():
            return name
        key = ("email", name)
        if key not in self.names:
            after: str | None = None
            while key not in self.names:
                params: dict[str, Any] = {"limit": 100, "name": name}
                if after:
                    params["after"] = after
                answer = self.api.call("GET", "/marketing/v3/emails", params=params)
                for item in answer.get("results") or []:
                    if str(item.get("name")) == name:
                        self.names[key] = str(item.get("id"))
                        break
                after = ((answer.get("paging") or {}).get("next") or {}).get("after")
                if not after:
                    break
            if key not in self.names:
                raise PermanentAdapterError(f"HubSpot has no marketing email named {name!r}")
        return self.names[key]

    def _create(
        self,
        object_type: str,
        properties: Mapping[str, Any],
        link: tuple[str, str],
        key: str,
        progress: dict[str, Any],
    ) -> str:
        """Create a record associated with `link`; a created id is kept in the ledger so
        that a retry after a failed association does not create a second record."""
        new_id = progress.get("created")
        assoc = ASSOCIATION_TYPES.get((object_type, link[0]))
        if new_id is None:
            body: dict[str, Any] = {"properties": {p: to_hubspot(v) for p, v in properties.items()}}
            if assoc is not None:
                body["associations"] = [
                    {
                        "to": {"id": link[1]},
                        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": assoc}],
                    }
                ]
            answer = self.api.call("POST", f"/crm/v3/objects/{api_name(object_type)}", body=body)
            new_id = str(answer.get("id"))
            self.ledger.own_write(object_type, new_id, "", "created", dt.datetime.now(dt.timezone.utc))
            self.ledger.progress(key, {"created": new_id})
        if assoc is None:
            self.api.call(
                "PUT",
                f"/crm/v4/objects/{api_name(object_type)}/{quote(str(new_id), safe='')}"
                f"/associations/default/{api_name(link[0])}/{quote(link[1], safe='')}",
            )
        self.reader.forget(*link)
        return str(new_id)

    def _perform(self, action: Action, key: str, progress: dict[str, Any]) -> ActionResult:
        args = action.args
        kind = action.kind
        own = (action.object, action.id)
        cause = action.enrollment or None
        if kind in ("set", "clear", "copy"):
            value = None if kind == "clear" else args.get("value")
            return ActionResult(
                events=tuple(self._update(self._target(action), {str(args["property"]): value}, action, cause))
            )
        if kind == "increment":
            target = self._target(action)
            prop = str(args["property"])
            record = self.reader.load(target[0], [target[1]], extra=[prop]).get(target[1])
            current = None if record is None else record.properties.get(prop)
            base = as_number(current)
            if base is None and current not in (None, ""):
                raise PermanentAdapterError(f"{target[0]}.{prop} is {current!r}, not a number")
            total = float(base or 0) + float(args.get("by", 0))
            number: Any = int(total) if total.is_integer() else total
            return ActionResult(events=tuple(self._update(target, {prop: number}, action, cause)))
        if kind in ("assign_owner", "rotate_owner"):
            owner = self._owner_id(args.get("owner"))
            return ActionResult(events=tuple(self._update(own, {OWNER_PROPERTY: owner}, action, cause)))
        if kind in ("add_to_list", "remove_from_list"):
            name = str(args["list"])
            list_id = self._list_id(name, action.object)
            verb = "add" if kind == "add_to_list" else "remove"
            record = self.reader.get(*own)
            was_member = record is not None and name in record.lists
            self.api.call("PUT", f"/crm/v3/lists/{quote(list_id, safe='')}/memberships/{verb}", body=[action.id])
            self.reader.forget(*own)
            if was_member == (verb == "add"):
                return ActionResult()
            event_type = "list.added" if verb == "add" else "list.removed"
            return ActionResult(
                events=(
                    Event(
                        type=event_type,
                        object=action.object,
                        id=action.id,
                        at=action.at,
                        data={"list": name},
                        cause=cause,
                    ),
                )
            )
        if kind == "create_record":
            object_type = str(args.get("object_type") or args.get("object") or "")
            props = args.get("properties") or {}
            new_id = self._create(object_type, props if isinstance(props, Mapping) else {}, own, key, progress)
            created = Event(type="record.created", object=object_type, id=new_id, at=action.at, cause=cause)
            self.ledger.add_event(created)
            changed = [
                Event(
                    type="property.changed",
                    object=object_type,
                    id=new_id,
                    at=action.at,
                    data={"property": p, "value": v, "previous": None},
                    cause=cause,
                )
                for p, v in (props.items() if isinstance(props, Mapping) else [])
            ]
            return ActionResult(events=(created, *changed), data={"id": new_id})
        if kind == "create_task":
            return ActionResult(data={"id": self._task(action, key, progress)})
        if kind == "send_email":
            self._send_email(action, key)
            sent = email_sent(action, action.at, args, cause)
            self.ledger.add_event(sent)
            return ActionResult(events=(sent,))
        if kind == "notify":
            return ActionResult(data={"id": self._note(action, key, progress)})
        if kind == "webhook":
            self._webhook(action)
            return ActionResult()
        raise PermanentAdapterError(f"the HubSpot adapter cannot perform {kind!r}")

    def _record_owner(self, object_type: str, record_id: str) -> str | None:
        record = self.reader.get(object_type, record_id)
        owner = None if record is None else record.properties.get(OWNER_PROPERTY)
        return str(owner) if owner not in (None, "") else None

    def _task(self, action: Action, key: str, progress: dict[str, Any]) -> str:
        args = action.args
        due = args.get("due_at") or action.at.isoformat()
        properties: dict[str, Any] = {
            "hs_task_subject": args.get("title", ""),
            "hs_task_status": "NOT_STARTED",
            "hs_task_type": "TODO",
            "hs_timestamp": str(due),
        }
        if args.get("notes"):
            properties["hs_task_body"] = args["notes"]
        if args.get("priority"):
            properties["hs_task_priority"] = str(args["priority"]).upper()
        assignee = args.get("assign_to", args.get("assignee"))
        if assignee == "owner" or args.get("assign_owner"):
            owner = self._record_owner(action.object, action.id)
            if owner:
                properties[OWNER_PROPERTY] = owner
        elif assignee:
            properties[OWNER_PROPERTY] = self._owner_id(assignee)
        return self._create("task", properties, (action.object, action.id), key, progress)

    def _note(self, action: Action, key: str, progress: dict[str, Any]) -> str:
        """`notify`: HubSpot has no API for workflow notifications, so the message becomes a
        note on the record's timeline, assigned to the recipient owner when there is one."""
        args = action.args
        recipient = args.get("recipient")
        body = f"Notification for {recipient}: {args.get('subject', '')}\n\n{args.get('body', '')}".strip()
        properties: dict[str, Any] = {"hs_note_body": body, "hs_timestamp": action.at.isoformat()}
        if recipient == "owner":
            owner = self._record_owner(action.object, action.id)
            if owner:
                properties[OWNER_PROPERTY] = owner
        elif isinstance(recipient, str) and recipient.isdigit():
            properties[OWNER_PROPERTY] = recipient
        return self._create("note", properties, (action.object, action.id), key, progress)

    def _send_email(self, action: Action, key: str) -> None:
        email_id = self._email_id(str(action.args.get("email", "")))
        record = self.reader.get(action.object, action.id)
        to = None if record is None else record.properties.get("email")
        if not to:
            raise PermanentAdapterError(f"{action.object}:{action.id} has no e-mail address to send to")
        body = {
            "emailId": int(email_id),
            "message": {"to": str(to), "sendId": key},
            "contactProperties": {},
            "customProperties": {},
        }
        self.api.call("POST", "/marketing/v4/email/single-send", body=body)

    def _webhook(self, action: Action) -> None:
        """`webhook post URL [body …]`: sent from here, without the HubSpot token."""
        httpx = httpx_module()
        url = str(action.args.get("url", ""))
        text = action.args.get("body")
        payload = (
            text
            if isinstance(text, str)
            else json.dumps({"object": action.object, "id": action.id, "at": action.at.isoformat()})
        )
        try:
            response = httpx.post(
                url,
                content=payload.encode("utf-8"),
                headers={"Content-Type": "application/json"},
                timeout=self.timeout,
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            raise TransientAdapterError(f"webhook {url}: cannot connect ({type(error).__name__})") from None
        except httpx.TimeoutException:
            raise UncertainOutcome(f"webhook {url}: no answer in {self.timeout:g} s") from None
        except httpx.HTTPError as error:
            raise PermanentAdapterError(f"webhook {url}: {type(error).__name__}") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientAdapterError(
                f"webhook {url} answered {response.status_code}",
                retry_after=retry_after(response.headers.get("retry-after")),
            )
        if response.status_code >= 400:
            raise PermanentAdapterError(f"webhook {url} answered {response.status_code}")


__all__ = ["ASSOCIATION_TYPES", "REPEATABLE", "Actions"]
