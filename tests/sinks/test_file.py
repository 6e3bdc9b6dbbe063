"""The file sink: one JSON line per alert, appended; a failure to write is retried, never lost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.errors import OptionError, RetryLater
from service.registry import sink_types
from service.sinks.file import FileOptions, FileSink
from tests.sinks.test_render import make_alert
from tests.test_cli import REPO, newsalert


async def test_each_alert_is_one_json_line_appended(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    path.write_text('{"earlier": true}\n', encoding="utf-8")
    sink = FileSink("f", path)
    await sink.send(make_alert(title="صواريخ على مطار بغداد"))
    await sink.send(make_alert(title="second"))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3 and json.loads(lines[0]) == {"earlier": True}
    first = json.loads(lines[1])
    assert first["title"] == "صواريخ على مطار بغداد"  # written as UTF-8, not \\u escapes
    assert "صواريخ" in lines[1]
    assert first == make_alert(title="صواريخ على مطار بغداد").to_json_body()


async def test_a_file_that_cannot_be_written_is_a_retry(tmp_path: Path) -> None:
    sink = FileSink("f", tmp_path / "missing-directory" / "alerts.jsonl")
    with pytest.raises(RetryLater, match="cannot append to"):
        await sink.send(make_alert())


def test_a_directory_as_the_path_is_refused_when_the_sink_is_built(tmp_path: Path) -> None:
    kind = sink_types()["file"]
    with pytest.raises(OptionError) as info:
        kind.build("f", FileOptions(type="file", path=str(tmp_path)), None)  # type: ignore[arg-type]
    assert info.value.option == "path"


async def test_run_once_appends_the_seed_alert_and_check_describes_the_sink(tmp_path: Path) -> None:
    out_file = tmp_path / "alerts.jsonl"
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[service]
store = "{tmp_path / "state"}"
http_port = 0
[[feeds]]
name = "demo"
url = "{(REPO / "examples" / "demo-feed.xml").as_uri()}"
backfill = "all"
[concepts]
rocket = ["صاروخ", "كاتيوشا"]
[[watchlists]]
name = "rockets"
query = "@rocket"
sinks = ["audit"]
[sinks.audit]
type = "file"
path = "{out_file}"
""",
        encoding="utf-8",
    )
    code, out, err = await newsalert("check", "--config", str(config))
    assert code == 0, err
    assert f"audit  file  JSON lines appended to {out_file}" in out
    code, out, err = await newsalert("run", "--once", "--config", str(config))
    assert code == 0, err
    alerts = [json.loads(line) for line in out_file.read_text(encoding="utf-8").splitlines()]
    assert alerts and {a["watchlist"] for a in alerts} == {"rockets"}
    assert len({a["id"] for a in alerts}) == len(alerts)
