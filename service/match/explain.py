"""Human-readable explanation of a match, for `newsalert match` without --json."""

from __future__ import annotations

from service.models import Match


def describe_match(match: Match) -> str:
    """A few lines: the watchlist, its score, the entities found, then each hit in text order."""
    lines = [f"{match.watchlist}  (score {match.score:g})" if match.score is not None else match.watchlist]
    if match.entities:
        lines.append("  entities: " + ", ".join(match.entities))
    for hit in match.hits:
        lines.append(f"  {hit.field}[{hit.start}:{hit.end}]  {hit.term} → {hit.text}")
    return "\n".join(lines)
