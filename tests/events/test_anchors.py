"""Anchors: what a report is about, the same ids whatever its language or script."""

from __future__ import annotations

from datetime import UTC, datetime

from service.events.anchors import AnchorFinder, default_finder, kind_of
from service.models import EntityDef, EntityKind, Item
from tests.events import corpus

NOW = datetime(2021, 6, 9, 18, 0, tzinfo=UTC)
BAGHDAD, VICTORY, AIRPORT = "p:98182", "f:victory-base", "f:baghdad-airport"


def anchors(title: str, text: str = "", finder: AnchorFinder | None = None):  # type: ignore[no-untyped-def]
    item = Item(id="x", feed="f", title=title, content=text, published=NOW)
    return (finder or default_finder()).find(item)


def test_one_strike_reported_in_four_languages_leads_with_the_same_site_and_concept() -> None:
    reports = ["victory-1-shafaq", "victory-1-irna-fa", "victory-1-rudaw-ckb", "victory-1-reuters"]
    leads = [corpus.copy(r).report.anchors for r in reports]
    for lead in leads:
        assert {AIRPORT, BAGHDAD, "c:rocket"} <= lead.lead, lead.lead
        assert lead.days == {"2021-06-09"}
    assert all(VICTORY in a.lead for a in leads[:3])  # Reuters only says "a base at Baghdad airport"


def test_a_site_names_the_place_it_lies_in() -> None:
    found = anchors("حمله راکتی به پایگاه ویکتوری")
    assert {VICTORY, BAGHDAD} <= found.title


def test_a_place_inside_an_organisations_name_is_not_a_place_of_the_report() -> None:
    found = anchors("قائد فيلق القدس يصل")
    assert "o:quds-force" in found.title
    assert not any(kind_of(a) == "where" for a in found.body)  # not Jerusalem (القدس), not Qom


def test_the_place_of_a_dateline_is_where_the_desk_sits() -> None:
    found = anchors("Drones hit an air base", "ERBIL, Kurdistan Region — Two drones struck Balad air base.")
    assert "p:95446" not in found.lead  # Erbil: in the body, never what the report is about
    assert "f:balad-base" in found.lead


def test_ordinary_words_that_geonames_lists_as_villages_are_not_places() -> None:
    found = anchors("", "قال مصدر قرب مطار بغداد إن الطرفين اتفقا على وقف التصعيد في المنشآت")
    assert {a for a in found.body if a.startswith("p:")} == {BAGHDAD}


def test_counts_come_from_any_digits_and_number_words_but_not_from_days_or_times() -> None:
    assert anchors("سقوط ٣ صواريخ").counts == {"3"}
    assert anchors("ثلاثة صواريخ").counts == anchors("three rockets").counts == {"3"}
    assert anchors("۲ راکت").counts == {"2"}
    assert anchors("at 20:30 on 9 June, rockets").counts == set()
    assert anchors("دور الحشد").counts == set()  # دو is two in Persian, دور is a word


def test_a_headline_about_an_investigation_or_an_anniversary_is_a_follow_up() -> None:
    assert anchors("Iraq opens probe into rocket attack on Baghdad airport base").followup
    assert anchors("عام على قصف قاعدة فيكتوريا").followup
    assert anchors("سالگرد حمله به پایگاه ویکتوری").followup
    assert not anchors("Rockets hit base near Baghdad airport").followup
    # Only the headline decides: a report of the attack may say an investigation was opened.
    assert not anchors("Rockets hit Victory base", "An investigation was opened.").followup


def test_configured_entities_are_anchors_with_the_engines_cross_script_names() -> None:
    finder = AnchorFinder((EntityDef("Hadi al-Amiri", EntityKind.PERSON),))
    found = anchors("هادي العامري يلتقي قاآني", finder=finder)
    assert {"u:person:hadi al-amiri", "h:esmail-qaani"} <= found.title
