"""When two reports are one event: the rule both stores apply, and the records they keep.

A report joins an event when it passes every veto against every report the event remembers, and
links to one of them, by text or by anchors.

Vetoes (different events never merge; each veto outranks any evidence):
- published more than `WINDOW` apart;
- one is a follow-up (its headline says investigation, anniversary, funeral, trial…) and the other not;
- both leads name days, and the latest of each differs (a report names its own event's day last);
- both are about sites (a base, an airport, a field: those of the headline, else of the lead), and
  no site of one is, or lies next to, a site of the other;
- both leads name places or sites, and none in common;
- more than `CLOSE` apart, and no named day in common (a later report must say it is the same day);
- for a text link, both name numbers (digits, or counts in words) and neither's numbers hold the
  other's: the same template (a Security Media Cell statement) with another date, time or count is
  another event.

Links:
- text: MinHash similarity of at least `STORY_THRESHOLD` (a copy under other site chrome);
- anchors: a place, site, organisation or person shared with the other's lead, shared anchors of
  at least two kinds (where, who, concept, count, day) weighing at least `ANCHOR_SCORE`, and each
  naming at least `COVERAGE` of the places, sites and actors the other leads with; and what happened
  agrees: when both leads say it (an attack, a drone, a death: `HAPPENINGS`), they share one, and
  when one does, the other mentions it somewhere.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import base64
import heapq
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from service.events.anchors import CONCEPT, Anchors, kind_of, sites_agree
from service.models import Outlet
from service.state.fingerprint import (
    STORY_THRESHOLD,
    Fingerprint,
    band_keys,
    pack_signature,
    signature_similarity,
    unpack_signature,
)

WINDOW = 36 * 3600.0
CLOSE = 12 * 3600.0
BUCKET = WINDOW  # index buckets: a report within WINDOW lies in its own bucket or a neighbour
ANCHOR_SCORE = 5.0
COVERAGE = 0.5
# Lexicon entries that name what happened; the others name a kind of place, actor or thing.
HAPPENINGS = frozenset(
    [
        "attack",
        "rocket",
        "missile",
        "drone",
        "airstrike",
        "shelling",
        "explosion",
        "ied",
        "car-bomb",
        "suicide-bombing",
        "assassination",
        "kidnapping",
        "hostage",
        "protest",
        "clashes",
        "curfew",
        "killed",
        "wounded",
        "arrested",
        "ceasefire",
        "election",
        "ambush",
        "landmine",
        "gunfire",
        "raid",
        "sanctions",
        "displaced",
        "mass-grave",
    ]
)
MAX_REPORTS = 6  # reports an event keeps to compare later ones with (its outlets are all kept)
MAX_OUTLETS = 64
MAX_LOOKUP_ANCHORS = 12
MAX_PAIRED = 6  # lead places, sites and actors filed singly and in pairs (at most 15 pairs)
POSTINGS = 32  # events read per index key, newest first
MAX_CANDIDATES = 16  # events compared per lookup, those sharing the most keys
WEIGHTS = {"where": 2.0, "who": 2.0, "concept": 1.0, "count": 1.5, "day": 2.0}
CAPS = {"where": 2, "who": 2, "concept": 3, "count": 2, "day": 1}


@dataclass(frozen=True, slots=True)
class Report:
    """What the index remembers of one copy: when, its anchors, its text signature."""

    at: float  # publication time (epoch seconds), or arrival when undated
    anchors: Anchors
    signature: tuple[int, ...] = ()

    def to_json(self) -> dict[str, object]:
        a = self.anchors
        return {
            "t": self.at,
            "h": sorted(a.title),
            "l": sorted(a.lead),
            "b": sorted(a.body - a.lead),
            "d": sorted(a.days),
            "n": sorted(a.counts),
            "g": sorted(a.digits),
            "f": int(a.followup),
            "s": base64.b64encode(pack_signature(self.signature)).decode() if self.signature else "",
        }

    @classmethod
    def from_json(cls, raw: dict[str, object]) -> Report:
        lead = frozenset(_strings(raw.get("l")))
        anchors = Anchors(
            title=frozenset(_strings(raw.get("h"))),
            lead=lead,
            body=lead | frozenset(_strings(raw.get("b"))),
            days=frozenset(_strings(raw.get("d"))),
            counts=frozenset(_strings(raw.get("n"))),
            digits=frozenset(_strings(raw.get("g"))),
            followup=bool(raw.get("f")),
        )
        packed = str(raw.get("s") or "")
        signature = unpack_signature(base64.b64decode(packed)) if packed else ()
        at = raw.get("t")
        return cls(float(at) if isinstance(at, int | float) else 0.0, anchors, signature)

    def index_keys(self) -> list[str]:
        """Where this report is filed, in its time bucket: under each place, site and actor of its
        lead, and under each pair of them (a pair is rare where a single name is busy), and under
        its text's LSH bands."""
        bucket = int(self.at // BUCKET)
        strong = self._lead_strong()
        return [f"a:{key}:{bucket}" for key in (*strong, *_pairs(strong))] + self.band_keys()

    def lookup_keys(self) -> list[str]:
        """Where events it may join are filed: its places, sites and actors (lead first) and the pairs
        of its lead's, in its bucket and both neighbours, and its bands."""
        bucket = int(self.at // BUCKET)
        lead = self._lead_strong()
        rest = sorted(a for a in self.anchors.body - self.anchors.lead if _strong(a))
        names = [*(lead + rest)[:MAX_LOOKUP_ANCHORS], *_pairs(lead)]
        keys = [f"a:{a}:{b}" for a in names for b in (bucket - 1, bucket, bucket + 1)]
        return keys + self.band_keys()

    def _lead_strong(self) -> list[str]:
        return sorted(a for a in self.anchors.lead if _strong(a))[:MAX_PAIRED]

    def band_keys(self) -> list[str]:
        return [f"b:{band}" for band in band_keys(self.signature)] if self.signature else []


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One event as a store keeps it (JSON): its reports, its outlets in order, its logical expiry."""

    id: str
    reports: tuple[Report, ...]
    outlets: tuple[Outlet, ...]
    expires: float

    def encode(self) -> str:
        body = {
            "id": self.id,
            "r": [r.to_json() for r in self.reports],
            "o": [[o.feed, o.language or "", o.url, o.at] for o in self.outlets],
            "e": self.expires,
        }
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def decode(cls, text: str | bytes) -> EventRecord:
        raw = json.loads(text)
        reports = tuple(Report.from_json(r) for r in raw["r"])
        outlets = tuple(Outlet(f, lang or None, url, float(at)) for f, lang, url, at in raw["o"])
        return cls(str(raw["id"]), reports, outlets, float(raw["e"]))

    def joined(self, report: Report, outlet: Outlet, expires: float) -> EventRecord:
        """This event with one more copy: its report kept while there is room, its outlet once."""
        reports = self.reports if len(self.reports) >= MAX_REPORTS else (*self.reports, report)
        known = {o.feed for o in self.outlets}
        outlets = self.outlets
        if outlet.feed not in known and len(outlets) < MAX_OUTLETS:
            outlets = (*outlets, outlet)
        return replace(self, reports=reports, outlets=outlets, expires=max(self.expires, expires))


@dataclass(frozen=True, slots=True)
class Verdict:
    event: EventRecord | None
    how: str  # "text" | "anchors" | "" (no event)
    score: float = 0.0
    refused: dict[str, str] = field(default_factory=dict)  # event id → the veto that kept it apart


def report_of(at: float, anchors: Anchors, fp: Fingerprint | None) -> Report:
    return Report(at, anchors, fp.signature if fp is not None else ())


def rank(postings: Iterable[Sequence[str]]) -> list[str]:
    """Event ids from the index keys' postings, most shared first (ties: the smaller id).

    A key shared with few events says more than one shared with many ("Baghdad" on a busy day), so
    each key gives its events one vote divided among them: an event met under two rare keys outranks
    dozens met only under the busiest ones, whose postings are read newest first and cut short."""
    votes: dict[str, float] = {}
    for ids in postings:
        distinct = list(dict.fromkeys(ids))
        for event in distinct:
            votes[event] = votes.get(event, 0.0) + 1.0 / len(distinct)
    return heapq.nsmallest(MAX_CANDIDATES, votes, key=lambda e: (-votes[e], e))


def decide(new: Report, candidates: Sequence[EventRecord], now: float) -> Verdict:
    """The live event `new` belongs to, if any: every veto passed against each of its reports, and a
    link to at least one; the best-scoring such event (a text link beats any anchor link)."""
    best: tuple[float, str, EventRecord] | None = None
    refused: dict[str, str] = {}
    for event in candidates:
        if event.expires <= now:
            continue
        score, how, why = _against(new, event)
        if why:
            refused[event.id] = why
            continue
        if how and (best is None or score > best[0]):
            best = (score, how, event)
    if best is None:
        return Verdict(None, "", refused=refused)
    return Verdict(best[2], best[1], best[0], refused)


def _against(new: Report, event: EventRecord) -> tuple[float, str, str]:
    best, how = 0.0, ""
    for old in event.reports:
        why = veto(new, old)
        if why:
            return 0.0, "", why
        score, kind = link(new, old)
        if kind and score > best:
            best, how = score, kind
    return best, how, ""


def veto(a: Report, b: Report) -> str:
    """Why two reports cannot be one event, or "" when nothing keeps them apart."""
    gap = abs(a.at - b.at)
    if gap > WINDOW:
        return "published too far apart"
    x, y = a.anchors, b.anchors
    if x.followup != y.followup:
        return "one is a follow-up"
    if x.event_day and y.event_day and x.event_day != y.event_day:
        return "different days"
    sites_x, sites_y = x.main_sites, y.main_sites
    if sites_x and sites_y and not sites_agree(sites_x, sites_y):
        return "different sites"
    where_x, where_y = _where(x.lead), _where(y.lead)
    if where_x and where_y and not where_x & where_y:
        return "different places"
    if gap > CLOSE and not x.days & y.days:
        return "hours apart with no day in common"
    return ""


def link(a: Report, b: Report) -> tuple[float, str]:
    """(score, "text" | "anchors") when the two reports are one event, else (0, "")."""
    if a.signature and b.signature:
        similarity = signature_similarity(a.signature, b.signature)
        if similarity >= STORY_THRESHOLD and not _numbers_differ(a.anchors, b.anchors):
            return 100.0 + similarity, "text"
    score, kinds, strong = anchor_score(a.anchors, b.anchors)
    if not (strong and kinds >= 2 and score >= ANCHOR_SCORE):
        return 0.0, ""
    if min(coverage(a.anchors, b.anchors), coverage(b.anchors, a.anchors)) < COVERAGE:
        return 0.0, ""
    what_a, what_b = happenings(a.anchors.lead), happenings(b.anchors.lead)
    if what_a and what_b and not what_a & what_b:
        return 0.0, ""  # both leads say what happened, and say different things
    if (what_a and not what_a & b.anchors.body) or (what_b and not what_b & a.anchors.body):
        return 0.0, ""  # one leads with what happened, the other never mentions it
    return score, "anchors"


def coverage(x: Anchors, y: Anchors) -> float:
    """The share of x's lead places, sites and actors that y names anywhere (1.0 when x's lead has
    none): a report that only mentions another's city and airport in passing is about something else."""
    wanted = frozenset(a for a in x.lead if _strong(a))
    return len(wanted & y.body) / len(wanted) if wanted else 1.0


def happenings(ids: Iterable[str]) -> frozenset[str]:
    """The concepts among `ids` that say what happened (an attack, a death, an arrest), not what
    kind of place or actor is involved (a base, an airport, a militia)."""
    return frozenset(a for a in ids if a.startswith(CONCEPT) and a[len(CONCEPT) :] in HAPPENINGS)


def anchor_score(x: Anchors, y: Anchors) -> tuple[float, int, bool]:
    """(weight of what is shared, how many kinds are shared, whether a place, site or actor of one
    lead is named by the other)."""
    strong = any(_strong(a) for a in (x.lead & y.body) | (y.lead & x.body))
    shared = (x.lead & y.body) | (y.lead & x.body) | (x.lead & y.lead)
    by_kind: Counter[str] = Counter(kind_of(a) for a in shared)
    by_kind["count"] = len(x.counts & y.counts)
    by_kind["day"] = len(x.days & y.days)
    score = sum(WEIGHTS[k] * min(n, CAPS[k]) for k, n in by_kind.items())
    kinds = sum(1 for n in by_kind.values() if n)
    return score, kinds, strong


def _numbers_differ(x: Anchors, y: Anchors) -> bool:
    """Whether the numbers of two texts (digits anywhere, counts of the lead in digits or words)
    disagree: both have some, and neither's are all among the other's."""
    mine, theirs = x.digits | x.counts, y.digits | y.counts
    return bool(mine and theirs and not (mine <= theirs or theirs <= mine))


def _pairs(names: Sequence[str]) -> list[str]:
    return [f"{a}+{b}" for i, a in enumerate(names) for b in names[i + 1 :]]


def _strong(anchor: str) -> bool:
    return kind_of(anchor) in ("where", "who")


def _where(ids: Iterable[str]) -> frozenset[str]:
    return frozenset(a for a in ids if kind_of(a) == "where")


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []
