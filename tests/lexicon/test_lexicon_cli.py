"""The lexicon through the command line: `newsalert lexicon`, `check`'s expansion lines, and
`match --json` on the fixture articles with the example config."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from xml.sax.saxutils import escape

from tests.test_cli import REPO, newsalert

ARTICLES = tomllib.loads((Path(__file__).parent / "articles.toml").read_text(encoding="utf-8"))["article"]


def feed_of(articles: list[dict[str, str]]) -> str:
    items = "".join(
        f"<item><title>{escape(a['title'])}</title><link>https://example.org/{a['id']}</link>"
        f"<guid isPermaLink='false'>{a['id']}</guid><description>{escape(a['text'])}</description></item>"
        for a in articles
    )
    return f"<?xml version='1.0' encoding='UTF-8'?><rss version='2.0'><channel><title>t</title>{items}</channel></rss>"


async def test_lexicon_lists_every_entry_with_its_seven_languages() -> None:
    code, out, err = await newsalert("lexicon")
    assert code == 0, err
    entries = out.split("\n\n")
    assert len(entries) >= 40
    first = entries[0].splitlines()
    assert first[0].startswith("std.") and len(first) == 8
    assert [line.split()[0] for line in first[1:]] == ["ar", "fa", "ckb", "kmr", "tr", "he", "en"]


async def test_lexicon_name_prints_one_entry_and_an_unknown_name_exits_2() -> None:
    code, out, _ = await newsalert("lexicon", "std.rocket")
    assert code == 0
    assert out.startswith("std.rocket ") and "موشک" in out and "רקטה" in out and "roket" in out
    assert out.count("\n") == 8
    code, out, err = await newsalert("lexicon", "nosuch")
    assert code == 2 and out == ""
    assert "no lexicon entry named 'nosuch'" in err and "newsalert lexicon" in err and "Traceback" not in err


async def test_check_says_which_entries_each_concept_expanded_through() -> None:
    code, out, err = await newsalert("check", "--config", "config.example.toml")
    assert code == 0, err
    assert "  rocket → std.rocket, std.missile" in out
    assert "  katyusha  (expand = false" in out


async def test_check_refuses_an_unknown_lexicon_entry(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[[watchlists]]\nname = 'w'\nquery = '@std.nosuch'\n", encoding="utf-8")
    code, _, err = await newsalert("check", "--config", str(path))
    assert code == 2
    assert "watchlists[0].query" in err and "@std.nosuch" in err and "newsalert lexicon" in err


async def test_match_json_fires_the_intended_alerts_and_none_on_a_trap(tmp_path: Path) -> None:
    feed = tmp_path / "articles.xml"
    feed.write_text(feed_of(ARTICLES), encoding="utf-8")
    code, out, err = await newsalert(
        "match", "--config", str(REPO / "config.example.toml"), "--json", str(feed)
    )
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    fired = {r["url"].rsplit("/", 1)[1]: {m["watchlist"] for m in r["matches"]} for r in records}
    assert fired == {a["id"]: set(a.get("alerts", [])) for a in ARTICLES}
