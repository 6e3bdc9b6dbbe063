"""Story fingerprints on realistic copies: syndicated chrome merges, shared vocabulary does not."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from service.state.fingerprint import (
    BANDS,
    MIN_WORDS,
    SIGNATURE_SIZE,
    STORY_THRESHOLD,
    Fingerprint,
    fingerprint,
    pack_signature,
    similarity,
    story_id_for,
    unpack_signature,
)
from tests.conftest import FIXTURES as SHARED_FIXTURES
from tests.state.conftest import FIXTURES


def article(name: str) -> tuple[str, str]:
    """(title, body) of a fixture: the first non-empty line is the title."""
    path = SHARED_FIXTURES / name if name == "seed-article.txt" else FIXTURES / name
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return lines[0], "\n".join(lines[1:])


def fp_of(name: str) -> Fingerprint:
    found = fingerprint(*article(name))
    assert found is not None
    return found


def shared_bands(a: Fingerprint, b: Fingerprint) -> int:
    return sum(x == y for x, y in zip(a.bands, b.bands, strict=True))


# Measured similarities (estimated Jaccard of 3-word shingles) noted beside each case: the threshold
# sits in the wide gap between copies (>= 0.75) and distinct reports (<= 0.15).
@pytest.mark.parametrize(
    ("first", "second", "same_story"),
    [
        ("seed-article.txt", "seed-syndicated.txt", True),  # 0.77: other chrome, boilerplate line
        ("airport-attack-a.txt", "airport-attack-b.txt", False),  # 0.12: same base, airport, rockets
        ("seed-article.txt", "seed-english.txt", False),  # 0.00: cross-language is out of scope
        ("seed-article.txt", "airport-attack-a.txt", False),  # 0.00
    ],
)
def test_copies_of_one_article_are_one_story_and_distinct_reports_are_not(
    first: str, second: str, same_story: bool
) -> None:
    a, b = fp_of(first), fp_of(second)
    assert (similarity(a, b) >= STORY_THRESHOLD) is same_story
    assert (shared_bands(a, b) > 0) is same_story  # the band index finds the copy, and only it


def test_a_syndicated_copy_is_far_above_the_threshold_and_distinct_reports_far_below() -> None:
    copy = similarity(fp_of("seed-article.txt"), fp_of("seed-syndicated.txt"))
    distinct = similarity(fp_of("airport-attack-a.txt"), fp_of("airport-attack-b.txt"))
    assert copy >= STORY_THRESHOLD + 0.15
    assert distinct <= STORY_THRESHOLD - 0.25


def test_a_teaser_under_a_different_dateline_is_the_same_story() -> None:
    _, body = article("seed-article.txt")
    lead = " ".join(body.split("\n")[1].split()[:45])
    a = fingerprint("", lead)
    b = fingerprint("", f"بغداد – وكالات\n{lead}\nتابعونا على تلغرام")
    assert a is not None and b is not None
    assert similarity(a, b) >= STORY_THRESHOLD


def test_diacritics_tatweel_and_alef_forms_do_not_change_the_fingerprint() -> None:
    plain = "أعلنت خلية الإعلام الأمني أن ثلاثة صواريخ سقطت قرب مطار بغداد الدولي من دون خسائر بشرية"
    decorated = "اعْلَنَتْ خـلـيـة الإعلام الأمنيّ أنّ ثلاثة صواريخ سقطت قرب مطار بغداد الدوليّ من دون خسائر بشريّة"
    assert fingerprint("", plain) == fingerprint("", decorated)


@pytest.mark.parametrize(
    "text",
    ["", "عاجل", "Breaking: rockets hit Baghdad airport", " ".join(["كلمة"] * (MIN_WORDS - 1))],
)
def test_too_little_text_gives_no_fingerprint(text: str) -> None:
    assert fingerprint("", text) is None


def test_a_fingerprint_has_the_documented_shape_and_is_similar_to_itself() -> None:
    fp = fp_of("seed-article.txt")
    assert len(fp.signature) == SIGNATURE_SIZE
    assert all(0 <= v < 2**32 for v in fp.signature)
    assert len(fp.bands) == BANDS
    assert all(len(band) == 16 and int(band, 16) >= 0 for band in fp.bands)
    assert similarity(fp, fp) == 1.0


def test_fingerprints_agree_across_processes_with_different_hash_seeds() -> None:
    """No salted hash(): another process (another replica) computes the same bands."""
    code = (
        "from service.state.fingerprint import fingerprint; from tests.state.test_fingerprint import article;"
        "print(','.join(fingerprint(*article('seed-article.txt')).bands))"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().split(",") == list(fp_of("seed-article.txt").bands)


def test_signatures_pack_to_bytes_and_back() -> None:
    fp = fp_of("airport-attack-a.txt")
    assert unpack_signature(pack_signature(fp.signature)) == fp.signature
    assert unpack_signature(b"short") == ()


def test_story_ids_are_stable_and_distinct_per_item_key() -> None:
    assert story_id_for("feed\x1fitem-1") == story_id_for("feed\x1fitem-1")
    assert story_id_for("feed\x1fitem-1") != story_id_for("feed\x1fitem-2")
    assert len(story_id_for("x")) == 24


def test_the_fingerprint_module_stays_pure() -> None:
    """No I/O library: fingerprints are computed anywhere, tested without a store or a loop."""
    source = Path(__file__).resolve().parents[2] / "service" / "state" / "fingerprint.py"
    tree = ast.parse(source.read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    roots = {name.split(".")[0] for name in imported}
    assert not roots & {"redis", "sqlite3", "aiohttp", "asyncio", "socket", "structlog", "time", "random"}
