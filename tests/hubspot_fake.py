"""A local fake of HubSpot's API for tests: CRM v3 objects, search, v4 associations, lists,
owners, marketing emails and single send, answering with the documented shapes.

It runs as a real HTTP server on 127.0.0.1 (Starlette under uvicorn, in a thread),
so the adapter's real httpx client talks to it. Tests seed it with records, inject
faults (429 with Retry-After, 5xx bursts, slow answers) and read what it was asked.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import attrs
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TOKEN = "pat-test-0123456789abcdef"
TYPE_IDS = {"0-1": "contacts", "0-2": "companies", "0-3": "deals", "0-5": "tickets"}
PRIMARY = {("contacts", "companies"), ("deals", "companies"), ("tickets", "companies")}


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


@attrs.define
class Fault:
    method: str | None
    path: str  # a prefix of the path
    status: int
    times: int
    retry_after: str | None = None
    delay: float = 0.0  # seconds before answering (a slow response)
    then_perform: bool = False  # perform the request, then answer with the fault


class FakeHubSpot:
    """State and routes of the fake portal."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, dict[str, Any]]] = {}
        self.history: dict[tuple[str, str, str], list[tuple[dt.datetime, Any]]] = {}
        self.associations: dict[tuple[str, str], dict[str, list[str]]] = {}
        self.lists: dict[str, dict[str, Any]] = {}
        self.owners: list[dict[str, Any]] = []
        self.emails: list[dict[str, Any]] = []
        self.sends: list[dict[str, Any]] = []
        self.hooks: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, Any]] = []
        self.faults: list[Fault] = []
        self.next_id = 1000
        #: Property types the properties API reports (others are strings).
        self.types: dict[str, dict[str, str]] = {
            "contacts": {"hubspotscore": "number", "renewal_date": "date", "email_opt_out": "bool"},
            "deals": {"amount": "number", "closedate": "datetime"},
        }
        self.lock = threading.Lock()
        self.membership_page = 2  # small pages, so that paging is exercised
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None
        self.url = ""

    # ------------------------------------------------------------ seeding

    def add(self, type_: str, record_id: str, properties: dict[str, Any], *, at: dt.datetime | None = None) -> None:
        at = at or dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
        props = {k: (None if v is None else str(v)) for k, v in properties.items()}
        props["hs_object_id"] = record_id
        self.objects.setdefault(type_, {})[record_id] = props
        for prop, value in props.items():
            self.history.setdefault((type_, record_id, prop), []).append((at, value))

    def change(self, type_: str, record_id: str, prop: str, value: Any, at: dt.datetime) -> None:
        self.objects[type_][record_id][prop] = None if value is None else str(value)
        self.history.setdefault((type_, record_id, prop), []).append((at, None if value is None else str(value)))

    def associate(self, a: tuple[str, str], b: tuple[str, str]) -> None:
        for left, right in ((a, b), (b, a)):
            linked = self.associations.setdefault(left, {}).setdefault(right[0], [])
            if right[1] not in linked:
                linked.append(right[1])

    def add_list(self, list_id: str, name: str, type_id: str, members: list[str]) -> None:
        self.lists[list_id] = {"name": name, "objectTypeId": type_id, "members": list(members)}

    def fail(
        self,
        path: str,
        status: int,
        *,
        method: str | None = None,
        times: int = 1,
        retry_after: str | None = None,
        delay: float = 0.0,
        then_perform: bool = False,
    ) -> None:
        self.faults.append(Fault(method, path, status, times, retry_after, delay, then_perform))

    def asked(self, method: str, prefix: str) -> list[Any]:
        """The bodies of the requests made with this method to paths starting with `prefix`."""
        return [body for m, path, body in self.requests if m == method and path.startswith(prefix)]

    # ------------------------------------------------------------ serving

    def start(self) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(self.app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the fake HubSpot API did not start")
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=10)

    def app(self) -> Starlette:
        def route(path: str, handler: Callable[..., Any], methods: list[str]) -> Route:
            async def endpoint(request: Request) -> Response:
                return await self._serve(request, handler)

            return Route(path, endpoint, methods=methods)

        return Starlette(
            routes=[
                route("/crm/v3/objects/{type}/batch/read", self.batch_read, ["POST"]),
                route("/crm/v3/objects/{type}/search", self.search, ["POST"]),
                route("/crm/v3/objects/{type}/{id}", self.one, ["GET", "PATCH"]),
                route("/crm/v3/objects/{type}", self.create, ["POST"]),
                route("/crm/v4/associations/{from}/{to}/batch/read", self.assoc_read, ["POST"]),
                route("/crm/v4/objects/{from}/{id}/associations/default/{to}/{to_id}", self.assoc_default, ["PUT"]),
                route("/crm/v3/lists/records/{type_id}/{id}/memberships", self.memberships, ["GET"]),
                route("/crm/v3/lists/object-type-id/{type_id}/name/{name}", self.list_by_name, ["GET"]),
                route("/crm/v3/lists/{list_id}/memberships/{verb}", self.list_change, ["PUT"]),
                route("/crm/v3/lists/{list_id}", self.list_get, ["GET"]),
                route("/crm/v3/owners/", self.owners_get, ["GET"]),
                route("/crm/v3/properties/{type}", self.properties_get, ["GET"]),
                route("/marketing/v3/emails", self.emails_get, ["GET"]),
                route("/marketing/v4/email/single-send", self.single_send, ["POST"]),
                route("/hooks/{name}", self.hook, ["POST"]),
            ]
        )

    async def _serve(self, request: Request, handler: Callable[..., Any]) -> Response:
        raw = await request.body()
        body: Any = None
        if raw:
            try:
                import json

                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        path = request.url.path
        if not path.startswith("/hooks/") and request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse(
                {
                    "status": "error",
                    "message": "Authentication credentials not found.",
                    "category": "INVALID_AUTHENTICATION",
                },
                status_code=401,
            )
        with self.lock:
            self.requests.append((request.method, path, body))
            fault = next(
                (
                    f
                    for f in self.faults
                    if f.times > 0 and path.startswith(f.path) and f.method in (None, request.method)
                ),
                None,
            )
            if fault is not None:
                fault.times -= 1
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.then_perform:
                with self.lock:
                    handler(request, body)
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            if fault.status == 200:
                with self.lock:
                    status, data = handler(request, body)
                return JSONResponse(data, status_code=status)
            message = "You have reached your secondly limit." if fault.status == 429 else "internal error"
            category = "RATE_LIMITS" if fault.status == 429 else "INTERNAL_ERROR"
            return JSONResponse(
                {"status": "error", "message": message, "category": category},
                status_code=fault.status,
                headers=headers,
            )
        with self.lock:
            status, data = handler(request, body)
        headers = {
            "X-HubSpot-RateLimit-Max": "100",
            "X-HubSpot-RateLimit-Remaining": "99",
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
            "X-HubSpot-RateLimit-Daily": "250000",
            "X-HubSpot-RateLimit-Daily-Remaining": "249000",
        }
        if status == 204:
            return Response(status_code=204, headers=headers)
        return JSONResponse(data, status_code=status, headers=headers)

    # ------------------------------------------------------------ objects

    def _object(self, type_: str, record_id: str, props: list[str] | None, history: list[str] | None) -> dict[str, Any]:
        stored = self.objects[type_][record_id]
        if props:
            shown = {p: stored.get(p) for p in props}
        else:
            shown = {p: stored.get(p) for p in ("createdate", "email", "firstname", "lastname", "hs_object_id")}
        shown["hs_object_id"] = record_id
        out: dict[str, Any] = {
            "id": record_id,
            "properties": shown,
            "createdAt": "2026-01-01T00:00:00Z",
            "updatedAt": "2026-01-01T00:00:00Z",
            "archived": False,
        }
        if history:
            out["propertiesWithHistory"] = {
                p: [
                    {"value": v, "timestamp": _iso(at), "sourceType": "CRM_UI", "sourceId": "userId:1"}
                    for at, v in reversed(self.history.get((type_, record_id, p), []))
                ]
                for p in history
            }
        return out

    def batch_read(self, request: Request, body: Any) -> tuple[int, Any]:
        type_ = request.path_params["type"]
        ids = [str(i["id"]) for i in body.get("inputs", [])]
        found = [i for i in ids if i in self.objects.get(type_, {})]
        results = [self._object(type_, i, body.get("properties"), body.get("propertiesWithHistory")) for i in found]
        data: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": "2026-01-01T00:00:00Z",
            "completedAt": "2026-01-01T00:00:00Z",
        }
        missing = [i for i in ids if i not in found]
        if missing:
            data["numErrors"] = 1
            data["errors"] = [{"status": "error", "category": "OBJECT_NOT_FOUND", "context": {"ids": missing}}]
            return 207, data
        return 200, data

    def one(self, request: Request, body: Any) -> tuple[int, Any]:
        type_, record_id = request.path_params["type"], request.path_params["id"]
        if record_id not in self.objects.get(type_, {}):
            return 404, {"status": "error", "message": "Object not found", "category": "OBJECT_NOT_FOUND"}
        if request.method == "PATCH":
            now = dt.datetime.now(dt.timezone.utc)
            for prop, value in (body.get("properties") or {}).items():
                self.change(type_, record_id, prop, None if value == "" else value, now)
            return 200, self._object(type_, record_id, list(body.get("properties") or {}), None)
        props = request.query_params.get("properties")
        history = request.query_params.get("propertiesWithHistory")
        return 200, self._object(
            type_, record_id, props.split(",") if props else None, history.split(",") if history else None
        )

    def create(self, request: Request, body: Any) -> tuple[int, Any]:
        type_ = request.path_params["type"]
        self.next_id += 1
        record_id = str(self.next_id)
        self.add(type_, record_id, dict(body.get("properties") or {}), at=dt.datetime.now(dt.timezone.utc))
        for link in body.get("associations") or []:
            to_id = str(link["to"]["id"])
            to_type = next((t for t, recs in self.objects.items() if to_id in recs), None)
            if to_type is not None:
                self.associate((type_, record_id), (to_type, to_id))
        return 201, self._object(type_, record_id, list(body.get("properties") or {}), None)

    # ------------------------------------------------------------ search

    @staticmethod
    def _match(props: dict[str, Any], flt: dict[str, Any]) -> bool:
        value = props.get(flt["propertyName"])
        op = flt["operator"]
        if op == "HAS_PROPERTY":
            return value not in (None, "")
        if op == "NOT_HAS_PROPERTY":
            return value in (None, "")
        if value in (None, ""):
            return False

        def cmp(a: Any, b: Any) -> int:
            try:
                x, y = float(a), float(b)
            except ValueError:
                x, y = str(a).lower(), str(b).lower()  # type: ignore[assignment]
            return (x > y) - (x < y)

        if op == "EQ":
            return cmp(value, flt["value"]) == 0
        if op == "NEQ":
            return cmp(value, flt["value"]) != 0
        if op in ("LT", "LTE", "GT", "GTE"):
            c = cmp(value, flt["value"])
            return {"LT": c < 0, "LTE": c <= 0, "GT": c > 0, "GTE": c >= 0}[op]
        if op == "IN":
            return any(cmp(value, v) == 0 for v in flt["values"])
        if op == "BETWEEN":
            return cmp(value, flt["value"]) >= 0 and cmp(value, flt["highValue"]) <= 0
        raise ValueError(op)

    def search(self, request: Request, body: Any) -> tuple[int, Any]:
        type_ = request.path_params["type"]
        groups = body.get("filterGroups") or []
        if len(groups) > 5 or sum(len(g["filters"]) for g in groups) > 18:
            return 400, {"status": "error", "message": "too many filters", "category": "VALIDATION_ERROR"}
        records = self.objects.get(type_, {})
        hits = [
            rid
            for rid, props in records.items()
            if not groups or any(all(self._match(props, f) for f in g["filters"]) for g in groups)
        ]
        hits.sort(key=int)
        limit = min(int(body.get("limit", 10)), 200)
        start = int(body.get("after") or 0)
        if start >= 10_000:
            return 400, {"status": "error", "message": "paging beyond 10000", "category": "VALIDATION_ERROR"}
        page = hits[start : start + limit]
        data: dict[str, Any] = {
            "total": len(hits),
            "results": [self._object(type_, rid, body.get("properties"), None) for rid in page],
        }
        if start + limit < len(hits):
            data["paging"] = {"next": {"after": str(start + limit)}}
        return 200, data

    # ------------------------------------------------------------ associations

    def assoc_read(self, request: Request, body: Any) -> tuple[int, Any]:
        from_type, to_type = request.path_params["from"], request.path_params["to"]
        results = []
        for item in body.get("inputs", []):
            rid = str(item["id"])
            linked = self.associations.get((from_type, rid), {}).get(to_type, [])
            if not linked:
                continue
            to = []
            for number, other in enumerate(linked):
                types = [{"category": "HUBSPOT_DEFINED", "typeId": 279, "label": None}]
                if number == 0 and (from_type, to_type) in PRIMARY:
                    types.insert(0, {"category": "HUBSPOT_DEFINED", "typeId": 1, "label": "Primary"})
                to.append({"toObjectId": int(other), "associationTypes": types})
            # HubSpot does not promise the primary first: list it last to test ordering.
            results.append({"from": {"id": rid}, "to": list(reversed(to))})
        return 200, {"status": "COMPLETE", "results": results}

    def assoc_default(self, request: Request, body: Any) -> tuple[int, Any]:
        p = request.path_params
        self.associate((p["from"], p["id"]), (p["to"], p["to_id"]))
        return 200, {"status": "COMPLETE", "results": []}

    # ------------------------------------------------------------ lists

    def memberships(self, request: Request, body: Any) -> tuple[int, Any]:
        type_id, rid = request.path_params["type_id"], request.path_params["id"]
        member_of = [
            lid for lid, data in self.lists.items() if data["objectTypeId"] == type_id and rid in data["members"]
        ]
        start = int(request.query_params.get("after") or 0)
        page = member_of[start : start + self.membership_page]
        data: dict[str, Any] = {
            "results": [
                {
                    "listId": lid,
                    "listVersion": 1,
                    "firstAddedTimestamp": "2026-01-01T00:00:00Z",
                    "lastAddedTimestamp": "2026-01-01T00:00:00Z",
                }
                for lid in page
            ],
            "total": len(member_of),
        }
        if start + self.membership_page < len(member_of):
            data["paging"] = {"next": {"after": str(start + self.membership_page)}}
        return 200, data

    def _list_out(self, list_id: str) -> dict[str, Any]:
        data = self.lists[list_id]
        return {
            "listId": list_id,
            "name": data["name"],
            "objectTypeId": data["objectTypeId"],
            "processingType": "MANUAL",
            "size": len(data["members"]),
        }

    def list_get(self, request: Request, body: Any) -> tuple[int, Any]:
        list_id = request.path_params["list_id"]
        if list_id not in self.lists:
            return 404, {"status": "error", "message": "List not found", "category": "OBJECT_NOT_FOUND"}
        return 200, {"list": self._list_out(list_id)}

    def list_by_name(self, request: Request, body: Any) -> tuple[int, Any]:
        type_id, name = request.path_params["type_id"], request.path_params["name"]
        for list_id, data in self.lists.items():
            if data["name"] == name and data["objectTypeId"] == type_id:
                return 200, {"list": self._list_out(list_id)}
        return 404, {"status": "error", "message": "List not found", "category": "OBJECT_NOT_FOUND"}

    def list_change(self, request: Request, body: Any) -> tuple[int, Any]:
        list_id, verb = request.path_params["list_id"], request.path_params["verb"]
        members = self.lists[list_id]["members"]
        done = []
        for rid in body:
            if verb == "add" and rid not in members:
                members.append(rid)
                done.append(rid)
            elif verb == "remove" and rid in members:
                members.remove(rid)
                done.append(rid)
        key = "recordIdsAdded" if verb == "add" else "recordIdsRemoved"
        return 200, {key: done, "recordsIdsMissing": []}

    # ------------------------------------------------------------ owners, emails

    def properties_get(self, request: Request, body: Any) -> tuple[int, Any]:
        type_ = request.path_params["type"]
        names = set(self.types.get(type_, {})) | {p for r in self.objects.get(type_, {}).values() for p in r}
        results = [
            {"name": name, "label": name, "type": self.types.get(type_, {}).get(name, "string"), "fieldType": "text"}
            for name in sorted(names)
        ]
        return 200, {"results": results}

    def owners_get(self, request: Request, body: Any) -> tuple[int, Any]:
        email = request.query_params.get("email")
        found = [o for o in self.owners if email is None or o["email"] == email]
        return 200, {"results": found}

    def emails_get(self, request: Request, body: Any) -> tuple[int, Any]:
        name = request.query_params.get("name")
        found = [e for e in self.emails if name is None or e["name"] == name]
        return 200, {"results": found, "total": len(found)}

    def single_send(self, request: Request, body: Any) -> tuple[int, Any]:
        send_id = body["message"].get("sendId")
        if send_id is not None and any(s["message"].get("sendId") == send_id for s in self.sends):
            return 200, {"status": "COMPLETE", "sendResult": "IDEMPOTENCY_IGNORE", "statusId": send_id}
        self.sends.append(body)
        return 200, {"status": "PENDING", "statusId": str(len(self.sends)), "requestedAt": "2026-01-01T00:00:00Z"}

    def hook(self, request: Request, body: Any) -> tuple[int, Any]:
        self.hooks.append({"name": request.path_params["name"], "body": body})
        return 200, {"ok": True}


__all__ = ["TOKEN", "FakeHubSpot"]
