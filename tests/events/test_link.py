"""The linking rule on the multilingual fixtures: different events never merge, in any order; the
reports of one event, in any language, do."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from service.events.anchors import default_finder
from service.events.link import EventRecord, Report, decide, link, veto
from service.models import Item
from service.state.fingerprint import STORY_THRESHOLD, signature_similarity
from tests.events import corpus
from tests.events.corpus import cluster, pair_counts, report_for


@pytest.mark.parametrize("seed", range(40))
def test_different_events_never_merge_whatever_order_the_reports_arrive_in(seed: int) -> None:
    order = list(corpus.copies())
    random.Random(seed).shuffle(order)
    tp, fp, fn = pair_counts(cluster(order))
    assert fp == 0
    assert tp / (tp + fn) >= 0.8


def test_in_publication_order_nearly_every_pair_of_the_same_event_is_linked() -> None:
    tp, fp, fn = pair_counts(cluster(corpus.copies()))
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


# -- what a review found: ways two events could have merged ----------------------------------------

HOUR = 3600.0


def undated(text: str, at: float, title: str = "") -> Report:
    """A report that names no day (published `at` seconds after the first fixture report)."""
    base = corpus.copy("victory-1-shafaq").item
    item = Item(id=str(at), feed="f", title=title, content=text, published=base.published)
    found = report_for(item)
    assert found.anchors.days == frozenset()
    return Report(found.at + at, found.anchors, found.signature)


TEMPLATE = (
    "Rockets fell near Baghdad International Airport, the Security Media Cell said in a statement, "
    "adding that security forces had found the launch pad and that there were no casualties."
)


def test_one_template_hours_apart_with_no_day_named_is_two_events() -> None:
    first, later = undated(TEMPLATE, 0), undated(TEMPLATE, 20 * HOUR)
    assert link(first, later)[1] == "text"  # the same words...
    assert veto(first, later) == "hours apart with no day in common"  # ...of another day, for all we know


def test_a_chain_of_reports_cannot_carry_an_event_past_what_its_first_report_allows() -> None:
    a, b, c = (undated(TEMPLATE, h * HOUR) for h in (0, 11, 22))
    event = EventRecord("e", (a,), (), float("inf"))
    joined = decide(b, [event], 0.0).event
    assert joined is not None
    event = joined.joined(b, corpus.copy("victory-1-ina").outlet, float("inf"))
    assert decide(c, [event], 0.0).event is None


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Three rockets", "Two rockets"),
        ("سقطت ثلاثة صواريخ", "سقط صاروخين"),
    ],
)
def test_a_template_with_another_count_in_words_is_no_text_copy(one: str, other: str) -> None:
    rest = " fell near Baghdad International Airport on the base housing foreign contractors, security sources said."
    a, b = undated(one + rest, 0), undated(other + rest, 5 * HOUR)
    assert signature_similarity(a.signature, b.signature) >= STORY_THRESHOLD
    assert link(a, b)[1] != "text"


def test_a_full_date_is_a_stamp_only_on_the_day_of_publication_in_baghdad() -> None:
    late = datetime(2021, 6, 9, 22, 30, tzinfo=UTC)  # already the 10th in Baghdad
    item = Item(id="x", feed="f", title="Rockets hit Camp Victory on 9 June 2021", published=late)
    assert default_finder().find(item).days == {"2021-06-09"}


@pytest.mark.parametrize(
    "text", ["Rockets struck Basra on 9/6 at dawn, police said.", "Rockets hit Basra\nPolice said."]
)
def test_a_place_at_the_head_of_a_text_is_a_dateline_only_when_it_reads_like_one(text: str) -> None:
    item = Item(id="x", feed="f", title="Attack", content=text, published=datetime(2021, 6, 9, tzinfo=UTC))
    assert any(a.startswith("p:") for a in default_finder().find(item).lead)


def test_a_dateline_place_stays_in_the_body() -> None:
    item = Item(
        id="x",
        feed="f",
        title="Drones hit an air base",
        content="ERBIL, Kurdistan Region — Drones struck Balad air base.",
        published=datetime(2021, 6, 9, tzinfo=UTC),
    )
    found = default_finder().find(item)
    assert "p:95446" in found.body and "p:95446" not in found.lead
