"""The linking rule on the multilingual fixtures: different events never merge, in any order; the
reports of one event, in any language, do."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

import pytest

from service.events.link import EventRecord, Report, decide, link, veto
from service.state.fingerprint import STORY_THRESHOLD, signature_similarity
from tests.events import corpus
from tests.events.corpus import Copy


def cluster(order: Sequence[Copy]) -> dict[str, str]:
    """Each copy's event id when the copies arrive in this order (what a store does, in memory)."""
    events: list[EventRecord] = []
    assigned: dict[str, str] = {}
    for c in order:
        verdict = decide(c.report, events, 0.0)
        if verdict.event is None:
            event = EventRecord(c.id, (c.report,), (c.outlet,), float("inf"))
            events.append(event)
        else:
            event = verdict.event.joined(c.report, c.outlet, float("inf"))
            events[events.index(verdict.event)] = event
        assigned[c.id] = event.id
    return assigned


def pairs(assigned: dict[str, str]) -> tuple[int, int, int]:
    truth = {c.id: c.event for c in corpus.copies()}
    tp = fp = fn = 0
    for a, b in itertools.combinations(truth, 2):
        same, linked = truth[a] == truth[b], assigned[a] == assigned[b]
        tp += same and linked
        fp += linked and not same
        fn += same and not linked
    return tp, fp, fn


@pytest.mark.parametrize("seed", range(40))
def test_different_events_never_merge_whatever_order_the_reports_arrive_in(seed: int) -> None:
    order = list(corpus.copies())
    random.Random(seed).shuffle(order)
    tp, fp, fn = pairs(cluster(order))
    assert fp == 0
    assert tp / (tp + fn) >= 0.8


def test_in_publication_order_nearly_every_pair_of_the_same_event_is_linked() -> None:
    tp, fp, fn = pairs(cluster(corpus.copies()))
    assert fp == 0
    assert tp / (tp + fn) >= 0.95


def report(copy_id: str) -> Report:
    return corpus.copy(copy_id).report


def test_four_languages_of_one_strike_link_by_anchors() -> None:
    shafaq = report("victory-1-shafaq")
    for other in ("victory-1-irna-fa", "victory-1-rudaw-ckb", "victory-1-reuters", "victory-1-ina"):
        assert veto(shafaq, report(other)) == ""
        assert link(shafaq, report(other))[1] == "anchors", other


@pytest.mark.parametrize(
    ("a", "b", "why"),
    [
        # the same base, the next day
        ("victory-1-shafaq", "victory-2-shafaq", "different days"),
        ("victory-1-irna-fa", "victory-2-tasnim-fa", "different days"),
        # the same evening, another base
        ("victory-1-shafaq", "balad-1-alsumaria", "different sites"),
        ("victory-1-reuters", "balad-1-reuters", "different sites"),
        # the same leader's two visits, a week apart
        ("qaani-visit-1-shafaq", "qaani-visit-2-shafaq", "published too far apart"),
        # the same template, eight days apart
        (
            "victory-1-security-media-cell",
            "smc-template-later-security-media-cell",
            "published too far apart",
        ),
        # the investigation of yesterday's attack, and the anniversary piece
        ("victory-1-ina", "victory-1-probe-ina", "one is a follow-up"),
        ("victory-2-reuters", "victory-1-probe-reuters", "one is a follow-up"),
        ("victory-1-shafaq", "victory-1-anniversary-shafaq", "published too far apart"),
    ],
)
def test_confusable_reports_are_kept_apart_by_a_veto(a: str, b: str, why: str) -> None:
    assert veto(report(a), report(b)) == why


def test_the_same_template_with_another_date_and_count_is_refused_as_a_text_copy() -> None:
    first, later = report("victory-1-security-media-cell"), report("victory-2-security-media-cell")
    # Close enough in time and text for a near copy, but the numbers of one are not the other's.
    assert abs(first.at - later.at) < 36 * 3600
    assert veto(first, later) == "different days"
    assert signature_similarity(first.signature, later.signature) >= STORY_THRESHOLD  # a "near copy"
    assert link(first, later)[1] != "text"  # ...whose numbers differ: never a text link


def test_a_follow_up_reported_by_several_outlets_is_one_event() -> None:
    ina, reuters = report("victory-1-probe-ina"), report("victory-1-probe-reuters")
    assert veto(ina, reuters) == "" and link(ina, reuters)[1] == "anchors"


def test_a_report_about_a_visit_is_not_the_attack_it_mentions() -> None:
    visit, attack = report("qaani-visit-1-rudaw-en"), report("victory-1-reuters")
    assert link(visit, attack) == (0.0, "")


def test_records_round_trip_through_their_json() -> None:
    c = corpus.copy("victory-1-irna-fa")
    record = EventRecord("e1", (c.report,), (c.outlet,), 123.0)
    assert EventRecord.decode(record.encode()) == record
