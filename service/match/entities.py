"""Cross-script entity names: consonant-skeleton windows and the same-article surname rule.

An entity's name and each of its aliases also match, in text of the other script (Latin ↔
Arabic/Persian), any window of 1–4 consecutive words with the same skeleton key. A key of at
least 5 consonants from a name of two or more words is enough when the window holds no stop word
(ten times fewer collisions with ordinary word pairs than the key alone); kunya and patronymic
words (أبو, بن) belong to the name. A shorter name (Khor Mor) must also match word for word, its
vowel letters and article agreeing with the romanisation; a one-word name (Al-Tanf, Nasr) must
in addition stand next to a word that says what it is (قاعدة التنف, الشيخ نصر), because the bare
word is too often an ordinary one (نصر, "victory"). Latin names also match their other Latin
romanisations (Ismail Ghaani for Esmail Qaani) by a key that keeps where the vowels stand.

A bare surname's key is shared by dozens of ordinary words, so a surname never counts by its
key; once a full name was found, its last word as written there also counts elsewhere in the
same article.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate, compress
from typing import TYPE_CHECKING, Final

from service.text.clitics import (
    ARTICLE_CLUSTERS,
    MAX_PROCLITIC,
    SHORT_PROCLITICS,
    proclitic_allowed,
    strip_article,
)
from service.text.normalise import normalise
from service.text.skeleton import (
    ARABIC_ARTICLE,
    MIN_KEY,
    MIN_SHORT_KEY,
    NAME_PARTICLES,
    STOP_WORDS,
    VOWEL,
    arabic_token_skeleton,
    consonants_in,
    latin_token_skeletons,
    latin_vowelled_keys,
    latin_vowelled_skeletons,
    name_skeletons,
    name_start_finder,
    vowels_agree,
)
from service.text.tokenise import ARABIC, LETTERS, char_kind, tokenise

if TYPE_CHECKING:
    from service.text._skeleton import NameStarts

MAX_WINDOW = 4
MIN_SURNAME = 4
_ENGLISH_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "as",
        "at",
        "by",
        "for",
        "from",
        "in",
        "into",
        "is",
        "it",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "with",
    ]
)


# Words that end a name window and never start one.
_BREAKS = (STOP_WORDS | _ENGLISH_STOP) - NAME_PARTICLES

# Words that say a one-word name is a name: what kind of place it is, or a person's title.
# Arabic, Persian and Sorani come before the name (قاعدة التنف, سردار نصر); English either side.
_CONTEXT_WORDS = """
قاعدة معبر منطقة حقل مدينة بلدة قرية ناحية قضاء محافظة مطار ميناء جبل نهر مخيم حي منفذ سد
السيد الشيخ الحاج القائد الزعيم اللواء العميد العقيد الفريق الجنرال الرئيس الوزير النائب المدعو
پایگاه میدان شهر شهرستان روستای استان فرودگاه بندر گذرگاه سردار سرلشکر سرتیپ آقای
بنکەی شاری گوندی کێڵگەی پارێزگای
base field crossing town city village district province camp airport port mount river border
dam sheikh sayyid general gen commander leader minister president mr
"""
CONTEXT_WORDS = frozenset(
    form for word in _CONTEXT_WORDS.split() for form in (normalise(word), strip_article(normalise(word)))
)
_CLITICS = sorted(SHORT_PROCLITICS | ARTICLE_CLUSTERS, key=len, reverse=True)
_CONTEXT_REACH = 60  # characters looked at on either side of a one-word name for its context


@dataclass(frozen=True, slots=True)
class GuardedName:
    """A name whose key alone is too weak (short, or one word): it must match word for word.

    `words` are the name's words in its own script, each without its article and with whether
    it had one; `single` names also need a context word beside them.
    """

    atom: int
    words: tuple[tuple[str, bool], ...]
    single: bool


@dataclass(frozen=True, slots=True)
class NameFound:
    """A window of `text_script` tokens in one field whose skeleton is an entity's key."""

    atom: int
    start: int
    end: int
    last_word: str


class StarterMemo:
    """Which words may start a name window, remembered across articles.

    A pure cache (news vocabulary repeats, so almost every word of an article was seen before):
    it turns the per-word Python loop into a few set operations done in C.
    """

    LIMIT = 200_000

    def __init__(self) -> None:
        self.checked: set[str] = set()
        self.starters: set[str] = set()

    def starters_among(self, words: set[str], index: SkeletonIndex) -> set[str]:
        new = words - self.checked
        if new:
            if len(self.checked) > self.LIMIT:
                self.checked, self.starters = set(), set()
            self.checked |= new
            self.starters.update(w for w in new if _may_start(w, index))
        return words & self.starters


@dataclass(frozen=True, slots=True)
class SkeletonIndex:
    """Keys to look for in text of one script (LETTERS names are sought in ARABIC text)."""

    text_script: str
    keys: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    prefixes: frozenset[str] = frozenset()
    memo: StarterMemo = field(default_factory=StarterMemo, compare=False)
    guarded: Mapping[str, tuple[GuardedName, ...]] = field(default_factory=dict)
    # The consonant skeletons of the words that may start a window (for every index, vowels left
    # out: that test runs on every new word of every article, and skips the vowelled key).
    starts: frozenset[str] = frozenset()
    initials: frozenset[str] = frozenset()  # the first letters of `starts` ("*": any word)
    vowelled: bool = False  # Latin names sought in Latin text, by their vowelled keys


def _skeletons_for(index: SkeletonIndex) -> Callable[[str], tuple[str, ...]]:
    if index.text_script == ARABIC:
        return _arabic_skeletons
    return latin_vowelled_skeletons if index.vowelled else latin_token_skeletons


def _may_start(word: str, index: SkeletonIndex) -> bool:
    if index.text_script == ARABIC:
        skeletons = _arabic_skeletons(word)
    elif _LATIN_INITIALS.get(word.lstrip(_GLIDES)[:1], _ANY).isdisjoint(index.initials):
        return False  # most English words: their first consonant begins no name (no skeleton made)
    else:
        skeletons = latin_token_skeletons(word)
    return word not in _BREAKS and any(k in index.starts for k in skeletons)


# What a Latin word's first consonant letter may begin its skeleton with (kh is X, ch is $ or J).
# v may be a vowel (Persian و), so a word starting with it is not filtered; nor one of no consonant.
_GLIDES = "aeiouwy"
_ANY = frozenset({"*"})
_LATIN_INITIALS: Final = {
    letter: frozenset(classes)
    for letter, classes in [
        *[("b", "B"), ("t", "T"), ("j", "J"), ("h", "H"), ("q", "K"), ("f", "F"), ("x", "K")],
        *[("l", "L"), ("m", "M"), ("n", "N"), ("r", "R"), ("p", "BF"), ("k", "KX"), ("c", "K$J")],
        *[("g", "KJ"), ("d", "DJ"), ("z", "DJ"), ("s", "S$")],
    ]
}


class _IndexBuilder:
    """The keys of one index while the names are read."""

    def __init__(self, text_script: str, vowelled: bool = False) -> None:
        self.text_script = text_script
        self.vowelled = vowelled
        self.keys: dict[str, set[int]] = {}
        self.guarded: dict[str, list[GuardedName]] = {}
        self.heads: set[str] = set()  # consonant skeletons of the names' first words

    def add(self, atom: int, keys: frozenset[str], words: tuple[tuple[str, bool], ...]) -> None:
        """A name of the other script: long keys alone, short and one-word ones guarded."""
        guard = GuardedName(atom, words, len(words) == 1)
        for key in keys:
            if len(key) >= MIN_KEY and not guard.single:
                self.keys.setdefault(key, set()).add(atom)
            elif len(key) >= MIN_SHORT_KEY:
                self.guarded.setdefault(key, []).append(guard)

    def add_vowelled(self, atom: int, keys: frozenset[str]) -> None:
        for key in keys:
            if consonants_in(key) >= MIN_KEY:
                self.keys.setdefault(key, set()).add(atom)

    def add_head(self, first: Iterable[str]) -> None:
        self.heads.update(k for k in first if k)

    def index(self) -> SkeletonIndex:
        every = [*self.keys, *self.guarded]
        prefixes = frozenset(key[:i] for key in every for i in range(1, len(key) + 1))
        frozen = {key: tuple(sorted(atoms)) for key, atoms in self.keys.items()}
        guarded = {key: tuple(dict.fromkeys(names)) for key, names in self.guarded.items()}
        starts = self._starts(prefixes)
        return SkeletonIndex(
            self.text_script,
            frozen,
            prefixes,
            guarded=guarded,
            starts=starts,
            initials=frozenset({key[:1] for key in starts} | _ANY),
            vowelled=self.vowelled,
        )

    def _starts(self, prefixes: Iterable[str]) -> frozenset[str]:
        """A window starts on a name's first word, or on a word of 3 consonants or more that
        begins some key: the first word of a name written otherwise (Nasrallah for نصر الله).
        Shorter prefixes (me, be, ما) would start a window on most words of an article."""
        bare = {key.replace(VOWEL, "") for key in prefixes} if self.vowelled else set(prefixes)
        starts = {key for key in bare if len(key) >= MIN_SHORT_KEY} | self.heads
        if self.text_script == ARABIC:  # عبد الرحمن for Abdulrahman
            starts |= {arabic_token_skeleton(word) for word in NAME_PARTICLES} & bare
        return frozenset(starts)


def name_words(name: str) -> tuple[str, tuple[tuple[str, bool], ...]]:
    """(script, words) of a name: each word without its article, and whether it had one."""
    tokens = tokenise(normalise(name))
    kinds = {token.kind for token in tokens}
    if kinds == {ARABIC}:
        return ARABIC, tuple(_arabic_word(t.text) for t in tokens)
    if kinds == {LETTERS}:
        return LETTERS, _latin_words([t.text for t in tokens])
    return "", ()


def _arabic_word(word: str) -> tuple[str, bool]:
    bare = ARABIC_ARTICLE.sub("", word)
    return bare, bare != word


def _latin_words(tokens: Sequence[str]) -> tuple[tuple[str, bool], ...]:
    """Latin words with each article (al-, el-, ul-) folded into the word after it."""
    words: list[tuple[str, bool]] = []
    article = False
    for token in tokens:
        if latin_token_skeletons(token) == ("",):
            article = True
        else:
            words.append((token, article))
            article = False
    return tuple(words)


def build_indexes(
    names: Iterable[tuple[int, str]], people: Collection[int] = ()
) -> tuple[SkeletonIndex, ...]:
    """One index per text script from (atom, entity name or alias) pairs, and one for the other
    romanisations of the Latin names of `people` (atoms).

    Every name and alias makes keys toward the other script: an alias only ever adds spellings,
    so an entity with an Arabic alias still finds the Arabic spelling of its Latin name. Only
    people's names drift between romanisations (Qaani, Ghaani); a place keeps its English name.
    """
    builders = {ARABIC: _IndexBuilder(ARABIC), LETTERS: _IndexBuilder(LETTERS)}
    latin = _IndexBuilder(LETTERS, vowelled=True)
    for atom, name in names:
        script, words = name_words(name)
        target = {ARABIC: LETTERS, LETTERS: ARABIC}.get(script)
        if target is None or not words:
            continue
        builder = builders[target]
        builder.add(atom, name_skeletons(name)[1], words)
        builder.add_head(_first_skeletons(script, words[0][0]))
        if script == LETTERS and len(words) > 1 and atom in people:
            vowelled = latin_vowelled_keys(name)
            latin.add_vowelled(atom, vowelled)
            latin.add_head(latin_token_skeletons(words[0][0]))
    chosen = [*builders.values(), latin]
    return tuple(b.index() for b in chosen if b.keys or b.guarded)


def _first_skeletons(script: str, word: str) -> tuple[str, ...]:
    return _arabic_skeletons(word) if script == ARABIC else latin_token_skeletons(word)


def indexed_atoms(indexes: Iterable[SkeletonIndex]) -> set[int]:
    """The entity atoms some index may find."""
    found: set[int] = set()
    for index in indexes:
        for atoms in index.keys.values():
            found.update(atoms)
        for names in index.guarded.values():
            found.update(name.atom for name in names)
    return found


_SPLITS = {
    # Simple classes on purpose: `re` scans these 2–5× faster than exact Unicode letter classes,
    # and after normalisation only Arabic letters remain in U+0620–U+06FF and a-z in Latin.
    ARABIC: re.compile("([\u0620-\u06ff]+)"),
    LETTERS: re.compile("([a-z]+)"),
}


@lru_cache(maxsize=1 << 16)
def _arabic_skeletons(word: str) -> tuple[str, ...]:
    return (arabic_token_skeleton(word),)


def _extend(key: str, part: str) -> str:
    return key + part[1:] if key and part and key[-1] == part[0] else key + part


_BREAK_CHARS = ".!?;\n"
_LOOKAHEAD = 80  # characters read after a word that may start a name; more only when needed


def _bad_gap(gap: str) -> bool:
    """Does this gap keep the words on either side from being one name?"""
    return len(gap) > 3 or any(char in gap for char in _BREAK_CHARS)


class _Window:
    """The words of `norm[start:stop]` in one script, with their spans computed only when needed.

    One `split` on the script's runs gives the words and the gaps between them, so spans come
    from summing lengths (in C) instead of a regex match object per word. Spans are in `norm`.
    """

    def __init__(self, norm: str, index: SkeletonIndex, start: int = 0, stop: int | None = None) -> None:
        self.norm = norm
        self.start = start
        text = norm if start == 0 and stop is None else norm[start:stop]
        self.parts: list[str] = _SPLITS[index.text_script].split(text)  # gap, word, gap, ..., gap
        self.words: list[str] = self.parts[1::2]
        self.skeletons = _skeletons_for(index)
        self._bounds: list[int] | None = None

    def span(self, index: int) -> tuple[int, int]:
        if self._bounds is None:
            self._bounds = list(accumulate(map(len, self.parts), initial=self.start))
        return self._bounds[2 * index + 1], self._bounds[2 * index + 2]

    def joined(self, first: int, last: int) -> bool:
        """Do words first..last stand next to each other, with no sentence break between?"""
        return not any(map(_bad_gap, self.parts[2 * first + 2 : 2 * last + 1 : 2]))


def find_names(norm: str, index: SkeletonIndex) -> list[NameFound]:
    """Every window of words in `norm` whose skeleton is one of the index's keys."""
    window = _Window(norm, index)
    starters = index.memo.starters_among(set(window.words), index)
    found: list[NameFound] = []
    if not starters:
        return found
    words = window.words
    for first in compress(range(len(words)), map(starters.__contains__, words)):
        for key in window.skeletons(words[first]):
            if key in index.prefixes:
                found.extend(_windows(window, first, key, index))
    return found


def _fallback(index: SkeletonIndex) -> Callable[[str], bool]:
    return lambda word: _may_start(word, index)


_MAX_SETS = 8  # start sets one C finder takes (MAX_SETS in _skeleton.c)


class StartFinders:
    """Where the words of a text that may start a name window begin, for each of some indexes.

    On a stream of new words (a feed's first pass) remembering words does not help: the C finder
    decides each word for less than a set lookup of its str costs, one pass over the text per
    script.
    The two Latin indexes (Arabic names in Latin text, other romanisations of Latin names) read a
    word to the same consonant skeletons, so one finder reads it once and asks both start sets;
    each new chunk of a feed's first pass meets this.
    """

    def __init__(self, indexes: Sequence[SkeletonIndex]) -> None:
        self.indexes = tuple(indexes)
        self.groups: list[tuple[NameStarts, tuple[int, ...]]] | None = None  # made on first use
        self.native = True  # until the C finder turns out not to be built

    def find(self, text: str) -> list[list[int]]:
        """Per index, where the words of `text` that may start a name window begin (in text order)."""
        if self.groups is None and self.native:
            self._group()
        groups = self.groups
        if groups is None:
            return [starter_offsets_by_words(text, index) for index in self.indexes]
        found: list[list[int]] = [[] for _ in self.indexes]
        for finder, numbers in groups:
            for number, offsets in zip(numbers, finder.find(text), strict=True):
                found[number] = offsets
        return found

    def _group(self) -> None:
        groups: list[tuple[NameStarts, tuple[int, ...]]] = []
        for arabic in (True, False):
            script = [n for n, index in enumerate(self.indexes) if (index.text_script == ARABIC) == arabic]
            for first in range(0, len(script), _MAX_SETS):
                numbers = tuple(script[first : first + _MAX_SETS])
                chosen = [self.indexes[n] for n in numbers]
                finder = name_start_finder(
                    arabic,
                    [index.starts for index in chosen],
                    _BREAKS,
                    [_fallback(index) for index in chosen],
                )
                if finder is None:
                    self.native = False
                    return
                groups.append((finder, numbers))
        self.groups = groups


def starter_offsets_by_words(text: str, index: SkeletonIndex) -> list[int]:
    """`StartFinders.find` for one index without the C finder: split into words, each decided by
    `_may_start`."""
    parts = _SPLITS[index.text_script].split(text)
    words = parts[1::2]
    starters = index.memo.starters_among(set(words), index)
    if not starters:
        return []
    bounds = list(accumulate(map(len, parts), initial=0))
    return [bounds[2 * i + 1] for i in compress(range(len(words)), map(starters.__contains__, words))]


def find_names_from(
    norm: str, index: SkeletonIndex, starts: Iterable[int], lookahead: int = _LOOKAHEAD
) -> list[NameFound]:
    """`find_names(norm, index)`, given where its starting words are (`StartFinders.find`).

    A window holds at most MAX_WINDOW words, so only a short stretch after each start (`lookahead`
    characters) is split into words: the whole rest of the field only when that stretch could cut
    a window short.
    """
    found: list[NameFound] = []
    for start in starts:
        window = _Window(norm, index, start, start + lookahead)
        complete = (
            start + lookahead >= len(norm)
            or len(window.words) > MAX_WINDOW
            or any(map(_bad_gap, window.parts[2::2]))  # no window runs past a bad gap
        )
        if not complete:
            window = _Window(norm, index, start)
        for key in window.skeletons(window.words[0]):
            if key in index.prefixes:
                found.extend(_windows(window, 0, key, index))
    return found


def _windows(window: _Window, first: int, key: str, index: SkeletonIndex) -> list[NameFound]:
    """Extend the window starting at `first` while its key stays a prefix of some entity key."""
    words = window.words
    found: list[NameFound] = []
    partial = [(key, first)]
    while partial:
        key, last = partial.pop()
        complete = window.skeletons(words[last]) != ("",)  # not ending on a Latin "al"
        atoms = index.keys.get(key, ()) if complete else ()
        guarded = index.guarded.get(key, ()) if complete else ()
        if (atoms or guarded) and window.joined(first, last):
            start, end = window.span(first)[0], window.span(last)[1]
            found.extend(NameFound(atom, start, end, words[last]) for atom in atoms)
            found.extend(_guarded_found(guarded, window, first, last, index))
        following = last + 1
        if following - first >= MAX_WINDOW or following >= len(words) or words[following] in _BREAKS:
            continue
        for part in window.skeletons(words[following]):
            joined = _extend(key, part)
            if joined in index.prefixes and (part or index.text_script == LETTERS):
                partial.append((joined, following))
    return found


def _guarded_found(
    names: Sequence[GuardedName], window: _Window, first: int, last: int, index: SkeletonIndex
) -> list[NameFound]:
    """The guarded names that words first..last of `window` are, word for word."""
    script = index.text_script
    words = window.words[first : last + 1]
    written = tuple(map(_arabic_word, words)) if script == ARABIC else _latin_words(words)
    start, end = window.span(first)[0], window.span(last)[1]
    found = []
    for name in names:
        if _same_words(written, name.words, script) and (
            not name.single or _has_context(window.norm, start, end, script)
        ):
            # A one-word name gives no surname to count alone: its word is often an ordinary one.
            found.append(NameFound(name.atom, start, end, "" if name.single else words[-1]))
    return found


def _same_words(written: Sequence[tuple[str, bool]], name: Sequence[tuple[str, bool]], script: str) -> bool:
    """Do the text's words spell the name's, one by one (in Arabic script, articles agreeing)?"""
    if len(written) != len(name):
        return False
    for (text, article), (word, had) in zip(written, name, strict=True):
        if script == ARABIC and article != had:
            return False  # النصر is "the victory", not Nasr
        if not (vowels_agree(text, word) if script == ARABIC else vowels_agree(word, text)):
            return False
    return True


def _has_context(norm: str, start: int, end: int, script: str) -> bool:
    """Does a context word stand just before norm[start:end] (or, in Latin text, just after)?"""
    before = _SPLITS[script].split(norm[max(0, start - _CONTEXT_REACH) : start])
    if script == LETTERS and len(before) >= 3 and latin_token_skeletons(before[-2]) == ("",):
        before = before[:-2]  # the al of al-Tanf
    if len(before) >= 3 and not _bad_gap(before[-1]) and _is_context(before[-2]):
        return True
    if script == ARABIC:
        return False  # after an Arabic name, a title is someone else's (نصر القائد)
    after = _SPLITS[script].split(norm[end : end + _CONTEXT_REACH])
    return len(after) >= 3 and not _bad_gap(after[0]) and _is_context(after[1])


def _is_context(word: str) -> bool:
    if word in CONTEXT_WORDS:
        return True
    return any(word.startswith(c) and word[len(c) :] in CONTEXT_WORDS for c in _CLITICS)


def surname_of(word: str) -> str | None:
    """The form of a found name's last word that may count alone, or None if too weak."""
    surname = strip_article(word)
    if len(surname) < MIN_SURNAME or surname in STOP_WORDS or surname in _ENGLISH_STOP:
        return None
    return surname


def find_surname(norm: str, surname: str) -> list[tuple[int, int]]:
    """Whole-token occurrences of `surname` (proclitics allowed, no suffix) in `norm`."""
    spans = []
    at = norm.find(surname)
    while at >= 0:
        end = at + len(surname)
        kind = char_kind(surname[0])
        if end == len(norm) or char_kind(norm[end]) != kind:
            begin = at
            while begin > 0 and char_kind(norm[begin - 1]) == kind and at - begin <= MAX_PROCLITIC:
                begin -= 1
            token = norm[begin:end]
            if begin == at or (
                kind == ARABIC and proclitic_allowed(token[: at - begin], token, len(surname))
            ):
                spans.append((begin, end))
        at = norm.find(surname, at + 1)
    return spans
