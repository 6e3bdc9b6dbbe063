"""URLs fit to show: in logs, error messages and `check` output. Pure.

Two kinds of secret ride in URLs: a password in the userinfo (`redis://:pw@host`), and a token in the
path (Slack and Discord webhooks, Bot API URLs). `hide_password` keeps everything but the first;
`origin_only` keeps the scheme, host and port, for URLs whose path is the secret.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_PASSWORD = re.compile(r"(://[^:/@]*:)[^@/]*@")


def hide_password(url: str) -> str:
    """The URL with any password replaced by `***`."""
    return _PASSWORD.sub(r"\1***@", url)


def origin_only(url: str) -> str:
    """`scheme://host[:port]/…`: nothing of the path, query or userinfo."""
    parts = urlsplit(url)
    if not parts.scheme:
        return "(url)"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}/…"
