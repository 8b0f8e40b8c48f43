"""Dispatch: queued batches of events in; each event handed to the workflows the index finds for it.

For each event: first the enrollments that exist (goal, unenrollment,
suppression, `wait for`), then the triggers. Filter triggers are judged once
per record and batch, after every event of the batch, on the record as the
whole change left it. Events the engine's own work produces are queued and
dispatched the same way, so workflows chain.
"""

from __future__ import annotations

from wfdsl.runtime import history as h
from wfdsl.runtime.context import Context
from wfdsl.runtime.enroll import Enroller
from wfdsl.runtime.index import Index, may_fire
from wfdsl.runtime.observe import Scope
from wfdsl.runtime.protocols import Event, EventKeeper, Record

#: How far the queue of chained events may grow within one input before it is cut.
MAX_CHAIN = 100_000


class Dispatcher:
    """Drains the queue of event batches through the index."""

    def __init__(self, ctx: Context, enroller: Enroller, index: Index) -> None:
        self.ctx = ctx
        self.enroller = enroller
        self._index = index
        self.index = index

    @property
    def index(self) -> Index:
        return self._index

    @index.setter
    def index(self, index: Index) -> None:
        """A new index (the plans loaded or deployed): what the enroller emits follows it."""
        self._index = index
        ctx = self.ctx
        crm = ctx.crm
        quiet = ctx.observer is None and not index.hears("workflow.enrolled")
        self.enroller.keeper = crm if quiet and isinstance(crm, EventKeeper) else None

    def enroll(self, workflow: str, object_type: str, record_id: str) -> None:
        """Enroll a record by hand (the API), then dispatch the events that sets off.

        What a queued `workflow.enroll` event does, without the event: unobserved
        and with nothing queued before it, the batch it would be is this one
        enrollment."""
        ctx = self.ctx
        if ctx.observer is not None or ctx.queue:
            ctx.queue.append(
                [
                    Event(
                        type="workflow.enroll",
                        object=object_type,
                        id=record_id,
                        at=ctx.now,
                        data={"workflow": workflow},
                    )
                ]
            )
            self.drain()
            return
        # No block of its own, as a dispatched batch has: the caller's block
        # (`Engine.enroll`) holds just this enrollment, and a failure undoes it as well.
        self._enroll(workflow, object_type, record_id, None)
        if ctx.queue:  # the events the enrollment set off that some workflow hears
            self.drain(processed=1)

    def drain(self, *, processed: int = 0) -> None:
        """Dispatch the queued batches (`processed`: how many this input dispatched already)."""
        ctx = self.ctx
        concerns = self.index.concerns
        while ctx.queue:
            batch = ctx.queue.popleft()
            processed += 1
            if processed > MAX_CHAIN:  # pragma: no cover - the loop guard stops chains first
                ctx.queue.clear()
                break
            if ctx.observer is None:
                # A batch of events no workflow looks at (the `email.sent` of every email
                # sent, most often, or a form no trigger asks for) has nothing to
                # dispatch: no block, no lookups.
                for event in batch:
                    if concerns(event):
                        break
                else:
                    continue
                with ctx.store.transaction():
                    self.dispatch(batch)
            else:
                with ctx.store.transaction():
                    ctx.within(Scope(kind="batch", events=tuple(batch)), self.dispatch, batch)

    def records_for(self, object_type: str, event: Event) -> list[Record]:
        """The records of `object_type` an event concerns: its own record, or the
        records associated with it."""
        crm = self.ctx.crm
        record = crm.get(event.object, event.id)
        if record is None:
            return []
        if object_type == event.object:
            return [record]
        out = []
        for rid in record.associations.get(object_type, ()):
            other = crm.get(object_type, rid)
            if other is not None:
                out.append(other)
        return out

    def dispatch(self, batch: list[Event]) -> None:
        ctx = self.ctx
        index = self.index
        plans = ctx.plans
        enroller = self.enroller
        every = ctx.every_trigger
        filters: dict[tuple[str, str, str], tuple[Record, list[Event]]] = {}
        ctx.triggered.clear()
        for event in batch:
            if event.type == "workflow.enroll":
                self._manual(event)
                continue
            keys = index.event_keys(event)
            seen: dict[str, object] = {}  # for `may_fire`
            # 1. enrollments that exist: goal, unenrollment, suppression, `wait for`.
            for name in index.lookup(index.watch_index, keys):
                compiled = plans[name]
                for record in self.records_for(compiled.plan.object, event):
                    enroller.watch(compiled, record, event)
            # 2. triggers (filter triggers judged once per record and batch, below).
            names = index.triggers_for(event, keys, seen, every)
            if event.type == "record.created" and event.object in index.filters_of:
                # A new record is checked against every filter trigger of its type:
                # it may meet negative criteria (`not in list`, `is unknown`) at once.
                names = sorted(index.filters_of[event.object].union(names), key=index.order.__getitem__)
            for name in names:
                compiled = plans[name]
                kind = compiled.plan.trigger.kind
                if kind == "filter":
                    for record in self.records_for(compiled.plan.object, event):
                        key = (name, record.object, record.id)
                        filters.setdefault(key, (record, []))[1].append(event)
                elif kind == "event" and event.object == compiled.plan.object:
                    if compiled.pins is not None and not every and not may_fire(compiled.pins, event, seen):
                        continue  # none of its events can match: skip the criteria
                    if ctx.is_active(name):
                        enroller.event_trigger(compiled, event)
        for (name, _, _), (record, events) in filters.items():
            if ctx.is_active(name):
                fresh = ctx.crm.get(record.object, record.id)
                if fresh is not None:
                    enroller.filter_trigger(plans[name], fresh, events)

    def _manual(self, event: Event) -> None:
        """A `workflow.enroll` event: enroll by hand (the API, `enroll in workflow`)."""
        self._enroll(str(event.data.get("workflow", "")), event.object, event.id, event.cause)

    def _enroll(self, name: str, object_type: str, record_id: str, cause: str | None) -> None:
        ctx = self.ctx
        compiled = ctx.plans.get(name)
        if compiled is None:
            ctx.record(name, object_type, record_id, h.NOT_ENROLLED, None, {"reason": "unknown_workflow"})
            return
        record = ctx.crm.get(object_type, record_id)
        if record is None or record.object != compiled.plan.object:
            ctx.record(name, object_type, record_id, h.NOT_ENROLLED, None, {"reason": h.UNKNOWN_RECORD})
            return
        self.enroller.try_enroll(compiled, record, manual=True, cause=cause)
