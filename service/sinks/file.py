"""Alerts appended to a file, one JSON line each (the webhook `json` body), for log shippers and SIEMs.

Each alert is one `write` of one line to a file opened for appending, then flushed to disk, so readers
tailing the file never see half a line from us and several processes may append to one file. A crash
after the write and before the outbox records the delivery writes that line again on the retry: the
line carries the alert's `id`, which is how a reader drops the repeat. A directory that does not exist
or a file that cannot be written is retried (a disk filling up or a mount coming back are transient).
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Literal

from service.errors import OptionError, RetryLater
from service.models import Alert
from service.options import SinkOptions
from service.registry import SinkContext, SinkType


class FileSink:
    def __init__(self, name: str, path: str | Path) -> None:
        self.name = name
        self._path = Path(path)

    async def send(self, alert: Alert) -> None:
        line = json.dumps(alert.to_json_body(), ensure_ascii=False) + "\n"
        try:
            await asyncio.to_thread(self._append, line.encode("utf-8"))
        except OSError as exc:
            raise RetryLater(f"cannot append to {self._path}: {exc.strerror or exc}") from exc

    def _append(self, data: bytes) -> None:
        fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    async def close(self) -> None:
        return None


class FileOptions(SinkOptions):
    type: Literal["file"]
    path: str


def _build(name: str, options: FileOptions, context: SinkContext) -> FileSink:
    path = Path(options.path).expanduser()
    if path.is_dir():
        raise OptionError("path", "is a directory; name the file to append alerts to")
    return FileSink(name, path)


SINK = SinkType(
    "file", FileOptions, _build, describe=lambda options: f"JSON lines appended to {options.path}"
)
