"""URL canonicalisation, so one article reached through different tracking links has one key.

Pure and total: any string goes in, a string comes out, and applying it twice changes nothing.
"""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
_TRACKING_PREFIXES = ("utm_", "mtm_", "pk_", "hsa_")
_TRACKING_KEYS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "vero_conv",
        "__twitter_impression",
        "_ga",
        "_gl",
        "spm",
        "ncid",
        "sr_share",
        "at_medium",
        "at_campaign",
        "cmpid",
        "ito",
    }
)


def canonical_url(url: str) -> str:
    """The URL without tracking parameters or fragment, with lower-case scheme and host.

    Also drops the default port and writes an empty http(s) path as "/". Other query parameters
    keep their order and exact spelling (percent-encoding is not touched). A string that does not
    split as a URL comes back stripped of surrounding whitespace.

    Idempotence is enforced, not hoped for: urllib's split/unsplit round trip is not a fixpoint
    on degenerate inputs ("////"), so the result must be stable under a second pass or the input
    is returned as it was.
    """
    text = url.strip()
    current = text
    for _ in range(3):
        following = _canonical_once(current)
        if following == current:
            return current
        current = following
    return text


def _canonical_once(text: str) -> str:
    try:
        parts = urlsplit(text)
        netloc = _canonical_netloc(parts)
    except ValueError:
        return text
    scheme = parts.scheme.lower()
    path = parts.path or ("/" if scheme in _DEFAULT_PORTS and netloc else "")
    return urlunsplit((scheme, netloc, path, _strip_tracking(parts.query), "")).strip()


def _canonical_netloc(parts: SplitResult) -> str:
    if not parts.netloc:
        return ""
    userinfo, _, _ = parts.netloc.rpartition("@")
    host = (parts.hostname or "").rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    port = parts.port  # raises ValueError on a bad port: the caller keeps the URL as written
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        host = f"{host}:{port}"
    return f"{userinfo}@{host}" if userinfo else host


def _strip_tracking(query: str) -> str:
    if not query:
        return ""
    kept = [pair for pair in query.split("&") if pair and not _is_tracking(pair)]
    return "&".join(kept)


def _is_tracking(pair: str) -> bool:
    key = pair.split("=", 1)[0].lower()
    return key in _TRACKING_KEYS or key.startswith(_TRACKING_PREFIXES)
