"""Per-sink templates: sandboxed, escaped for HTML targets, vetted when the sink is built."""

from __future__ import annotations

import pytest

from service.errors import OptionError, PermanentDeliveryError
from service.sinks.split import telegram_markup_problem
from service.sinks.templates import MessageTemplate, compile_template, template_context
from tests.sinks.test_render import make_alert


def test_no_template_means_the_built_in_rendering() -> None:
    assert compile_template(None, html=True, name="t") is None
    assert compile_template("  ", html=True, name="t") is None


def test_the_documented_context_is_available() -> None:
    source = (
        "{{ watchlist }}|{{ item.title }}|{{ hits|length }}|{{ entities|join(',') }}|"
        "{{ also_reported_by|join(',') }}|{{ matched_terms[0] }}|{{ published }}|{{ alert.id }}"
    )
    out = MessageTemplate(source, html=False).render(make_alert())
    assert out == (
        "baghdad-airport-attacks|قاآني يصل بغداد|4|Baghdad International Airport||"
        "صواريخ (@rocket)|2021-06-10 08:00 UTC|abc123"
    )
    assert set(template_context(make_alert())) == {
        "alert",
        "item",
        "watchlist",
        "hits",
        "entities",
        "also_reported_by",
        "outlets",
        "breaking",
        "matched_terms",
        "published",
    }


def test_an_html_template_escapes_feed_text_but_keeps_its_own_markup() -> None:
    template = MessageTemplate('<b>{{ item.title }}</b> <a href="{{ item.url }}">go</a>', html=True)
    out = template.render(make_alert(title="<script>x</script> & co"))
    assert out.startswith("<b>&lt;script&gt;x&lt;/script&gt; &amp; co</b>")
    assert 'href="https://x.example/a?b=1&amp;c=2"' in out
    assert telegram_markup_problem(out) is None


def test_a_plain_template_does_not_escape() -> None:
    assert MessageTemplate("{{ item.title }}", html=False).render(make_alert(title="a & <b>")) == "a & <b>"


def test_filters_clip_and_isolate() -> None:
    out = MessageTemplate("{{ item.summary|clip(9) }} {{ watchlist|isolate }}", html=False).render(
        make_alert(summary="one two three four")
    )
    assert out == "one two… \u2068baghdad-airport-attacks\u2069"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ item.title ", "line 1"),
        ("{% for x in hits %}", "line 1"),
        ("{{ nonsense.attr }}", "fails on a sample alert"),
        ("{{ item.__class__.__mro__ }}", "fails on a sample alert"),
    ],
)
def test_a_broken_or_unsafe_template_is_a_build_time_error(source: str, message: str) -> None:
    with pytest.raises(OptionError, match=message) as info:
        MessageTemplate(source, html=True, name="sinks.x.template")
    assert str(info.value).startswith("sinks.x.template: ")


def test_a_telegram_template_with_an_unsupported_tag_is_refused_at_build_time() -> None:
    with pytest.raises(OptionError, match="does not support the tag <p>"):
        compile_template("<p>{{ item.title }}</p>", html=True, name="t", check=telegram_markup_problem)


def test_a_template_that_fails_on_a_real_alert_raises_a_permanent_error() -> None:
    # Passes on the one-hit sample alert, divides by zero on the four-hit test alert.
    template = MessageTemplate("{{ 1 // (hits|length - 4) }}", html=False)
    with pytest.raises(PermanentDeliveryError, match="ZeroDivisionError"):
        template.render(make_alert())
