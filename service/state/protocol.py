"""The store's ports, one per kind of consumer, and `Store`, their union, which every backend implements.

Each consumer names only the port it calls (the pipeline, the outbox, the poll scheduler, the read-only
views), so a test may hand it a fake with just those methods.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from service.models import Alert, FeedState, Outlet

if TYPE_CHECKING:
    from service.events.link import Report

# An edit of a delivered message is an outbox entry of its own, kept under the sink's name with this
# mark (sink names never contain '#'); `Delivery.edit` and `Ack.edit` tell it apart.
EDIT_MARK = "#edit"


def slot_name(sink: str, edit: bool) -> str:
    """The name a delivery is stored under: the sink's, or the sink's with the edit mark."""
    return sink + EDIT_MARK if edit else sink


def parse_slot(slot: str) -> tuple[str, bool]:
    """(sink, edit) from a stored delivery name."""
    if slot.endswith(EDIT_MARK):
        return slot[: -len(EDIT_MARK)], True
    return slot, False


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    PARKED = "parked"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One (alert, sink) pair in the outbox and where it stands.

    `claim` is the fencing token of the claim it was read under (`claim_due`), 0 when read without one.
    `receipt` is what the sink's `send` returned when it delivered (a Telegram chat and message ids),
    kept with the delivery. `edit` marks an edit of the message already sent for that alert and sink
    (a later copy of the story named another outlet); its `receipt` is the one of the send it edits.
    """

    alert: Alert
    sink: str
    status: DeliveryStatus
    attempts: int = 0
    next_attempt: datetime | None = None
    last_error: str | None = None
    claim: int = 0
    receipt: str | None = None
    edit: bool = False


@dataclass(frozen=True, slots=True)
class Ack:
    """How a claimed delivery ended, written under its claim's token (`ack_deliveries`).

    DELIVERED and PARKED (with the reason in `error`) are final; PENDING with `at` is a retry due then
    (with the error that caused it); PENDING with `at` None gives the claim back untouched (a delivery
    the pass did not reach), costing no attempt. `at` is also when DELIVERED and PARKED happened.
    A DELIVERED ack may carry the sink's `receipt`, stored with the delivery; `edit` addresses the
    delivery's edit entry rather than its send.
    """

    alert_id: str
    sink: str
    token: int
    status: DeliveryStatus
    at: datetime | None
    error: str = ""
    receipt: str | None = None
    edit: bool = False

    @property
    def slot(self) -> str:
        return slot_name(self.sink, self.edit)

    @property
    def releases(self) -> bool:
        return self.status is DeliveryStatus.PENDING and self.at is None

    @property
    def outcome(self) -> str:
        """What the ack writes, as the stores record it: a status, or "release" for a given-back claim."""
        return "release" if self.releases else self.status.value


@dataclass(frozen=True, slots=True)
class EventMatch:
    """Where one copy landed in the event index.

    `is_new` is True when this copy started the event (the event id derives from its item key), so a
    call repeated after a crash answers the same. `outlets` lists every feed that has reported the
    event so far, first reporter first. `how` says why: "new", "text" (a copy of another's text),
    "anchors" (the same places, actors, days… in any language) or "again" (this item was seen
    before). `refused` names events that were candidates and the veto that kept them apart.
    """

    event_id: str
    is_new: bool
    outlets: tuple[Outlet, ...]
    how: str = "new"
    refused: tuple[tuple[str, str], ...] = ()


class StoreLifecycle(Protocol):
    """Opening, closing and probing the store (the composition root and the health probe)."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise StoreError when the store cannot be reached."""


class PipelineStore(Protocol):
    """What one feed poll reads and writes: the feed's state, the items it has seen, the event
    index, and the alerts it hands to the outbox."""

    async def get_feed_state(self, feed: str) -> FeedState | None: ...

    async def put_feed_state(self, state: FeedState) -> None: ...

    async def put_feed_state_fenced(self, state: FeedState, token: int) -> bool:
        """`put_feed_state`, refused (False) when a newer lease was granted since `token`
        (`SchedulerStore.acquire_lease`)."""

    async def unseen_items(self, feed: str, ids: Sequence[str], now: datetime) -> list[str]:
        """The ids this feed has not produced before (unexpired), in the order given."""

    async def remember_items(self, feed: str, ids: Sequence[str], now: datetime) -> None: ...

    async def find_or_add_event(
        self, item_key: str, report: Report, outlet: Outlet, now: datetime
    ) -> EventMatch:
        """The event this copy belongs to, adding the copy (and a new event when none is found).

        Candidates are the live events filed under the report's lookup keys; `events.link.decide`
        picks among them; the read and the write are one atomic step, so concurrent callers agree.
        An event is remembered `story_ttl` seconds after its latest copy. The same `item_key` always
        lands in the same event.
        """

    async def enqueue_alert(self, alert: Alert, sinks: Sequence[str], now: datetime) -> bool:
        """Record the alert and one pending delivery per sink, unless this alert id is known already.

        Returns False when the alert existed (the same watchlist and story alerted before); an enqueue
        repeated after a crash or a retry therefore adds nothing.
        """

    async def note_outlets(
        self, alert_id: str, sinks: Sequence[str], outlets: Sequence[Outlet], now: datetime
    ) -> list[str]:
        """Record that an event already alerted was also reported by `outlets`; the sinks whose message
        is to be edited.

        The alert's `also_reported_by` becomes its outlets so far plus those of `outlets` not yet named
        (never its own feed), so a delivery of `sinks` still pending sends them. For each of `sinks`
        whose delivery went out with a receipt, one edit entry is made due at `now` (an edit already
        pending takes the new outlets; one parked stays parked). A send or an edit in flight while the
        outlets change is followed by another edit once it is acknowledged as delivered. Nothing new
        (no such alert, no outlet not yet named) changes nothing and returns []. Atomic: callers may
        race.
        """


class OutboxStore(Protocol):
    """What the outbox works with: claiming due deliveries and writing how they ended."""

    async def claim_due(
        self, now: datetime, owner: str, ttl: float, limit: int = 100, *, skip_sinks: Collection[str] = ()
    ) -> list[Delivery]:
        """Claim for `owner`, in one call, up to `limit` deliveries due at `now`, most overdue first.

        A delivery another owner claimed less than that claim's `ttl` ago is passed over (one this
        owner holds is claimed again), as is any for a sink in `skip_sinks`. Each delivery returned
        carries a fresh fencing token (`Delivery.claim`), newer than every earlier claim of it: a
        replica that crashes holding claims loses them after `ttl` seconds and they are taken over,
        and its acknowledgements, should it come back, are refused. Claim expiry runs on the store's
        own clock (the Redis server's; the process's monotonic clock in the embedded store).
        """

    async def ack_deliveries(self, acks: Sequence[Ack]) -> list[bool]:
        """Write how claimed deliveries ended, in one call; for each ack, whether it was applied.

        An ack applies only while its token is still the delivery's latest claim and the delivery is
        pending: a stale claimant's ack never overrides a newer claim. An applied ack spends its claim.
        The same ack sent again (same token and outcome: a batch retried after a store error that
        may have come after part of it was written) reads as applied and changes nothing; any other
        ack under a spent claim is refused. A DELIVERED ack stores its receipt (an edit's keeps the one it
        edited); when the alert's outlets changed while that send or edit was in flight, an edit is
        made due (see `note_outlets`).
        """


@dataclass(frozen=True, slots=True)
class ScheduleGlance:
    due: list[tuple[str, datetime]]
    due_count: int
    next_due: datetime | None  # the earliest due time after `now`; None when nothing is scheduled later
    scheduled: int | None = None


class SchedulerStore(Protocol):
    """The feed schedule and the poll leases replicas share."""

    # Due times compare the caller's `at` and `now`. Lease expiry runs on the store's own clock: the
    # Redis server's (PX expiries, so replicas with slightly skewed clocks agree on the holder; `now`
    # is not consulted), or the caller's `now` in the embedded store, which one process owns.
    # A lease only saves duplicate polls; alerts stay once-only through their ids, never the lease.

    async def schedule_feed(self, feed: str, at: datetime, *, if_absent: bool = False) -> None:
        """Set when `feed` is next due, replacing its due time; with `if_absent` only when it has none.

        `if_absent` lets every replica (re)seed the schedule from its config at start-up, or after
        Redis lost its data, without moving due times another replica set.
        """

    async def schedule_feeds(self, due: Mapping[str, datetime], *, if_absent: bool = False) -> None:
        """`schedule_feed` for many feeds in one call (start-up seeds 50,000 of them)."""

    async def unschedule_feed(self, feed: str) -> None:
        """Forget a feed's due time (a feed removed from the config)."""

    async def due_feeds(self, now: datetime, limit: int) -> list[str]:
        """Feeds due at `now`, most overdue first."""

    async def glance(self, now: datetime, limit: int, *, count_all: bool = False) -> ScheduleGlance:
        """One look at the schedule: up to `limit` feeds due at `now` (most overdue first, with their
        due times), how many are due in all, the earliest due time after `now`, and with `count_all`
        how many feeds have a due time (one round trip; the scheduler calls it before every batch of
        starts, and counts all only now and then: the embedded store counts by scanning)."""

    async def acquire_lease(self, feed: str, owner: str, ttl: float, now: datetime) -> int | None:
        """The lease on `feed` for `ttl` seconds, or None while another owner holds it unexpired.

        Returns a fencing token larger than every earlier one for this feed; the holder acquiring
        again gets a new token (and its old one turns stale).
        """

    async def renew_lease(self, feed: str, owner: str, token: int, ttl: float, now: datetime) -> bool:
        """Extend a lease still held by (owner, token) to `ttl` seconds from now; False if lost."""

    async def release_lease(self, feed: str, owner: str, token: int) -> None:
        """Give the lease up, only if (owner, token) still holds it."""


class StoreViews(Protocol):
    """Read-only views of what the store holds (the CLI's listings, the outbox gauge, `run --once`
    waiting for retries)."""

    async def all_feed_states(self) -> list[FeedState]: ...

    async def deliveries(self, status: DeliveryStatus | None = None, limit: int = 1000) -> list[Delivery]: ...

    async def outbox_depth(self) -> int:
        """How many deliveries are pending (for the `newsalert_outbox_pending` gauge)."""


class Store(StoreLifecycle, PipelineStore, OutboxStore, SchedulerStore, StoreViews, Protocol):
    """Every port at once: what a backend implements (the embedded SQLite store, Redis).

    Consumers take the narrowest port that serves them; only the composition root holds a `Store`.
    """
