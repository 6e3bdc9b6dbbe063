"""URLs are shown without the secrets they carry."""

from __future__ import annotations

import pytest

from service.redact import hide_password, origin_only


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:pw@host:6379/0", "redis://:***@host:6379/0"),
        ("rediss://user:pw@host/1", "rediss://user:***@host/1"),
        ("redis://host:6379/0", "redis://host:6379/0"),
    ],
)
def test_a_password_in_a_url_is_hidden(url: str, shown: str) -> None:
    assert hide_password(url) == shown


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.slack.com/services/T0/B0/SECRET", "https://hooks.slack.com/…"),
        ("http://127.0.0.1:8099/hook?token=SECRET", "http://127.0.0.1:8099/…"),
        ("https://user:SECRET@example.org/x", "https://example.org/…"),
        ("https://example.org:notaport/x", "https://example.org/…"),
        ("not a url", "(url)"),
    ],
)
def test_a_url_whose_path_is_a_secret_shows_its_origin_only(url: str, shown: str) -> None:
    assert origin_only(url) == shown
    assert "SECRET" not in origin_only(url)
