"""The HTTP side of the worker: /healthz, /readyz and /metrics (aiohttp), for probes and Prometheus."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from service.errors import CannotRun
from service.metrics import Metrics

ReadyCheck = Callable[[], Awaitable[str | None]]  # None when ready, else the reason it is not


@dataclass
class Heartbeat:
    """The worker loop beats on every tick; /healthz says it is alive while beats are fresh."""

    stale_after: float = 30.0
    last: float = field(default_factory=time.monotonic)

    def beat(self) -> None:
        self.last = time.monotonic()

    def age(self) -> float:
        return time.monotonic() - self.last

    def fresh(self) -> bool:
        return self.age() <= self.stale_after


def build_app(heartbeat: Heartbeat, ready: ReadyCheck, metrics: Metrics) -> web.Application:
    async def healthz(request: web.Request) -> web.Response:
        if heartbeat.fresh():
            return web.json_response({"status": "ok", "heartbeat_age_s": round(heartbeat.age(), 3)})
        return web.json_response(
            {"status": "stalled", "heartbeat_age_s": round(heartbeat.age(), 3)}, status=503
        )

    async def readyz(request: web.Request) -> web.Response:
        reason = await ready()
        if reason is None:
            return web.json_response({"status": "ready"})
        return web.json_response({"status": "not ready", "reason": reason}, status=503)

    async def metrics_text(request: web.Request) -> web.Response:
        return web.Response(
            body=metrics.render(), headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}
        )

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_text)
    return app


async def start_http(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise CannotRun(
            f"cannot listen on {host}:{port}: {reason[:1].lower()}{reason[1:]} (service.http_port)"
        ) from exc
    return runner
