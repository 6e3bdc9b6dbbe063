"""canonical_url: tracking removed, case and ports normalised, total and idempotent."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.feeds.urls import canonical_url


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("HTTPS://Example.COM:443/a?utm_source=x&id=1#frag", "https://example.com/a?id=1"),
        ("http://example.com:80", "http://example.com/"),
        ("http://example.com:8080/x", "http://example.com:8080/x"),
        ("https://ex.com/p?fbclid=1&gclid=2&UTM_Medium=3&q=a%20b", "https://ex.com/p?q=a%20b"),
        ("https://ex.com/p?a=1&&b=2", "https://ex.com/p?a=1&b=2"),
        ("https://ex.com/p?utm_campaign=1", "https://ex.com/p"),
        ("https://ex.com/P/Case?Keep=This", "https://ex.com/P/Case?Keep=This"),
        ("  https://ex.com/x  ", "https://ex.com/x"),
        ("https://user@Ex.com/x", "https://user@ex.com/x"),
        ("http://[::1]:80/x", "http://[::1]/x"),
        ("https://example.com./x", "https://example.com/x"),
        ("http://[::1/x", "http://[::1/x"),  # unsplittable: returned as written
        ("http://ex.com:99999999/", "http://ex.com:99999999/"),
        ("not a url", "not a url"),
        ("", ""),
    ],
)
def test_canonical_url_table(raw: str, canonical: str) -> None:
    assert canonical_url(raw) == canonical


def test_tracking_variants_of_one_link_share_a_canonical_form() -> None:
    plain = "https://shafaq.example/ar/security/12345"
    assert canonical_url(plain + "?utm_source=rss&utm_medium=feed") == plain
    assert canonical_url(plain + "#comments") == plain
    assert canonical_url(plain.upper().replace("/AR/SECURITY/12345", "/ar/security/12345")) == plain


_host = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,10}(\.[A-Za-z]{2,5}){1,2}", fullmatch=True)
_segment = st.text(alphabet="abcXYZ019-._~%", max_size=8)
_param = st.tuples(
    st.sampled_from(["id", "q", "utm_source", "fbclid", "Page", "gclid", "ref", "utm_x"]),
    st.text(alphabet="abc123%+", max_size=5),
)


@given(
    scheme=st.sampled_from(["http", "HTTP", "https", "HtTpS"]),
    host=_host,
    port=st.one_of(st.none(), st.sampled_from([80, 443, 8080, 8443])),
    path=st.lists(_segment, max_size=4),
    params=st.lists(_param, max_size=5),
    fragment=st.text(alphabet="abc#/", max_size=5),
)
def test_canonical_url_is_idempotent_and_strips_tracking(
    scheme: str, host: str, port: int | None, path: list[str], params: list[tuple[str, str]], fragment: str
) -> None:
    netloc = host if port is None else f"{host}:{port}"
    query = "&".join(f"{k}={v}" for k, v in params)
    url = f"{scheme}://{netloc}/{'/'.join(path)}" + (f"?{query}" if query else "") + f"#{fragment}"
    once = canonical_url(url)
    assert canonical_url(once) == once
    assert "#" not in once
    assert "utm_" not in once
    assert "fbclid" not in once
    assert "gclid" not in once
    assert once.startswith(scheme.lower() + "://" + host.lower())


@given(st.text(max_size=60))
def test_canonical_url_never_raises_and_is_idempotent_on_any_text(text: str) -> None:
    once = canonical_url(text)
    assert canonical_url(once) == once
