"""The command line as users and scripts drive it: a subprocess, its output streams and exit codes."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

REPO = Path(__file__).resolve().parents[1]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSALERT_")}
    env.update(extra)
    return env


async def newsalert(
    *args: str, cwd: Path | None = None, stdin: bytes | None = None, **env: str
) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service",
        *args,
        cwd=cwd or REPO,
        env=_env(**env),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture
def demo_dir(tmp_path: Path) -> Path:
    """The example config and its demo feed, copied where a test may create state."""
    shutil.copy(REPO / "config.example.toml", tmp_path / "config.toml")
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    return tmp_path


async def test_help_lists_the_commands() -> None:
    code, out, _ = await newsalert("--help")
    assert code == 0
    for command in ("run", "check", "match", "send-test", "feeds", "outbox", "lexicon"):
        assert command in out


async def test_a_bad_command_line_exits_2() -> None:
    code, _, err = await newsalert("run", "--no-such-flag")
    assert code == 2 and "usage" in err


async def test_no_config_anywhere_is_a_clear_error() -> None:
    code, _, err = await newsalert("check")
    assert code == 2
    assert "NEWSALERT_CONFIG" in err and "Traceback" not in err


async def test_check_passes_on_the_example_and_summarises_it() -> None:
    code, out, err = await newsalert("check", "--config", "config.example.toml")
    assert code == 0, err
    assert "valid" in out
    assert "demo-iraq" in out and "baghdad-airport-attacks" in out and "terminal" in out
    assert "embedded (./newsalert-state)" in out
    assert "baghdad-airport-attacks → terminal  breaking at 4 outlets within 30m" in out


async def test_check_reads_the_config_from_the_environment() -> None:
    code, out, _ = await newsalert("check", NEWSALERT_CONFIG=str(REPO / "config.example.toml"))
    assert code == 0 and "demo-iraq" in out


async def test_check_refuses_a_broken_config_with_key_reason_and_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        "[[watchlists]]\nname='w'\nquery='rocket AND'\nsinks=['nowhere']\n[service]\nlog_format='xml'\n"
    )
    code, out, err = await newsalert("check", "--config", str(path))
    assert code == 2 and out == ""
    assert f"{path}: watchlists[0].sinks[0]: no sink named 'nowhere'" in err
    assert f"{path}: watchlists[0].query (column" in err
    assert f"{path}: service.log_format:" in err
    assert "Traceback" not in err


async def test_check_never_shows_secrets(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        "[service]\nstore='redis://:hunter2-redis@127.0.0.1:6379/0'\n"
        "[sinks.t]\ntype='telegram'\nbot_token='${TOKEN}'\nchat_id='-1'\n"
        "[sinks.h]\ntype='webhook'\nurl='https://hooks.slack.example/services/T0/B0/SECRETPATH'\nsecret='${HOOK}'\n"
        "[sinks.m]\ntype='email'\nhost='smtp.example'\nusername='u'\npassword='${PW}'\nfrom='a@example.org'\nto=['b@example.org']\n"
    )
    hook_secret = "whsec_" + base64.b64encode(b"signing-key-material-32-bytes!!").decode()
    code, out, err = await newsalert(
        "check", "--config", str(path), TOKEN="123:TOKENVALUE", HOOK=hook_secret, PW="MAILPASSWORD"
    )
    assert code == 0, err
    for secret in ("TOKENVALUE", hook_secret[6:], "MAILPASSWORD", "hunter2-redis", "SECRETPATH"):
        assert secret not in out and secret not in err


async def test_run_once_on_the_demo_prints_the_seed_alert_then_nothing_new(demo_dir: Path) -> None:
    code, out, err = await newsalert("run", "--once", "--config", "config.toml", cwd=demo_dir)
    assert code == 0, err
    alerts = [json.loads(line) for line in out.splitlines()]
    seed = [a for a in alerts if a["watchlist"] == "baghdad-airport-attacks" and a["language"] == "ar"]
    assert len(seed) == 1
    texts = {h["text"] for h in seed[0]["hits"]}
    assert {"صواريخ", "بصاروخين", "كاتيوشا", "مطار بغداد الدولي"} <= texts
    assert seed[0]["entities"] == ["Baghdad International Airport"]
    assert not [a for a in alerts if a["watchlist"] == "erbil-attacks"]
    assert (demo_dir / "newsalert-state").is_dir()
    code, out, err = await newsalert("run", "--once", "--config", "config.toml", cwd=demo_dir)
    assert code == 0, err
    assert out == ""


async def test_logs_go_to_stderr_as_json_when_asked(demo_dir: Path) -> None:
    code, _, err = await newsalert(
        "run", "--once", "--config", "config.toml", cwd=demo_dir, NEWSALERT_LOG_FORMAT="json"
    )
    assert code == 0
    events = [json.loads(line)["event"] for line in err.splitlines() if line.startswith("{")]
    assert "feed_fetched" in events and "run_completed" in events


@pytest.fixture
async def feed_http() -> AsyncIterator[str]:
    body = (REPO / "examples" / "demo-feed.xml").read_bytes()

    async def handle(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/feed", handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("/feed"))
    await server.close()


async def test_run_once_over_http_alerts_and_remembers(tmp_path: Path, feed_http: str) -> None:
    config = (REPO / "config.example.toml").read_text(encoding="utf-8")
    config = config.replace('url = "file:examples/demo-feed.xml"', f'url = "{feed_http}"')
    (tmp_path / "config.toml").write_text(config, encoding="utf-8")
    code, out, err = await newsalert("run", "--once", "--config", "config.toml", cwd=tmp_path)
    assert code == 0, err
    assert any(json.loads(line)["watchlist"] == "baghdad-airport-attacks" for line in out.splitlines())
    code, out, _ = await newsalert("run", "--once", "--config", "config.toml", cwd=tmp_path)
    assert code == 0 and out == ""


async def test_run_once_exits_3_with_the_counts_when_a_delivery_is_left_parked(tmp_path: Path) -> None:
    async def refuse(request: web.Request) -> web.Response:
        return web.Response(status=400, text="no")

    app = web.Application()
    app.router.add_post("/hook", refuse)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    (tmp_path / "config.toml").write_text(
        '[service]\nhttp_port = 0\n\n[[feeds]]\nname = "demo"\nurl = "file:examples/demo-feed.xml"\n'
        'backfill = "all"\n\n[[watchlists]]\nname = "rockets"\nquery = "@std.rocket"\nsinks = ["hook"]\n\n'
        f'[sinks.hook]\ntype = "webhook"\nurl = "{server.make_url("/hook")}"\n',
        encoding="utf-8",
    )
    try:
        code, _, err = await newsalert("run", "--once", "--config", "config.toml", cwd=tmp_path)
    finally:
        await server.close()
    assert code == 3, err
    assert re.search(r"the run completed, but 0 deliveries are pending and [1-9]\d* parked", err), err


async def test_run_once_exits_1_when_the_store_is_unreachable(demo_dir: Path) -> None:
    code, out, err = await newsalert(
        "run", "--once", "--config", "config.toml", cwd=demo_dir, NEWSALERT_STORE="redis://127.0.0.1:1/0"
    )
    assert code == 1 and out == ""
    assert "store_unavailable" in err


async def test_a_second_process_on_the_same_state_directory_is_refused(demo_dir: Path) -> None:
    from service.state.embedded import EmbeddedStore

    holder = EmbeddedStore(demo_dir / "newsalert-state")
    await holder.open()
    try:
        code, _, err = await newsalert("run", "--once", "--config", "config.toml", cwd=demo_dir)
    finally:
        await holder.close()
    assert code == 2
    assert "in use by another newsalert process" in err and "Traceback" not in err


async def test_match_json_explains_each_item_in_input_order() -> None:
    code, out, err = await newsalert(
        "match", "--config", "config.example.toml", "--json", "examples/demo-feed.xml"
    )
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 6
    first = records[0]
    assert set(first) == {"id", "title", "url", "language", "matches"}
    assert first["language"] == "ar"
    names = {m["watchlist"] for m in first["matches"]}
    assert {"baghdad-airport-attacks", "qaani-movements"} <= names
    assert all(set(h) == {"term", "text", "field"} for m in first["matches"] for h in m["hits"])
    assert any(r["matches"] == [] for r in records)


async def test_match_reads_plain_text_from_stdin_and_filters_watchlists(seed_text: str) -> None:
    code, out, err = await newsalert(
        "match",
        "--config",
        "config.example.toml",
        "--json",
        "--watchlist",
        "baghdad-airport-attacks",
        "-",
        stdin=seed_text.encode(),
    )
    assert code == 0, err
    record = json.loads(out)
    assert [m["watchlist"] for m in record["matches"]] == ["baghdad-airport-attacks"]


async def test_match_rejects_an_unknown_watchlist() -> None:
    code, _, err = await newsalert(
        "match", "--config", "config.example.toml", "--watchlist", "nope", "-", stdin=b"x"
    )
    assert code == 2 and "nope" in err


async def test_match_human_output_marks_the_words_that_matched() -> None:
    code, out, _ = await newsalert("match", "--config", "config.example.toml", "examples/demo-feed.xml")
    assert code == 0
    assert "✔ baghdad-airport-attacks" in out
    assert "«بصاروخين»" in out


async def test_match_explain_says_why_the_erbil_watchlist_stayed_silent_on_the_seed(seed_text: str) -> None:
    code, out, err = await newsalert(
        "match", "--config", "config.example.toml", "--explain", "-", stdin=seed_text.encode()
    )
    assert code == 0, err
    assert "✔ baghdad-airport-attacks" in out and "✔ qaani-movements" in out
    silent = out.split("✘ erbil-attacks", 1)[1]
    assert "failed: NEAR/10: (@rocket OR @attack) found at word" in silent
    assert '@Erbil at word 406 ("أربيل")' in silent and "more than 10" in silent
    assert "✘ baghdad-airport-attacks" not in out


async def test_match_json_explains_silent_watchlists_beside_unchanged_matches(seed_text: str) -> None:
    code, out, err = await newsalert(
        "match", "--config", "config.example.toml", "--json", "--explain", "-", stdin=seed_text.encode()
    )
    assert code == 0, err
    record = json.loads(out)
    assert {"id", "title", "url", "language", "matches"} < set(record)
    assert [m["watchlist"] for m in record["matches"]] == [
        "baghdad-airport-attacks",
        "qaani-movements",
        "strikes-on-bases",
    ]
    (silent,) = record["silent"]
    assert silent["watchlist"] == "erbil-attacks" and silent["held"] == []
    assert silent["failed"].startswith("NEAR/10: ") and "words between, more than 10" in silent["failed"]


async def test_match_explains_a_named_watchlist_without_being_asked(make_config: Callable[..., Path]) -> None:
    config = make_config(
        '[concepts]\nrocket = ["rocket", "موشک", "صاروخ"]\n'
        '[[watchlists]]\nname = "ar-only"\nquery = "@rocket -drill"\nlanguages = ["ar"]\n'
        '[[watchlists]]\nname = "no-drills"\nquery = "@rocket -drill"\n'
    )
    persian = "حمله موشکی به پایگاه نزدیک فرودگاه بغداد در شب گذشته انجام شد و خسارت زیادی وارد کرد"
    code, out, err = await newsalert(
        "match", "--config", str(config), "--watchlist", "ar-only", "-", stdin=persian.encode()
    )
    assert code == 0, err
    assert 'failed: languages: item is "fa", watchlist wants ar' in out
    code, out, err = await newsalert(
        "match", "--config", str(config), "--watchlist", "no-drills", "-", stdin=b"A rocket drill at dawn"
    )
    assert code == 0, err
    assert 'held: @rocket found ("rocket" in content)' in out
    assert 'failed: NOT drill: found "drill" in content' in out


async def test_send_test_delivers_through_a_webhook_and_fails_with_1_when_it_cannot(tmp_path: Path) -> None:
    received: list[dict[str, object]] = []

    async def handle(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        path = tmp_path / "c.toml"
        path.write_text(
            f"[sinks.ok]\ntype='webhook'\nurl='{server.make_url('/hook')}'\n"
            "[sinks.down]\ntype='webhook'\nurl='http://127.0.0.1:9/hook'\ntimeout='2s'\n"
        )
        code, _, err = await newsalert("send-test", "--config", str(path), "--sink", "ok")
        assert code == 0, err
        assert "TEST" in str(received[0]["title"])
        code, _, err = await newsalert("send-test", "--config", str(path), "--sink", "down")
        assert code == 1 and "test_alert_failed" in err
    finally:
        await server.close()


async def test_feeds_status_and_outbox_read_the_store(demo_dir: Path) -> None:
    code, out, _ = await newsalert("outbox", "--config", "config.toml", cwd=demo_dir)
    assert (code, out) == (0, "nothing pending or parked\n")
    await newsalert("run", "--once", "--config", "config.toml", cwd=demo_dir)
    code, out, _ = await newsalert("feeds", "status", "--config", "config.toml", cwd=demo_dir)
    assert code == 0 and "demo-iraq: ok" in out
    code, out, _ = await newsalert("outbox", "--config", "config.toml", "--all", cwd=demo_dir)
    assert code == 0 and "delivered" in out


async def test_feeds_status_shows_how_late_polls_start_and_how_many_are_due(demo_dir: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from service.models import FeedState
    from service.state.embedded import EmbeddedStore

    store = EmbeddedStore(demo_dir / "newsalert-state")
    await store.open()
    now = datetime.now(UTC)
    overdue = now - timedelta(minutes=2)
    await store.put_feed_state(
        FeedState(
            "demo-iraq", last_success=now, next_poll=overdue, late=2.5, language="ar", language_items=25
        )
    )
    await store.schedule_feed("demo-iraq", overdue)
    await store.close()
    code, out, _ = await newsalert("feeds", "status", "--config", "config.toml", cwd=demo_dir)
    assert code == 0
    assert "started 2.5 s after due" in out and "language learned: ar" in out
    assert re.search(r"schedule: 1 of 1 feeds due now, the oldest 12\d s late; polls are behind", out), out


async def test_a_busy_http_port_is_one_line_and_exit_1(demo_dir: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = demo_dir / "config.toml"
        config.write_text(config.read_text().replace("http_port = 0", f"http_port = {port}"))
        code, _, err = await newsalert("run", "--config", "config.toml", cwd=demo_dir)
    assert code == 1
    assert (
        err == f"newsalert: cannot listen on 127.0.0.1:{port}: address already in use (service.http_port)\n"
    )


async def test_feeds_import_prints_feed_blocks(tmp_path: Path) -> None:
    opml = tmp_path / "x.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><body>'
        '<outline text="Shafaq News" type="rss" xmlUrl="https://shafaq.example/rss"/></body></opml>'
    )
    code, out, _ = await newsalert("feeds", "import", str(opml))
    assert code == 0
    assert "[[feeds]]" in out and 'url = "https://shafaq.example/rss"' in out


async def test_check_refuses_a_sink_that_cannot_be_built_and_hides_apprise_credentials(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        "[sinks.t]\ntype='telegram'\nbot_token='1:x'\nchat_id='-1'\ntemplate='{{ alert.title '\n"
        "[sinks.a]\ntype='apprise'\nurls=['mailto://user:APPRISEPASSWORD@example.org']\n"
    )
    code, out, err = await newsalert("check", "--config", str(path))
    assert code == 2
    assert f"{path}: sinks.t.template:" in err
    path.write_text("[sinks.a]\ntype='apprise'\nurls=['json://user:APPRISEPASSWORD@127.0.0.1:9/x']\n")
    code, out, err = await newsalert("check", "--config", str(path))
    assert code == 0, err
    assert "apprise  1 URL(s): json://" in out
    assert "APPRISEPASSWORD" not in out + err
