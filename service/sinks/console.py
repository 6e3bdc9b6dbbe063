"""Alerts on standard output: one JSON line each when it is not a terminal, a readable block when it is."""

from __future__ import annotations

import json
import sys
from typing import Literal, TextIO

from service.models import Alert
from service.options import SinkOptions
from service.registry import SinkType
from service.sinks.render import render_text


class ConsoleSink:
    def __init__(self, name: str, stream: TextIO | None = None) -> None:
        self.name = name
        self._stream = stream

    async def send(self, alert: Alert) -> None:
        stream = self._stream or sys.stdout
        if stream.isatty():
            stream.write(render_text(alert) + "\n\n")
        else:
            stream.write(json.dumps(alert.to_json_body(), ensure_ascii=False) + "\n")
        stream.flush()

    async def close(self) -> None:
        return None


class ConsoleOptions(SinkOptions):
    type: Literal["console"]


SINK = SinkType(
    "console",
    ConsoleOptions,
    build=lambda name, options, context: ConsoleSink(name),
    describe=lambda options: "standard output",
)
