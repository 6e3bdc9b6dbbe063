"""Loading the config file: valid files, every kind of error with its key path, env overrides."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest

from service.errors import ConfigError
from service.models import Breaking
from service.settings import load_config

REPO = Path(__file__).resolve().parents[1]
MINIMAL = """
[[feeds]]
name = "a"
url = "https://example.org/feed"

[concepts]
rocket = ["rocket", "صاروخ"]

[[watchlists]]
name = "w"
query = "@rocket"
sinks = ["out"]

[sinks.out]
type = "console"
"""


def problems(path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path, env or {})
    return str(info.value).splitlines()


def test_the_example_config_loads_with_no_environment() -> None:
    config = load_config(REPO / "config.example.toml", {})
    assert [f.name for f in config.feeds] == ["demo-iraq"]
    assert config.feed_defs()[0].url.startswith("file:///")
    assert math.isinf(config.feeds[0].backfill)


def test_a_minimal_config_gets_defaults(make_config: Callable[..., Path]) -> None:
    config = load_config(make_config(MINIMAL), {})
    assert config.service.store is None
    assert config.service.poll_interval == 300
    assert config.feeds[0].backfill == 0
    assert config.watchlists[0].feeds == ["*"]
    assert config.routes() == {"w": ("out",)}


ERRORS = [
    ("broken TOML", "[service\n", ": invalid TOML"),
    ("unknown top-level key", "extra = 1\n" + MINIMAL, ": extra: unknown key"),
    ("unknown service key", "[service]\npoll_intervall = '5m'\n", ": service.poll_intervall: unknown key"),
    (
        "bad duration",
        "[service]\npoll_interval = 'soon'\n",
        ": service.poll_interval: 'soon' is not a duration",
    ),
    ("bad port", "[service]\nhttp_port = 70000\n", ": service.http_port:"),
    ("bad feed scheme", "[[feeds]]\nname='x'\nurl='ftp://h/f'\n", ": feeds[0].url: must start with http://"),
    ("missing feed url", "[[feeds]]\nname='x'\n", ": feeds[0].url: missing required key"),
    (
        "duplicate feed",
        "[[feeds]]\nname='x'\nurl='http://a/'\n[[feeds]]\nname='x'\nurl='http://b/'\n",
        ": feeds[1].name: duplicate name 'x' (also feeds[0])",
    ),
    (
        "unknown sink in a watchlist",
        "[[watchlists]]\nname='w'\nquery='a'\nsinks=['nowhere']\n",
        ": watchlists[0].sinks[0]: no sink named 'nowhere' under [sinks]",
    ),
    ("unknown sink type", "[sinks.x]\ntype='pager'\n", ": sinks.x: unknown sink type 'pager'"),
    ("sink without type", "[sinks.x]\nurl='http://a/'\n", ": sinks.x: missing required key 'type'"),
    (
        "telegram without token",
        "[sinks.t]\ntype='telegram'\nchat_id='1'\n",
        ": sinks.t.bot_token: missing required key",
    ),
    ("bad query", "[[watchlists]]\nname='w'\nquery='(rocket'\n", ": watchlists[0].query (column "),
    (
        "unknown concept",
        "[[watchlists]]\nname='w'\nquery='@nothing'\n",
        ": watchlists[0].query (column 1): @nothing is neither a concept nor an entity",
    ),
    (
        "ambiguous reference",
        "[concepts]\nerbil=['x']\n[[entities]]\nname='erbil'\n[[watchlists]]\nname='w'\nquery='@erbil'\n",
        ": watchlists[0].query (column 1): @erbil is both a concept and an entity",
    ),
    (
        "missing variable",
        "[service]\nstore='${NO_SUCH_VAR}'\n",
        ": service.store: environment variable NO_SUCH_VAR is not set",
    ),
]


@pytest.mark.parametrize(("case", "body", "expected"), ERRORS, ids=[e[0] for e in ERRORS])
def test_each_kind_of_error_names_the_file_key_and_reason(
    make_config: Callable[..., Path], case: str, body: str, expected: str
) -> None:
    path = make_config(body)
    lines = problems(path)
    assert any(line.startswith(str(path)) and expected in line for line in lines), lines


def test_every_problem_is_reported_not_just_the_first(make_config: Callable[..., Path]) -> None:
    path = make_config(
        """
        [service]
        poll_interval = "soon"
        [[feeds]]
        name = "a"
        url = "gopher://x"
        [[watchlists]]
        name = "w"
        query = "a AND"
        sinks = ["missing"]
        """
    )
    text = "\n".join(problems(path))
    assert "service.poll_interval" in text
    assert "feeds[0].url" in text


def test_cross_checks_run_when_the_models_are_valid(make_config: Callable[..., Path]) -> None:
    path = make_config("[[watchlists]]\nname='w'\nquery='a AND'\nsinks=['missing']\n")
    text = "\n".join(problems(path))
    assert "watchlists[0].sinks[0]" in text
    assert "watchlists[0].query (column" in text


def test_variables_are_interpolated_and_secrets_stay_hidden(make_config: Callable[..., Path]) -> None:
    path = make_config(
        """
        [sinks.t]
        type = "telegram"
        bot_token = "${TOKEN}"
        chat_id = "${CHAT}"
        [sinks.h]
        type = "webhook"
        url = "https://hooks.example/x?a=$${literal}"
        """
    )
    config = load_config(path, {"TOKEN": "123:SECRET", "CHAT": "-100"})
    sink = config.sinks["t"]
    assert sink.bot_token.get_secret_value() == "123:SECRET"  # type: ignore[union-attr]
    assert "SECRET" not in repr(config)
    assert config.sinks["h"].url.endswith("a=${literal}")  # type: ignore[union-attr]


def test_a_missing_variable_never_shows_other_values(make_config: Callable[..., Path]) -> None:
    path = make_config("[sinks.t]\ntype='telegram'\nbot_token='${TOKEN}'\nchat_id='${CHAT}'\n")
    text = "\n".join(problems(path, {"CHAT": "-100-visible-only-if-leaked"}))
    assert "TOKEN is not set" in text
    assert "visible-only-if-leaked" not in text


def test_environment_overrides_win_over_the_file(make_config: Callable[..., Path]) -> None:
    path = make_config("[service]\nstore='/var/lib/a'\nhttp_port=1\nlog_format='json'\n")
    env = {
        "NEWSALERT_STORE": "redis://r:6379/2",
        "NEWSALERT_HTTP_PORT": "9090",
        "NEWSALERT_LOG_FORMAT": "console",
    }
    config = load_config(path, env)
    assert config.service.store == "redis://r:6379/2"
    assert config.service.http_port == 9090
    assert config.service.log_format == "console"


def test_a_bad_environment_override_is_a_config_error(make_config: Callable[..., Path]) -> None:
    path = make_config("")
    text = "\n".join(problems(path, {"NEWSALERT_HTTP_PORT": "eighty"}))
    assert "NEWSALERT_HTTP_PORT" in text


def test_relative_file_urls_resolve_against_the_config_directory(make_config: Callable[..., Path]) -> None:
    path = make_config("[[feeds]]\nname='local'\nurl='file:feeds/x.xml'\n")
    url = load_config(path, {}).feeds[0].url
    assert url == (path.parent / "feeds" / "x.xml").as_uri()


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    assert problems(tmp_path / "nope.toml") == [f"{tmp_path / 'nope.toml'}: no such file"]


def test_email_sink_takes_from_as_its_sender(make_config: Callable[..., Path]) -> None:
    path = make_config(
        "[sinks.m]\ntype='email'\nhost='smtp.example'\nfrom='a@example.org'\nto=['b@example.org']\n"
    )
    sink = load_config(path, {}).sinks["m"]
    assert sink.sender == "a@example.org"  # type: ignore[union-attr]


def _with_languages(languages: str) -> str:
    return MINIMAL.replace('sinks = ["out"]', f'sinks = ["out"]\nlanguages = {languages}')


@pytest.mark.parametrize(
    ("languages", "expected"),
    [
        ('["arabic"]', "watchlists[0].languages[0]: 'arabic' is a language name; write its code 'ar'"),
        (
            '["ar", "Persian"]',
            "watchlists[0].languages[1]: 'Persian' is a language name; write its code 'fa'",
        ),
        ('["farsi"]', "watchlists[0].languages[0]: 'farsi' is a language name; write its code 'fa'"),
        (
            '["Central Kurdish"]',
            "watchlists[0].languages[0]: 'Central Kurdish' is a language name; write its code 'ckb'",
        ),
        ('["xx"]', "watchlists[0].languages[0]: 'xx' is not a language code the detector returns"),
        ('["zxx"]', "watchlists[0].languages[0]: 'zxx' is not a language code the detector returns"),
        ('["ary"]', "watchlists[0].languages[0]: 'ary' is not a language code the detector returns"),
        ('[""]', "watchlists[0].languages[0]: '' is not a language code the detector returns"),
    ],
)
def test_a_language_the_detector_never_returns_is_refused_with_its_path(
    make_config: Callable[..., Path], languages: str, expected: str
) -> None:
    path = make_config(_with_languages(languages))
    assert any(line.startswith(f"{path}: {expected}") for line in problems(path)), problems(path)


def test_every_bad_language_is_reported(make_config: Callable[..., Path]) -> None:
    lines = problems(make_config(_with_languages('["arabic", "en", "klingon"]')))
    assert [line.split(": ")[1] for line in lines] == [
        "watchlists[0].languages[0]",
        "watchlists[0].languages[2]",
    ]


@pytest.mark.parametrize(
    "languages",
    ["[]", '["ar", "fa", "ckb", "ur", "en"]', '["AR", "ar-IQ", "fa_IR", " en "]', '["he", "ku", "tr"]'],
)
def test_languages_the_detector_returns_are_accepted_in_any_case_and_with_a_region(
    make_config: Callable[..., Path], languages: str
) -> None:
    config = load_config(make_config(_with_languages(languages)), {})
    assert config.watchlists[0].languages == json.loads(languages)


def _with_breaking(value: str) -> str:
    return MINIMAL.replace('sinks = ["out"]', f'sinks = ["out"]\nbreaking = {value}')


def test_a_breaking_option_becomes_the_watchlists_rule(make_config: Callable[..., Path]) -> None:
    config = load_config(make_config(_with_breaking('{ outlets = 4, within = "30m" }')), {})
    assert config.breaking_rules() == {"w": Breaking(4, 1800.0)}
    assert load_config(make_config(_with_breaking("{ outlets = 3 }")), {}).breaking_rules() == {
        "w": Breaking(3, 1800.0)
    }
    assert load_config(make_config(MINIMAL), {}).breaking_rules() == {}


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("{ outlets = 1 }", "watchlists[0].breaking.outlets"),
        ('{ outlets = "4" }', "watchlists[0].breaking.outlets"),
        ('{ outlets = 4, within = "soon" }', "watchlists[0].breaking.within"),
        ('{ outlets = 4, within = "0s" }', "watchlists[0].breaking.within"),
        ("{ within = 600 }", "watchlists[0].breaking.outlets"),
        ("{ outlets = 4, window = 600 }", "watchlists[0].breaking.window"),
        ("true", "watchlists[0].breaking"),
    ],
)
def test_a_bad_breaking_option_is_refused_with_its_key(
    make_config: Callable[..., Path], value: str, key: str
) -> None:
    lines = problems(make_config(_with_breaking(value)))
    assert any(line.split(": ")[1] == key for line in lines), lines


def _feeds(count: int, interval: str = "5m") -> str:
    return "".join(
        f'[[feeds]]\nname = "f{i}"\nurl = "https://x{i}.example/rss"\ninterval = "{interval}"\n'
        for i in range(count)
    )


@pytest.mark.parametrize(
    ("service", "feeds", "slots", "per_feed"),
    [
        ("", 3, 20, True),  # a handful of feeds: the floor
        ("", 1000, 20, True),  # 3.3 polls/s x 5 s = 17 slots: the floor still
        ("", 10_000, 167, False),  # 33.3 polls/s x 5 s
        ("", 50_000, 500, False),  # 833 wanted, capped by memory
        ("concurrency = 7\nper_feed_metrics = true\n", 10_000, 7, True),
        ('concurrency = "auto"\nper_feed_metrics = false\n', 3, 20, False),
    ],
)
def test_concurrency_and_per_feed_metrics_follow_the_feeds_unless_set(
    make_config: Callable[..., Path], service: str, feeds: int, slots: int, per_feed: bool
) -> None:
    config = load_config(make_config(f"[service]\n{service}\n{_feeds(feeds)}"))
    assert (config.poll_concurrency(), config.per_feed_metrics()) == (slots, per_feed)


def test_short_intervals_need_more_slots(make_config: Callable[..., Path]) -> None:
    assert load_config(make_config(_feeds(1000, "30s"))).poll_concurrency() == 167


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("concurrency = 0", 'service.concurrency: must be "auto" or a whole number from 1 to 1000'),
        ('concurrency = "lots"', 'service.concurrency: must be "auto" or a whole number from 1 to 1000'),
        ("concurrency = true", 'service.concurrency: must be "auto" or a whole number from 1 to 1000'),
        ('per_feed_metrics = "yes"', 'service.per_feed_metrics: must be true, false or "auto"'),
    ],
)
def test_bad_concurrency_or_per_feed_metrics_is_refused_with_the_key(
    make_config: Callable[..., Path], line: str, message: str
) -> None:
    assert any(message in p for p in problems(make_config(f"[service]\n{line}\n")))
