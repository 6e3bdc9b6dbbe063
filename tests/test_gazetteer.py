"""Place entities gain their names in other scripts from the gazetteer, never as a bare ordinary word."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.gazetteer import find_place, latin_key, place_aliases, places
from service.match import compile_matcher
from service.models import Item, WatchlistDef
from service.settings import load_config

CONFIG = """
[[entities]]
name = "Erbil"
kind = "place"
[[entities]]
name = "Balad"
kind = "place"
[[entities]]
name = "Kut"
kind = "place"
[[entities]]
name = "Tehran"
kind = "place"
[[entities]]
name = "Istanbul"
kind = "place"
[[entities]]
name = "Ankara"
kind = "place"
[[entities]]
name = "Aleppo"
kind = "place"
[[entities]]
name = "Tyre"
kind = "place"
[[entities]]
name = "Riyadh"
kind = "place"
[[entities]]
name = "Erbil Citadel"
kind = "other"
[[entities]]
name = "Mosul"
kind = "place"
gazetteer = false
"""


@pytest.fixture(scope="module")
def fired(tmp_path_factory: pytest.TempPathFactory) -> object:
    path = Path(tmp_path_factory.mktemp("gazetteer")) / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    config = load_config(path)
    names = [e.name for e in config.entities]
    matcher = compile_matcher([WatchlistDef(n, f'@"{n}"') for n in names], config.vocabulary())

    def check(text: str) -> set[str]:
        return {m.watchlist for m in matcher.match(Item(id="1", feed="f", content=text))}

    return check


@pytest.mark.parametrize(
    ("text", "places"),
    [
        ("قصف بطائرة مسيرة على أربيل فجر اليوم", {"Erbil"}),  # Arabic
        ("حمله پهپادی به اربیل", {"Erbil"}),  # Persian spelling
        ("هێرش کرایە سەر هەولێر", {"Erbil"}),  # Sorani
        ("Drone strike on Hewlêr airport", {"Erbil"}),  # Kurmanji romanisation
        ("טילים נורו לעבר ארביל", {"Erbil"}),  # Hebrew
        ("سقطت صواريخ على قاعدة بلد الجوية", {"Balad"}),  # the ordinary word inside its place phrase
        ("وصل الوفد إلى مدينة الكوت صباحا", {"Kut"}),
        ("انفجار در تهران", {"Tehran"}),
        ("انفجار في طهران", {"Tehran"}),
        ("İstanbul ve Ankara", {"Istanbul", "Ankara"}),  # Turkish letters
        ("قصف على دمشق وحلب", {"Aleppo"}),
    ],
)
def test_a_place_is_found_by_its_names_in_other_scripts(fired, text: str, places: set[str]) -> None:  # type: ignore[no-untyped-def]
    assert fired(text) == places


@pytest.mark.parametrize(
    "text",
    [
        "قال رئيس البلد إن الوضع مستقر",  # بلد: "country", never Balad on its own
        "عاد إلى بلده بعد سنوات",
        "اجتمع القادة في الكوت",  # الكوت bare: only as "مدينة الكوت", "قضاء الكوت", ...
        "انتشرت صور الحادث على مواقع التواصل",  # صور: "pictures", not Tyre
        "الرياض مزدهرة بالزهور في الربيع",  # الرياض: "the gardens"
        "سقط صاروخ قرب الموصل",  # gazetteer = false: only the names the user gave
    ],
)
def test_an_ordinary_word_or_an_opted_out_entity_gains_nothing(fired, text: str) -> None:  # type: ignore[no-untyped-def]
    assert fired(text) == set()


def test_only_place_entities_that_opt_in_gain_names(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    entities = {e.name: e for e in load_config(path).entities}
    assert "أربيل" in entities["Erbil"].gazetteer_names()
    assert entities["Erbil Citadel"].gazetteer_names() == ()
    assert entities["Mosul"].gazetteer_names() == ()


def test_the_user_s_own_alias_is_not_listed_again() -> None:
    assert "Erbil" not in place_aliases("Erbil")


@pytest.mark.parametrize("name", ["Kut", "Tyre", "Hit", "Qom", "Baghdad"])
def test_no_short_latin_name_is_added_it_would_be_an_english_word(name: str) -> None:
    latin = [a for a in place_aliases(name) if a.isascii()]
    assert all(len(latin_key(a)) >= 5 for a in latin)


@pytest.mark.parametrize(
    ("name", "key"), [("Al-Kūt", "kut"), ("Tall ‘Afar", "tallafar"), ("Ash Sharqāt", "sharqat")]
)
def test_latin_names_are_looked_up_without_marks_apostrophes_or_article(name: str, key: str) -> None:
    assert latin_key(name) == key


def test_the_most_populous_place_of_a_name_wins_and_unknown_names_find_none() -> None:
    baghdad = find_place("Baghdad")
    assert baghdad is not None and baghdad.country == "IQ"
    assert find_place("Atlantis of the Sands") is None
    assert find_place("Al") is None


def test_the_table_covers_the_region_with_attribution() -> None:
    table = Path(__file__).resolve().parents[1] / "service" / "data" / "gazetteer.tsv"
    assert "GeoNames" in table.read_text(encoding="utf-8").splitlines()[0]
    countries = {p.country for p in places()}
    assert {"IQ", "SY", "IR", "LB", "TR", "IL", "PS", "SA", "YE"} <= countries
    assert all(p.name and "\t" not in "".join(p.names) for p in places())


async def test_check_lists_the_names_a_place_gained(tmp_path: Path) -> None:
    from tests.test_cli import newsalert

    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    code, out, err = await newsalert("check", "--config", str(path))
    assert code == 0, err
    line = next(line for line in out.splitlines() if line.startswith("  Balad:"))
    assert "names from the gazetteer" in line and "قاعدة بلد" in line
    assert not any(line.startswith("  Mosul:") for line in out.splitlines())
