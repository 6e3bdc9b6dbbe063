"""The event index both stores keep, and the one decision they share.

A store reads three things for a new copy: the event its item key already points at (a repeated call
after a crash), the event the item would have started itself, and the live events filed under the
copy's lookup keys; `plan` says what to write. The store makes read-then-write atomic its own way (the
embedded store under its lock, Redis with WATCH/MULTI), so two replicas seeing two languages of one
event at the same moment still make one event.

Records expire `ttl` seconds after their latest copy; an event whose reports are all older than the
linker's window can no longer be joined, so the TTL only has to outlast that window.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from service.events.link import EventRecord, Report, decide
from service.models import Outlet
from service.state.fingerprint import story_id_for
from service.state.protocol import EventMatch


@dataclass(frozen=True, slots=True)
class EventRequest:
    item_key: str
    report: Report
    outlet: Outlet
    now: float
    ttl: float

    @property
    def own_id(self) -> str:
        return story_id_for(self.item_key)


@dataclass(frozen=True, slots=True)
class Plan:
    match: EventMatch
    record: EventRecord | None  # what to write; None when nothing changes
    index: tuple[str, ...]  # keys to file the event under (the copy's own)


def known_event(req: EventRequest, pointed: EventRecord | None, own: EventRecord | None) -> Plan | None:
    """The answer for an item seen before, when its event is still live."""
    for event in (pointed, own):
        if event is not None and event.expires > req.now:
            return Plan(EventMatch(event.id, event.id == req.own_id, event.outlets, "again"), None, ())
    return None


def plan(req: EventRequest, candidates: Sequence[EventRecord]) -> Plan:
    """Join the event `decide` picks among `candidates`, or start one named after this item."""
    verdict = decide(req.report, candidates, req.now)
    expires = req.now + req.ttl
    if verdict.event is None:
        record = EventRecord(req.own_id, (req.report,), (req.outlet,), expires)
        how = "new"
    else:
        record = verdict.event.joined(req.report, req.outlet, expires)
        how = verdict.how
    match = EventMatch(record.id, verdict.event is None, record.outlets, how, tuple(verdict.refused.items()))
    return Plan(match, record, tuple(req.report.index_keys()))
