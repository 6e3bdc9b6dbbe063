"""How long a server asked us to wait: the HTTP `Retry-After` header, read once for feeds and sinks.

The value is delay-seconds or an HTTP-date (RFC 9110, section 10.2.3). Each caller passes its own
cap, because how long a server may hold us off depends on what is waiting, not on the header.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# ASCII digits only (float() would also take "1e3", "+5", "1_000", "nan" and other scripts' digits).
# A decimal fraction is not in the RFC's grammar, but some rate limiters send one and mean it.
_DELAY_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def parse_retry_after(value: str, now: datetime, *, cap: float) -> float | None:
    """Seconds to wait, at most `cap`; None for anything that is neither form (a sign, garbage).

    A date in the past gives 0; a date without a zone is read as UTC.
    """
    text = value.strip()
    if _DELAY_SECONDS.fullmatch(text):
        return min(float(text), cap)  # a run of digits too long for a float is inf: the cap
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return min(max((moment - now).total_seconds(), 0.0), cap)
