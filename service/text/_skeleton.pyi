"""Types of the C extension built from _skeleton.c (see there and `name_start_finder`)."""

from collections.abc import Callable

class NameStarts:
    def __init__(
        self,
        arabic: bool,
        starts: tuple[frozenset[str], ...],
        breaks: frozenset[str],
        letters: dict[str, tuple[str, ...]],
        articles: frozenset[str],
        fallbacks: tuple[Callable[[str], bool], ...],
    ) -> None: ...
    def find(self, text: str, /) -> list[list[int]]: ...
