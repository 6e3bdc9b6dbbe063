"""The building blocks of config models: durations, names and the strict base every table uses.

Settings and every adapter's options model (a sink's, a store's, a source's) are built from these, so a
duration or a name means the same thing in every table of the file.
"""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
NAME_RULE = "letters, digits, '-', '_' and '.', starting with a letter or digit"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


def parse_duration(value: object) -> float:
    """Seconds from `90`, `"90s"`, `"5m"`, `"2h"`, `"1d"`, `"1w"` (or `"250ms"`)."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string such as '90s', '5m', '2h'")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    else:
        raise ValueError(f"{value!r} is not a duration (use seconds or a string such as '90s', '5m', '2h')")
    if seconds < 0 or not math.isfinite(seconds):
        raise ValueError("a duration must be zero or more")
    return seconds


def parse_backfill(value: object) -> float:
    """`"all"` → infinity; otherwise a duration."""
    if isinstance(value, str) and value.strip().lower() == "all":
        return math.inf
    return parse_duration(value)


def format_duration(seconds: float) -> str:
    """The shortest exact spelling: `5m`, `2h`, `90s`."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


Duration = Annotated[float, BeforeValidator(parse_duration)]
Backfill = Annotated[float, BeforeValidator(parse_backfill)]
Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=100)]


class Options(BaseModel):
    """A table of the config file: unknown keys are errors, values never change after loading."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SinkOptions(Options):
    """A `[sinks.NAME]` table; each sink kind narrows `type` to its own name."""

    type: str
