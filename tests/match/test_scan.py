"""The chunk-memo scanner finds exactly what one automaton pass with per-hit checks finds.

`Scanner.scan` splits a field on whitespace and remembers each chunk's whole-word hits across
fields and items; `scan_field` runs the automaton over the whole field and checks every raw hit in
place. Whatever the keys, rules and text (clitics, suffixes, numbers, punctuation, keys with
spaces that only the fallback automaton holds), cold or warm, the two must agree.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence

import ahocorasick_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.match import scan as scan_module
from service.match.scan import FieldScan, Scanner, chunk_safe, scan_field
from service.match.terms import EXACT, KEYWORD, PREFIX, SORANI_AFTER_CONSONANT
from service.text.normalise import normalise

# ە stands for the Sorani letters that mark a word as Sorani (the scanner reads them in the original).
LETTERS = "بكلفوالهتيناصرخدمabە"
KEY_CHARS = LETTERS + "13.,-' "
PROCLITICS = ["", "", "و", "ب", "ال", "وال", "لل", "ك", "فب"]
SUFFIXES = ["", "", "ها", "ات", "ين", "ه", "ي", "كم", "s", "يك", "هكان", "كاندا", "an", "eke", "yek"]
RULES = list(range(PREFIX + 1))  # every rule, Kurdish ones included
GAPS = [" ", " ", "  ", "\n", ". ", ", ", "! ", "\t", "\u2028", "\x0b", "-", "."]

keys_strategy = st.lists(
    st.text(alphabet=KEY_CHARS, min_size=1, max_size=6), min_size=1, max_size=12, unique=True
)
rules_strategy = st.sets(st.sampled_from(RULES), min_size=1)


def _rules(draws: Sequence[set[int]]) -> list[tuple[tuple[int, int], ...]]:
    """Per key, its (variant, rule) pairs with fresh variant ids, PREFIX last (as compiled)."""
    rules, variant = [], 0
    for drawn in draws:
        pairs = []
        for rule in sorted(drawn):
            pairs.append((variant, rule))
            variant += 1
        rules.append(tuple(pairs))
    return rules


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[str], list[tuple[tuple[int, int], ...]], list[str]]:
    keys = draw(keys_strategy)
    rules = _rules([draw(rules_strategy) for _ in keys])
    words = st.one_of(
        st.builds(
            lambda p, k, s: p + k + s,
            st.sampled_from(PROCLITICS),
            st.sampled_from(keys),
            st.sampled_from(SUFFIXES),
        ),
        st.text(alphabet=LETTERS + "0123456789", min_size=1, max_size=8),
    )
    pieces = draw(st.lists(st.tuples(words, st.sampled_from(GAPS)), max_size=25))
    texts = [
        "".join(word + gap for word, gap in pieces[: len(pieces) // 2]),
        "".join(w + g for w, g in pieces),
    ]
    return keys, rules, texts


def _canonical(found: FieldScan) -> tuple[object, ...]:
    by_variant = {variant: sorted(starts) for variant, starts in found.by_variant.items()}
    at = {start: sorted(variants) for start, variants in found.at.items()}
    assert all(len(set(variants)) == len(variants) for variants in at.values())  # each once
    return found.ends, at, by_variant


def _reference(keys: list[str], rules: Sequence[tuple[tuple[int, int], ...]], text: str) -> FieldScan:
    return scan_field(0, text, text, ahocorasick_rs.AhoCorasick(keys), rules)


@settings(max_examples=300, deadline=None)
@given(cases())
def test_the_chunk_scanner_agrees_with_one_pass_over_the_field(
    case: tuple[list[str], list[tuple[tuple[int, int], ...]], list[str]],
) -> None:
    keys, rules, texts = case
    scanner = Scanner(keys, rules)
    for _ in range(2):  # cold, then with every chunk remembered
        for text in texts:
            assert _canonical(scanner.scan(0, text, text)) == _canonical(_reference(keys, rules, text))


@settings(max_examples=100, deadline=None)
@given(cases())
def test_the_memo_starting_afresh_changes_nothing(
    case: tuple[list[str], list[tuple[tuple[int, int], ...]], list[str]],
) -> None:
    keys, rules, texts = case
    scanner = Scanner(keys, rules)
    scanner.memo = scan_module.ChunkMemo(0, limit=3)
    for text in texts * 2:
        assert _canonical(scanner.scan(0, text, text)) == _canonical(_reference(keys, rules, text))


def test_a_higher_rule_never_lets_a_token_run_less_far() -> None:
    """The scanner reads how far a token may run from its key's highest rule."""
    assert len(scan_module.REACH) == len(RULES)
    assert list(scan_module.REACH) == sorted(scan_module.REACH)


@pytest.mark.parametrize(
    ("original", "kept"),
    [
        ("هێرشێک کرا", True),  # Sorani letters: the suffix stands
        ("هيرشيك", False),  # the same letters once normalised, written without them
        ("هیرشیک", False),
    ],
)
def test_a_sorani_suffix_stands_only_on_a_word_written_in_sorani_letters(original: str, kept: bool) -> None:
    keys, rules = ["هيرش"], [((0, KEYWORD), (1, SORANI_AFTER_CONSONANT))]
    norm = normalise(original)
    for found in (
        Scanner(keys, rules).scan(0, original, norm),
        Scanner(keys, rules).scan_directly(0, original, norm),
    ):
        assert (1 in found.by_variant) is kept
        assert found.at == ({0: [1]} if kept else {})


@pytest.mark.parametrize(
    ("key", "safe"),
    [
        ("بغداد", True),
        ("rocket", True),
        ("3.5", True),
        ("a b", False),
        ("-x", False),
        (" a", False),
        ("a\u2028", False),
    ],
)
def test_keys_with_whitespace_or_starting_with_punctuation_go_to_the_fallback(key: str, safe: bool) -> None:
    assert chunk_safe(key) is safe
    scanner = Scanner([key], [((0, EXACT),)])
    assert (scanner.automaton is not None) is safe
    assert (scanner.fallback is not None) is not safe


def test_a_phrase_key_is_found_across_whitespace_by_the_fallback() -> None:
    keys, rules = ["a b", "بغداد"], [((0, EXACT),), ((1, KEYWORD),)]
    text = normalise("x a b y وبغداد")
    found = Scanner(keys, rules).scan(0, text, text)
    assert _canonical(found) == _canonical(_reference(keys, rules, text))
    assert set(found.by_variant) == {0, 1}


@settings(max_examples=100, deadline=None)
@given(cases())
def test_the_python_chunk_table_gives_the_same_scan(
    case: tuple[list[str], list[tuple[tuple[int, int], ...]], list[str]],
) -> None:
    keys, rules, texts = case
    scanner = Scanner(keys, rules)
    scanner.memo = scan_module.ChunkMemo(0, python=True, limit=40)  # and starting afresh now and then
    assert isinstance(scanner.memo.state.table, scan_module._DictTable)
    for text in texts * 2:
        assert _canonical(scanner.scan(0, text, text)) == _canonical(_reference(keys, rules, text))


CHUNK_TEXT = st.text(
    alphabet=st.sampled_from(list("ab بغ3.-\u00e9\U0001f600 \n\t\r\u2028\u00a0\x0b")), max_size=40
)


def test_the_chunk_table_is_built_in_c_where_the_engine_is_compiled() -> None:
    from service.match import engine_build

    table = scan_module.new_table()
    if engine_build() == "compiled":
        assert type(table).__module__ == "service.match._chunks"
    else:
        assert isinstance(table, scan_module._DictTable)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(CHUNK_TEXT, st.integers(min_value=0, max_value=7)), max_size=8), CHUNK_TEXT)
def test_both_chunk_tables_walk_a_text_alike(recorded: list[tuple[str, int]], text: str) -> None:
    """Same (offset, chunk, flags) and same new chunks, whatever the string kinds involved."""
    tables = [scan_module.new_table(python=True), scan_module.new_table()]
    for table in tables:
        for chunk_text, flags in recorded:
            chunks = {chunk: flags for chunk in chunk_text.replace("\n", " ").split()}
            table.update({chunk: flags for chunk in chunks if chunk.split() == [chunk]})
    python, native = (table.walk(text) for table in tables)
    assert python == native
    assert len(tables[0]) == len(tables[1])
    placed, unknown, where = native
    for at, chunk, flags in placed:
        assert text[at : at + len(chunk)] == chunk and flags
    parts = text.replace("\n", " ").replace("\t", " ").replace("\r", " ").split(" ")
    assert len(unknown) == len(set(unknown))  # each once, in text order
    assert unknown == sorted(unknown, key=parts.index)
    for chunk in unknown:
        assert chunk in parts and tables[1].get(chunk) is None
    assert [table.walk(text)[1] for table in tables] == [unknown, unknown]  # pending: still new
    # Settling gives what a walk after it places; a chunk already recorded keeps its place.
    flags = [n % 3 for n in range(len(unknown))]
    for table in tables:
        placed, unknown, where = table.walk(text)
        assert table.settle(unknown, flags, placed, where) == table.walk(text)[0]


def test_a_chunk_table_walks_ascii_chunks_inside_wider_text() -> None:
    table = scan_module.new_table()
    table.update({"rocket": 1, "بغداد": 2, "😀x": 4, "quiet": 0})
    placed, unknown, _ = table.walk("rocket\tبغداد\n😀x quiet  new rocket")
    assert placed == [(0, "rocket", 1), (7, "بغداد", 2), (13, "😀x", 4), (27, "rocket", 1)]
    assert unknown == ["new"]
    assert table.walk("quiet rocket") == ([(6, "rocket", 1)], [], b"")
    table.update({"rocket": 0})  # recorded again: the latest flags win
    assert table.walk("rocket") == ([], [], b"")
    assert len(table) == 5  # "new" is held, pending


def test_a_walk_hands_out_each_new_chunk_once_until_it_is_settled() -> None:
    for table in (scan_module.new_table(python=True), scan_module.new_table()):
        table.update({"q": 1})
        placed, unknown, where = table.walk("b a q b c a")
        assert placed == [(4, "q", 1)] and unknown == ["b", "a", "c"] and len(table) == 4
        assert array("q", where).tolist() == [0, 0, 2, 1, 6, 0, 8, 2, 10, 1]  # offset, place in unknown
        assert table.get("a") is None
        assert table.walk("a x")[1] == ["a", "x"]  # never settled: new to this walk too
        settled = table.settle(unknown, [0, 2, 0], placed, where)
        assert settled == [(2, "a", 2), (4, "q", 1), (10, "a", 2)] == table.walk("b a q b c a")[0]
        assert table.walk("c a b")[:2] == ([(2, "a", 2)], [])
        assert table.get("a") == 2 and len(table) == 5  # and "x", pending


def test_the_memo_starts_afresh_once_it_holds_its_limit() -> None:
    scanner = Scanner(["ab"], [((0, KEYWORD),)])
    scanner.memo = scan_module.ChunkMemo(0, limit=5)
    first = scanner.memo.state
    scanner.scan(0, "ab cd ef", "ab cd ef")
    assert scanner.memo.state is first
    found = scanner.scan(0, "xy zz ab qq", "xy zz ab qq")
    assert scanner.memo.state is not first  # 3 + 3 new chunks would pass the limit of 5
    assert len(scanner.memo.state.table) == 4
    assert found.by_variant == {0: [6]}


def test_a_chunk_table_that_cannot_grow_refuses_the_new_chunk_and_stays_usable() -> None:
    """Out of memory while growing: the chunk is not recorded, and lookups still end."""
    import _testcapi  # type: ignore[import-not-found]

    from service.match import engine_build

    table = scan_module.new_table()
    if engine_build() != "compiled":  # the dict twin grows inside CPython: nothing of ours to fail
        assert isinstance(table, scan_module._DictTable)
        return
    table.update({f"k{n:05d}": 1 for n in range(512)})  # a full half of the first 1,024 slots
    # Fewer than the free slots: a regression fails the assertions below instead of hanging.
    batches = [{f"new{n:05d}": 1} for n in range(400)]  # made first: no allocation may fail but growth's
    refused = 0
    for batch in batches:
        _testcapi.set_nomemory(0, 1)  # the next allocation fails: the table's growth
        try:
            table.update(batch)
        except MemoryError:
            refused += 1
        finally:
            _testcapi.remove_mem_hooks()
    assert refused == 400
    assert len(table) == 512
    assert table.get("new00000") is None and table.get("absent") is None
    table.update({"after": 2})  # memory is back: growth works again
    assert len(table) == 513 and table.walk("after k00001") == ([(0, "after", 2), (6, "k00001", 1)], [], b"")


def test_a_chunk_table_grown_to_megabytes_answers_as_a_small_one() -> None:
    """Past 2 MB of slots the C table keeps them in a mapping of their own (huge pages where the
    kernel offers them); growing into it, walking it and freeing it must change no answer."""
    tables = [scan_module.new_table(python=True), scan_module.new_table()]
    words = [f"w{n:05d}" for n in range(70_000)]  # 262,144 slots of 32 bytes in C: 8 MB
    for table in tables:
        for start in range(0, len(words), 7_000):
            placed, unknown, where = table.walk(" ".join(words[start : start + 7_000]))
            table.settle(unknown, [n % 2 for n in range(len(unknown))], placed, where)
    assert len(tables[0]) == len(tables[1]) == len(words)
    text = " ".join([*words[::997], "unseen"])
    assert tables[0].walk(text) == tables[1].walk(text)
    assert tables[1].get(words[1]) == 1 and tables[1].get(words[2]) == 0
