"""What a report is about, in terms no language owns: places, sites, actors, concepts, counts and days.

An `AnchorFinder` is one compiled matcher whose "watchlists" are anchors: every place of the gazetteer
(by the names it has in every script, so بغداد, Bagdad and بەغدا are one anchor), the sites, organisations
and people of `anchors.toml`, the configured entities (with the engine's cross-script name matching),
and the lexicon's concepts (a rocket is `rocket` in any of its languages). Counts are read from the
digits (Arabic-Indic and Persian digits normalised) and number words of ar/fa/ckb/en, days by
`dates.event_days`.

The lead (the headline and the first `LEAD_CHARS` of the text) is what a report is about; a place
named further down is often background ("the base was also hit last month"). The linker decides on
lead anchors and lets the rest only add evidence.

Pure: no I/O beyond the package's own tables.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.resources import files

from service import lexicon
from service.events.dates import day_spans, event_days
from service.gazetteer import (
    ARABIC_CONTEXT,
    MIN_LATIN,
    ORDINARY,
    PERSIAN_CONTEXT,
    find_place,
    is_latin,
    latin_key,
    places,
)
from service.match import Matcher, compile_matcher
from service.models import EntityDef, EntityKind, Hit, Item, Vocabulary, WatchlistDef
from service.text import normalise

LEAD_CHARS = 400
# Places below this population are left out: GeoNames gives many villages names that are ordinary
# words of news prose ("near", "endowment"), and the linker needs places it can trust.
MIN_POPULATION = 15_000
MIN_ARABIC_LETTERS = 4
# Gazetteer names that read as ordinary words or given names in the region's news, besides those
# `gazetteer.ORDINARY` already holds (compared normalised, without the article).
NOT_PLACES = frozenset(
    normalise(w).removeprefix("ال")
    for w in [
        "قرب",
        "وقف",
        "خارجة",
        "قاسم",
        "فيلق",
        "مصلح",
        "بدر",
        "حسن",
        "علي",
        "محمد",
        "عباس",
        "حيدر",
        "جعفر",
        "كريم",
        "سلمان",
        "امام",
        "إمام",
        "نور",
        "امير",
        "أمير",
        "شهيد",
        "شهداء",
        "سعادة",
        "امل",
        "أمل",
        "جمال",
        "منصور",
        "ناصر",
        "سعيد",
        "عزيز",
        "الشرقية",
        "الغربية",
        "الشمالية",
        "الجنوبية",
        "الوسطى",
        "العاصمة",
        "المركز",
        "الجديدة",
        "شرق",
        "غرب",
        "شمال",
        "جنوب",
        "مرکز",
        "شمالی",
        "جنوبی",
        "شرقی",
        "غربی",
        "دولت",
        "ملت",
        "امیر",
        "قدس",
    ]
)
NUMBER_WORDS = {
    # Arabic says two of a thing with the dual: صاروخين is "two rockets".
    2: [
        "two",
        "اثنان",
        "اثنين",
        "اثنتين",
        "اثنتان",
        "دو",
        "دوو",
        "صاروخين",
        "صاروخان",
        "قذيفتين",
        "قذيفتان",
        "طائرتين",
        "طائرتان",
        "مسيرتين",
        "مسيرتان",
        "انفجارين",
        "انفجاران",
        "هجومين",
        "هجومان",
        "شخصين",
        "جنديين",
        "عنصرين",
        "بصاروخين",
        "بطائرتين",
        "بقذيفتين",
        "بمسيرتين",
    ],
    3: ["three", "ثلاثة", "ثلاث", "سه", "سێ"],
    4: ["four", "أربعة", "اربعة", "أربع", "اربع", "چهار", "چوار"],
    5: ["five", "خمسة", "خمس", "پنج", "پێنج"],
    6: ["six", "ستة", "شش", "شەش"],
    7: ["seven", "سبعة", "سبع", "هفت", "حەوت"],
    8: ["eight", "ثمانية", "ثماني", "هشت", "هەشت"],
    9: ["nine", "تسعة", "تسع", "نۆ"],
    10: ["ten", "عشرة", "عشر", "ده", "دە"],
}

# Anchor ids: the kind is the prefix. Places and sites are where; actors are who.
PLACE, SITE, ORG, PERSON, CONFIGURED, CONCEPT = "p:", "f:", "o:", "h:", "u:", "c:"
WHERE = (PLACE, SITE)
WHO = (ORG, PERSON)


@dataclass(frozen=True, slots=True)
class Anchors:
    """The anchors of one report. Ids carry their kind as a prefix (see `kind_of`)."""

    title: frozenset[str]  # found in the headline
    lead: frozenset[str]  # found in the headline or the lead
    body: frozenset[str]  # found anywhere (the lead's included)
    days: frozenset[str]  # ISO days the lead names
    counts: frozenset[str]  # numbers the lead states (not dates or times)
    digits: frozenset[str]  # every number written in the text, dates and times included
    followup: bool  # the headline says it is about an earlier event

    def sites(self, ids: Iterable[str]) -> frozenset[str]:
        return frozenset(a for a in ids if a.startswith(SITE))

    @property
    def main_sites(self) -> frozenset[str]:
        """The sites the report is about: those of its headline, else those of its lead."""
        return self.sites(self.title) or self.sites(self.lead)

    @property
    def event_day(self) -> str | None:
        """The latest day the lead names: a report names earlier days as background ("a day after
        Wednesday's attack"), its own event last."""
        return max(self.days, default=None)


def kind_of(anchor: str) -> str:
    """where | who | concept: the kinds whose sharing the linker counts (configured places are where)."""
    if anchor.startswith(WHERE) or anchor.startswith(CONFIGURED + "place:"):
        return "where"
    if anchor.startswith(CONCEPT):
        return "concept"
    return "who"


@dataclass(frozen=True, slots=True)
class _Table:
    sites: dict[str, tuple[str, ...]]
    near: dict[str, frozenset[str]]  # site → the sites it lies at or next to (both ways)
    within: dict[str, str]  # site → the place anchor it lies in
    orgs: dict[str, tuple[str, ...]]
    people: dict[str, tuple[str, ...]]
    followup: tuple[str, ...]


@cache
def _table() -> _Table:
    raw = tomllib.loads(files("service.events").joinpath("anchors.toml").read_text(encoding="utf-8"))

    def names(section: str) -> dict[str, tuple[str, ...]]:
        return {key: tuple(dict.fromkeys(value["names"])) for key, value in raw.get(section, {}).items()}

    followup = tuple(dict.fromkeys(t for terms in raw.get("followup", {}).values() for t in terms))
    near: dict[str, set[str]] = {}
    for key, value in raw.get("facility", {}).items():
        for other in value.get("near", []):
            near.setdefault(SITE + key, set()).add(SITE + other)
            near.setdefault(SITE + other, set()).add(SITE + key)
    frozen = {k: frozenset(v) for k, v in near.items()}
    within = {}
    for key, value in raw.get("facility", {}).items():
        if "place" in value and (place := find_place(value["place"])) is not None:
            within[SITE + key] = f"{PLACE}{place.geonameid}"
    return _Table(names("facility"), frozen, within, names("org"), names("person"), followup)


def sites_agree(x: frozenset[str], y: frozenset[str]) -> bool:
    """Whether two sets of sites can be one event's: a site in common, or one next to the other."""
    near = _table().near
    return any(a == b or b in near.get(a, ()) for a in x for b in y)


@cache
def place_names() -> dict[str, tuple[str, ...]]:
    """Place anchor id → the names it is found by: each name goes to the most populous place bearing it."""
    owner: dict[str, tuple[int, str, str]] = {}
    for place in places():
        if place.population < MIN_POPULATION:
            continue
        for name in dict.fromkeys((place.name, *place.names)):
            for spelling in _spellings(name):
                key = normalise(spelling)
                if key not in owner or owner[key][0] < place.population:
                    owner[key] = (place.population, f"{PLACE}{place.geonameid}", spelling)
    out: dict[str, list[str]] = {}
    for _, anchor, spelling in owner.values():
        out.setdefault(anchor, []).append(spelling)
    return {anchor: tuple(names) for anchor, names in out.items()}


def _spellings(name: str) -> list[str]:
    if is_latin(name):
        return [name] if len(latin_key(name)) >= MIN_LATIN else []
    letters = sum(c.isalpha() for c in name)
    bare = normalise(name).removeprefix("ال")
    if letters < MIN_ARABIC_LETTERS or bare in NOT_PLACES:
        return []
    if " " not in name and bare in ORDINARY:
        context = PERSIAN_CONTEXT if set("پچژگکی") & set(name) else ARABIC_CONTEXT
        return [f"{word} {name}" for word in context]
    return [name]


class AnchorFinder:
    """Finds the anchors of reports; built once per config (it compiles a matcher, about a second)."""

    def __init__(self, entities: Sequence[EntityDef] = ()) -> None:
        table = _table()
        concepts: dict[str, tuple[str, ...]] = {}
        watchlists: list[WatchlistDef] = []

        def concept(anchor: str, terms: Iterable[str]) -> None:
            concepts[anchor] = tuple(terms)
            watchlists.append(WatchlistDef(anchor, f'@"{anchor}"'))

        for anchor, names in place_names().items():
            concept(anchor, names)
        for key, names in table.sites.items():
            concept(SITE + key, names)
        for key, names in table.orgs.items():
            concept(ORG + key, names)
        for entry in lexicon.entries().values():
            concept(CONCEPT + entry.name, entry.all_terms())
        concept("x:followup", table.followup)
        people = [EntityDef(PERSON + key, EntityKind.PERSON, names) for key, names in table.people.items()]
        own = [
            EntityDef(f"{CONFIGURED}{e.kind.value}:{normalise(e.name)}", e.kind, (e.name, *e.aliases))
            for e in entities
        ]
        for entity in (*people, *own):
            watchlists.append(WatchlistDef(entity.name, f'@"{entity.name}"'))
        self._matcher: Matcher = compile_matcher(watchlists, Vocabulary(concepts, (*people, *own)))
        # Places and sites are keywords to the matcher, which also finds their plurals and duals
        # (المنشآت for a place called المنشأة): a name counts only as written, clitics aside.
        self._exact = {
            anchor: frozenset(bare(n) for n in names)
            for anchor, names in concepts.items()
            if anchor.startswith(WHERE)
        }
        self._numbers = _number_pattern()

    def find(self, item: Item) -> Anchors:
        published = item.published or item.updated
        text = item.content or item.summary
        lead_end = {"title": len(item.title) + 1, "content": LEAD_CHARS, "summary": LEAD_CHARS}
        if not item.content:
            lead_end["content"] = 0
        hits: dict[str, list[Hit]] = {}
        for match in self._matcher.match(item):
            hits[match.watchlist] = list(match.hits)
        self._keep_exact_names(hits)
        _drop_nested_places(hits)
        _add_places_of_sites(hits)
        # The place of a dateline says where the desk sits, not what the report is about: it stays
        # in the body, out of the lead.
        dateline = _dateline_end(text)

        def in_lead(h: Hit) -> bool:
            if h.field == "title":
                return True
            if h.field in ("content", "summary") and h.end <= dateline:
                return False
            return h.start < lead_end.get(h.field, 0)

        lead = frozenset(a for a, found in hits.items() if any(in_lead(h) for h in found))
        followup = "x:followup" in hits and any(h.field == "title" for h in hits["x:followup"])
        lead_text = normalise(f"{item.title}\n{text[:LEAD_CHARS]}")
        days = event_days(lead_text, published) if published else frozenset()
        title = frozenset(a for a, found in hits.items() if any(h.field == "title" for h in found))
        return Anchors(
            title=frozenset(a for a in title if not a.startswith("x:")),
            lead=frozenset(a for a in lead if not a.startswith("x:")),
            body=frozenset(a for a in hits if not a.startswith("x:")),
            days=frozenset(d.isoformat() for d in days),
            counts=self._counts(lead_text),
            digits=frozenset(re.findall(r"\d+", normalise(f"{item.title}\n{text}"))),
            followup=followup,
        )

    def _keep_exact_names(self, hits: dict[str, list[Hit]]) -> None:
        for anchor in [a for a in hits if a in self._exact]:
            kept = [h for h in hits[anchor] if bare(h.text) in self._exact[anchor]]
            if kept:
                hits[anchor] = kept
            else:
                del hits[anchor]

    def _counts(self, norm: str) -> frozenset[str]:
        spans = day_spans(norm)
        blanked = list(norm)
        for start, end in spans:
            blanked[start:end] = " " * (end - start)
        text = re.sub(r"\d+[:.]\d+", " ", "".join(blanked))  # times and decimals are not counts
        found: set[str] = set()
        for m in self._numbers.finditer(text):
            word = m.group(0)
            if word.isdigit():
                if 0 < int(word) < 1000:
                    found.add(str(int(word)))
            else:
                found.add(str(_WORD_VALUES[word]))
        return frozenset(found)


_WORD_VALUES = {normalise(w): n for n, words in NUMBER_WORDS.items() for w in words}


@cache
def _number_pattern() -> re.Pattern[str]:
    words = "|".join(re.escape(w) for w in sorted(_WORD_VALUES, key=len, reverse=True))
    return re.compile(rf"(?<![\w.,])(?:\d+|{words})(?!\w)(?![.,]\d)")


_LETTERS = re.compile(r"[^\W_]+")
_PROCLITICS = ("وب", "ول", "وك", "فب", "فل", "و", "ف", "ب", "ل", "ك")


def bare(name: str) -> str:
    """A name as written, compared without case, marks, a leading conjunction or preposition, or the
    article: وبمطار بغداد and مطار بغداد, Baghdad and BAGHDAD are one."""
    norm = " ".join(_LETTERS.findall(normalise(name)))
    for article in ("ال", "لل"):
        for clitic in ("", *_PROCLITICS):
            if norm.startswith(clitic + article) and len(norm) - len(clitic + article) >= 3:
                return norm[len(clitic + article) :]
    for clitic in _PROCLITICS:
        if norm.startswith(clitic) and len(norm) - len(clitic) >= 3 and not norm.isascii():
            return norm[len(clitic) :]
    return norm


def _drop_nested_places(hits: dict[str, list[Hit]]) -> None:
    """A place named inside an organisation's, a person's or a site's name is not a place of the
    report: فيلق القدس (the Quds Force) does not say Jerusalem; "Balad air base" says the base."""
    names = [
        (h.field, h.start, h.end) for a, found in hits.items() if a.startswith((*WHO, SITE)) for h in found
    ]
    for anchor in [a for a in hits if a.startswith(PLACE)]:
        kept = [
            h
            for h in hits[anchor]
            if not any(f == h.field and s <= h.start and h.end <= e for f, s, e in names)
        ]
        if kept:
            hits[anchor] = kept
        else:
            del hits[anchor]


def _add_places_of_sites(hits: dict[str, list[Hit]]) -> None:
    """Naming a site names the place it lies in (پایگاه ویکتوری is in Baghdad), wherever it is named."""
    within = _table().within
    for anchor in [a for a in hits if a in within]:
        hits.setdefault(within[anchor], []).extend(hits[anchor])


# A dash, a colon or a slash, but not one inside a time or a date (20:30, 9/6).
_DATELINE_MARK = re.compile(r"—|–| - |(?<!\d):(?!\d)|(?<!\d)/(?!\d)|\|")
DATELINE_CHARS = 50
DATELINE_WORDS = 6


def _dateline_end(text: str) -> int:
    """Where a dateline at the head of `text` ends, 0 when there is none: a short first line made of
    an outlet and a city ("ڕووداو - هەولێر"), or a few words before a dash, colon or slash
    ("BAGHDAD, June 9 (Reuters) -", "ERBIL, Kurdistan Region —", "بغداد - واع")."""
    head = text.lstrip()
    offset = len(text) - len(head)
    line = head.split("\n", 1)[0]
    if "\n" in head and len(line) <= 40 and (_DATELINE_MARK.search(line) or len(line.split()) <= 2):
        return offset + len(line)
    m = _DATELINE_MARK.search(head[:DATELINE_CHARS])
    if m and len(head[: m.start()].split()) <= DATELINE_WORDS:
        return offset + m.end()
    return 0


@lru_cache(maxsize=4)
def finder_for(entities: tuple[EntityDef, ...]) -> AnchorFinder:
    """The finder for these configured entities, built once (a reload that keeps them keeps it)."""
    return AnchorFinder(entities)


def default_finder() -> AnchorFinder:
    """The finder with the built-in tables only."""
    return finder_for(())
